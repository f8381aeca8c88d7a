"""Real-dataset loaders, on tiny files written here in exactly the published formats."""

import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from repro.case.specs import DataSpec, data_root
from repro.learn.data import scenario_task, source_task
from repro.learn.data.real import cifar10, cifar10c, vww


def write_cifar10(root, per_batch=6):
    # torchvision's layout: pickled dicts with "data" (N x 3072 uint8, channel-major) and "labels";
    # the originals are Python 2 pickles whose keys load as str under encoding="latin1"
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        blob = {"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                "labels": [int(i % 10) for i in range(per_batch)]}
        with open(base / name, "wb") as f:
            pickle.dump(blob, f)
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, f)


def write_cifar10c(root, per_severity=4, corruption="fog"):
    # the official layout: one <corruption>.npy of 5 severity blocks, and labels.npy
    base = root / "CIFAR-10-C"
    base.mkdir(parents=True)
    n = 5 * per_severity
    images = np.zeros((n, 32, 32, 3), dtype=np.uint8)
    for s in range(5):
        images[s * per_severity:(s + 1) * per_severity] = 50 * s  # severity s+1 is recognisable
    np.save(base / f"{corruption}.npy", images)
    np.save(base / "labels.npy", np.arange(n, dtype=np.uint8) % 10)


def write_vww(root, per_class=4):
    for cls, value in (("person", 255), ("no_person", 0)):
        folder = root / "vww" / cls
        folder.mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(np.full((40, 48, 3), value, dtype=np.uint8)).save(folder / f"{i}.png")


def test_cifar10_reads_torchvision_format(tmp_path):
    write_cifar10(tmp_path)
    train, test = cifar10(tmp_path, True), cifar10(tmp_path, False)
    assert train.x.shape == (30, 3, 32, 32) and len(test) == 6
    assert 0 <= train.x.min() and train.x.max() <= 1 and train.y.tolist()[:3] == [0, 1, 2]


def test_cifar10c_picks_the_severity_block(tmp_path):
    write_cifar10c(tmp_path)
    s3 = cifar10c(tmp_path, "fog", 3)
    assert len(s3) == 4
    assert torch.allclose(s3.x, torch.full_like(s3.x, 100 / 255))
    assert s3.y.tolist() == [8, 9, 0, 1]


def test_vww_reads_a_folder_per_class(tmp_path):
    write_vww(tmp_path)
    data = vww(tmp_path, size=32)
    assert data.x.shape == (8, 3, 32, 32)
    assert data.y.tolist() == [0] * 4 + [1] * 4  # no_person = 0, person = 1 (sorted folders)
    assert data.x[data.y == 1].min() == 1.0


def test_scenarios_switch_to_real_data(tmp_path):
    write_cifar10(tmp_path)
    write_cifar10c(tmp_path, corruption="gaussian_noise")
    write_vww(tmp_path)
    spec = DataSpec(data_root=str(tmp_path))
    assert source_task(spec).num_classes == 10
    assert scenario_task("shift", spec).num_classes == 10
    unseen = scenario_task("unseen", spec)
    assert unseen.num_classes == 2 and str(tmp_path) in unseen.source


def test_environment_variable_sets_the_root(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA_ROOT", str(tmp_path))
    assert data_root() == tmp_path
    monkeypatch.delenv("REPRO_DATA_ROOT")
    assert data_root() is None


def test_missing_root_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="data root .*nowhere is not a directory; create it or drop"):
        data_root(tmp_path / "nowhere")


def test_missing_file_names_it_and_the_layout(tmp_path):
    write_cifar10c(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"missing .*CIFAR-10-C/snow.npy; expected layout: CIFAR-10-C/"):
        cifar10c(tmp_path, "snow", 1)
    with pytest.raises(FileNotFoundError, match=r"missing .*cifar-10-batches-py/data_batch_1; expected layout"):
        cifar10(tmp_path, True)
    with pytest.raises(FileNotFoundError, match=r"missing .*vww/person; expected layout: vww/person"):
        vww(tmp_path)


def test_malformed_cifar10c_names_the_file(tmp_path):
    write_cifar10c(tmp_path)
    np.save(tmp_path / "CIFAR-10-C" / "fog.npy", np.zeros((20, 28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"fog.npy has shape \(20, 28, 28\) with 20 labels; expected"):
        cifar10c(tmp_path, "fog", 1)


@pytest.mark.parametrize("damage", ["truncated", "not numpy", "pickled"])
def test_garbled_cifar10c_file_names_it_and_the_format(tmp_path, damage):
    write_cifar10c(tmp_path)
    path = tmp_path / "CIFAR-10-C" / "fog.npy"
    if damage == "truncated":  # an interrupted copy: the header promises more bytes than there are
        path.write_bytes(path.read_bytes()[:300])
    elif damage == "not numpy":
        path.write_bytes(b"<html>502 Bad Gateway</html>")
    else:  # an object array needs pickle, which a data file must never run
        np.save(path, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"cannot read .*CIFAR-10-C/fog.npy \(.*\); expected layout: CIFAR-10-C/"):
        cifar10c(tmp_path, "fog", 1)


def test_garbled_labels_and_cifar10_batches_name_the_file(tmp_path):
    write_cifar10c(tmp_path)
    write_cifar10(tmp_path)
    (tmp_path / "CIFAR-10-C" / "labels.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match=r"cannot read .*CIFAR-10-C/labels.npy"):
        cifar10c(tmp_path, "fog", 1)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"cannot read .*data_batch_3 .*expected layout: cifar-10-batches-py/"):
        cifar10(tmp_path, True)


def test_unreadable_vww_image_names_it(tmp_path):
    write_vww(tmp_path)
    (tmp_path / "vww" / "person" / "2.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"cannot read .*vww/person/2.png .*expected layout: vww/person/"):
        vww(tmp_path)
