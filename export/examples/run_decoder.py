"""Device-side example: decode random latent vectors with an exported .tflite decoder and write a PNG grid.

Needs only numpy, ai_edge_litert and the standard library (no TensorFlow, no Keras, no zoo, no matplotlib):

    python run_decoder.py saved_models/vae_mnist/exports/decoder_int8.tflite samples.png --n 64 --seed 0
    python run_decoder.py saved_models/cvae_mnist/exports/decoder_int8.tflite digits.png --label 3
    python run_decoder.py saved_models/vae_mnist/exports/decoder_int8.tflite samples.png --figure

The PNG is the bare grid, one image-sized tile per sample, dark digits on white. --figure makes it a figure
in the zoo's house style instead: a title naming the model, its quantization, LiteRT and the number of samples,
the tiles enlarged (nearest neighbour) and parted by light steel-blue lines, as zoo/figures.py draws its grids.

A decoder file has one signature with an input "code" (N, latent_dim), optionally an input "label_onehot"
(N, classes) for class-conditional decoders, and an output "image" (N, pixels) of a square image. Latent vectors
are drawn from N(0, I) with the seed; labels are --label, or 0, 1, 2, ... cycling. int8 inputs are quantized
with the file's own scale and zero point (q = round(x / scale) + zero_point, clipped to [-128, 127]); int8
outputs are dequantized ((q - zero_point) * scale). A file with a fixed batch size is fed in chunks of it.

Before the file is used, device_checks.py (beside this script) checks it: a bounded read, the 'TFL3' identifier,
builtin ops only, the sha256 and the input/output details recorded in the export.json beside it, quantized
tensors with a scale > 0, and the bytes its tensors take at the batch size asked for. Anything wrong with the file
(not a LiteRT model; corrupt, truncated or altered; not a decoder; too large to run) is refused with one line on
stderr and exit 1; a file that passes the checks but fails while running gives one line and exit 2 (--debug shows
the traceback).
"""

import argparse
import contextlib
import json
import os
import struct
import sys
import zlib

import numpy as np

try:  # run as a script: device_checks.py sits beside it
    import device_checks as dc
except ImportError:  # imported as export.examples.run_decoder
    from export.examples import device_checks as dc

MAX_SAMPLES = 1024
Refused = dc.Refused
# Without an "input" contract in export.json (exports made before it was recorded): codes are any finite
# numbers, labels one-hot rows.
DEFAULT_CONTRACT = {"code": {"name": "code", "kind": "values", "range": [None, None]},
                    "label_onehot": {"name": "label_onehot", "kind": "one_hot", "range": [0, 1]}}


def write_png(path, img):
    """Grey (H, W) or colour (H, W, 3) uint8 image -> PNG file, with zlib and struct only."""
    h, w = img.shape[:2]
    colour_type = 2 if img.ndim == 3 else 0
    raw = b"".join(b"\x00" + np.ascontiguousarray(img[i]).tobytes() for i in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)


def grid(images, cols, side, pad=2, gap=(255,)):
    """(N, side*side) floats in [0, 1] -> one uint8 picture of the images in rows of `cols`: dark digits on white
    (ink = 1 is black); `gap` (a grey level, or an RGB colour for a colour picture) between and around them and in
    unused cells."""
    n = len(images)
    rows = (n + cols - 1) // cols
    gap = np.asarray(gap, np.uint8)
    out = np.empty((rows * (side + pad) + pad, cols * (side + pad) + pad, len(gap)), np.uint8)
    out[:] = gap
    pixels = 255 - np.clip(np.round(images * 255.0), 0, 255).astype(np.uint8).reshape(n, side, side)
    for i, im in enumerate(pixels):
        r, c = divmod(i, cols)
        y, x = pad + r * (side + pad), pad + c * (side + pad)
        out[y:y + side, x:x + side] = im[..., None]
    return out[..., 0] if len(gap) == 1 else out


