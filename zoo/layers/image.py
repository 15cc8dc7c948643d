"""Images as the zoo's models take them, inside the graph: any of (N, 28, 28), (N, 28, 28, 1) or (N, 784),
uint8 0..255 or float in [0, 1]. uint8 is rescaled by dtype, so `model.predict(uint8_images)` never works
on unscaled values."""

from keras import ops

IMAGE_DIM = 784


def image_rows(x):
    """(N, ...) images -> float32 (N, 784) rows in [0, 1]."""
    if str(getattr(x, "dtype", "")) in ("uint8", "<dtype: 'uint8'>"):
        x = ops.cast(x, "float32") / 255.0
    else:
        x = ops.cast(x, "float32")
    return ops.reshape(x, (-1, IMAGE_DIM))


def like_input(rows, x):
    """Output rows reshaped to the input image's shape, so an image comes back as it went in."""
    return ops.reshape(rows, ops.shape(x))
