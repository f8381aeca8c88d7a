"""The report from small synthetic records: the claims table, every figure, reproducible Markdown, and
plain statements of what is missing instead of a crash."""

import base64
import io
import json
import os
import re
import shutil
import subprocess

import pytest
from PIL import Image
from probes import without_torch

from repro.case.grid import RANKS
from repro.case.methods import PAPER_METHODS as METHODS
from repro.case.methods import RANKED
from repro.case.models import PAPER_MODELS as MODELS
from repro.show import report
from repro.verify import baselines as bl

CATEGORIES = ("parameter", "buffer", "gradient", "activation", "temp", "optimizer_state", "other")
CLAIMS = [
    {"id": "A", "claim": "half as memory-efficient", "source": "[V]", "paper": "~33%", "convention": None,
     "scale": "32px", "measured": "mean 40.9%", "verdict": "holds", "why": "", "data": "analytic"},
    {"id": "B-exact", "claim": "up to 95%", "source": "[V]", "paper": "95%", "convention": "exact",
     "scale": "32px", "measured": "best 31.8%", "verdict": "does not reproduce", "why": "depthwise over-count",
     "data": "analytic"},
    {"id": "B-paper", "claim": "up to 95%", "source": "[V]", "paper": "95%", "convention": "paper",
     "scale": "32px", "measured": "best 88.8%", "verdict": "does not reproduce", "why": "", "data": "analytic"},
    {"id": "B-paper", "claim": "up to 95%", "source": "[V]", "paper": "95%", "convention": "paper",
     "scale": "224px", "measured": "best 93.7%", "verdict": "holds", "why": "", "data": "analytic"},
]
FIGURES = ["flops_vs_rank_32px.png", "memory_32px.png", "flops_vs_rank_224px.png", "memory_224px.png",
           "accuracy_vs_cost.png", "learning_curves.png"]


def metrics(model, method, rank):
    """Made-up but well-formed cost metrics: adapters grow with rank, FFT is the most expensive at r8."""
    base = {"fft": 100, "bn_head": 60, "head": 30, "lora": 50, "dora": 70, "galore": 110}[method]
    scale = base * (1 + list(MODELS).index(model)) * (1 + (rank or 0) / 16)
    m = {f"flops.{c}.{p}": int(scale * 1e7) for c in ("exact", "paper") for p in ("forward", "backward", "total")}
    m |= {f"memory.categories.{c}": int(scale * 1e4 * (i + 1)) for i, c in enumerate(CATEGORIES)}
    m["memory.peak.category_max_sum"] = sum(m[f"memory.categories.{c}"] for c in CATEGORIES)
    m["memory.peak.simultaneous"] = int(0.8 * m["memory.peak.category_max_sum"])
    return m


def cost_group(suffix=""):
    return {f"{model}-{method}" + (f"-r{r}" if r else "") + suffix: metrics(model, method, r)
            for model in MODELS for method in METHODS for r in (RANKS if method in RANKED else (None,))}


def accuracy_group():
    def acc(method, step):
        return 0.5 + (0.1 + 0.05 * list(METHODS).index(method) / 2) * step / 100
    return {f"{model}-{method}" + ("-r8" if method in RANKED else "") + f"-{task}":
            {"accuracy.n": 5, "accuracy.before.mean": 0.5, "accuracy.before.sd": 0.0,
             **{f"accuracy.step{s}.mean": acc(method, s) for s in (25, 50)},
             **{f"accuracy.step{s}.sd": 0.01 for s in (25, 50)},
             "accuracy.after.mean": acc(method, 100), "accuracy.after.sd": 0.02}
            for model in ("resnet18", "mobilenet_v2") for method in METHODS
            for task in ("shift-easy", "shift-hard", "unseen-easy", "unseen-hard")}


