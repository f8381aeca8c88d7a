"""The glyph benchmark: made offline from files inside wheels, the same bytes in every process, and
the sizes, classes and ranges the accuracy claims rely on."""

import hashlib
import subprocess
import sys

import pytest
import torch

from repro.case.specs import GLYPHS, DataSpec
from repro.learn.data import glyphs, scenario_task, source_task

DIGEST = ("import hashlib, torch; from repro.learn.data import glyphs; torch.set_num_threads({threads}); "
          "x, y = glyphs.split('{task}', 'test', 32, 0); "
          "print(hashlib.sha256(x.numpy().tobytes() + y.numpy().tobytes()).hexdigest())")


@pytest.mark.parametrize("task", ["source", *glyphs.TASKS])
def test_every_task_has_the_promised_shape_classes_and_range(task):
    x, y = glyphs.split(task, "test", 32, 0)
    classes = glyphs.num_classes(task)
    assert x.shape[1:] == (3, 32, 32) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1
    assert torch.bincount(y, minlength=classes).tolist() == [glyphs.KNOBS[task].test_per_class] * classes
    if task != "source":
        assert len(y) >= 2000  # one image is at most 0.05 points


@pytest.mark.slow
def test_the_same_seed_gives_the_same_bytes_in_another_process_and_thread_count():
    here = glyphs.split("shift-hard", "test", 32, 0)
    digest = hashlib.sha256(here[0].numpy().tobytes() + here[1].numpy().tobytes()).hexdigest()
    for threads in (1, 2):
        out = subprocess.run([sys.executable, "-c", DIGEST.format(threads=threads, task="shift-hard")],
                             capture_output=True, text=True, check=True)
        assert out.stdout.strip() == digest, f"{threads} thread(s)"
    other = glyphs.split("shift-hard", "test", 32, 1)
    assert not torch.equal(here[0], other[0])


def test_train_and_test_are_drawn_apart_and_sizes_follow_the_parameter():
    train, _ = glyphs.split("unseen-easy", "train", 48, 0)
    test, _ = glyphs.split("unseen-easy", "test", 48, 0)
    assert train.shape[1:] == (3, 48, 48)
    assert not any(torch.equal(test[0], t) for t in train)


def test_the_benchmark_is_a_data_spec_choice_with_its_own_tasks():
    assert GLYPHS.scenarios == glyphs.TASKS and DataSpec().scenarios == ("shift", "unseen")
    assert source_task(GLYPHS).num_classes == 36 and scenario_task("unseen-hard", GLYPHS).num_classes == 10
    with pytest.raises(ValueError, match="valid scenarios: shift-easy, shift-hard, unseen-easy, unseen-hard"):
        scenario_task("shift", GLYPHS)
    with pytest.raises(ValueError, match="unknown benchmark 'glyph'; valid benchmarks: digits, glyphs"):
        DataSpec(benchmark="glyph")


# The fonts and photographs the glyph records were made from (matplotlib 3.11.2, scikit-learn 1.9.1): a release
# that changes one of them makes other base models, and the glyph records stop reproducing.
RECORDED_ASSETS = "7d620113d574a432"


def test_the_assets_are_read_from_the_wheels_and_are_those_the_records_were_made_from():
    faces = [glyphs._font_path(face) for face in glyphs.SOURCE_FACES + glyphs.HELD_OUT_FACES]
    assert all(p.suffix == ".ttf" and p.exists() for p in faces) and len(set(faces)) == 16
    assert all(p.exists() for p in glyphs._photo_paths())
    assert glyphs.assets_digest() == RECORDED_ASSETS, "a font or photograph differs from the records' own"


def test_shift_hard_shuffles_the_pixels_within_each_block_by_one_permutation(monkeypatch):
    import dataclasses

    x, y = glyphs.split("shift-hard", "test", 32, 0)
    monkeypatch.setitem(glyphs.KNOBS, "shift-hard", dataclasses.replace(glyphs.KNOBS["shift-hard"], scramble=0))
    plain, y_plain = glyphs.split("shift-hard", "test", 32, 0)
    assert torch.equal(y, y_plain) and not torch.equal(x, plain)

    def blocks(t):  # (n, c, 8, 8, 16): the 16 pixels of each 4 x 4 block
        return t.reshape(*t.shape[:2], 8, 4, 8, 4).permute(0, 1, 2, 4, 3, 5).reshape(*t.shape[:2], 8, 8, 16)

    assert torch.equal(blocks(x).sort(-1).values, blocks(plain).sort(-1).values)  # the same pixels, moved
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(glyphs.SCRAMBLE_SEED))
    assert torch.equal(blocks(x), blocks(plain)[..., perm])  # in one order, for every block and image
    with pytest.raises(ValueError, match="multiple of 8"):
        glyphs._scramble(plain[:2, :, :30, :30], 4)
