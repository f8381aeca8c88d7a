"""One line, naming the check or the fix, when an engine cannot reach what it runs on: a Slurm controller
that does not answer, no Ray head or a dead one, a ray:// address without Ray Client, a process connected to
another Ray cluster than the one named. A module of its own: the Ray tests elsewhere keep an instance running
for their module, which ray:auto would find."""

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.cluster


def engine_error(spec: str, env: dict, before: str = "") -> str:
    """The one line `spec`'s engine ends with, in a fresh process (which runs `before` first)."""
    code = (f"{before}\nfrom repro.learn import engines\n"
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


def a_port_nothing_answers_at() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_dead_head_in_ray_address_is_one_line_within_seconds():
    """ray.init itself retries a head that does not answer for as long as it runs (over 5 minutes here)."""
    port = a_port_nothing_answers_at()
    start = time.monotonic()
    line = engine_error("ray:auto", {**os.environ, "RAY_ADDRESS": f"127.0.0.1:{port}"})
    assert line.startswith("--executor ray:auto: no Ray cluster answered (nothing answers at ") and "\n" not in line
    assert f":{port}, the address in $RAY_ADDRESS: Connection refused" in line
    assert time.monotonic() - start < 60


def test_a_head_stopped_without_ray_stop_is_one_line_naming_where_its_address_came_from(tmp_path):
    """`ray start` records the head's address for ray:auto; a head killed (not `ray stop`ped) leaves it there."""
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{a_port_nothing_answers_at()}")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    line = engine_error("ray:auto", {**env, "RAY_TMPDIR": str(tmp_path)})
    assert line.startswith("--executor ray:auto: no Ray cluster answered (nothing answers at ") and "\n" not in line
    assert "the last `ray start` on this machine recorded" in line


def test_a_process_connected_to_another_ray_cluster_than_ray_address_names_refuses_in_one_line():
    """The caller's own ray.init came first: the runs would go to that cluster, not the one named."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    named = f"127.0.0.1:{a_port_nothing_answers_at()}"
    before = ("import os, ray\n"
              "ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)\n"
              f"os.environ['RAY_ADDRESS'] = {named!r}")
    line = engine_error("ray:auto", env, before)
    assert line.startswith("--executor ray:auto: this process is connected to the Ray cluster at ") and "\n" not in line
    assert f"not to the one $RAY_ADDRESS names ({named})" in line and "ray.shutdown()" in line
