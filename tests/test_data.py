"""zoo.data (data sets, splits, binarization, the seeded tf.data pipeline) and zoo.checks' image and latent
validators."""

import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from zoo import checks, data
from zoo.errors import DataUnavailable, ZooError
from conftest import needs_mnist


def has_tinyshakespeare():
    d = os.environ.get("ZOO_DATA_DIR")
    return bool(d) and (Path(d) / "tinyshakespeare.txt").is_file()


@needs_mnist
def test_mnist_from_zoo_data_dir_has_the_documented_splits():
    (xtr, ytr), (xte, yte) = data.load("mnist")
    # The Keras layout, whatever the counts (the official 60,000 / 10,000, or a cut-down copy).
    assert xtr.shape == (len(ytr), 28, 28) and xte.shape == (len(yte), 28, 28) and len(xtr) > 0 and len(xte) > 0
    assert xtr.dtype == xte.dtype == np.uint8 and set(np.unique(yte)) == set(range(10))


def test_missing_file_under_zoo_data_dir_names_the_path(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    with pytest.raises(DataUnavailable, match=str(tmp_path / "mnist.npz")):
        data.load("mnist")
    with pytest.raises(DataUnavailable, match="tinyshakespeare.txt"):
        data.load("tinyshakespeare")
    # DataUnavailable is a ZooError, so one except clause catches every user-facing failure.
    with pytest.raises(ZooError):
        data.splits("mnist")


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
    with pytest.raises(ZooError, match="no splits for data set 'cifar'"):
        data.splits("cifar")


@pytest.mark.skipif(not has_tinyshakespeare(), reason="needs $ZOO_DATA_DIR/tinyshakespeare.txt")
def test_tinyshakespeare_is_text():
    text = data.load("tinyshakespeare")
    assert isinstance(text, str) and len(text) > 1_000_000 and "ROMEO" in text


# -- checks: images and latents ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(28, 28), (28, 28, 1), (784,), (3, 28, 28), (3, 28, 28, 1), (3, 784)])
def test_as_images_accepts_documented_shapes(shape, rng):
    x = rng.integers(0, 256, size=shape, dtype=np.uint8)
    rows, single = checks.as_images(x)
    assert single == (len(shape) == 1 or shape in [(28, 28), (28, 28, 1)])
    assert rows.dtype == np.float32 and rows.shape == ((1,) if single else (3,)) + (784,)
    np.testing.assert_array_equal(rows.reshape(-1), x.reshape(-1).astype(np.float32) / 255)
    # The same pixels as float in [0, 1] come back unchanged.
    again, _ = checks.as_images(rows.reshape(shape) if not single else rows[0].reshape(shape))
    np.testing.assert_array_equal(again, rows)


@pytest.mark.parametrize("x, message", [
    (np.zeros((27, 28), np.float32), r"expected shape .* got \(27, 28\)"),
    (np.zeros((2, 28, 28, 3), np.float32), r"got \(2, 28, 28, 3\)"),
    (np.zeros((0, 784), np.float32), "empty batch"),
    (np.full((784,), 2.0, np.float32), r"\[0, 1\].*divide uint8"),
    (np.full((784,), -0.5), r"\[0, 1\]"),
    (np.full((784,), np.nan, np.float32), "NaN"),
    (np.full((784,), 1e300), "NaN or Inf"),  # finite as float64, inf after the cast to float32
    (np.zeros((784,), np.int32), "dtype int32"),
    (np.array(["a"] * 784), "numeric"),
])
def test_as_images_refuses_bad_input(x, message):
    with pytest.raises(ZooError, match=message):
        checks.as_images(x)


def test_as_latents_checks_dim_and_values():
    z, single = checks.as_latents(np.zeros(4), 4)
    assert single and z.shape == (1, 4) and z.dtype == np.float32
    with pytest.raises(ZooError, match=r"expected shape \(4,\) or \(N, 4\)"):
        checks.as_latents(np.zeros((2, 5)), 4)
    with pytest.raises(ZooError, match="NaN"):
        checks.as_latents(np.array([np.nan, 0, 0, 0]), 4)


# -- splits and binarization -------------------------------------------------------------------------------------
@needs_mnist
@pytest.mark.slow
def test_validation_split_is_carved_from_train_and_seeded():
    a = data.mnist_splits(validation=1000, seed=3)
    b = data.mnist_splits(validation=1000, seed=3)
    (xtr, _), (xte, yte) = data.load("mnist")
    assert (len(a["train"][0]), len(a["val"][0]), len(a["test"][0])) == (len(xtr) - 1000, 1000, len(xte))
    np.testing.assert_array_equal(a["val"][0], b["val"][0])
    assert not np.array_equal(a["val"][0], data.mnist_splits(validation=1000, seed=4)["val"][0])
    # No validation image is also a training row (compare by exact bytes).
    train_keys = {r.tobytes() for r in a["train"][0]}
    assert sum(r.tobytes() in train_keys for r in a["val"][0]) < 5  # MNIST holds a handful of exact duplicates
    # Train and validation together are the whole training file; test is the test file, untouched.
    together = np.concatenate([a["train"][0], a["val"][0]])
    assert sorted(r.tobytes() for r in together) == sorted(r.tobytes() for r in xtr.reshape(-1, 784) / np.float32(255))
    np.testing.assert_array_equal(a["test"][0], xte.reshape(-1, 784).astype(np.float32) / 255)
    np.testing.assert_array_equal(a["test"][1], yte)
    with pytest.raises(ZooError, match="validation"):
        data.mnist_splits(validation=len(xtr))


def test_fixed_binarization_is_seeded(rng):
    x = rng.random((200, 784), dtype=np.float32)
    b = data.binarize(x, seed=5)
    np.testing.assert_array_equal(b, data.binarize(x, seed=5))
    assert not np.array_equal(b, data.binarize(x, seed=6))
    assert set(np.unique(b)) <= {0.0, 1.0}
    # Each pixel is 1 with probability equal to its intensity: the sum of Bernoulli(x) has variance
    # sum x (1 - x), so 5 standard deviations make a false failure about one in 1.7 million.
    assert abs(b.sum() - x.sum()) < 5 * np.sqrt(np.sum(x * (1 - x)))
    assert np.all(data.binarize(np.zeros((2, 784), np.float32)) == 0)
    assert np.all(data.binarize(np.ones((2, 784), np.float32)) == 1)


def test_binarize_scales_uint8_pixels_and_refuses_what_is_not_an_intensity(rng):
    """uint8 images (what load("mnist") returns) are 0..255: read as probabilities, every non-zero pixel would be
    on. They are scaled by 1/255, so they binarize exactly as the float rows the splits hold."""
    pixels = rng.integers(0, 256, (50, 28, 28), dtype=np.uint8)
    b = data.binarize(pixels, seed=3)
    np.testing.assert_array_equal(b, data.binarize(pixels.astype(np.float32) / np.float32(255), seed=3))
    on = pixels > 0
    assert b.mean() < 0.6 and b[on].mean() < 0.6   # uniform pixels: about half on, not nearly all
    for bad, what in ((np.full((2, 3), 255.0, np.float32), r"in \[0, 1\].*\[255, 255\]"),
                      (np.array([0.5, np.nan], np.float32), "NaN"),
                      (np.array([-0.1, 0.5]), r"\[-0.1, 0.5\]"),
                      (np.array([0, 1, 2], np.int64), "dtype int64")):
        with pytest.raises(ZooError, match=what):
            data.binarize(bad)


# -- the pipeline -------------------------------------------------------------------------------------------------
def epoch_of(ds):
    return [tuple(np.asarray(t) for t in batch) for batch in ds]


def test_pipeline_batches_every_example_once_per_epoch(rng):
    x = rng.random((300, 784), dtype=np.float32)
    y = np.arange(300)
    batches = epoch_of(data.pipeline((x, y), batch_size=64, shuffle=True, seed=1))
    assert [b[0].shape[0] for b in batches] == [64, 64, 64, 64, 44]
    order = np.concatenate([b[1] for b in batches])
    assert sorted(order.tolist()) == list(range(300)) and not np.array_equal(order, np.arange(300))
    # Rows stay with their labels.
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x[order])
    unshuffled = np.concatenate([b[1] for b in epoch_of(data.pipeline((x, y), batch_size=64, shuffle=False))])
    np.testing.assert_array_equal(unshuffled, np.arange(300))
    with pytest.raises(ZooError, match="batch_size"):
        data.pipeline((x,), batch_size=0)
    with pytest.raises(ZooError, match="empty"):
        data.pipeline((x[:0],))
    with pytest.raises(ZooError, match="different lengths"):
        data.pipeline((x, y[:10]))


