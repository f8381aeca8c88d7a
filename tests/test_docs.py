"""README is the front door and docs/ the rest: README stays short, the claims tables in both are the
ones the stored records give, and the MkDocs site builds with every warning an error."""

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from repository import tox_envs

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
    shutil.copy(ROOT / "CHANGELOG.md", folder)  # the changelog page includes it
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


MD_PATH = re.compile(r"(?<![\w/.:@-])((?:\.\./)*[\w-]+(?:/[\w.-]+)+\.md)\b")  # a Markdown file named by its path
RUN_OUTPUT = "reports/"  # written by a claims run or `python -m repro report`, never tracked


def test_nothing_the_project_ships_points_outside_the_repository():
    """Every Markdown file a shipped file names by its path is in the repository (or is a run's output):
    notes kept outside it are not the project, and what a user needs from them is in docs/paper.md, in
    the project's own words. A path that climbs out with ../ counts as outside."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    pointers = [f"{path}: {named}" for path in tracked
                if (ROOT / path).suffix in (".py", ".md", ".yml", ".toml", ".ini", ".txt", "")
                and (ROOT / path).is_file()
                for line in (ROOT / path).read_text(errors="replace").splitlines()
                for named in MD_PATH.findall(line)
                if named.startswith("../") or not (named.startswith(RUN_OUTPUT) or (ROOT / named).exists()
                                                   or (ROOT / path).parent.joinpath(named).exists())]
    assert pointers == []
    assert (ROOT / "docs" / "paper.md").exists() and "paper.md" in (ROOT / "mkdocs.yml").read_text()


# Every command a page shows must run as written: its options exist in the parser that reads them
PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
CODE = re.compile(r"```([^\n]*)\n(.*?)```|`([^`\n]+)`", re.S)


def commands(text: str) -> list[list[str]]:
    """The commands in a page's code (blocks and inline), each as its words, from the one that names it
    (pytest, repro, tox) on: one per `&&`, `;` or pipe, backslash continuations joined."""
    out = []
    for language, block, inline in CODE.findall(text):
        if language == "text":  # a program's output (help, a table), not a command to run
            continue
        code = (block or inline).replace("\\\n", " ")
        for line in code.splitlines():
            for part in re.split(r"&&|\|\||;|\|", line):
                try:
                    words = shlex.split(part, comments=True)
                except ValueError:  # prose in backticks with an odd quote
                    continue
                for i, word in enumerate(words):
                    if word == "pytest" or word.endswith("/pytest") or (
                            word in ("repro", "tox") and i > 0 and words[i - 1] in ("-m", "tox") or word == "tox"):
                        out.append(words[i:])
                        break
    return out


def long_options(words: list[str]) -> list[str]:
    """The --options of a command, up to a `--` that hands the rest to another (tox's posargs)."""
    names = []
    for word in words[1:]:
        if word == "--":
            break
        if word.startswith("--"):
            names.append(word.split("=", 1)[0])
    return names


def repro_options(command: str) -> set[str]:
    from repro.show.cli import parser

    [sub] = [a for a in parser(command)._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices[command]._option_string_actions)


def bad_commands(page: str, config) -> list[str]:
    from repro.show.claims_plugin import RENAMED
    from repro.show.cli import COMMANDS

    bad = []
    for words in commands((ROOT / page).read_text()):
        shown = " ".join(words)
        if words[0] == "tox":
            if "-e" in words and words[words.index("-e") + 1] not in tox_envs():
                bad.append(f"{shown}: no tox environment {words[words.index('-e') + 1]}")
        elif words[0] == "repro":
            if len(words) < 2 or words[1].startswith("-"):
                continue  # `python -m repro --help`
            if words[1] not in COMMANDS:
                bad.append(f"{shown}: no command {words[1]}")
                continue
            known = repro_options(words[1])
            bad += [f"{shown}: python -m repro {words[1]} has no {o}" for o in long_options(words) if o not in known]
        else:
            for option in long_options(words):
                if option in RENAMED:
                    bad.append(f"{shown}: {option} is deprecated, use {RENAMED[option]}")
                    continue
                try:
                    config.getoption(option)
                except ValueError:
                    bad.append(f"{shown}: pytest has no {option}")
    return bad


@pytest.mark.parametrize("page", PAGES)
def test_every_command_on_a_page_uses_options_that_exist(page, pytestconfig):
    assert bad_commands(page, pytestconfig) == []


def test_a_command_with_an_option_that_does_not_exist_is_caught(pytestconfig, tmp_path, monkeypatch):
    page = tmp_path / "page.md"
    page.write_text("Run `pytest -m paper_claims --report` and then\n\n```bash\npython -m repro report "
                    "--outdir x && tox -e nowhere\n.venv/bin/python -m pytest --repro-updat\n```\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert bad_commands("page.md", pytestconfig) == [
        "pytest -m paper_claims --report: --report is deprecated, use --write-report",
        "repro report --outdir x: python -m repro report has no --outdir",
        "tox -e nowhere: no tox environment nowhere",
        "pytest --repro-updat: pytest has no --repro-updat"]


PATH_SPAN = re.compile(r"`((?:repro|tests|benchmarks|docs|baselines|\.ci|\.github)/[\w./-]*)`")
MADE_BY_A_RUN = {"baselines/jetson-orin"}  # the Jetson workflow's first run records it (docs/arm-and-jetson.md)


@pytest.mark.parametrize("page", PAGES)
def test_every_file_a_page_names_exists(page):
    named = {p.rstrip("/") for p in PATH_SPAN.findall((ROOT / page).read_text())} - MADE_BY_A_RUN
    assert sorted(p for p in named if not (ROOT / p).exists()) == []


# Pages render as written: Python-Markdown (MkDocs) reads a list item's content at four spaces, and a list
# needs a blank line before it; anything else falls out of its list while the strict build stays green
def misindented(text: str) -> list[str]:
    """Lines inside a list whose nested item, table or code fence is not indented by a multiple of four."""
    bad, in_list, fence = [], False, False
    for n, line in enumerate(text.split("\n"), 1):
        if line.lstrip().startswith("```"):
            fence = not fence
            if in_list and (len(line) - len(line.lstrip())) % 4:
                bad.append(f"{n}: {line.strip()[:40]}")
            continue
        if fence:
            continue
        if re.match(r"([-*]|\d+\.) ", line):
            in_list = True
        elif line.strip() and not line.startswith(" "):
            in_list = False
        elif in_list and (m := re.match(r"( +)([-*] |\d+\. |\|)", line)) and len(m.group(1)) % 4:
            bad.append(f"{n}: {line.strip()[:40]}")
    return bad


def fallen_out(text: str) -> list[str]:
    """What the page, rendered as MkDocs renders it, shows as plain text that was meant as a list item, a
    table row or a code fence."""
    import markdown

    html = markdown.markdown(text, extensions=["tables", "admonition", "toc", "pymdownx.superfences"])
    return [line.strip()[:40] for p in re.findall(r"<p>(.*?)</p>", html, re.S) for line in p.split("\n")
            if re.match(r"\s*(([-*]|\d+\.) \S|\||```)", line)]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_its_lists_tables_and_code_as_written(page):
    text = (ROOT / page).read_text()
    assert misindented(text) == [] and fallen_out(text) == []


def test_a_list_nested_by_two_spaces_or_without_a_blank_line_is_caught():
    nested = "* **glyphs**: the benchmark\n  * **shift-easy**: new faces\n\n  | a | b |\n  |---|---|\n"
    assert misindented(nested) == ["2: * **shift-easy**: new faces", "4: | a | b |", "5: |---|---|"]
    assert fallen_out("How each knob was chosen:\n* FFT at 3e-4\n* head-only at 3e-3\n") == [
        "* FFT at 3e-4", "* head-only at 3e-3"]
    assert fallen_out("* **glyphs**: the benchmark\n    * **shift-easy**: new faces\n") == []


def lint_failures(*pages: Path) -> list[str]:
    """pymarkdown's findings under this project's rules ([tool.pymarkdown] in pyproject.toml)."""
    from pymarkdown.api import PyMarkdownApi

    api = PyMarkdownApi().configuration_file_path(str(ROOT / "pyproject.toml"))
    return [f"{Path(f.scan_file).name}:{f.line_number}: {f.rule_id}{f.extra_error_information or ''}"
            for page in pages for f in api.scan_path(str(page)).scan_failures]


def test_every_page_passes_the_markdown_linter():
    assert lint_failures(*(ROOT / page for page in [*PAGES, "CHANGELOG.md"])) == []


def test_the_linter_catches_a_list_indented_too_far_and_a_code_block_with_no_language(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# A page\n\n* the benchmark\n      * a task\n\n```\npython -m repro list\n```\n")
    assert lint_failures(page) == ["page.md:4: MD007 [Expected: 4, Actual=6]", "page.md:6: MD040"]


def test_the_reference_page_equals_the_parsers_and_plugins():
    from repro.show import reference

    assert reference.main(["--check", str(ROOT / "docs" / "cli.md")]) == 0


def test_a_reference_page_edited_by_hand_is_caught(tmp_path, capsys):
    from repro.show import reference

    page = tmp_path / "cli.md"
    page.write_text((ROOT / "docs" / "cli.md").read_text().replace("`--repro-update`", "`--repro-updates`", 1))
    assert reference.main(["--check", str(page)]) == 1
    assert "differs from the code: python -m repro.show.reference --write" in capsys.readouterr().err


def test_every_environment_variable_the_code_reads_is_in_the_reference():
    in_code = {m for p in (ROOT / "repro").rglob("*.py") for m in re.findall(r"\bREPRO_[A-Z_]*[A-Z]\b", p.read_text())}
    in_page = set(re.findall(r"^\| `(REPRO_[A-Z_]+)` \|", (ROOT / "docs" / "cli.md").read_text(), re.M))
    assert in_code == in_page


# A measured wall time (m:ss) is a fact of one day on one machine: it lives in docs/history.md, under a
# heading whose text has the date, not in the pages that say what the suite does
CLOCK = re.compile(r"\b\d{1,3}:\d{2}\b")


def undated_times(page: str, text: str) -> list[str]:
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # a command's output may show a time
    if page != "docs/history.md":
        return [f"{page}: {t}" for t in CLOCK.findall(text)]
    sections = re.split(r"^## ", text, flags=re.M)
    return [f"{page}: '## {s.splitlines()[0]}' has {CLOCK.findall(s)[0]} but no date" for s in sections[1:]
            if CLOCK.search(s) and not re.search(r"\b20\d\d-\d\d-\d\d\b", s)]


@pytest.mark.parametrize("page", [p for p in PAGES if p != "README.md"])
def test_measured_times_live_in_the_history_page_with_their_date(page):
    assert undated_times(page, (ROOT / page).read_text()) == []


def test_a_time_typed_into_a_reference_page_or_an_undated_history_section_is_caught():
    assert undated_times("docs/setup.md", "The first run took 18:06 on one core.\n") == ["docs/setup.md: 18:06"]
    assert undated_times("docs/setup.md", "```console\n$ pytest\n3 passed in 0:12\n```\n") == []
    history = "# History\n\n## Pretraining\n\nResNet-18: 13:50.\n\n## Engines\n\nOn 2026-12-04: 8:42.\n"
    assert undated_times("docs/history.md", history) == ["docs/history.md: '## Pretraining' has 13:50 but no date"]


def cheap_commands() -> list[list[str]]:
    """The documented `python -m repro list` and `verdicts` commands that need no model, no run's records and
    write nothing: each runs as written in the default tests."""
    found = {tuple(words) for page in PAGES for words in commands((ROOT / page).read_text())
             if words[:1] == ["repro"] and words[1:2] in (["list"], ["verdicts"])}
    needs_a_run = ("reports/", "results.json", "--write")
    return sorted(list(w) for w in found if not any(n in word for word in w for n in needs_a_run))


@pytest.mark.parametrize("words", cheap_commands(), ids=" ".join)
def test_every_cheap_command_on_a_page_runs_as_written(words):
    done = subprocess.run([sys.executable, "-m", *words], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


# A measured figure written by hand goes stale the day its record moves (a GaLore reduction typed as -24.1%
# stood beside records that said -25.3%). Figures the records hold are shown in generated blocks; prose
# names them by the table, never by value. A decimal is a measured figure by what follows it: %, points,
# pp, x, behind, ahead, or an interval's brackets.
FIGURE = re.compile(r"(?<![\w.\[])(-?\+?\d{1,3}\.\d+)(?=\s?(?:%|points?\b|pp\b|x\b|behind\b|ahead\b|\[|\]|, -?\+?"
                    r"\d+\.\d+\]))|\[(-?\+?\d{1,3}\.\d+),")
COUNT = re.compile(r"(?<![\w.,])(\d[\d,]*) (runs|cases)\b")
HAND_FREE = ("docs/history.md", "docs/changelog.md")  # dated measurements, as they were


def generated_figures() -> tuple[set, set]:
    """Every figure in the committed generated blocks, and the run and case counts of every records file."""
    figures = set()
    for name in verdicts.GENERATED_IN:
        for block in verdicts.BLOCK.finditer((ROOT / name).read_text()):
            figures |= {f.lstrip("+") for f in re.findall(r"(?<![\w.])-?\+?\d{1,3}\.\d+(?![\w.])", block.group(0))}
    counts = set()
    for path in (ROOT / "baselines").glob("*/*.json"):
        cases = json.loads(path.read_text())["cases"]
        counts.add(len(cases))
        runs = sum(m.get("accuracy.n", 0) for m in cases.values())
        counts |= {runs} if runs else set()
    return figures, {c for c in counts if c >= 20}  # "8 runs a job": a small count says how many as often


def typed_figures(page: str, text: str, figures: set, counts: set) -> list[str]:
    def blank(m):  # keeps the line numbers
        return "\n" * m.group(0).count("\n")

    text = re.sub(r"^```.*?^```", blank, verdicts.BLOCK.sub(blank, text), flags=re.S | re.M)
    found = []
    for i, row in enumerate(text.splitlines(), 1):
        found += [f"{page}:{i}: {n} is in a generated table" for m in FIGURE.finditer(row)
                  for n in [m.group(1) or m.group(2)] if n.lstrip("+") in figures]
        found += [f"{page}:{i}: '{m.group(0)}' is a records file's count" for m in COUNT.finditer(row)
                  if int(m.group(1).replace(",", "")) in counts]
    return found


@pytest.mark.parametrize("page", [p for p in PAGES if p not in HAND_FREE])
def test_no_page_types_a_figure_that_a_generated_table_holds(page):
    figures, counts = generated_figures()
    assert typed_figures(page, (ROOT / page).read_text(), figures, counts) == [], (
        "name the generated table (or link to it) instead of its value; a dated measurement goes to docs/history.md")


def test_a_figure_or_count_typed_by_hand_is_caught():
    figures, counts = generated_figures()
    assert "-25.3%" not in figures and "-25.3" in figures  # GaLore r8 on MobileNetV2, docs/paper.md
    text = ("GaLore r8 costs -25.3% on MobileNetV2, FFT reaches 70.1 [69.5, 70.8] on shift-hard.\n\n"
            "The glyph grid is 184 runs in 40 cases.\n")
    assert typed_figures("a page", text, figures, counts) == [
        "a page:1: -25.3 is in a generated table", "a page:1: 70.1 is in a generated table",
        "a page:1: 69.5 is in a generated table", "a page:1: 70.8 is in a generated table",
        "a page:3: '184 runs' is a records file's count",
        "a page:3: '40 cases' is a records file's count"]
    assert typed_figures("a page", "A 4.2 GB wheel, torch 2.14.1, chance 1/36.\n", figures, counts) == []
