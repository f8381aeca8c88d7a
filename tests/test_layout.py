"""The folders of repro/ are its architecture: a module may import its own role or a lower one, never a
higher one, so data flows one way (a case -> its measurement -> learning -> a verdict -> what is shown)."""

import ast
from pathlib import Path

import pytest

import repro

PACKAGE = Path(repro.__file__).parent
# repro/*.py itself is plumbing every role uses (files, kernels, determinism, stats): rank 0.
ROLES = {"case": 1, "measure": 2, "learn": 3, "verify": 4, "show": 5}
ENTRY = {"__main__"}  # `python -m repro` dispatches to the top role


def role_of(module: str) -> int:
    parts = module.split(".")
    if parts[0] != "repro" or len(parts) < 2:
        return 0
    if parts[1] in ENTRY:
        return max(ROLES.values()) + 1
    return ROLES.get(parts[1], 0)


def imports(path: Path) -> set[str]:
    """Every repro module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in found if m == "repro" or m.startswith("repro.")}


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def test_the_tree_has_the_five_roles():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders == set(ROLES)
    plumbing = {p.stem for p in PACKAGE.glob("*.py")}
    assert plumbing == {"__init__", "__main__", "files", "kernels", "determinism", "stats"}


@pytest.mark.parametrize("module,path", list(modules()), ids=[m for m, _ in modules()])
def test_no_module_imports_a_higher_role(module, path):
    higher = sorted(m for m in imports(path) if role_of(m) > role_of(module))
    assert not higher, f"{module} (role {role_of(module)}) imports {higher}"


def test_the_check_sees_a_lazy_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from repro.show.report import write\n")
    assert role_of("repro.case.grid") < max(role_of(m) for m in imports(bad))
