"""One set of validators for everything a user hands the zoo: counts, ranges, dtypes, finite values, images.

Each returns the cleaned value or raises ZooError with one line saying what was wrong and what is expected.
"""

import math

import numpy as np

from zoo.errors import ZooError

IMAGE_SHAPE = (28, 28)
IMAGE_DIM = 784
# Upper bounds on the counts a user may ask for; each keeps one request within this machine's memory and a
# sensible time. The message names the bound, so a user who really needs more knows what to change.
MAX_SAMPLES = 100_000
MAX_STEPS = 10_000
MAX_EPOCHS = 100_000
MAX_BATCH = 1_000_000
MAX_IMPORTANCE_SAMPLES = 100_000
MAX_PARAMETERS = 50_000_000


def count(value, what, minimum=1, maximum=None):
    """An integer in [minimum, maximum]; bools, floats with a fraction, NaN and strings are refused."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        raise ZooError(f"{what} must be an integer >= {minimum}, got {value!r}")
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or value != int(value):
            raise ZooError(f"{what} must be an integer >= {minimum}, got {value!r}")
    elif not isinstance(value, (int, np.integer)):
        raise ZooError(f"{what} must be an integer >= {minimum}, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ZooError(f"{what} must be an integer >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ZooError(f"{what} must be at most {maximum:,}, got {value:,}")
    return value


def budget(values, what="this config"):
    """A count of values a config implies (parameters, and every buffer it sizes: persistent chains, a weight
    matrix outside Keras, a sampler's working set) within MAX_PARAMETERS; checked before anything is allocated."""
    if values > MAX_PARAMETERS:
        raise ZooError(f"{what} implies {values:,} values, above the limit of {MAX_PARAMETERS:,}; refused before "
                       "allocating anything")
    return values


def number(value, what, minimum=None, maximum=None, strict_min=False):
    """A finite real number in range; strict_min makes the lower bound exclusive."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ZooError(f"{what} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ZooError(f"{what} must be a finite number, got {value}")
    if minimum is not None and (value <= minimum if strict_min else value < minimum):
        raise ZooError(f"{what} must be {'>' if strict_min else '>='} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ZooError(f"{what} must be <= {maximum}, got {value}")
    return value


def _array(x, name):
    if hasattr(x, "numpy"):
        x = x.numpy()
    try:
        arr = np.asarray(x)
    except ValueError as e:  # ragged nested lists
        raise ZooError(f"{name}: expected a rectangular numeric array, got ragged input ({e})") from None
    if arr.dtype == object:
        raise ZooError(f"{name}: expected a rectangular numeric array, got ragged or non-numeric input")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ZooError(f"{name}: complex numbers are not accepted; expected real values")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ZooError(f"{name}: expected a numeric array (uint8 or float), got dtype {arr.dtype}")
    return arr


def as_images(x, name="images"):
    """Images as float32 rows (N, 784) in [0, 1], and whether one image came without a batch axis.

    Accepts uint8 (0..255) or float in [0, 1], shaped (28, 28), (28, 28, 1) or (784,) for one image, or with
    a leading batch axis. The range is checked after the cast to float32, so 1e300 is refused, not NaN.
    """
    x = _array(x, name)
    single_shapes = {(28, 28), (28, 28, 1), (784,)}
    if x.shape in single_shapes:
        single, x = True, x[None]
    elif x.ndim >= 2 and x.shape[1:] in single_shapes:
        single = False
    else:
        raise ZooError(f"{name}: expected shape (28, 28), (28, 28, 1) or (784,), with an optional batch axis "
                       f"first; got {x.shape}")
    if x.shape[0] == 0:
        raise ZooError(f"{name}: got an empty batch, expected at least one image")
    if x.dtype == np.uint8:
        return x.reshape(len(x), IMAGE_DIM).astype(np.float32) / 255.0, single
    if np.issubdtype(x.dtype, np.integer) or x.dtype == bool:
        raise ZooError(f"{name}: expected uint8 (0..255) or float in [0, 1], got dtype {x.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        rows = x.reshape(len(x), IMAGE_DIM).astype(np.float32)
    if not np.all(np.isfinite(rows)):
        raise ZooError(f"{name}: contains NaN or Inf (after the cast to float32); expected values in [0, 1]")
    lo, hi = float(rows.min()), float(rows.max())
    if lo < 0.0 or hi > 1.0:
        raise ZooError(f"{name}: float pixel values must lie in [0, 1], got range [{lo:.4g}, {hi:.4g}] "
                       "(divide uint8 images by 255, or pass them as uint8)")
    return rows, single


def as_rows(x, dim, name, what="row"):
    """Vectors of length `dim` as float32 (N, dim), finite after the cast, and whether one vector (dim,) came
    without a batch axis. `what` names one vector in the messages (a code, an observation, ...)."""
    x = _array(x, name)
    if x.shape == (dim,):
        single, x = True, x[None]
    elif x.ndim == 2 and x.shape[1] == dim:
        single = False
    else:
        raise ZooError(f"{name}: expected shape ({dim},) or (N, {dim}), got {x.shape}")
    if len(x) == 0:
        raise ZooError(f"{name}: got an empty batch, expected at least one {what}")
    with np.errstate(over="ignore", invalid="ignore"):
        x = x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise ZooError(f"{name}: contains NaN or Inf (after the cast to float32); expected finite {what}s")
    return x, single


def as_latents(z, dim, name="z"):
    """Latent codes as float32 (N, dim), finite after the cast, and whether one came without a batch axis."""
    z = _array(z, name)
    if z.dtype == bool:
        raise ZooError(f"{name}: expected float latent codes, got dtype bool")
    return as_rows(z, dim, name, what="code")


def as_labels(labels, n, num_classes, name="labels"):
    """Integer class labels, one per example (a scalar is broadcast), each in 0..num_classes-1."""
    if labels is None:
        raise ZooError(f"{name}: expected integer labels in 0..{num_classes - 1}, got None")
    arr = _array(labels, name)
    if arr.dtype == bool:
        raise ZooError(f"{name}: expected integer labels in 0..{num_classes - 1}, got dtype bool")
    if not np.issubdtype(arr.dtype, np.integer):
        if not (np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
            raise ZooError(f"{name}: expected integer labels in 0..{num_classes - 1}, got non-integer values")
    if arr.ndim == 0:
        arr = np.full(n, arr)
    if arr.ndim != 1 or len(arr) != n:
        raise ZooError(f"{name}: expected one label per example ({n}), got shape {arr.shape}")
    arr = arr.astype(np.int64)
    if len(arr) and (arr.min() < 0 or arr.max() >= num_classes):
        raise ZooError(f"{name}: labels must lie in 0..{num_classes - 1}, got range [{arr.min()}, {arr.max()}]")
    return arr


def finite(x, what):
    if not np.all(np.isfinite(x)):
        raise ZooError(f"{what} contains NaN or Inf; clean it first")
    return x


def one_of(value, choices, what):
    if value not in choices:
        raise ZooError(f"{what} must be one of {', '.join(map(str, choices))}, got {value!r}")
    return value


# -- a model's Keras boundary: model(x), predict and evaluate on numpy input ------------------------------------
# These check and never convert: a model hands the array they return (the caller's own array, for an ndarray) on
# to Keras, so valid input gives exactly the numbers it gave before the check. Empty batches are refused: Keras'
# predict and evaluate have nothing to run on.


def _batch(arr, name, what):
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise ZooError(f"{name}: got an empty batch or a bare scalar, expected at least one {what}")


def _as_float32(arr, name, expected):
    """arr cast to float32 (no copy when it is float32), refused when a value is NaN or Inf after the cast."""
    with np.errstate(over="ignore", invalid="ignore"):
        values = arr.astype(np.float32, copy=False)
    if not np.all(np.isfinite(values)):
        raise ZooError(f"{name}: contains NaN or Inf (after the cast to float32); expected {expected}")
    return values


def image_layouts(pixels, channels=1):
    """The per-image shapes a model built on `pixels` values per image takes: rows of that width, and the
    28 x 28 layouts when the width is 784 x channels."""
    if pixels != IMAGE_DIM * channels:
        return [(pixels,)]
    return ([IMAGE_SHAPE] if channels == 1 else []) + [IMAGE_SHAPE + (channels,), (pixels,)]


def model_images(x, pixels, name="x", channels=1, single=False):
    """Images for a model's Keras boundary: (N, ...) in one of image_layouts(pixels, channels), or, when `single`,
    one image (784,) or (28, 28, channels) without the batch axis (model(x) reshapes it); uint8 (0..255, which the graph scales by dtype,
    zoo.layers.image_rows) or float in [0, 1], finite after the cast to float32. Returns the array."""
    arr = _array(x, name)
    layouts = image_layouts(pixels, channels)
    # one (28, 28) image is no single: the graph reads a 2-D array as rows, here 28 rows of 28 pixels
    singles = [s for s in layouts if len(s) != 2] if single else []
    if not ((arr.ndim >= 1 and arr.shape[1:] in layouts) or arr.shape in singles):
        shown = [str(("N",) + s).replace("'", "") for s in layouts]
        shown = ", ".join(shown[:-1]) + " or " + shown[-1] if len(shown) > 1 else shown[0]
        raise ZooError(f"{name}: expected images shaped {shown}, got shape {arr.shape}")
    if arr.shape[1:] in layouts:
        _batch(arr, name, "image")
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        raise ZooError(f"{name}: expected uint8 (0..255) or float pixels in [0, 1], got dtype {arr.dtype}")
    values = _as_float32(arr, name, "pixel values in [0, 1]")
    lo, hi = float(values.min()), float(values.max())
    if lo < 0.0 or hi > 1.0:
        raise ZooError(f"{name}: float pixel values must lie in [0, 1], got range [{lo:.4g}, {hi:.4g}] "
                       "(divide uint8 images by 255, or pass them as uint8)")
    return arr


def model_rows(x, width, name="x", what="row"):
    """Real vectors (N, width) for a model's Keras boundary, finite after the cast to float32. Returns the array."""
    arr = _array(x, name)
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ZooError(f"{name}: expected {what}s shaped (N, {width}), got shape {arr.shape}")
    _batch(arr, name, what)
    _as_float32(arr, name, f"finite {what}s")
    return arr


def model_ids(x, vocab, name="x", rank=None, width=None, low=0, what="token id", layout=None):
    """Integer ids in [low, vocab) for a model's Keras boundary (an integer dtype, or floats with integer values);
    `rank` and `width` (the last axis) when given; `layout` names the expected shape in the message. Returns the
    array."""
    arr = _array(x, name)
    shape_ok = (rank is None or arr.ndim == rank) and (width is None or (arr.ndim >= 1 and arr.shape[-1] == width))
    if not shape_ok:
        raise ZooError(f"{name}: expected {what}s shaped {layout or f'with {rank} axes'}, got shape {arr.shape}")
    if arr.size == 0:
        raise ZooError(f"{name}: got no {what}s, expected at least one")
    expected = f"integer {what}s in {low}..{vocab - 1}"
    if arr.dtype == bool:
        raise ZooError(f"{name}: expected {expected}, got dtype bool")
    if not np.issubdtype(arr.dtype, np.integer):
        values = _as_float32(arr, name, expected)
        if not np.all(values == np.round(values)):
            raise ZooError(f"{name}: expected {expected}, got non-integer values")
    lo, hi = arr.min(), arr.max()
    if lo < low or hi >= vocab:
        raise ZooError(f"{name}: {what}s must lie in {low}..{vocab - 1}, got range [{lo:g}, {hi:g}]")
    return arr


def model_labels(y, n, num_classes, name="y", what="label"):
    """Integer class labels for a model's Keras boundary, one per example: shape (n,) or (n, 1) (() for one
    example), each in 0..num_classes-1. Returns the array."""
    arr = _array(y, name)
    if arr.shape not in ((n,), (n, 1)) + ((),) * (n == 1):
        raise ZooError(f"{name}: expected one {what} per example, shaped ({n},), got shape {arr.shape}")
    return model_ids(arr, num_classes, name, what=what)


def model_finite(x, name="x"):
    """Numbers for a model that declares no input contract: numeric, finite after the cast to float32. Returns
    the array."""
    arr = _array(x, name)
    if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
        _as_float32(arr, name, "finite values")
    return arr
