"""Data sets, input checking and tf.data pipelines.

`load("mnist")` reads `$ZOO_DATA_DIR/mnist.npz` when ZOO_DATA_DIR is set, otherwise it asks
`keras.datasets`, which downloads. Images leave this module as float32 rows of 784 pixels in [0, 1].
`record(name, splits, ...)` says what was loaded (source, counts, sha256 of each split's arrays) for model cards.
"""

import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np

from zoo import checks
from zoo.errors import DataUnavailable, ZooError

DATASETS = ("mnist", "tinyshakespeare")
TINYSHAKESPEARE_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)


def data_dir():
    """The folder named by $ZOO_DATA_DIR, or None."""
    value = os.environ.get("ZOO_DATA_DIR")
    return Path(value).expanduser() if value else None


def load(name):
    """Return a data set the Keras way.

    - "mnist": ((x_train, y_train), (x_test, y_test)) with uint8 images of shape (N, 28, 28).
    - "tinyshakespeare": the text as one str.
    """
    if name == "mnist":
        return _load_mnist()
    if name == "tinyshakespeare":
        return _load_tinyshakespeare()
    raise ZooError(f"unknown data set {name!r}; expected one of {', '.join(DATASETS)}")


def _local(filename):
    """$ZOO_DATA_DIR/filename, or None when ZOO_DATA_DIR is unset (then keras.datasets downloads)."""
    folder = data_dir()
    if folder is None:
        return None
    path = folder / filename
    if not path.is_file():
        raise DataUnavailable(f"ZOO_DATA_DIR is set but {path} does not exist")
    return path


def _download(what, fetch):
    try:
        return fetch()
    except Exception as e:  # no network, blocked host, partial download
        why = (str(e).splitlines() or [""])[0][:200] or type(e).__name__
        raise DataUnavailable(f"{what} could not be downloaded ({why}); set ZOO_DATA_DIR to a folder holding "
                              f"{what}") from None


def _load_mnist():
    path = _local("mnist.npz")
    if path is None:
        import keras

        return _download("mnist.npz", keras.datasets.mnist.load_data)
    try:
        with np.load(path, allow_pickle=False) as f:
            return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        raise DataUnavailable(f"{path} is not a readable Keras mnist.npz (keys x_train, y_train, x_test, y_test): "
                              f"{e}") from None


def _load_tinyshakespeare():
    path = _local("tinyshakespeare.txt")
    if path is None:
        import keras

        path = _download("tinyshakespeare.txt", lambda: keras.utils.get_file("tinyshakespeare.txt", TINYSHAKESPEARE_URL))
    return Path(path).read_text(encoding="utf-8")


def mnist_splits(validation=2000, seed=0):
    """MNIST as float rows: {"train", "val", "test"} -> (x (N, 784) float32 in [0, 1], y int64).

    The validation split is carved from train with a seeded permutation, so test stays untouched.
    """
    (x_train, y_train), (x_test, y_test) = load("mnist")
    x_train, _ = checks.as_images(x_train, "x_train")
    x_test, _ = checks.as_images(x_test, "x_test")
    y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)
    if not 0 <= validation < len(x_train):
        raise ZooError(f"validation must be in [0, {len(x_train)}), got {validation}")
    order = np.random.default_rng(seed).permutation(len(x_train))
    val_idx, train_idx = order[:validation], order[validation:]
    return {
        "train": (x_train[train_idx], y_train[train_idx]),
        "val": (x_train[val_idx], y_train[val_idx]),
        "test": (x_test, y_test),
    }