# -- the titled figure (--figure) ---------------------------------------------------------------------------------
# The zoo's house style for sample grids (zoo/figures.py): dark digits on white, tiles parted by light steel blue
# (figures.TILE_SEPARATOR), a title above, at least 600 px wide. The text is drawn from the glyphs below, Aileron
# Regular at 16 px (public domain, CC0; the font Pillow embeds), so this file still needs nothing but numpy.
SEPARATOR = (0xB0, 0xC4, 0xDE)
MIN_FIGURE_WIDTH = 640
FONT_HEIGHT, FONT_WIDTH = 20, 822
# per character 32..126: x in the atlas, width, left bearing, advance in quarter pixels
FONT_METRICS = (
    0, 3, 0, 12, 3, 4, 0, 16, 7, 5, 0, 20, 12, 9, 0, 36, 21, 9, 0, 36, 30, 12, 0, 48, 42, 11, 0, 44, 53, 3, 0, 12,
    56, 6, 0, 24, 62, 5, 0, 20, 67, 9, 0, 36, 76, 10, 0, 40, 86, 5, -1, 16, 91, 4, 0, 16, 95, 3, 0, 12, 98, 6, -1,
    20, 104, 9, 0, 36, 113, 9, 0, 36, 122, 9, 0, 36, 131, 9, 0, 36, 140, 9, 0, 36, 149, 9, 0, 36, 158, 9, 0, 36,
    167, 9, 0, 36, 176, 9, 0, 36, 185, 9, 0, 36, 194, 3, 0, 12, 197, 4, -1, 12, 201, 10, 0, 40, 211, 9, 0, 36, 220,
    9, 0, 36, 229, 9, 0, 36, 238, 14, 0, 56, 252, 11, 0, 40, 263, 11, 0, 44, 274, 11, 0, 44, 285, 12, 0, 48, 297,
    10, 0, 40, 307, 10, 0, 40, 317, 12, 0, 48, 329, 12, 0, 48, 341, 5, 0, 20, 346, 9, 0, 36, 355, 11, 0, 40, 366,
    10, 0, 40, 376, 14, 0, 56, 390, 12, 0, 48, 402, 12, 0, 48, 414, 11, 0, 44, 425, 12, 0, 48, 437, 11, 0, 44, 448,
    9, 0, 36, 457, 10, 0, 40, 467, 11, 0, 44, 478, 11, 0, 40, 489, 16, 0, 60, 505, 10, 0, 40, 515, 10, 0, 36, 525,
    10, 0, 40, 535, 6, 0, 24, 541, 6, -1, 20, 547, 5, 0, 20, 552, 9, 0, 36, 561, 8, 0, 32, 569, 5, 0, 20, 574, 9, 0,
    36, 583, 10, 0, 40, 593, 9, 0, 36, 602, 10, 0, 40, 612, 9, 0, 36, 621, 6, 0, 24, 627, 10, 0, 40, 637, 9, 0, 36,
    646, 4, 0, 16, 650, 4, 0, 16, 654, 9, 0, 32, 663, 4, 0, 16, 667, 14, 0, 56, 681, 9, 0, 36, 690, 10, 0, 40, 700,
    10, 0, 40, 710, 10, 0, 40, 720, 6, 0, 20, 726, 8, 0, 32, 734, 6, 0, 24, 740, 9, 0, 36, 749, 9, 0, 32, 758, 13,
    0, 52, 771, 9, -1, 32, 780, 9, 0, 32, 789, 8, 0, 32, 797, 5, 0, 20, 802, 5, 0, 20, 807, 6, 0, 24, 813, 9, 0, 36)
