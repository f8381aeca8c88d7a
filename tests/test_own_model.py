"""Your own model: any CNN by import path or entry point, every method on it, the sweep, and the errors.

The CNN is defined here (depthwise-separable blocks, BatchNorm, a Linear head) and installed by pip
into a folder of its own as the package `edgenets`, which registers it under the entry-point group
repro.models, as a user's package would.
"""

import json
import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import pytest

from repro.__main__ import main
from repro.case.methods import METHODS, RANKED
from repro.case.models import build_model, model_names
from repro.measure.profile import CaseSpec, profile
from repro.show.sweep import Sweep, run, table, write
from repro.verify.baselines import cost_metrics

EDGENETS = '''
from torch import nn


def separable(cin, cout, stride):
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU(),
        nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class TinyDSC(nn.Module):
    def __init__(self, num_classes, aux=False):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.blocks = nn.Sequential(separable(16, 32, 2), separable(32, 64, 2), separable(64, 64, 1))
        self.fc = nn.Linear(64, num_classes)
        # a second Linear after the head, so "the last Linear" is the wrong guess and --head is needed
        self.aux = nn.Linear(64, 4) if aux else None

    def forward(self, x):
        features = self.blocks(self.stem(x)).mean((2, 3))
        return self.fc(features) if self.aux is None else self.fc(features) + self.aux(features).sum() * 0


def tiny_dsc(num_classes):
    return TinyDSC(num_classes)


def tiny_dsc_aux(num_classes):
    return TinyDSC(num_classes, aux=True)


def conv_head(num_classes):
    return nn.Sequential(nn.Conv2d(3, num_classes, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())


def broken(num_classes):
    raise RuntimeError("checkpoint not found")


not_callable = 3
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "edgenets"
version = "0.1"

[project.entry-points."repro.models"]
tiny_dsc = "edgenets:tiny_dsc"
'''


@pytest.fixture(scope="module")
def edgenets(tmp_path_factory):
    """pip-installs the package into a folder of its own and puts it on sys.path, as site-packages is."""
    src, site = tmp_path_factory.mktemp("edgenets-src"), tmp_path_factory.mktemp("site")
    (src / "pyproject.toml").write_text(PYPROJECT)
    (src / "edgenets").mkdir()
    (src / "edgenets" / "__init__.py").write_text(textwrap.dedent(EDGENETS))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "--target", str(site), str(src)], check=True)
    sys.path.insert(0, str(site))
    yield site
    sys.path.remove(str(site))
    for name in [m for m in sys.modules if m.startswith("edgenets")]:
        del sys.modules[name]


def rank_for(method):
    return 4 if method in RANKED else None


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_profiles_on_your_own_model(edgenets, method):
    record = profile(CaseSpec("edgenets:tiny_dsc", method, rank_for(method), batch=2), timed_steps=0)
    fft = profile(CaseSpec("edgenets:tiny_dsc", "fft", batch=2), timed_steps=0)
    assert record.flops["exact"]["total"] > 0 and record.memory["peak"]["simultaneous"] > 0
    assert record.params["total"] >= fft.params["total"]  # adapters add parameters, nothing removes any
    if method not in ("fft", "galore"):
        assert record.params["trainable"] < fft.params["trainable"]