def binarize(x, seed=0):
    """A fixed, seeded binarization: each pixel is 1 with probability equal to its intensity in [0, 1].

    uint8 images (what `load("mnist")` returns) are intensities in 0..255 and are scaled by 1/255 first; float
    values outside [0, 1] are refused, since reading them as probabilities would turn every non-zero pixel on."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / np.float32(255)
    elif not np.issubdtype(x.dtype, np.floating):
        raise ZooError(f"binarize expects uint8 pixels (0..255) or float intensities in [0, 1]; got dtype {x.dtype}")
    elif x.size and not (np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1):
        raise ZooError("binarize expects float intensities in [0, 1] (or uint8 pixels 0..255); got values in "
                       f"[{np.nanmin(x):.4g}, {np.nanmax(x):.4g}]" + (" with NaN or inf" if not np.isfinite(x).all() else ""))
    rng = np.random.default_rng(seed)
    return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)


TEXT_TRAIN_FRACTION = 0.9


def text_splits(text):
    """The first 90% of a text for training, the last 10% for validation (nanoGPT's split of tinyshakespeare).
    There is no separate test text: "test" is the validation text, and cards say so."""
    cut = int(len(text) * TEXT_TRAIN_FRACTION)
    return {"train": (text[:cut], None), "val": (text[cut:], None), "test": (text[cut:], None)}


def splits(name, validation=2000, seed=0, chosen=False):
    """A data set by name as {"train", "val", "test"} splits, for training and evaluation: (x, y) arrays for
    MNIST, (text, None) for tinyshakespeare. None for a preset without a data set (an RL agent's environment).
    `validation` is how many MNIST training images to hold out; when the user `chosen` it, a data set whose
    split is fixed (the text's last 10%), or no data set, refuses it rather than ignoring it."""
    if chosen and name != "mnist":
        what = f"{name}'s validation split is fixed" if name else "this model has no data set"
        raise ZooError(f"--validation holds MNIST training images out; {what}")
    if name is None:
        return None
    if name == "mnist":
        return mnist_splits(validation=validation, seed=seed)
    if name == "tinyshakespeare":
        return text_splits(load("tinyshakespeare"))
    raise ZooError(f"no splits for data set {name!r}; expected one of: mnist, tinyshakespeare")


def pipeline(arrays, batch_size=128, shuffle=True, seed=0, epoch=None, augment=None):
    """A tf.data pipeline over a tuple of equally long arrays: shuffle, batch, optional augmentation, prefetch.

    With `epoch` (an int64 tf.Variable that training sets at the start of each epoch), the shuffle order and
    any augmentation are stateless functions of (seed, epoch, batch): a run resumed at epoch k sees exactly the
    batches an uninterrupted run sees, and every worker of a multi-worker run sees the same global batches.
    augment(first_array_batch, seed_pair) -> the batch transformed.
    """
    import tensorflow as tf

    arrays = tuple(arrays)
    batch_size = checks.count(batch_size, "batch_size", 1, checks.MAX_BATCH)
    n = len(arrays[0])
    if n == 0:
        raise ZooError("the dataset is empty; expected at least one example")
    if any(len(a) != n for a in arrays):
        raise ZooError(f"got arrays of different lengths {[len(a) for a in arrays]}")
    epoch = epoch if epoch is not None else tf.Variable(0, dtype=tf.int64, trainable=False)
    consts = tuple(tf.constant(a) for a in arrays)

    def epoch_order(_):
        idx = tf.range(n, dtype=tf.int64)
        if shuffle:
            idx = tf.random.experimental.stateless_shuffle(
                idx, seed=tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)]))
        return tf.data.Dataset.from_tensor_slices(idx)

    ds = (tf.data.Dataset.from_tensors(0).flat_map(epoch_order).batch(batch_size)
          .apply(tf.data.experimental.assert_cardinality(-(-n // batch_size)))  # flat_map hides the length
          .map(lambda idx: tuple(tf.gather(c, idx) for c in consts)))
    if augment is not None:
        def apply(i, batch):
            s = tf.stack([tf.constant(seed, tf.int64) * 7919 + tf.cast(epoch, tf.int64), i])
            return (augment(batch[0], s),) + tuple(batch[1:])

        ds = ds.enumerate().map(apply, num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    # Workers split every global batch between them, so the global batch, and hence the gradient, is the
    # same whatever the number of replicas.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def sha256_of(*arrays):
    """sha256 of arrays (their dtype, shape and bytes) or strings: the identity of what was loaded, the same
    whether it came from $ZOO_DATA_DIR or a download."""
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            continue
        if isinstance(a, str):
            h.update(a.encode("utf-8"))
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.data)
    return h.hexdigest()


def source(name):
    """Where `load(name)` reads from: "$ZOO_DATA_DIR/FILE" (with the file's sha256) or the download."""
    filename = {"mnist": "mnist.npz", "tinyshakespeare": "tinyshakespeare.txt"}.get(name)
    if filename is None:
        return {"source": name}
    path = _local(filename)
    if path is None:
        return {"source": "keras.datasets.mnist.load_data()" if name == "mnist" else TINYSHAKESPEARE_URL}
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return {"source": f"$ZOO_DATA_DIR/{filename}", "file_sha256": h.hexdigest()}


def record(name, splits, seed=None):
    """What a model card says of its data, derived from what was loaded: the data set, its source, each split's
    count and the sha256 of its arrays, and one sentence. `seed` carved the held-out split (MNIST). A preset
    without a data set (an RL agent's environment) gets {"dataset": None}."""
    if name is None or splits is None:
        return {"dataset": None}
    counts = {f"{k}_examples": int(len(v[0])) for k, v in splits.items()}
    rec = {"dataset": name, **source(name), **counts,
           "sha256": {k: sha256_of(*v) for k, v in splits.items()}}
    if name == "tinyshakespeare":
        rec["note"] = (f"{counts['train_examples'] + counts['val_examples']:,} characters of Shakespeare: the first "
                       f"{TEXT_TRAIN_FRACTION:.0%} ({counts['train_examples']:,}) for training, the last "
                       f"{counts['val_examples']:,} for validation, which is also what the card calls test")
    elif name == "mnist":
        held = (f"{counts['val_examples']:,} held out for validation with seed {seed}" if counts["val_examples"]
                else "none held out")
        rec["note"] = (f"MNIST: {counts['train_examples'] + counts['val_examples']:,} training images "
                       f"({counts['train_examples']:,} for training, {held}) and the "
                       f"{counts['test_examples']:,}-image test set, which gives the card's figures")
    return rec
