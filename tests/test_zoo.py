"""The base-model cache: hits, misses, and files that must never be loaded."""

import pytest
import torch

from repro.case.specs import DataSpec
from repro.learn.zoo import Recipe, base_model, cache_key

# One epoch of the smallest model: enough to exercise the cache, not to learn much.
TINY = Recipe(epochs=1, batch=128)
MODEL = "mobilenet_v3_small"


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zoo")
    state, meta = base_model(MODEL, DataSpec(), TINY, progress=False, cache=folder)
    return folder, state, meta


def weights_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_cache_hit_returns_identical_weights(cached):
    folder, state, meta = cached
    again, meta_again = base_model(MODEL, DataSpec(), TINY, progress=False, cache=folder)
    assert weights_equal(state, again) and meta == meta_again
    assert meta["num_classes"] == 5 and 0 <= meta["test_accuracy"] <= 1


def test_changed_recipe_or_data_gives_a_new_key():
    key = cache_key(MODEL, DataSpec(), TINY)
    assert cache_key(MODEL, DataSpec(), Recipe(epochs=2, batch=128)) != key
    assert cache_key(MODEL, DataSpec(seed=1), TINY) != key
    assert cache_key("resnet18", DataSpec(), TINY) != key
    assert cache_key(MODEL, DataSpec(), Recipe(epochs=1, batch=128)) == key


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["truncated", "garbage", "foreign"])
def test_damaged_cache_file_is_reported_and_rebuilt(cached, damage):
    folder, state, _ = cached
    path = folder / f"{MODEL}-{cache_key(MODEL, DataSpec(), TINY)}.pt"
    good = path.read_bytes()
    if damage == "truncated":  # an interrupted copy
        path.write_bytes(good[: len(good) // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a checkpoint")
    else:  # a valid checkpoint saved under another key
        torch.save({"key": "0" * 16, "state_dict": {}, "meta": {}}, path)
    with pytest.warns(UserWarning, match=f"base model cache file {path} is unreadable"):
        rebuilt, _ = base_model(MODEL, DataSpec(), TINY, progress=False, cache=folder)
    assert weights_equal(rebuilt, state)  # pretraining is deterministic, so the rebuild matches
    path.write_bytes(good)  # the module's file as the fixture made it (its meta holds that run's seconds)


def test_interrupted_write_leaves_no_loadable_file(tmp_path, monkeypatch):
    import repro.learn.zoo as zoo

    def interrupted(obj, f):
        f.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(zoo.torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        base_model(MODEL, DataSpec(), TINY, progress=False, cache=tmp_path)
    assert not list(tmp_path.glob("*.pt")) and not list(tmp_path.glob("*.partial"))


@pytest.mark.slow
def test_concurrent_workers_train_a_missing_model_once(tmp_path):
    # Two processes (as two pytest-xdist workers would) ask for the same missing base model at once:
    # the file lock makes one train and write it and the other load that file, so both return the
    # very same meta (its training seconds included, which two separate trainings would not share).
    import json
    import os
    import subprocess
    import sys

    script = ("import json, sys; from repro.case.specs import DataSpec; "
              "from repro.learn.zoo import Recipe, base_model; "
              "from pathlib import Path; _, meta = base_model('mobilenet_v3_small', DataSpec(), "
              "Recipe(epochs=1, batch=128), progress=False, cache=Path(sys.argv[1])); print(json.dumps(meta))")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # two processes on a small machine: one thread each
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True,
                              env=env) for _ in range(2)]
    metas = [json.loads(p.communicate(timeout=300)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert metas[0] == metas[1]
    assert len(list(tmp_path.glob("*.pt"))) == 1


def test_a_first_run_says_what_it_pretrains_and_about_how_long_before_it_starts(tmp_path, monkeypatch, capsys):
    """The announcement names only the missing base models, with their steps, and the wall time on this
    machine from their timed parts."""
    from repro.learn import runs, zoo

    monkeypatch.setenv("REPRO_CACHE_DIR", str(tmp_path))
    data = DataSpec(benchmark="glyphs")
    needed = [("resnet18", data, Recipe(epochs=8)), ("mobilenet_v2", data, Recipe(epochs=20))]
    zoo.base_model_path(*needed[0]).parent.mkdir(parents=True)
    zoo.base_model_path(*needed[0]).write_bytes(b"cached")  # only its existence is read here
    timed = {"mobilenet_v2": zoo.Timing(start=3.0, task=2.0, step=0.24, passes=5.0, steps=4500)}
    monkeypatch.setattr(zoo, "time_pretraining", lambda key, **_: timed[key[0]])
    runs.announce_pretraining(needed, workers=2)
    err = capsys.readouterr().err
    assert "pretraining 1 base model(s) on embedded glyphs" in err and "resnet18" not in err
    assert "mobilenet_v2 (4500 steps, done after ~18 min)" in err and "about 18 minutes on this machine" in err
    assert str(tmp_path) in err

    zoo.base_model_path(*needed[1]).write_bytes(b"cached")
    runs.announce_pretraining(needed, workers=2)
    assert capsys.readouterr().err == ""  # nothing to pretrain: nothing said


def test_jobs_end_when_a_worker_has_made_them_in_their_order():
    from repro.learn.runs import finish_times

    assert finish_times([100.0, 200.0], lanes=2) == [100.0, 200.0]  # side by side
    assert finish_times([100.0, 200.0], lanes=1) == [100.0, 300.0]  # one after another
    assert finish_times([50.0, 80.0, 50.0], lanes=2) == [50.0, 80.0, 100.0]  # the third on the first free worker


def test_the_estimate_times_real_steps_of_the_recipe():
    from repro.learn.zoo import time_pretraining

    timing = time_pretraining(("resnet18", DataSpec(), Recipe(epochs=1)), window=0.0, warm=1)
    assert timing.steps > 0 and timing.step > 0 and timing.passes > 0 and timing.start == 0.0
    assert 0 < timing.seconds() < 3600
