"""The Jetson install (.ci/jetson-install, used by README, tox -e jetson and jetson.yml) never installs,
upgrades or removes the device's torch or torchvision.

A Jetson's venv sees JetPack's torch through the system site packages. Here a venv is given the same
view of another environment through a .pth line, which puts that environment's site-packages on
sys.path exactly as --system-site-packages puts the system's there (pip reads installed packages from
sys.path either way). The "device" torch is the one running these tests: torch 2.14.1 in the default
run, 2.9.1 under tox -e floor, neither of which the install may replace.
"""

import runpy
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "jetson-install"


def venv_seeing(site: Path, tmp_path: Path, pip: bool = True) -> Path:
    """A venv whose sys.path holds `site` after its own site-packages, as a Jetson venv holds JetPack's."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", *([] if pip else ["--without-pip"]), str(venv)], check=True)
    own = own_site(venv)
    (own / "_device.pth").write_text(f"{site}\n")
    return venv


def own_site(venv: Path) -> Path:
    probe = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    out = subprocess.run([str(venv / "bin" / "python"), "-c", probe], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


def install(venv: Path):
    return subprocess.run([str(venv / "bin" / "python"), str(SCRIPT), str(venv)], capture_output=True, text=True,
                          cwd=ROOT)


@pytest.mark.slow
def test_the_install_keeps_the_device_torch_and_the_suite_imports(tmp_path):
    import torch
    import torchvision

    device = Path(sysconfig.get_paths()["purelib"])
    assert Path(torch.__file__).is_relative_to(device)
    venv = venv_seeing(device, tmp_path)
    done = install(venv)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"keeping the device's torch {metadata.version('torch')}" in done.stdout
    # nothing of torch's landed in the venv itself
    own = own_site(venv)
    assert not [p.name for p in own.iterdir() if p.name.split("-")[0] in ("torch", "torchvision")]
    probe = ("import torch, torchvision, repro.measure.memory, repro.measure.profile; "
             "print(torch.__version__, torchvision.__version__, torch.__file__)")
    out = subprocess.run([str(venv / "bin" / "python"), "-c", probe], check=True, capture_output=True, text=True,
                         cwd=tmp_path).stdout.split()
    assert out[:2] == [torch.__version__, torchvision.__version__]
    assert Path(out[2]).is_relative_to(device)


def fake_device(tmp_path: Path, torch: str, torchvision: str) -> Path:
    """A site-packages holding only the metadata of a device's torch and torchvision."""
    site = tmp_path / "device"
    for name, version in (("torch", torch), ("torchvision", torchvision)):
        info = site / f"{name}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    return site


def test_a_device_torch_older_than_the_floor_stops_before_pip(tmp_path):
    venv = venv_seeing(fake_device(tmp_path, "2.5.0a0+872d972e41.nv24.8", "0.20.0a0+afc54f7"), tmp_path, pip=False)
    before = sorted(p.name for p in own_site(venv).iterdir())
    done = install(venv)
    assert done.returncode == 1
    assert "torch 2.5.0a0+872d972e41.nv24.8 is older than the suite supports (torch >= 2.9" in done.stderr
    assert "Nothing was installed" in done.stderr
    assert sorted(p.name for p in own_site(venv).iterdir()) == before


def test_no_device_torch_says_what_to_install(tmp_path):
    venv = venv_seeing(tmp_path / "empty", tmp_path, pip=False)
    done = install(venv)
    assert done.returncode == 1 and "no torch" in done.stderr and "JetPack" in done.stderr


def test_the_install_floor_is_pyprojects():
    floor = runpy.run_path(str(SCRIPT))["FLOOR"]
    pyproject = (ROOT / "pyproject.toml").read_text()  # no tomllib: a Jetson's Python may be 3.10
    for dist, (major, minor) in floor.items():
        assert f'"{dist}>={major}.{minor}"' in pyproject