@pytest.fixture
def records(tmp_path):
    groups = {"costs": cost_group(), "costs-224px": cost_group("-b8-224px"), "accuracy-digits": accuracy_group()}
    for group, cases in groups.items():
        folder = tmp_path / "baselines" / bl.folder("test-cpu", group)  # counted groups: every CPU's one set
        bl.update(folder / bl.file_name(group), group, "test-cpu", {"torch": "x"}, cases,
                  "synthetic records for tests/test_report.py")
    measured = {"costs": {"resnet18-lora-r8": {**metrics("resnet18", "lora", 8), "flops.exact.total": 1}}}
    report.write_results(tmp_path / "results.json", measured, CLAIMS, {"torch": "2.14.1", "device": "cpu"})
    return tmp_path


def build(root, out="out", results="results.json"):
    inputs = report.load_inputs(root / results, root / "baselines", "test-cpu")
    return report.build(inputs, root / out)


def test_report_has_the_claims_table_every_figure_and_the_drift(records):
    md = build(records).read_text()
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    claim_rows = {line.split("|")[1].strip() + " " + line.split("|")[5].strip() for line in lines
                  if line.split("|")[1].strip() in ("A", "B")}
    assert claim_rows == {"A 32px", "B 32px", "B 224px"}
    b32 = next(line for line in lines if line.startswith("| B ") and "32px" in line)
    assert "best 88.8%" in b32 and "best 31.8%" in b32 and "does not reproduce" in b32
    assert "depthwise over-count" in b32
    for name in FIGURES:
        assert (records / "out" / "figures" / name).stat().st_size > 10_000, name
        assert f"figures/{name}" in md
    # the one measured metric that moved, with old, new and the relative change
    drift = next(line for line in lines if "flops.exact.total" in line and "resnet18-lora-r8" in line)
    assert "-100.00%" in drift
    html = (records / "out" / "index.html").read_text()
    assert "<table>" in html and html.count("data:image/png;base64,") == len(FIGURES)
    assert html.index('class="matrix"') < html.index("data:image/png")  # the verdicts first, then the figures


@pytest.mark.slow
def test_the_report_of_a_finished_run_is_made_without_torch_or_peft(records):
    """`python -m repro report` reads records and draws: it imports neither torch nor peft."""
    done = without_torch("report", "--from", "results.json", "--baselines-dir", "baselines", "--platform", "test-cpu",
                         "--out", "out", cwd=records)
    assert done.stdout.strip().splitlines()[-1] == "imported:", done.stdout + done.stderr
    assert (records / "out" / "index.html").exists()


def test_same_records_give_identical_markdown(records):
    first = build(records, "one").read_text()
    second = build(records, "two").read_text()
    assert first == second


def test_missing_results_and_baselines_are_reported_not_raised(tmp_path):
    md = build(tmp_path).read_text()
    assert "results.json not found" in md
    assert "no baseline file" in md.lower()
    assert "No claim checks" in md and "No accuracy measurements or baselines" in md


def test_corrupt_results_and_partial_baselines_say_what_is_missing(records):
    (records / "broken.json").write_text("{not json")
    (records / "baselines" / bl.folder("test-cpu", "costs") / "costs-224px.json").unlink()
    cases = json.loads((records / "baselines" / bl.folder("test-cpu", "costs") / "costs.json").read_text())
    del cases["cases"]["mobilenet_v2-lora-r16"]
    (records / "baselines" / bl.folder("test-cpu", "costs") / "costs.json").write_text(json.dumps(cases))
    md = build(records, results="broken.json").read_text()
    assert "broken.json could not be read" in md
    assert "costs-224px.json" in md and "No `costs-224px` measurements or baselines." in md
    assert "mobilenet_v2-lora-r16" in md  # named among the cases missing from the figures


def test_a_cuda_peak_shows_beside_the_analytic_ones():
    from repro.show.report import cuda_table

    mib = 2 ** 20
    costs = {"resnet18-fft": {"memory.cuda_max_allocated": 30 * mib, "memory.peak.simultaneous": 20 * mib,
                              "memory.peak.category_max_sum": 25 * mib},
             "resnet18-head": {"memory.peak.simultaneous": mib, "memory.peak.category_max_sum": mib}}
    assert cuda_table(costs) == [["resnet18-fft", "30.0", "20.0", "25.0", "x1.50"]]


