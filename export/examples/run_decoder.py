"""Device-side example: decode random latent vectors with an exported .tflite decoder and write a PNG grid.

Needs only numpy, ai_edge_litert and the standard library (no TensorFlow, no Keras, no zoo):

    python run_decoder.py saved_models/vae_mnist/exports/decoder_int8.tflite samples.png --n 64 --seed 0
    python run_decoder.py saved_models/cvae_mnist/exports/decoder_int8.tflite digits.png --label 3

Latent vectors are drawn from N(0, I) with the seed. Int8 inputs are quantized with the file's own scale
and zero point (q = round(x / scale) + zero_point, clipped to [-128, 127]); int8 outputs are dequantized
((q - zero_point) * scale). A second input (class-conditional decoders) gets one-hot labels: --label, or
0..9 cycling.
"""

import argparse
import struct
import sys
import zlib

import numpy as np
from ai_edge_litert.interpreter import Interpreter


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


def grid(images, cols, pad=2):
    """(N, 784) floats in [0, 1] -> one (rows*30+2, cols*30+2) uint8 picture, white gaps."""
    n = len(images)
    rows = (n + cols - 1) // cols
    side = int(round(images.shape[1] ** 0.5))
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="decoder .tflite")
    p.add_argument("png", help="output PNG")
    p.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--cols", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label", type=int, default=None, help="class for conditional decoders (default: 0..9)")
    args = p.parse_args(argv)

    try:
        with open(args.model, "rb") as f:
            content = f.read()
        if content[4:8] != b"TFL3":
            raise ValueError("the 'TFL3' identifier is missing (not a .tflite, or corrupt)")
        interpreter = Interpreter(model_content=content, num_threads=1)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"error: cannot load {args.model}: {e}", file=sys.stderr)
        return 1
    runner = interpreter.get_signature_runner()
    inputs = runner.get_input_details()
    outputs = runner.get_output_details()
    names = list(inputs)
    # The latent input is the one that is not 10 wide (one-hot labels are); with a single input, that one.
    latent = next((n for n in names if inputs[n]["shape_signature"][-1] != 10), names[0]) if len(names) > 1 else names[0]
    rng = np.random.default_rng(args.seed)
    feed = {}
    for name in names:
        width = int(inputs[name]["shape_signature"][-1])
        if name == latent:
            x = rng.standard_normal((args.n, width)).astype(np.float32)
        else:
            labels = np.full(args.n, args.label) if args.label is not None else np.arange(args.n) % width
            x = np.eye(width, dtype=np.float32)[labels]
        feed[name] = quantize(x, inputs[name])
    result = runner(**feed)
    out_name = sorted(outputs, key=lambda n: (len(n), n))[0]
    images = dequantize(result[out_name], outputs[out_name])
    write_png(args.png, grid(images.reshape(args.n, -1), args.cols))
    desc = {n: (str(np.dtype(inputs[n]["dtype"])), inputs[n]["quantization"]) for n in names}
    print(f"wrote {args.png}: {args.n} samples; inputs {desc}; output {np.dtype(outputs[out_name]['dtype'])} "
          f"{outputs[out_name]['quantization']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
