"""The ray engine against a Ray cluster of two nodes on this machine: a head and a second node started with
`ray start`, each with its own base-model cache folder, as two machines without a shared disk. A module of
its own: `ray stop` at the end stops every Ray process here, so no other module's instance may be running.
Marked cluster (the [cluster] extra; CI's cluster job and tox -e cluster run it)."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from claim_case import equals_its_records, made_on

from repro.learn import engines

pytestmark = pytest.mark.cluster
RAY = str(Path(sys.executable).with_name("ray"))


def ray(*args, env=None):
    return subprocess.run([RAY, *args], capture_output=True, text=True, timeout=180, env=env)


ALIVE = """import time, ray
ray.init(address="{address}", log_to_driver=False)
start = time.monotonic()
while {want} and sum(n["Alive"] for n in ray.nodes()) != {want} and time.monotonic() - start < 90:
    time.sleep(0.5)
print(sum(n["Alive"] for n in ray.nodes()))
"""
PORT = "6391"


def alive_nodes(env: dict, want: int = 0) -> int:
    """How many nodes Ray holds alive: now, or once it holds `want` (at most 90 s on): `ray start` returns
    before a node has joined, and a killed node is taken for dead some seconds after."""
    done = subprocess.run([sys.executable, "-c", ALIVE.format(address=f"127.0.0.1:{PORT}", want=want)],
                          capture_output=True, text=True, timeout=150, env=env)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.split()[-1])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head of one CPU, up for the module; yields the environment nodes start in and the two cache folders."""
    caches = [tmp_path_factory.mktemp("head-cache"), tmp_path_factory.mktemp("node2-cache")]
    # the nodes' workers inherit the environment their `ray start` had: this module's toy jobs on the path
    path = os.pathsep.join(filter(None, (os.path.dirname(__file__), os.environ.get("PYTHONPATH"))))
    base = {**os.environ, "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled"), "PYTHONPATH": path}
    head = ray("start", "--head", f"--port={PORT}", "--num-cpus=1", "--include-dashboard=false",
               "--disable-usage-stats", env={**base, "REPRO_CACHE_DIR": str(caches[0])})
    assert head.returncode == 0, head.stderr
    yield base, caches
    ray("stop", "--force")


@pytest.fixture
def two_nodes(cluster):
    """The head and a second node of one CPU each, both alive when the test starts (the lost-node test kills
    the second; whatever runs after it finds a new one); yields their cache folders, head first."""
    base, caches = cluster
    if alive_nodes(base) < 2:
        node = ray("start", f"--address=127.0.0.1:{PORT}", "--num-cpus=1", "--disable-usage-stats",
                   env={**base, "REPRO_CACHE_DIR": str(caches[1])})
        assert node.returncode == 0, node.stderr
        # a map started before the node has joined runs everything on the head
        assert alive_nodes(base, 2) == 2
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_ADDRESS", f"127.0.0.1:{PORT}")
        mp.setenv("RAY_AUTH_MODE", base["RAY_AUTH_MODE"])
        mp.setenv("PYTHONPATH", base["PYTHONPATH"])
        yield caches


def where_it_ran(x):
    import ray as ray_

    time.sleep(4)  # long enough that the head is busy when the second node's worker has started
    return x, ray_.get_runtime_context().get_node_id(), os.environ.get("REPRO_CACHE_DIR"), \
        os.environ.get("OMP_NUM_THREADS")


def test_the_runs_spread_over_both_nodes_each_with_its_own_cache_and_one_thread(two_nodes):
    engine = engines.make("ray:auto")
    try:
        got = engine.map(where_it_ran, list(range(8)))
    finally:
        engine.close()
    assert [g[0] for g in got] == list(range(8))
    assert len({g[1] for g in got}) == 2  # both nodes took runs
    assert {g[2] for g in got} == {str(c) for c in two_nodes} and {g[3] for g in got} == {"1"}


def test_a_stored_claim_case_made_on_the_two_nodes_equals_its_records(two_nodes, tmp_path):
    """The base model pretrained once, as a job on one node, then sent to both through the object store."""
    driver = tmp_path / "driver"
    done = made_on("ray:auto", driver)
    assert equals_its_records(done), done.stdout[-3000:] + done.stderr[-3000:]
    assert "pretraining 1 base model(s)" in done.stderr + done.stdout
    kept = [sorted(p.name for p in (cache / "base-models").glob("*.pt")) for cache in (driver, *two_nodes)]
    assert len(kept[0]) == 1 and kept == [kept[0]] * 3  # the one base model, on the driver and on both nodes


def naps(x):
    time.sleep(4)
    return x, os.environ.get("REPRO_CACHE_DIR")


def second_node_processes(cache: Path) -> list[int]:
    """The raylet and workers of the node started with REPRO_CACHE_DIR=cache (they inherit it)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if f"REPRO_CACHE_DIR={cache}".encode() + b"\0" in env and int(pid) != os.getpid():
            found.append(int(pid))
    return found


def test_a_node_lost_mid_run_loses_no_finished_run_and_the_rest_completes_on_the_head(two_nodes):
    head, second = map(str, two_nodes)
    got, killed = {}, []

    def lose_the_second_node():
        while not any(cache == second for _, cache in got.values()):  # once it has finished a run
            time.sleep(0.2)
        for pid in second_node_processes(two_nodes[1]):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    threading.Thread(target=lose_the_second_node, daemon=True).start()
    engine = engines.make("ray:auto")
    start = time.monotonic()
    try:
        out = engine.map(naps, list(range(8)), on_result=got.__setitem__)
    finally:
        engine.close()
    took = time.monotonic() - start
    assert killed and [x for x, _ in out] == list(range(8))
    finished_there = [x for x, cache in out if cache == second]
    assert finished_there and all(cache == head for x, cache in out if x > max(finished_there))
    print(f"a lost node: 8 runs of 4 s in {took:.0f} s, {len(finished_there)} kept from the lost node")
    assert alive_nodes(dict(os.environ), 1) == 1  # Ray took it for dead: the next test's fixture starts another
