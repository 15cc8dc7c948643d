"""Data sets, input checking and tf.data pipelines.

`load("mnist")` reads `$ZOO_DATA_DIR/mnist.npz` when ZOO_DATA_DIR is set, otherwise it asks
`keras.datasets`, which downloads. Images leave this module as float32 rows of 784 pixels in [0, 1].
"""

import os
import zipfile
from pathlib import Path

import numpy as np

from zoo.errors import DataUnavailable, ZooError

DATASETS = ("mnist", "tinyshakespeare")
IMAGE_SHAPE = (28, 28)
IMAGE_DIM = 784
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


def _load_mnist():
    folder = data_dir()
    if folder is not None:
        path = folder / "mnist.npz"
        if not path.is_file():
            raise DataUnavailable(f"ZOO_DATA_DIR is set but {path} does not exist")
        try:
            with np.load(path, allow_pickle=False) as f:
                return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
            raise DataUnavailable(
                f"{path} is not a readable Keras mnist.npz (keys x_train, y_train, x_test, y_test): {e}"
            ) from None
    try:
        import keras

        return keras.datasets.mnist.load_data()
    except Exception as e:  # no network, blocked host, partial download
        raise DataUnavailable(
            f"MNIST is not reachable (set ZOO_DATA_DIR to a folder with mnist.npz): {type(e).__name__}"
        ) from None


def _load_tinyshakespeare():
    folder = data_dir()
    if folder is not None:
        path = folder / "tinyshakespeare.txt"
        if not path.is_file():
            raise DataUnavailable(f"ZOO_DATA_DIR is set but {path} does not exist")
        return path.read_text(encoding="utf-8")
    try:
        import keras

        path = keras.utils.get_file("tinyshakespeare.txt", TINYSHAKESPEARE_URL)
        return Path(path).read_text(encoding="utf-8")
    except Exception as e:
        raise DataUnavailable(
            f"tinyshakespeare is not reachable (set ZOO_DATA_DIR to a folder with tinyshakespeare.txt): "
            f"{type(e).__name__}"
        ) from None


def as_images(x, name="images"):
    """Check images and return them as float32 rows of shape (N, 784) in [0, 1].

    Accepts uint8 (0..255) or float in [0, 1], shaped (28, 28), (28, 28, 1) or (784,) for one image,
    or with a leading batch axis. Anything else raises ZooError naming what was expected.
    Returns (rows, single) where single says the input was one image without a batch axis.
    """
    if hasattr(x, "numpy"):
        x = x.numpy()
    x = np.asarray(x)
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise ZooError(f"{name}: expected a numeric array (uint8 or float), got dtype {x.dtype}")
    shape = x.shape
    single_shapes = {(28, 28), (28, 28, 1), (784,)}
    if shape in single_shapes:
        single, x = True, x[None]
    elif len(shape) >= 2 and shape[1:] in single_shapes:
        single = False
    else:
        raise ZooError(
            f"{name}: expected shape (28, 28), (28, 28, 1) or (784,), with an optional batch axis first; "
            f"got {shape}"
        )
    if x.shape[0] == 0:
        raise ZooError(f"{name}: got an empty batch, expected at least one image")
    if x.dtype == np.uint8:
        rows = x.reshape(len(x), IMAGE_DIM).astype(np.float32) / 255.0
        return rows, single
    if np.issubdtype(x.dtype, np.integer) or x.dtype == bool:
        raise ZooError(f"{name}: expected uint8 (0..255) or float in [0, 1], got dtype {x.dtype}")
    rows = x.reshape(len(x), IMAGE_DIM).astype(np.float32)
    if not np.all(np.isfinite(rows)):
        raise ZooError(f"{name}: contains NaN or Inf; expected finite values in [0, 1]")
    lo, hi = float(rows.min()), float(rows.max())
    if lo < 0.0 or hi > 1.0:
        raise ZooError(
            f"{name}: float pixel values must lie in [0, 1], got range [{lo:.4g}, {hi:.4g}] "
            "(divide uint8 images by 255, or pass them as uint8)"
        )
    return rows, single