def test_the_entry_point_registers_the_model(edgenets, capsys):
    assert "tiny_dsc" in model_names()
    assert type(build_model("tiny_dsc", 3)).__name__ == "TinyDSC"
    assert main(["list"]) == 0
    assert "tiny_dsc (edgenets:tiny_dsc)" in capsys.readouterr().out
    assert main(["profile", "--model", "tiny_dsc", "--method", "lora", "--rank", "4", "--batch", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["spec"]["model"] == "tiny_dsc"


def test_the_command_line_finds_an_installed_entry_point(edgenets):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(edgenets), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-m", "repro", "list"], capture_output=True, text=True, env=env,
                         check=True).stdout
    assert "tiny_dsc (edgenets:tiny_dsc)" in out


BAD = [
    (["--model", "nowhere.nets:tiny"], "model 'nowhere.nets:tiny' does not resolve (ModuleNotFoundError"),
    (["--model", "edgenets:missing"], "model 'edgenets:missing' does not resolve (AttributeError"),
    (["--model", "edgenets:not_callable"], "model 'edgenets:not_callable' does not resolve (TypeError"),
    (["--model", "edgenets:broken"], "model factory 'edgenets:broken' failed for num_classes=10 (RuntimeError: "
                                     "checkpoint not found)"),
    (["--model", "edgenets:conv_head"], "Sequential has no nn.Linear layer to use as classifier head"),
    (["--model", "edgenets:tiny_dsc", "--head", "blocks"], "--head 'blocks' is a Sequential; the head must be an "
                                                           "nn.Linear (this model's: fc)"),
    (["--model", "edgenets:tiny_dsc", "--head", "classifier"], "--head 'classifier' is no such module"),
    (["--model", "tiny_cnn"], "unknown model 'tiny_cnn'; valid models: resnet18"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[a[1] + "".join(a[2:]) for a, _ in BAD])
def test_a_bad_model_is_one_line(edgenets, capsys, args, message):
    assert main(["profile", *args, "--method", "head", "--batch", "2"]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in err, err


def test_head_names_the_classifier_when_the_last_linear_is_not_it(edgenets):
    guessed = profile(CaseSpec("edgenets:tiny_dsc_aux", "head", batch=2), timed_steps=0)
    named = profile(CaseSpec("edgenets:tiny_dsc_aux", "head", batch=2, head="fc"), timed_steps=0)
    assert guessed.params["trainable"] == 64 * 4 + 4  # aux, the last Linear
    assert named.params["trainable"] == 64 * 10 + 10  # fc


def test_the_sweep_matches_the_profile_command_case_by_case(edgenets, tmp_path, capsys):
    """Each sweep case costs what `repro profile` with the same arguments counts: the sweep builds its
    cases itself (defaults for batch, size, classes, head), and a default that differs shows here."""
    sweep = Sweep("edgenets:tiny_dsc", methods=("lora", "loha", "ia3", "head"), ranks=(1, 8), batch=2)
    costs, failed = run(sweep, progress=False)
    assert sweep.methods[0] == "fft" and not failed
    for spec in sweep.specs():
        rank = ["--rank", str(spec.rank)] if spec.rank is not None else []
        assert main(["profile", "--model", "edgenets:tiny_dsc", "--method", spec.method, *rank, "--batch", "2",
                     "--json"]) == 0
        record = json.loads(capsys.readouterr().out)
        assert costs[spec.key] == cost_metrics(SimpleNamespace(**record)), spec.key
    rows = table(sweep, costs, failed)
    assert [r[:2] for r in rows] == [["fft", ""], ["lora", 1], ["lora", 8], ["loha", 1], ["loha", 8], ["ia3", ""],
                                     ["head", ""]]
    md = write(sweep, costs, failed, tmp_path).read_text()
    assert "## Break-even ranks" in md and "| edgenets:tiny_dsc | lora" in md
    assert (tmp_path / "figures" / "flops_vs_rank.png").stat().st_size > 0
    assert "data:image/png;base64" in (tmp_path / "index.html").read_text()


def test_sweep_command_at_paper_scale_on_fake_tensors(edgenets, tmp_path, capsys):
    assert main(["sweep", "--model", "tiny_dsc", "--methods", "lora,oft", "--ranks", "2,8", "--size", "224",
                 "--analytic", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "GFLOP exact" in out and "tiny_dsc" in out and (tmp_path / "index.html").exists()


def test_sweep_rejects_an_unknown_method(edgenets, capsys):
    assert main(["sweep", "--model", "tiny_dsc", "--methods", "lora,vera"]) == 2
    assert "unknown method 'vera'" in capsys.readouterr().err
