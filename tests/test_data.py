import zipfile

import numpy as np
import pytest

from zoo import data
from zoo.errors import DataUnavailable, ZooError
from conftest import needs_mnist


@needs_mnist
def test_mnist_from_zoo_data_dir_has_the_documented_splits():
    (xtr, ytr), (xte, yte) = data.load("mnist")
    assert xtr.shape == (17000, 28, 28) and xte.shape == (2690, 28, 28)
    assert xtr.dtype == np.uint8 and ytr.shape == (17000,) and set(np.unique(yte)) == set(range(10))


def test_missing_file_under_zoo_data_dir_names_the_path(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    with pytest.raises(DataUnavailable, match=str(tmp_path / "mnist.npz")):
        data.load("mnist")
    with pytest.raises(DataUnavailable, match="tinyshakespeare.txt"):
        data.load("tinyshakespeare")


def test_corrupt_npz_is_refused(tmp_path, monkeypatch):
    (tmp_path / "mnist.npz").write_bytes(b"PK\x03\x04 not really a zip")
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    with pytest.raises(DataUnavailable, match="not a readable"):
        data.load("mnist")


def test_npz_missing_keys_is_refused(tmp_path, monkeypatch):
    np.savez(tmp_path / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8))
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    with pytest.raises(DataUnavailable, match="y_train"):
        data.load("mnist")


def test_unknown_dataset():
    with pytest.raises(ZooError, match="unknown data set 'cifar'"):
        data.load("cifar")


@needs_mnist
def test_tinyshakespeare_is_text():
    text = data.load("tinyshakespeare")
    assert isinstance(text, str) and len(text) > 1_000_000 and "ROMEO" in text


@pytest.mark.parametrize("shape", [(28, 28), (28, 28, 1), (784,), (3, 28, 28), (3, 28, 28, 1), (3, 784)])
def test_as_images_accepts_documented_shapes(shape, rng):
    x = rng.integers(0, 256, size=shape, dtype=np.uint8)
    rows, single = data.as_images(x)
    assert single == (len(shape) == 1 or shape in [(28, 28), (28, 28, 1)])
    assert rows.dtype == np.float32 and rows.shape == ((1,) if single else (3,)) + (784,)
    np.testing.assert_array_equal(rows.reshape(-1), x.reshape(-1).astype(np.float32) / 255)


@pytest.mark.parametrize("x, message", [
    (np.zeros((27, 28), np.float32), r"expected shape .* got \(27, 28\)"),
    (np.zeros((2, 28, 28, 3), np.float32), r"got \(2, 28, 28, 3\)"),
    (np.zeros((0, 784), np.float32), "empty batch"),
    (np.full((784,), 2.0, np.float32), r"\[0, 1\].*divide uint8"),
    (np.full((784,), -0.5), r"\[0, 1\]"),
    (np.full((784,), np.nan, np.float32), "NaN"),
    (np.zeros((784,), np.int32), "dtype int32"),
    (np.array(["a"] * 784), "numeric"),
])
def test_as_images_refuses_bad_input(x, message):
    with pytest.raises(ZooError, match=message):
        data.as_images(x)


def test_as_latents_checks_dim_and_values():
    z, single = data.as_latents(np.zeros(4), 4)
    assert single and z.shape == (1, 4)
    with pytest.raises(ZooError, match=r"expected shape \(4,\) or \(N, 4\)"):
        data.as_latents(np.zeros((2, 5)), 4)
    with pytest.raises(ZooError, match="NaN"):
        data.as_latents(np.array([np.nan, 0, 0, 0]), 4)


@needs_mnist
def test_validation_split_is_carved_from_train_and_seeded():
    a = data.mnist_splits(validation=1000, seed=3)
    b = data.mnist_splits(validation=1000, seed=3)
    assert len(a["train"][0]) == 16000 and len(a["val"][0]) == 1000 and len(a["test"][0]) == 2690
    np.testing.assert_array_equal(a["val"][0], b["val"][0])
    # No validation image is also a training row (compare by exact bytes).
    train_keys = {r.tobytes() for r in a["train"][0]}
    assert sum(r.tobytes() in train_keys for r in a["val"][0]) < 5  # MNIST holds a handful of exact duplicates


def test_pipeline_batches_and_binarizes(rng):
    x = rng.random((300, 784), dtype=np.float32)
    ds = data.pipeline(x, batch_size=64, shuffle=True, seed=1, dynamic_binarization=True)
    batches = list(ds)
    assert [b[0].shape[0] for b in batches] == [64, 64, 64, 64, 44]
    xb = np.concatenate([b[0].numpy() for b in batches])
    assert set(np.unique(xb)) <= {0.0, 1.0}
    # Each pixel is 1 with probability equal to its intensity: the means agree within ~4 std.
    assert abs(xb.mean() - x.mean()) < 4 * np.sqrt(0.25 / x.size)
    with pytest.raises(ZooError, match="batch_size"):
        data.pipeline(x, batch_size=0)
    with pytest.raises(ZooError, match="empty"):
        data.pipeline(x[:0])


def test_fixed_binarization_is_seeded(rng):
    x = rng.random((10, 784), dtype=np.float32)
    np.testing.assert_array_equal(data.binarize(x, seed=5), data.binarize(x, seed=5))
    assert not np.array_equal(data.binarize(x, seed=5), data.binarize(x, seed=6))