def as_latents(z, dim, name="z"):
    """Check latent codes: float, finite, shaped (dim,) or (N, dim). Returns (float32 (N, dim), single)."""
    if hasattr(z, "numpy"):
        z = z.numpy()
    z = np.asarray(z)
    if not np.issubdtype(z.dtype, np.floating):
        if np.issubdtype(z.dtype, np.integer):
            z = z.astype(np.float32)
        else:
            raise ZooError(f"{name}: expected float latent codes, got dtype {z.dtype}")
    if z.shape == (dim,):
        single, z = True, z[None]
    elif z.ndim == 2 and z.shape[1] == dim:
        single = False
    else:
        raise ZooError(f"{name}: expected shape ({dim},) or (N, {dim}), got {z.shape}")
    if len(z) == 0:
        raise ZooError(f"{name}: got an empty batch, expected at least one code")
    if not np.all(np.isfinite(z)):
        raise ZooError(f"{name}: contains NaN or Inf")
    return z.astype(np.float32), single


def mnist_splits(validation=2000, seed=0):
    """MNIST as float rows: {"train", "val", "test"} -> (x (N, 784) float32 in [0, 1], y int64).

    The validation split is carved from train with a seeded permutation, so test stays untouched.
    """
    (x_train, y_train), (x_test, y_test) = load("mnist")
    x_train, _ = as_images(x_train, "x_train")
    x_test, _ = as_images(x_test, "x_test")
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
    """A fixed, seeded binarization: each pixel is 1 with probability equal to its intensity."""
    rng = np.random.default_rng(seed)
    return (rng.random(x.shape, dtype=np.float32) < x).astype(np.float32)


def pipeline(x, y=None, batch_size=128, shuffle=True, seed=0, dynamic_binarization=False,
             drop_remainder=False, epoch=None):
    """A tf.data pipeline over rows x (and labels y): shuffle, batch, optional binarization, prefetch.

    Dynamic binarization draws a new binary image from the pixel intensities at every visit, the usual
    regulariser for Bernoulli likelihoods on MNIST. Without labels the elements are (x, x) so that
    `fit` sees an input and a target.

    With `epoch` (an int64 tf.Variable that training sets at the start of each epoch), the shuffle order
    and the binarization noise are stateless functions of (seed, epoch, batch): a run resumed from a
    checkpoint at epoch k sees exactly the batches an uninterrupted run sees, and every worker of a
    multi-worker run sees the same global batches.
    """
    import tensorflow as tf

    if int(batch_size) != batch_size or batch_size <= 0:
        raise ZooError(f"batch_size must be a positive integer, got {batch_size}")
    if len(x) == 0:
        raise ZooError("the dataset is empty; expected at least one example")
    if y is not None and len(y) != len(x):
        raise ZooError(f"got {len(x)} examples but {len(y)} labels")
    tensors = (x,) if y is None else (x, y)
    if epoch is None:
        ds = tf.data.Dataset.from_tensor_slices(tensors)
        if shuffle:
            ds = ds.shuffle(min(len(x), 20000), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    else:
        n = len(x)
        consts = tuple(tf.constant(t) for t in tensors)

        def epoch_order(_):
            idx = tf.range(n, dtype=tf.int64)
            if shuffle:
                idx = tf.random.experimental.stateless_shuffle(
                    idx, seed=tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)]))
            return tf.data.Dataset.from_tensor_slices(idx)

        batches = n // batch_size if drop_remainder else -(-n // batch_size)
        ds = (tf.data.Dataset.from_tensors(0).flat_map(epoch_order)
              .batch(batch_size, drop_remainder=drop_remainder)
              .apply(tf.data.experimental.assert_cardinality(batches))  # flat_map hides the length
              .map(lambda idx: tuple(tf.gather(c, idx) for c in consts)))
    if dynamic_binarization:
        if epoch is None:
            gen = tf.random.Generator.from_seed(seed)

            def _binarize(*t):
                xb = tf.cast(gen.uniform(tf.shape(t[0])) < t[0], tf.float32)
                return (xb,) + tuple(t[1:])

            ds = ds.map(_binarize, num_parallel_calls=tf.data.AUTOTUNE)
        else:
            def _binarize_stateless(i, t):
                noise_seed = tf.stack([tf.constant(seed, tf.int64) * 1_000_003 + tf.cast(epoch, tf.int64), i])
                xb = tf.cast(tf.random.stateless_uniform(tf.shape(t[0]), seed=noise_seed) < t[0], tf.float32)
                return (xb,) + tuple(t[1:])

            ds = ds.enumerate().map(_binarize_stateless, num_parallel_calls=tf.data.AUTOTUNE)
    if y is None:
        ds = ds.map(lambda xb: (xb, xb))
    options = tf.data.Options()
    # Workers split every global batch between them (rather than taking whole files or batches), so the
    # global batch, and hence the gradient, is the same whatever the number of replicas.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)