FONT_PIXELS = (  # zlib of the atlas, 2 bits per pixel (0 = paper .. 3 = ink), as hex
    "78daed964d6824c715c7ff55654fa36e4dcd1e4c58ac99910f0319e31612a631258cadb204bb90af5330249bc31e02ce618d26641cb4"
    "4e604b1a70bec390807cb0432660422026e9d85ab20b1ba9bc3a38c124f4ae72b273a8b5a538b0f1320711a465579d573d23596bcb06"
    "1f9c84e042a32eaa665ebf7abff77ff5804fc627e3e31ddd8359b43f19edfe573c117d4ceaf7addefd112cd4a52c9e37007661b02479"
    "e760bbf49f3c8d1a85f2cf327d5cb112039c66127c76ce0cd73e2c1cc6b53d15e946bbdf4ac7baadd26db8a4f92eb8f92e777c17ab1a"
    "e9b95bfc7625efcf77c7360ff6c71c1ed844a445de65ab7a661733f95cbe5dda23b752854898090ad60ebe5dd18aad99ca9ea6ad993d"
    "cc9b3cff0b540bbfb3e368397106ad3c17a62bcc5d64f4b4f7df0f6e519ccfa1d150c3b5c3e3bd2b4a0a438ff406fbae7cb9f35c996d"
    "6a19307b9072f214bf81ad747a029301f0421bb21e05cbd9fe7e70d2d41fcff00fa8489fad8bc50b644d81650bc2d049e8408176a8d8"
    "c8de12e6e2185c9d6f9e116661a24e8e38d1d1b2c6fb61a07b4e8239558262c3f81fa0f1eec922ec47a071ef43a30668eeb1d7ef512f"
    "992a83ebd5f68fcd96ac4a5c559c4016a43d549966afd8a417361afbe6e24047ba6685496a682b9629ffdab67f16681633b2f30efe29"
    "3355a3c8216dc329be6ee821a19a2c730fe82cae06042116664a984f17e9bd235775e4f84d3b6972aca6d79d524a4af987497dddf1db"
    "e2b75d7e73fdc5c8cdac1bf2d84d88cfb2d7096e7f1f0dc6f33065b70b372432313c76a3c98d643ac104de0857f9cfbb486ac117f0f2"
    "9c665d9f037771fbe6bf14ff3c54306bf99c090b3411eede47435e4376efb56f8b254bae47118239132b56a059b47128be56c55b5a25"
    "08b4e25a957c98d835b7fba458b65b97e49785999eaf3cdbe974968cdbbe385179d66c2e3c7a4a6f5d7a74f63bdaa9a8ca7f205c4b25"
    "ad1052e8011ae0417dce204490f7e1ca981aa0e1c2c4e44e8071d34ccf7b2b11ce39475f672b516e5780767cfe4ddb4a45eeed143c06"
    "193144f3336fe7effc8c4c94425932e790a8e031929d475316a6f5f5576ce028b21441739c84e373fc7854814bcbb1b86cdb2a42bf1f"
    "139a9ea4c067fd3866eb56c562dda8e3b4906649fbe990bd2e74c66d2a7956a0e10dac81e4b259a079e2ab0334f7296e29a1337c318a"
    "46d88655c8ea5f8a1eeb83bde0b75750e63f9231e5bdfa141dc2f3c8ddcc9ea45cf09246fab03f999c7ad05e5bef1864f98e8498cbb3"
    "d26e81c6f45ae233d5268923cad0a40058353a5294e4d445f44d6228e60c4df97aa7f3229c53659a9ab2cfd45891e384260cc4895616"
    "d96615ed10ae162cdb08e445a4f0d04ed347b6cc2e8a7c1be3b63440b300fc224b41562c255e7bfc3a9014a2c9b89eb6576dbe234cf3"
    "301ad2f300cd0d8fe6ad13b12c17687cfa266a0c2cf568922084ca3674d0a35f86f4c311b1644efb4cf935e9cb819cceb7bdd41ca199"
    "311e8da32936fc51d64de43c9a56aff9d3af60815dd621125ab8b64268464e1f7fc9864f6d18b2cbb29161f9e87ad5a08e6e3493ffd1"
    "5b210842a347e5076bb7e894f789e7abcddae356f1cb5e3572a89abaa7d4d143d5347f62dd370ad5a0504d724c688f462719ff61d8c2"
    "861686b242e1b41a56e50334be480dd0bce3d1c843681050fd8ac4e7d89fef3761569e627658d0682cb33762f66a59913bad2afffe40"
    "35a39c52cb0574ea940254a39ad313a6dda3abad28a367e9337df5d55953a3171f2e68bc4043af5af205cdfd2d9662a12868f0054d9c"
    "a4a2e242fadaf3a8d96fa2495bc45a1851d423427ca01a9378d578346a658826e643d534c8aae9df6fca977fc55ec32fc9c2b0a0f5a9"
    "91a9fc5e274f5ddd5c809835c78ec151c5bc62e429907031fd24a2e8e4e2d64a0db5b1e099ce9c5712a681167fedb92eb94697ca0add"
    "352b051a9efdc6a359ba42a1f368e49275e3e63cdd35e07fa5bba6393146c13a5b47dd604764115261429fa68d219a2bfddd33c1f2e2"
    "d6a5fabdc29c9d2fd0908d028df5058d6d5d5262d9b88949b6890be33a51220bf7ef1a32f53dcc6721df29ed6934a70601c24803f35d"
    "b8997cd1b701e3245d7276de8cb9460b0cfeaf04ba970292c7a136c0d05d51a009b68551953c73ed586287da004253a2cac7ed9a5716"
    "fddba60ee21146a54cc1d70cd619a089de96abd461946eda79a3d86aa11a25a31f1768fc5d634a37bd6a22bb9a56a8aef7491a318abb"
    "e6a0c54bf7277f1a5cf185bb478ff0dde942497fa43eec83fbc7198a02e8d27b8fbd9e7f9938bca8061dc21d831bdfcdb9fe07f596bd"
    "0f71e9a0ab015bfb985bede0847f59fb8ede65d0bcdd315a47b56cff7ba3e86eef70f328348f1cd5b2fd1f8c7f0332c8a5e2")