def test_pipeline_order_is_a_function_of_seed_and_epoch(rng):
    """A resumed run must see the batches an uninterrupted run sees: the order depends on (seed, epoch) only."""
    y = np.arange(100)

    def order(seed, epoch):
        var = tf.Variable(0, dtype=tf.int64)
        ds = data.pipeline((y,), batch_size=32, seed=seed, epoch=var)
        var.assign(epoch)
        return np.concatenate([b[0] for b in epoch_of(ds)])

    np.testing.assert_array_equal(order(1, 0), order(1, 0))
    np.testing.assert_array_equal(order(1, 3), order(1, 3))
    assert not np.array_equal(order(1, 0), order(1, 1))
    assert not np.array_equal(order(1, 0), order(2, 0))
    # One pipeline, the epoch variable moved between passes: each pass is the order of its epoch.
    var = tf.Variable(0, dtype=tf.int64)
    ds = data.pipeline((y,), batch_size=32, seed=1, epoch=var)
    first = np.concatenate([b[0] for b in epoch_of(ds)])
    var.assign(1)
    second = np.concatenate([b[0] for b in epoch_of(ds)])
    np.testing.assert_array_equal(first, order(1, 0))
    np.testing.assert_array_equal(second, order(1, 1))


def test_pipeline_augments_the_first_array_with_a_seed_per_batch(rng):
    x = np.zeros((64, 4), np.float32)
    y = np.arange(64)
    seen = []

    def augment(batch, seed):
        return batch + tf.random.stateless_uniform(tf.shape(batch), seed=seed)

    for _ in range(2):
        batches = epoch_of(data.pipeline((x, y), batch_size=16, shuffle=False, seed=3, augment=augment))
        seen.append(np.concatenate([b[0] for b in batches]))
        np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)  # labels untouched
    np.testing.assert_array_equal(seen[0], seen[1])
    # Different batches draw different noise (their seeds differ); so do rows within a batch.
    assert len({row.tobytes() for row in seen[0]}) == 64
