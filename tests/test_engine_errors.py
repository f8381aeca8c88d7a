"""One line, naming the check or the fix, when an engine cannot reach what it runs on: a Slurm controller
that does not answer, no Ray head, a ray:// address without Ray Client. A module of its own: the Ray tests
elsewhere keep an instance running for their module, which ray:auto would find."""

import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.cluster


def engine_error(spec: str, env: dict) -> str:
    """The one line `spec`'s engine ends with, in a fresh process."""
    code = ("from repro.learn import engines\n"
            "try:\n"
            f"    engines.make({spec!r}).map(abs, [1])\n"
            "except engines.EngineError as err:\n"
            "    print(err)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_slurm_controller_that_does_not_answer_is_one_line_naming_the_check(tmp_path):
    sbatch = tmp_path / "sbatch"
    sbatch.write_text("#!/bin/sh\necho 'sbatch: error: Batch job submission failed: Unable to contact slurm "
                      "controller (connect failure)' >&2\nexit 1\n")
    sbatch.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}", "REPRO_CACHE_DIR": str(tmp_path)}
    line = engine_error("slurm", env)
    assert line.startswith("--executor slurm: sbatch could not submit") and "\n" not in line
    assert "Unable to contact slurm controller" in line and "sinfo" in line


def test_a_ray_head_that_does_not_answer_is_one_line_naming_the_fix():
    if shutil.which("pgrep") and subprocess.run(["pgrep", "-f", "gcs_server"], capture_output=True).returncode == 0:
        pytest.skip("a Ray instance runs on this machine: ray:auto would join it")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    line = engine_error("ray:auto", env)
    assert line.startswith("--executor ray:auto: no Ray cluster answered") and "ray start --head" in line
    assert "\n" not in line


def test_a_ray_client_address_without_ray_client_installed_is_one_line_naming_the_install():
    try:
        import grpc  # noqa: F401  (what ray[client] adds)
    except ImportError:
        pass
    else:
        pytest.skip("Ray Client is installed here: the address would be tried instead")
    line = engine_error("ray://127.0.0.1:1", dict(os.environ))
    assert line.startswith("--executor ray://127.0.0.1:1: ") and "'ray[client]'" in line and "\n" not in line