def _font_atlas():
    """The glyph atlas as coverage (FONT_HEIGHT, FONT_WIDTH) in [0, 1]."""
    packed = np.frombuffer(zlib.decompress(bytes.fromhex("".join(FONT_PIXELS))), np.uint8)
    levels = np.stack([packed >> 6, (packed >> 4) & 3, (packed >> 2) & 3, packed & 3], axis=1).ravel()
    return levels[:FONT_HEIGHT * FONT_WIDTH].reshape(FONT_HEIGHT, FONT_WIDTH) / 3.0


def text_coverage(text, atlas):
    """One line of text as ink coverage (FONT_HEIGHT, width) in [0, 1]; characters outside ASCII draw as '?'."""
    pen, parts = 0, []
    for ch in text:
        k = 4 * ((ord(ch) if 32 <= ord(ch) < 127 else ord("?")) - 32)
        x, w, left, advance = FONT_METRICS[k:k + 4]
        parts.append((pen // 4 + left, x, w))
        pen += advance
    shift = max(0, -min((p for p, _, _ in parts), default=0))
    out = np.zeros((FONT_HEIGHT, max([pen // 4] + [p + w for p, _, w in parts]) + shift))
    for p, x, w in parts:
        out[:, p + shift:p + shift + w] = np.maximum(out[:, p + shift:p + shift + w], atlas[:, x:x + w])
    return out


def figure(images, cols, side, lines):
    """The grid enlarged under a title: lines[0] in black, any further lines in dark grey. RGB uint8."""
    mosaic = grid(images, cols, side, pad=1, gap=SEPARATOR)
    scale = max(2, min(4, -(-MIN_FIGURE_WIDTH // mosaic.shape[1])))
    mosaic = mosaic.repeat(scale, axis=0).repeat(scale, axis=1)
    atlas = _font_atlas()
    texts = [(text_coverage(t, atlas), 0 if i == 0 else 80) for i, t in enumerate(lines)]
    margin, line_gap = 16, 4
    width = max([MIN_FIGURE_WIDTH, mosaic.shape[1] + 2 * margin] + [t.shape[1] + 2 * margin for t, _ in texts])
    text_h = sum(t.shape[0] + line_gap for t, _ in texts)
    out = np.full((margin + text_h + margin // 2 + mosaic.shape[0] + margin, width, 3), 255.0)
    y = margin
    for coverage, ink in texts:
        x = (width - coverage.shape[1]) // 2
        region = out[y:y + coverage.shape[0], x:x + coverage.shape[1]]
        region[:] = region * (1 - coverage[..., None]) + ink * coverage[..., None]
        y += coverage.shape[0] + line_gap
    y += margin // 2
    x = (width - mosaic.shape[1]) // 2
    out[y:y + mosaic.shape[0], x:x + mosaic.shape[1]] = mosaic
    return np.round(out).astype(np.uint8)


def describe(path):
    """What the file is, for a title, and whether that came from the export.json beside it (already checked by
    load): ('vae_mnist decoder, int8', True), else (the file's name, False)."""
    manifest = os.path.join(os.path.dirname(os.path.abspath(path)), "export.json")
    try:
        with open(manifest, encoding="utf-8") as f:
            record = json.load(f)
        entry = record["artifacts"][os.path.basename(path)]
        quantize = {"none": "float32"}.get(entry["quantize"], entry["quantize"])
        return f"{record['model']} {entry['part']}, {quantize}", True
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return os.path.basename(path), False


def load(path):
    """(checked Model, image side) of a decoder file, or Refused."""
    model = dc.load(path, defaults=DEFAULT_CONTRACT)
    inputs, outputs = model.inputs, model.outputs
    names_in, names_out = sorted(inputs), sorted(outputs)
    if names_in not in (["code"], ["code", "label_onehot"]) or names_out != ["image"]:
        raise Refused(f"it is not a decoder: expected inputs 'code' (+ optional 'label_onehot') and an output "
                      f"'image', found inputs {names_in} and outputs {names_out}")
    for name, d in list(inputs.items()) + [("image", outputs["image"])]:
        if len(dc.shape_of(d)) != 2:
            raise Refused(f"it is not a decoder this example runs: {name!r} has shape {dc.shape_of(d)}, expected "
                          "(N, width)")
    pixels = dc.shape_of(outputs["image"])[1]
    side = int(round(pixels ** 0.5))
    if side * side != pixels:
        raise Refused(f"its 'image' output has {pixels} values, not a square image")
    return model, side


def decode(model, feed):
    """The dequantized 'image' rows of every code in feed, in chunks of the file's fixed batch size when it has one."""
    images = dc.run_in_batches(model, feed, "image")
    if not np.all(np.isfinite(images)):
        raise Refused("it is corrupt: it decoded to non-finite pixel values")
    return images


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="decoder .tflite")
    p.add_argument("png", help="output PNG")
    p.add_argument("--n", type=int, default=64, help=f"number of samples, 1..{MAX_SAMPLES} (default 64)")
    p.add_argument("--cols", type=int, default=8, help="images per row (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", type=int, default=None, help="class for conditional decoders (default: 0, 1, ...)")
    p.add_argument("--figure", action="store_true",
                   help="a titled figure in the zoo's house style (enlarged tiles, title saying what ran) instead "
                        "of the bare grid")
    p.add_argument("--debug", action="store_true", help="show the traceback of a failure (and the runtime's log)")
    args = p.parse_args(argv)
    if not 1 <= args.n <= MAX_SAMPLES or args.cols < 1 or args.seed < 0:
        p.error(f"--n must be in [1, {MAX_SAMPLES}], --cols >= 1 and --seed >= 0")

    try:
        with dc.runtime_log() if not args.debug else contextlib.nullcontext():
            images, inputs, outputs, side = run(args)
    except Exception as e:
        return dc.exit_status(e, args.debug, args.model)
    cols = min(args.cols, args.n)
    if args.figure:
        labels = ("" if "label_onehot" not in inputs else f"; label {args.label} for all" if args.label is not None
                  else "; labels 0, 1, 2, ... in turn")
        what, named = describe(args.model)
        int8 = [inputs["code"]["dtype"] == np.int8, outputs["image"]["dtype"] == np.int8]
        io = {(True, True): "; int8 in and out", (True, False): "; int8 in", (False, True): "; int8 out"}.get(
            tuple(int8), "")
        picture = figure(images, cols, side, [
            f"{what}, run by LiteRT: {args.n} sample{'s' if args.n != 1 else ''}",
            f"codes z ~ N(0, I), seed {args.seed}{labels}{io}; "
            + (f"{os.path.basename(args.model)}, " if named else "") + f"{side}x{side} pixels each"])
    else:
        picture = grid(images, cols, side)
    try:
        write_png(args.png, picture)
    except OSError as e:
        print(f"error: cannot write {args.png}: {e.strerror or e}", file=sys.stderr)
        return 1
    desc = {n: f"{np.dtype(d['dtype'])} {tuple(round(float(v), 6) for v in d['quantization'])}"
            for n, d in inputs.items()}
    print(f"wrote {args.png}: {args.n} samples of {side}x{side}; inputs {desc}; "
          f"output {np.dtype(outputs['image']['dtype'])}")
    return 0


def one_hot(labels, classes):
    """(n, classes) float32 rows, without the (classes, classes) identity np.eye would allocate first."""
    rows = np.zeros((len(labels), classes), np.float32)
    rows[np.arange(len(labels)), labels] = 1
    return rows


def run(args):
    """Decoded images (N, pixels) in [0, 1] for the arguments, with the file's details; Refused otherwise."""
    model, side = load(args.model)
    inputs, outputs = model.inputs, model.outputs
    latent = dc.shape_of(inputs["code"])[1]
    classes = dc.shape_of(inputs["label_onehot"])[1] if "label_onehot" in inputs else 0
    dc.check_draw(model, args.n, [latent, classes])
    rng = np.random.default_rng(args.seed)
    feed = {"code": dc.feed(model, "code", rng.standard_normal((args.n, latent)).astype(np.float32))}
    if classes:
        if args.label is not None and not 0 <= args.label < classes:
            raise Refused(f"--label must be in [0, {classes - 1}] for this decoder")
        labels = np.full(args.n, args.label) if args.label is not None else np.arange(args.n) % classes
        feed["label_onehot"] = dc.feed(model, "label_onehot", one_hot(labels, classes))
    return decode(model, feed), inputs, outputs, side


if __name__ == "__main__":
    sys.exit(main())
