"""PNG writing with numpy and zlib alone, so pictures need no plotting library."""

import os
import struct
import zlib
from pathlib import Path

import numpy as np

# Ten distinguishable colours, one per digit label.
LABEL_COLOURS = np.array(
    [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
     [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]],
    dtype=np.uint8,
)


def to_uint8(img):
    img = np.asarray(img)
    if img.dtype != np.uint8:
        img = np.clip(np.round(np.asarray(img, np.float64) * 255.0), 0, 255).astype(np.uint8)
    return img


def write_png(path, img):
    """Write a (H, W) grey or (H, W, 3) RGB image, uint8 or float in [0, 1], atomically."""
    img = to_uint8(img)
    if img.ndim == 2:
        colour_type = 0
    elif img.ndim == 3 and img.shape[2] == 3:
        colour_type = 2
    else:
        raise ValueError(f"expected an image of shape (H, W) or (H, W, 3), got {img.shape}")
    h, w = img.shape[:2]
    raw = b"".join(b"\x00" + img[i].tobytes() for i in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp-{os.getpid()}")
    tmp.write_bytes(png)
    os.replace(tmp, path)
    return path


def tile(images, cols, pad=2, value=1.0):
    """Tile (N, 28, 28) or (N, 784) images into one grid image, row by row."""
    images = np.asarray(images, np.float32)
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        images = images.reshape(-1, side, side)
    n, h, w = images.shape
    rows = int(np.ceil(n / cols))
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), value, np.float32)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = im
    return grid


def scatter(points, labels, size=512, radius=1, legend_images=None):
    """Rasterise 2-D points coloured by label on a white canvas (a latent map without matplotlib).

    legend_images, (classes, 28, 28) in [0, 1] (e.g. each class's mean image), are drawn in their colours
    in a column on the right, so the picture says which colour is which class without any text.
    """
    points = np.asarray(points, np.float64)
    canvas = np.full((size, size, 3), 255, np.uint8)
    lo, hi = np.percentile(points, 0.5, axis=0), np.percentile(points, 99.5, axis=0)
    scaled = (points - lo) / np.maximum(hi - lo, 1e-9)
    pix = np.clip((scaled * (size - 1 - 2 * radius)).astype(int) + radius, radius, size - 1 - radius)
    for (px, py), lab in zip(pix, labels):
        canvas[size - 1 - py - radius:size - py + radius, px - radius:px + radius + 1] = LABEL_COLOURS[int(lab) % 10]
    if legend_images is not None:
        glyphs = np.asarray(legend_images, np.float32).reshape(-1, 28, 28)[:10]
        column = np.full((size, 40, 3), 255, np.uint8)
        step = size // len(glyphs)
        for k, glyph in enumerate(glyphs):
            top = k * step + (step - 28) // 2
            ink = glyph[..., None] / max(float(glyph.max()), 1e-6)
            column[top:top + 28, 6:34] = np.round(255 - ink * (255 - LABEL_COLOURS[k].astype(np.float32))).astype(np.uint8)
        canvas = np.concatenate([canvas, column], axis=1)
    return canvas


def class_means(x, y, classes=10):
    """Each class's mean image: legend glyphs for scatter()."""
    x = np.asarray(x, np.float32).reshape(len(x), -1)
    return np.stack([x[y == k].mean(axis=0) if np.any(y == k) else np.zeros(x.shape[1], np.float32)
                     for k in range(classes)])
