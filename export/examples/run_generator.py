"""Device-side example: draw a grid of samples from an exported GAN generator (.tflite) and save it as a PNG.

Needs only numpy, ai_edge_litert and pillow (no TensorFlow, no Keras, no zoo):

    python run_generator.py saved_models/dcgan_mnist/exports/generator_int8.tflite samples.png --n 64 --seed 0
    python run_generator.py saved_models/cgan_mnist/exports/generator_int8.tflite digits.png --labels 0,1,2,3,4,5,6,7,8,9
    python run_generator.py saved_models/dcgan_mnist/exports/generator_int8.tflite samples.png --figure

The PNG is the bare grid, one 28x28 tile per sample, grey digits dark on white. --figure makes it a figure in
the zoo's house style instead: a title naming the model, its quantization, LiteRT and the number of samples, the
tiles enlarged (nearest neighbour) and parted by light steel-blue lines, as zoo/figures.py draws its grids.

A generator file has one signature with an input "code" (N, latent_dim), optionally "label_onehot" (N, classes)
for a class-conditional generator, and an output "image" (N, 28*28*C) in [0, 1], C = 1 (grey) or 3 (Stacked
MNIST, drawn in colour). z is drawn from N(0, I) with the seed (the generator's noise stays on the caller's
side: RandomStandardNormal is not a LiteRT builtin). Labels: --labels (one per sample, or one for all), else
0, 1, 2, ... cycling. int8 inputs/outputs are (de)quantized with the file's own scale and zero point.

Before the file is used, device_checks.py (beside this script) checks it: a bounded read, the 'TFL3' identifier,
builtin ops only, the sha256 and the input/output details recorded in the export.json beside it, quantized
tensors with a scale > 0, and the bytes its tensors take at the batch size asked for. A file that is not a
generator, or is corrupt, is refused with one line on stderr and exit status 1; one that passes the checks but
fails while running gives one line and exit status 2 (--debug shows the traceback).
"""

import argparse
import contextlib
import json
import os
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFont

try:  # run as a script: device_checks.py sits beside it
    import device_checks as dc
except ImportError:  # imported as export.examples.run_generator
    from export.examples import device_checks as dc

MAX_SAMPLES = 1024
# The zoo's house style for sample grids (zoo/figures.py): tiles parted by light steel blue, a title above, at
# least 600 px wide.
SEPARATOR = (0xB0, 0xC4, 0xDE)
MIN_FIGURE_WIDTH = 640
Refused = dc.Refused
# Without an "input" contract in export.json (exports made before it was recorded): codes are any finite
# numbers, labels one-hot rows.
DEFAULT_CONTRACT = {"code": {"name": "code", "kind": "values", "range": [None, None]},
                    "label_onehot": {"name": "label_onehot", "kind": "one_hot", "range": [0, 1]}}


def load(path):
    """(checked Model, channels) of a generator file, or Refused."""
    model = dc.load(path, defaults=DEFAULT_CONTRACT)
    inputs, outputs = model.inputs, model.outputs
    if sorted(inputs) not in (["code"], ["code", "label_onehot"]) or sorted(outputs) != ["image"]:
        raise Refused(f"it is not a generator: inputs {sorted(inputs)}, outputs {sorted(outputs)}; expected "
                      "inputs 'code' (+ optional 'label_onehot') and an output 'image'")
    for name, d in list(inputs.items()) + [("image", outputs["image"])]:
        if len(dc.shape_of(d)) != 2:
            raise Refused(f"it is not a generator this example runs: {name!r} has shape {dc.shape_of(d)}, "
                          "expected (N, width)")
    width = dc.shape_of(outputs["image"])[1]
    channels = next((c for c in (1, 3) if width == 28 * 28 * c), None)
    if channels is None:
        raise Refused(f"its 'image' output has {width} values, not 28x28 grey or colour images")
    return model, channels


def one_hot(labels, classes):
    """(n, classes) float32 rows, without the (classes, classes) identity np.eye would allocate first."""
    rows = np.zeros((len(labels), classes), np.float32)
    rows[np.arange(len(labels)), labels] = 1
    return rows


def generate(path, n, seed, labels=None):
    """(n, 28, 28, C) images in [0, 1] from the file, with z ~ N(0, I) drawn with `seed`."""
    model, channels = load(path)
    inputs = model.inputs
    latent = dc.shape_of(inputs["code"])[1]
    classes = dc.shape_of(inputs["label_onehot"])[1] if "label_onehot" in inputs else 0
    if not classes and labels is not None:
        raise Refused("it is not class-conditional (no 'label_onehot' input); drop --labels")
    dc.check_draw(model, n, [latent, classes])
    rng = np.random.default_rng(seed)
    feed = {"code": dc.feed(model, "code", rng.standard_normal((n, latent)).astype(np.float32))}
    if classes:
        labels = np.arange(n) % classes if labels is None else np.resize(np.asarray(labels), n)
        if labels.min() < 0 or labels.max() >= classes:
            raise Refused(f"labels must be in [0, {classes - 1}] for this generator")
        feed["label_onehot"] = dc.feed(model, "label_onehot", one_hot(labels, classes))
    image = dc.run_in_batches(model, feed, "image")
    if not np.all(np.isfinite(image)):
        raise Refused("it generated non-finite pixels: the file is corrupt")
    return image.reshape(n, 28, 28, channels)


