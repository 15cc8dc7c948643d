"""Images as the zoo's models take them, inside the graph: any of (N, 28, 28), (N, 28, 28, 1) or (N, 784),
uint8 0..255 or float in [0, 1]. uint8 is rescaled by dtype, so `model.predict(uint8_images)` never works
on unscaled values."""

import numpy as np
import tensorflow as tf
from keras import ops

from zoo import checks

IMAGE_DIM = 784
# uint8 -> [0, 1] by table lookup: exactly the quotients numpy's x / 255 gives. A graph turns a division
# by a constant into a multiplication by its reciprocal, which is off by one ulp for some values.
UINT8_SCALE = np.arange(256, dtype=np.float32) / np.float32(255)


def image_rows(x):
    """(N, ...) images -> float32 (N, 784) rows in [0, 1]; rows of another static width (a model built with
    another input_dim) pass through at that width."""
    if str(getattr(x, "dtype", "")) in ("uint8", "<dtype: 'uint8'>"):
        x = ops.take(ops.convert_to_tensor(UINT8_SCALE), ops.cast(x, "int32"))
    else:
        x = ops.cast(x, "float32")
    try:
        static = tuple(x.shape)
    except ValueError:  # unknown rank: Keras' predict traces so after inputs of different ranks
        static = ()
    width = static[-1] if len(static) == 2 and static[-1] is not None else IMAGE_DIM
    return ops.reshape(x, (-1, int(width)))


def like_input(rows, x):
    """Output rows reshaped to the input image's shape, so an image comes back as it went in. The shape is
    read at run time: predict retraces with an unknown rank once it has seen images of two layouts."""
    return tf.reshape(rows, tf.shape(x))


def shift_images(rows, max_shift, seed):
    """Each image moved by up to max_shift pixels in each direction (zeros fill in): the augmentation that is
    safe for digits. A tensor function of a stateless seed, so a resumed run shifts the same way."""
    n = tf.shape(rows)[0]
    side = 28
    d = tf.random.stateless_uniform((n, 2), seed=seed, minval=-max_shift, maxval=max_shift + 1, dtype=tf.int32)
    img = tf.reshape(rows, (-1, side, side, 1))
    pad = tf.pad(img, [[0, 0], [max_shift, max_shift], [max_shift, max_shift], [0, 0]])
    boxes = tf.cast(tf.stack([max_shift + d[:, 0], max_shift + d[:, 1]], 1), tf.float32)
    size = float(side + 2 * max_shift - 1)
    boxes = tf.concat([boxes / size, (boxes + side - 1) / size], 1)
    out = tf.image.crop_and_resize(pad, boxes, tf.range(n), (side, side), method="nearest")
    return tf.reshape(out, (-1, side * side))


def shift_augmentation(max_shift):
    """The `augment` for zoo.training.fit that shifts each training image by up to max_shift pixels, or None
    for 0; a recipe's `shift`, checked here once for every family that takes it."""
    max_shift = checks.count(max_shift, "shift", 0, 13)
    return (lambda rows, seed: shift_images(rows, max_shift, seed)) if max_shift else None
