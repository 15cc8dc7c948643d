"""Device-side example: decode random latent vectors with an exported .tflite decoder and write a PNG grid.

Needs only numpy, ai_edge_litert and the standard library (no TensorFlow, no Keras, no zoo):

    python run_decoder.py saved_models/vae_mnist/exports/decoder_int8.tflite samples.png --n 64 --seed 0
    python run_decoder.py saved_models/cvae_mnist/exports/decoder_int8.tflite digits.png --label 3

A decoder file has one signature with an input "code" (N, latent_dim), optionally an input "label_onehot"
(N, classes) for class-conditional decoders, and an output "image" (N, pixels) of a square image. Latent vectors
are drawn from N(0, I) with the seed; labels are --label, or 0, 1, 2, ... cycling. int8 inputs are quantized
with the file's own scale and zero point (q = round(x / scale) + zero_point, clipped to [-128, 127]); int8
outputs are dequantized ((q - zero_point) * scale). A file with a fixed batch size is fed in chunks of it.

Anything wrong with the file (not a LiteRT model; corrupt, truncated or altered so that it fails to load,
allocate or run, or gives non-finite pixels; not a decoder) is refused with one line on stderr and exit 1.
"""

import argparse
import contextlib
import hashlib
import json
import os
import struct
import sys
import tempfile
import zlib

import numpy as np
from ai_edge_litert.interpreter import Interpreter

MAX_SAMPLES = 1024
MAX_FILE_BYTES = 512 << 20


class Refused(Exception):
    """The model file cannot be used; the message says why."""


@contextlib.contextmanager
def runtime_log():
    """The LiteRT runtime writes notes and errors straight to fd 2 from C++ ("INFO: Created TensorFlow Lite
    XNNPACK delegate", "ERROR: ..."); collect them, so stderr carries at most our one line."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        log = {"text": ""}
        try:
            yield log
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            log["text"] = tmp.read().decode("utf-8", "replace")


def write_png(path, img):
    """Grey (H, W) uint8 image -> PNG file, with zlib and struct only."""
    h, w = img.shape
    raw = b"".join(b"\x00" + img[i].tobytes() for i in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)


def grid(images, cols, side, pad=2):
    """(N, side*side) floats in [0, 1] -> one uint8 picture of the images in rows of `cols`, white gaps."""
    n = len(images)
    rows = (n + cols - 1) // cols
    out = np.full((rows * (side + pad) + pad, cols * (side + pad) + pad), 255, np.uint8)
    pixels = np.clip(np.round(images * 255.0), 0, 255).astype(np.uint8).reshape(n, side, side)
    for i, im in enumerate(pixels):
        r, c = divmod(i, cols)
        y, x = pad + r * (side + pad), pad + c * (side + pad)
        out[y:y + side, x:x + side] = im
    return out


def quantize(x, detail):
    if detail["dtype"] == np.float32:
        return x.astype(np.float32)
    scale, zero_point = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(detail["dtype"])


def dequantize(y, detail):
    if detail["dtype"] == np.float32:
        return y.astype(np.float32)
    scale, zero_point = detail["quantization"]
    return (y.astype(np.float32) - zero_point) * scale


def check_recorded_sha256(path, content):
    """A flipped byte in the weights still runs and draws wrong digits without a word; when the exporter's
    export.json sits beside the file (as it ships), the file must have the sha256 recorded there."""
    manifest = os.path.join(os.path.dirname(os.path.abspath(path)), "export.json")
    if not os.path.isfile(manifest):
        return
    try:
        with open(manifest, encoding="utf-8") as f:
            entry = json.load(f).get("artifacts", {}).get(os.path.basename(path)) or {}
    except (OSError, ValueError, AttributeError):
        raise Refused(f"the export.json beside it ({manifest}) is unreadable or corrupt") from None
    want = entry.get("sha256") if isinstance(entry, dict) else None
    if want and hashlib.sha256(content).hexdigest() != want:
        raise Refused("it is corrupt: its sha256 differs from the one recorded in the export.json beside it")


def load(path):
    """(signature runner, input details, output details) of a decoder file, or Refused."""
    try:
        with open(path, "rb") as f:
            content = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise Refused(f"cannot read it: {e.strerror or e}") from None
    if len(content) > MAX_FILE_BYTES:
        raise Refused(f"it is larger than {MAX_FILE_BYTES >> 20} MB; not a decoder this example runs")
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise Refused("it is not a LiteRT model (the 'TFL3' identifier is missing: another format, or corrupt)")
    check_recorded_sha256(path, content)
    try:
        interpreter = Interpreter(model_content=content, num_threads=1)
        interpreter.allocate_tensors()
        signatures = interpreter.get_signature_list()
        if len(signatures) != 1:
            raise Refused(f"it has {len(signatures)} signatures; an exported decoder has one")
        runner = interpreter.get_signature_runner()
        inputs, outputs = runner.get_input_details(), runner.get_output_details()
    except Refused:
        raise
    except Exception as e:
        raise Refused(f"it is corrupt or truncated: the LiteRT interpreter refused it ({first_line(e)})") from None
    names_in, names_out = sorted(inputs), sorted(outputs)
    if names_in not in (["code"], ["code", "label_onehot"]) or "image" not in names_out:
        raise Refused(f"it is not a decoder: expected inputs 'code' (+ optional 'label_onehot') and an output "
                      f"'image', found inputs {names_in} and outputs {names_out}")
    for name, d in list(inputs.items()) + [("image", outputs["image"])]:
        shape = [int(s) for s in d["shape_signature"]]
        if len(shape) != 2 or shape[1] < 1 or shape[0] == 0 or shape[0] < -1:
            raise Refused(f"it is not a decoder this example runs: {name!r} has shape {shape}, expected (N, width)")
        if d["dtype"] not in (np.float32, np.int8):
            raise Refused(f"{name!r} is {np.dtype(d['dtype'])}; expected float32 or int8")
        if d["dtype"] == np.int8 and not (np.isfinite(d["quantization"][0]) and d["quantization"][0] > 0):
            raise Refused(f"{name!r} is int8 with scale {d['quantization'][0]}; the file is corrupt")
    batches = {int(d["shape_signature"][0]) for d in list(inputs.values()) + [outputs["image"]]}
    if len(batches) != 1:
        raise Refused(f"its inputs and output disagree on the batch size ({sorted(batches)}); the file is corrupt")
    pixels = int(outputs["image"]["shape_signature"][1])
    side = int(round(pixels ** 0.5))
    if side * side != pixels:
        raise Refused(f"its 'image' output has {pixels} values, not a square image")
    return runner, inputs, outputs, side, batches.pop()


def decode(runner, inputs, outputs, feed, n, fixed):
    """The dequantized 'image' rows for n samples, in chunks of the file's fixed batch size when it has one."""
    step = fixed if fixed > 0 else n
    pixels = int(outputs["image"]["shape_signature"][1])
    chunks = []
    for i in range(0, n, step):
        part = {k: v[i:i + step] for k, v in feed.items()}
        m = len(part["code"])
        if m < step:  # pad the last chunk of a fixed-batch file
            part = {k: np.concatenate([v, np.repeat(v[-1:], step - m, axis=0)]) for k, v in part.items()}
        try:
            result = runner(**part)
            image = np.asarray(result["image"])
        except Exception as e:
            raise Refused(f"it is corrupt: running it failed ({first_line(e)})") from None
        if image.shape != (step, pixels):
            raise Refused(f"it is corrupt: 'image' came out with shape {list(image.shape)}, expected {[step, pixels]}")
        chunks.append(dequantize(image, outputs["image"])[:m])
    images = np.concatenate(chunks)
    if not np.all(np.isfinite(images)):
        raise Refused("it is corrupt: it decoded to non-finite pixel values")
    return images


