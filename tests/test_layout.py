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


def circles(graph: dict) -> list[list[str]]:
    """The import circles of `graph` (module -> the modules it imports): its strongly connected components of
    more than one module, found by Tarjan's algorithm."""
    index, low, stack, found, counter = {}, {}, [], [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while component[-1:] != [v]:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def module_graph() -> dict:
    names = dict(modules())

    def owner(name):  # `from repro.x import y` names module repro.x, or repro.x.y when y is a module
        while name and name not in names:
            name = name.rpartition(".")[0]
        return name

    return {m: {owner(i) for i in imports(p)} - {m, "repro", ""} for m, p in names.items()}


def test_no_two_modules_import_each_other():
    """At the top or inside a function: a circle means neither module can be read without the other."""
    assert circles(module_graph()) == []


def test_the_check_sees_a_circle_through_a_lazy_import():
    graph = {"repro.verify.evidence": {"repro.verify.remeasure"}, "repro.verify.remeasure": {"repro.verify.evidence"},
             "repro.case.specs": set()}
    assert circles(graph) == [["repro.verify.evidence", "repro.verify.remeasure"]]