def grid(images, cols, pad=2, gap=None):
    """(N, 28, 28, C) in [0, 1] -> one uint8 picture; grey digits dark on white. Gaps and unused cells white, or
    the RGB colour `gap` (the picture is then RGB)."""
    n, side, _, c = images.shape
    rows = -(-n // cols)
    out = np.empty((rows * (side + pad) + pad, cols * (side + pad) + pad, 3 if gap is not None else c), np.uint8)
    out[:] = gap if gap is not None else 255
    pixels = np.clip(np.round(images * 255.0), 0, 255).astype(np.uint8)
    if c == 1:
        pixels = 255 - pixels
    for i, im in enumerate(pixels):
        r, k = divmod(i, cols)
        top, left = pad + r * (side + pad), pad + k * (side + pad)
        out[top:top + side, left:left + side] = im
    return out[..., 0] if out.shape[-1] == 1 else out


def _font(size):
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1 with FreeType: a scalable font
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def figure(images, cols, lines):
    """The grid enlarged under a title: lines[0] in black, any further lines in dark grey. An RGB PIL image."""
    mosaic = grid(images, cols, pad=1, gap=SEPARATOR)
    scale = max(2, min(4, -(-MIN_FIGURE_WIDTH // mosaic.shape[1])))
    tiles = Image.fromarray(mosaic).resize((mosaic.shape[1] * scale, mosaic.shape[0] * scale), Image.NEAREST)
    font, margin, line_gap = _font(16), 16, 4
    boxes = [font.getbbox(t) for t in lines]
    line_h = max(b[3] for b in boxes) + line_gap
    width = max([MIN_FIGURE_WIDTH, tiles.width + 2 * margin] + [b[2] + 2 * margin for b in boxes])
    out = Image.new("RGB", (width, margin + line_h * len(lines) + margin // 2 + tiles.height + margin), "white")
    draw = ImageDraw.Draw(out)
    for i, (text, box) in enumerate(zip(lines, boxes)):
        draw.text(((width - box[2]) // 2, margin + i * line_h), text, font=font,
                  fill=(0, 0, 0) if i == 0 else (80, 80, 80))
    out.paste(tiles, ((width - tiles.width) // 2, margin + line_h * len(lines) + margin // 2))
    return out


def describe(path):
    """What the file is, for a title, and whether the export.json beside it said so: ('cgan_mnist generator,
    int8', True), else (the file's name, False)."""
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(path)), "export.json"), encoding="utf-8") as f:
            record = json.load(f)
        entry = record["artifacts"][os.path.basename(path)]
        quantize = {"none": "float32"}.get(entry["quantize"], entry["quantize"])
        return f"{record['model']} {entry['part']}, {quantize}", True
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return os.path.basename(path), False


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="generator .tflite")
    p.add_argument("png", help="output PNG")
    p.add_argument("--n", type=int, default=64, help=f"number of samples, 1..{MAX_SAMPLES} (default 64)")
    p.add_argument("--cols", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--labels", default=None, help="comma-separated digits for a conditional generator")
    p.add_argument("--figure", action="store_true",
                   help="a titled figure in the zoo's house style (enlarged tiles, title saying what ran) instead "
                        "of the bare grid")
    p.add_argument("--debug", action="store_true", help="show the traceback of a failure (and the runtime's log)")
    args = p.parse_args(argv)
    labels = None
    if args.labels:
        try:
            labels = [int(t) for t in args.labels.split(",")]
        except ValueError:
            p.error(f"--labels expects comma-separated integers, got {args.labels!r}")
        if args.n == 64:
            args.n = len(labels)
    if not 1 <= args.n <= MAX_SAMPLES or args.cols < 1 or args.seed < 0:
        p.error(f"--n must be in [1, {MAX_SAMPLES}], --cols >= 1 and --seed >= 0")
    try:
        with dc.runtime_log() if not args.debug else contextlib.nullcontext():
            images = generate(args.model, args.n, args.seed, labels)
    except Exception as e:
        return dc.exit_status(e, args.debug, args.model)
    cols = min(args.cols, args.n)
    if args.figure:
        what, named = describe(args.model)
        given = f"; labels {args.labels}" if labels else ""
        picture = figure(images, cols, [
            f"{what}, run by LiteRT: {args.n} sample{'s' if args.n != 1 else ''}",
            f"z ~ N(0, I), seed {args.seed}{given}; " + (f"{os.path.basename(args.model)}, " if named else "")
            + f"28x28{'x3 colour' if images.shape[-1] == 3 else ''} pixels each"])
    else:
        picture = Image.fromarray(grid(images, cols))
    try:
        picture.save(args.png)
    except OSError as e:
        print(f"error: cannot write {args.png}: {e.strerror or e}", file=sys.stderr)
        return 1
    print(f"wrote {args.png}: {args.n} samples of 28x28x{images.shape[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
