"""README is the front door and docs/ the rest: README stays short, the claims tables in both are the
ones the stored records give, and the MkDocs site builds with every warning an error."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repro.case.specs import DataSpec
from repro.verify import verdicts

ROOT = Path(__file__).parents[1]
DATA = DataSpec(benchmark="glyphs")  # the benchmark the main command reads, as the tables say


def tables(style, platform):
    return verdicts.generated(ROOT / "baselines", style, platform, DATA)


def test_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 200
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in readme  # the test command, as .ci/run runs it
    assert ci.replace("-m pytest", "-m pytest -m paper_claims") in readme  # the main command


@pytest.mark.parametrize("name", verdicts.GENERATED_IN)
def test_committed_claims_tables_equal_the_records(name):
    text = (ROOT / name).read_text()
    assert verdicts.BLOCK.search(text), f"{name} lost its generated verdicts block"
    assert verdicts.fill(text, tables) == text, (
        f"{name}: its claims table differs from the records; refill it with: python -m repro verdicts "
        f"--platform x86_64-cpu --write {' '.join(verdicts.GENERATED_IN)}")


def test_a_table_edited_by_hand_is_caught():
    text = (ROOT / "README.md").read_text()
    edited = text.replace("| does not reproduce |", "| holds              |", 1)
    assert edited != text and verdicts.fill(edited, tables) == text


def mkdocs(folder: Path, site: Path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """docs/ and mkdocs.yml in a folder of their own, so a test may break a page."""
    folder = tmp_path_factory.mktemp("site-src")
    shutil.copytree(ROOT / "docs", folder / "docs")
    shutil.copy(ROOT / "mkdocs.yml", folder)
    return folder


def test_the_site_builds_strict(copy, tmp_path):
    done = mkdocs(copy, tmp_path / "site")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "site" / "claims" / "index.html").exists()


def test_a_broken_link_fails_the_strict_build(copy, tmp_path):
    page = copy / "docs" / "methods.md"
    original = page.read_text()
    page.write_text(original + "\nSee [the old page](no-such-page.md).\n")
    try:
        done = mkdocs(copy, tmp_path / "site")
    finally:
        page.write_text(original)
    assert done.returncode != 0 and "no-such-page.md" in done.stderr


def test_nothing_the_project_ships_points_outside_the_repository():
    """The team's notes (a folder beside the repository) are not the project: what a user needs from them
    is in docs/paper.md, in the project's own words."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    pointers = [f"{path}: {line.strip()}" for path in tracked if path != "tests/test_docs.py"
                and (ROOT / path).suffix in (".py", ".md", ".yml", ".toml", ".ini", ".txt", "")
                and (ROOT / path).is_file()
                for line in (ROOT / path).read_text(errors="replace").splitlines()
                if "shared/paper.md" in line or "../shared" in line or "shared/style.md" in line]
    assert pointers == []
    assert (ROOT / "docs" / "paper.md").exists() and "paper.md" in (ROOT / "mkdocs.yml").read_text()