def first_line(e):
    text = str(e).strip()
    return (text.splitlines()[0][:200] if text else type(e).__name__)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="decoder .tflite")
    p.add_argument("png", help="output PNG")
    p.add_argument("--n", type=int, default=64, help=f"number of samples, 1..{MAX_SAMPLES} (default 64)")
    p.add_argument("--cols", type=int, default=8, help="images per row (default 8)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", type=int, default=None, help="class for conditional decoders (default: 0, 1, ...)")
    args = p.parse_args(argv)
    if not 1 <= args.n <= MAX_SAMPLES or args.cols < 1 or args.seed < 0:
        p.error(f"--n must be in [1, {MAX_SAMPLES}], --cols >= 1 and --seed >= 0")

    try:
        with runtime_log():
            images, inputs, outputs, side = run(args)
    except Refused as e:
        print(f"error: cannot use {args.model}: {e}", file=sys.stderr)
        return 1
    try:
        write_png(args.png, grid(images, min(args.cols, args.n), side))
    except OSError as e:
        print(f"error: cannot write {args.png}: {e.strerror or e}", file=sys.stderr)
        return 1
    desc = {n: f"{np.dtype(d['dtype'])} {tuple(round(float(v), 6) for v in d['quantization'])}"
            for n, d in inputs.items()}
    print(f"wrote {args.png}: {args.n} samples of {side}x{side}; inputs {desc}; "
          f"output {np.dtype(outputs['image']['dtype'])}")
    return 0


def run(args):
    """Decoded images (N, pixels) in [0, 1] for the arguments, with the file's details; Refused otherwise."""
    runner, inputs, outputs, side, fixed = load(args.model)
    latent = int(inputs["code"]["shape_signature"][1])
    rng = np.random.default_rng(args.seed)
    feed = {"code": quantize(rng.standard_normal((args.n, latent)).astype(np.float32), inputs["code"])}
    if "label_onehot" in inputs:
        classes = int(inputs["label_onehot"]["shape_signature"][1])
        if args.label is not None and not 0 <= args.label < classes:
            raise Refused(f"--label must be in [0, {classes - 1}] for this decoder")
        labels = np.full(args.n, args.label) if args.label is not None else np.arange(args.n) % classes
        feed["label_onehot"] = quantize(np.eye(classes, dtype=np.float32)[labels], inputs["label_onehot"])
    return decode(runner, inputs, outputs, feed, args.n, fixed), inputs, outputs, side


if __name__ == "__main__":
    sys.exit(main())