# ---- in a browser ----------------------------------------------------------------------------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
VERDICT_COLOURS = {"holds": (0x1A, 0x7F, 0x37), "does not reproduce": (0xC0, 0x39, 0x2B)}  # report.STYLE


@pytest.fixture(scope="module")
def browser():
    found = os.environ.get("REPRO_BROWSER") or next(filter(None, map(shutil.which, BROWSERS)), None)
    if not found and os.environ.get("GITHUB_ACTIONS") == "true":  # the runners have Chrome: a skip there hides
        pytest.fail("no Chrome on this GitHub runner's PATH, though ubuntu runners have google-chrome")
    if not found:
        pytest.skip("no headless Chromium or Chrome on PATH ($REPRO_BROWSER names one): apt-get install chromium; "
                    "GitHub's ubuntu runners have google-chrome")
    return found


def render(browser, page, screenshot=None):
    """(the DOM after rendering, every line the page wrote to the browser's console) of one headless load."""
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr",
             "--v=0", "--window-size=1400,900"]
    done = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    if screenshot:
        shot = subprocess.run([*flags, f"--screenshot={screenshot}", page.as_uri()], capture_output=True, text=True,
                              timeout=120)
        assert shot.returncode == 0 and screenshot.exists(), shot.stderr[-2000:]
    return done.stdout, [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def images(dom):
    """Every image of the page decoded (PIL raises on a broken one); an image that is not embedded, by name."""
    out = []
    for src in re.findall(r'<img[^>]* src="([^"]+)"', dom):
        assert src.startswith("data:image/png;base64,"), f"not embedded: {src[:80]}"
        out.append(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB"))
    return out


def test_the_html_report_renders_in_a_browser_with_the_verdict_matrix_first(records, browser, tmp_path):
    build(records)
    dom, console = render(browser, records / "out" / "index.html", tmp_path / "first-screen.png")
    assert console == []  # no script errors, nothing logged
    figures = images(dom)
    assert len(figures) == len(FIGURES) and all(min(f.size) > 100 for f in figures)
    assert dom.index('class="matrix"') < dom.index("<img") < dom.index("Claims in detail")
    # the first screen (1400 x 900) shows the matrix styled: both verdict colours are on it
    shot = Image.open(tmp_path / "first-screen.png").convert("RGB")
    pixels = {colour for _, colour in shot.getcolors(maxcolors=1 << 24)}
    for verdict, colour in VERDICT_COLOURS.items():
        assert colour in pixels, f"no {verdict} badge on the first screen"


def test_the_browser_check_sees_a_script_error_and_a_broken_image(browser, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text('<!doctype html><html><body><img src="data:image/png;base64,AAAA"><script>missing()</script>'
                    "</body></html>")
    dom, console = render(browser, page)
    assert any("missing is not defined" in line for line in console)
    with pytest.raises(OSError):  # PIL's UnidentifiedImageError
        images(dom)


def test_the_verdict_matrix_puts_each_reading_in_its_column():
    time_row = {**CLAIMS[1], "id": "B-time", "convention": "time", "verdict": "inconclusive"}
    glyph_row = {**CLAIMS[0], "id": "F", "claim": "stable", "data": "embedded glyphs", "verdict": "holds"}
    stored_row = {**glyph_row, "data": "embedded digits", "verdict": "does not reproduce", "stored": True}
    lines = {line["id"]: line for line in report.verdict_matrix([*CLAIMS, time_row, glyph_row, stored_row])}
    assert lines["B"]["cells"] == {"exact": [("32px", "does not reproduce")],
                                   "paper rules": [("32px", "does not reproduce"), ("224px", "holds")],
                                   "time": [("32px", "inconclusive")]}
    assert lines["A"]["cells"] == {"paper rules": [("32px", "holds")], "exact": [("32px", "holds")]}  # no FLOPs
    assert lines["F"]["cells"] == {"glyphs": [("", "holds")], "digits": [("stored", "does not reproduce")]}
    page = report.matrix_html(list(lines.values()))
    assert '<span class="v inconclusive" title="inconclusive">32px: inconclusive</span>' in page
    assert "stored: does not reproduce" in page and "holds: 4" in page
