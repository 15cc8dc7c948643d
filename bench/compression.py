"""Compression: ae_mnist's int8 LiteRT encoder and decoder as a codec for 28x28 digits, against JPEG and WebP
(Pillow) at matched byte budgets on the same test images; bytes per image against PSNR and SSIM.

    python bench/compression.py              # a few minutes on CPU; bench/results/compression.json + figures

The learned codec: encoder_int8_int8io.tflite maps a uint8 image to a 30-d int8 code: 30 bytes, the code
itself, with the file's scale and zero point (fixed per file, like a JPEG's default tables). Below 8 bits
per dimension each code dimension is requantized uniformly to b bits over its range on the training split
(30 x 2 floats of side information shipped with the decoder, not per image): ceil(30 b / 8) bytes. The int8
decoder maps the code back to pixels, rounded to uint8 like every other codec's output. Both files are
exported by this script with `export.api.to_litert(..., quantize="int8", io="int8")` into runs/ae_mnist/
exports (the shipped folder is not touched) and run through ai_edge_litert only.

JPEG (quality 1..95, optimize=True) and WebP (lossy, quality 0..100, method 6) are counted two ways: the
whole file, and the payload a system sharing headers and tables would send (JPEG: the entropy-coded scan
data between the SOS header and EOI, written with the standard tables; WebP: the VP8 bitstream without the
20-byte RIFF/VP8 headers). Matched budgets: for a budget of B bytes each image gets the highest quality whose
size is <= B; images that no quality fits are counted as infeasible and left out of that row's means.

PSNR is 10 log10(255^2 / MSE) per image (MSE floored at 1e-10), averaged over images; SSIM is Wang et al.
(2004) with an 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03, valid positions only (tf.image.ssim's
definition; tests/test_compression.py checks the two agree), averaged over images.
"""

import argparse
import io as pyio
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
JPEG_QUALITIES = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 95)
WEBP_QUALITIES = (0, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 100)
BITS = (1, 2, 3, 4, 5, 6, 8)
BUDGETS = (8, 12, 15, 19, 23, 30, 60, 100, 150, 200, 300, 400)


# -- quality measures -----------------------------------------------------------------------------------------
def _gaussian_window(size=11, sigma=1.5):
    g = np.exp(-0.5 * ((np.arange(size) - (size - 1) / 2.0) / sigma) ** 2)
    return g / g.sum()


def _filter_valid(img, g):
    """Separable 'valid' correlation of (N, H, W) images with the 1-D window g along both axes."""
    n, h, w = img.shape
    k = len(g)
    rows = sum(g[i] * img[:, i:h - k + 1 + i, :] for i in range(k))
    return sum(g[i] * rows[:, :, i:w - k + 1 + i] for i in range(k))


def ssim(a, b, max_val=255.0, size=11, sigma=1.5, k1=0.01, k2=0.03):
    """Per-image SSIM of (N, H, W) image batches: the mean over valid window positions of
    (2 mu_a mu_b + C1)(2 s_ab + C2) / ((mu_a^2 + mu_b^2 + C1)(s_a^2 + s_b^2 + C2)), Gaussian-weighted moments."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    g = _gaussian_window(size, sigma)
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    mu_a, mu_b = _filter_valid(a, g), _filter_valid(b, g)
    s_aa = _filter_valid(a * a, g) - mu_a ** 2
    s_bb = _filter_valid(b * b, g) - mu_b ** 2
    s_ab = _filter_valid(a * b, g) - mu_a * mu_b
    m = ((2 * mu_a * mu_b + c1) * (2 * s_ab + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (s_aa + s_bb + c2))
    return m.mean(axis=(1, 2))


def psnr(a, b, max_val=255.0):
    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2, axis=(1, 2))
    return 10 * np.log10(max_val ** 2 / np.maximum(mse, 1e-10))


# -- the learned codec ------------------------------------------------------------------------------------------
class LiteRTCodec:
    """An int8-io LiteRT encoder (image -> int8 code) and decoder (int8 code -> image), run with ai_edge_litert."""

    def __init__(self, encoder_path, decoder_path):
        from ai_edge_litert.interpreter import Interpreter

        self.enc = Interpreter(model_path=str(encoder_path), num_threads=1)
        self.dec = Interpreter(model_path=str(decoder_path), num_threads=1)
        for it in (self.enc, self.dec):
            it.allocate_tensors()
        self.enc_run, self.dec_run = self.enc.get_signature_runner(), self.dec.get_signature_runner()
        (self.enc_in_name, self.enc_in), = self.enc_run.get_input_details().items()
        (self.enc_out_name, self.enc_out), = self.enc_run.get_output_details().items()
        (self.dec_in_name, self.dec_in), = self.dec_run.get_input_details().items()
        (self.dec_out_name, self.dec_out), = self.dec_run.get_output_details().items()
        self.code_dim = int(self.enc_out["shape_signature"][-1])

    @staticmethod
    def _q(x, detail):
        scale, zp = detail["quantization"]
        return np.clip(np.round(np.asarray(x, np.float64) / scale) + zp, -128, 127).astype(np.int8)

    @staticmethod
    def _dq(q, detail):
        scale, zp = detail["quantization"]
        return (np.asarray(q, np.float64) - zp) * scale

    def encode(self, images_uint8, batch=256):
        """uint8 (N, 28, 28) -> int8 (N, code_dim): the bytes sent."""
        rows = np.asarray(images_uint8).reshape(len(images_uint8), -1).astype(np.float64) / 255.0
        out = [self.enc_run(**{self.enc_in_name: self._q(rows[i:i + batch], self.enc_in)})[self.enc_out_name]
               for i in range(0, len(rows), batch)]
        return np.concatenate(out).astype(np.int8)

    def code_values(self, codes):
        """int8 codes -> the real code vectors they stand for."""
        return self._dq(codes, self.enc_out)

    def decode_values(self, z, batch=256):
        """real code vectors -> uint8 (N, 28, 28) images through the int8 decoder."""
        q = self._q(z, self.dec_in)
        out = [self._dq(self.dec_run(**{self.dec_in_name: q[i:i + batch]})[self.dec_out_name], self.dec_out)
               for i in range(0, len(q), batch)]
        pix = np.concatenate(out)
        return np.clip(np.round(pix * 255.0), 0, 255).astype(np.uint8).reshape(-1, 28, 28)

    def decode(self, codes):
        return self.decode_values(self.code_values(codes))


class BitQuantizer:
    """Each code dimension requantized uniformly to `bits` over its [lo, hi] on the training split."""

    def __init__(self, z_train, bits):
        self.lo, self.hi, self.bits = z_train.min(axis=0), z_train.max(axis=0), int(bits)
        self.levels = 2 ** self.bits - 1

    def bytes_per_image(self):
        return math.ceil(len(self.lo) * self.bits / 8)

    def indices(self, z):
        span = np.maximum(self.hi - self.lo, 1e-12)
        return np.clip(np.round((z - self.lo) / span * self.levels), 0, self.levels).astype(np.int64)

    def values(self, idx):
        return self.lo + idx / self.levels * (self.hi - self.lo)


def entropy_bytes(idx):
    """Bytes per image an ideal entropy coder with per-dimension symbol frequencies (measured on these images)
    would need: a lower bound for the same quantizer, not an implemented coder."""
    bits = 0.0
    for d in range(idx.shape[1]):
        _, counts = np.unique(idx[:, d], return_counts=True)
        p = counts / counts.sum()
        bits += float(-(p * np.log2(p)).sum())
    return bits / 8


# -- JPEG and WebP ----------------------------------------------------------------------------------------------------
def jpeg_scan_bytes(data):
    """Bytes of entropy-coded data: from the end of the SOS segment to the EOI marker."""
    i = data.find(b"\xff\xda")
    seg_len = int.from_bytes(data[i + 2:i + 4], "big")
    end = data.rfind(b"\xff\xd9")
    return end - (i + 2 + seg_len)


def pil_codec(images, fmt, quality):
    """(file bytes (N,), payload bytes (N,), decoded uint8 (N, 28, 28))."""
    from PIL import Image

    sizes, payload, out = [], [], []
    for img in images:
        buf = pyio.BytesIO()
        pim = Image.fromarray(img, mode="L")
        if fmt == "jpeg":
            pim.save(buf, format="JPEG", quality=quality, optimize=True)
            std = pyio.BytesIO()
            pim.save(std, format="JPEG", quality=quality)
            payload.append(jpeg_scan_bytes(std.getvalue()))
        else:
            pim.save(buf, format="WEBP", quality=quality, method=6, lossless=False)
            payload.append(len(buf.getvalue()) - 20)
        sizes.append(len(buf.getvalue()))
        out.append(np.asarray(Image.open(pyio.BytesIO(buf.getvalue())).convert("L")))
    return np.array(sizes), np.array(payload), np.stack(out)


def matched(sizes, recon, x, budget):
    """Per image, the highest quality whose size fits the budget: (feasible fraction, mean bytes, psnr, ssim)."""
    n = x.shape[0]
    pick = np.full(n, -1)
    for qi in range(sizes.shape[0]):  # qualities ascending
        pick = np.where(sizes[qi] <= budget, qi, pick)
    ok = pick >= 0
    if not ok.any():
        return {"budget": budget, "feasible": 0.0}
    rec = recon[pick[ok], np.flatnonzero(ok)]
    return {"budget": budget, "feasible": round(float(ok.mean()), 4),
            "mean_bytes": round(float(sizes[pick[ok], np.flatnonzero(ok)].mean()), 2),
            "psnr_db": round(float(psnr(x[ok], rec).mean()), 3), "ssim": round(float(ssim(x[ok], rec).mean()), 4)}


def curve_row(name, bytes_, x, rec, **extra):
    return {"codec": name, "mean_bytes": round(float(np.mean(bytes_)), 2), "psnr_db": round(float(psnr(x, rec).mean()), 3),
            "ssim": round(float(ssim(x, rec).mean()), 4), **extra}


def export_pair(model_name, out):
    from export import api

    paths = {}
    for part in ("encoder", "decoder"):
        rep = api.to_litert(model_name, part=part, quantize="int8", io="int8", out=out, timing=False)
        paths[part] = Path(rep["path"])
    return paths


def draw(result):
    """The rate-distortion figures (PSNR and SSIM against bytes per image) from a result dict."""
    from zoo import figures

    learned = result["learned_codec"]["rows"]
    names = {"jpeg": "JPEG", "webp": "WebP"}
    for measure, ylabel in (("psnr_db", "PSNR (dB, mean over test images)"), ("ssim", "SSIM (mean over test images)")):
        series = {f"learned: {result['model']} int8 LiteRT (1..8 bits/dim)": (
            [r["mean_bytes"] for r in learned[1:]], [r[measure] for r in learned[1:]])}
        for fmt in ("jpeg", "webp"):
            c = result[f"{fmt}_curve"]
            series[f"{names[fmt]} whole file"] = ([r["mean_bytes"] for r in c], [r[measure] for r in c])
            series[f"{names[fmt]} payload only"] = ([r["mean_payload_bytes"] for r in c], [r[measure] for r in c])
        fig = figures.curves(series, title=f"Rate-distortion on {result['images']:,} MNIST test images: "
                                           f"{result['model']} codec vs JPEG and WebP",
                             xlabel="bytes per image (log scale)", ylabel=ylabel)
        fig.axes[0].set_xscale("log")
        figures.save(fig, RESULTS / f"compression_rd_{'psnr' if measure == 'psnr_db' else 'ssim'}.png")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="ae_mnist")
    ap.add_argument("--limit", type=int, default=None, help="only the first N test images")
    ap.add_argument("--out", default=str(RESULTS / "compression.json"))
    ap.add_argument("--figures-only", action="store_true", help="redraw the figures from --out's JSON")
    args = ap.parse_args(argv)
    if args.figures_only:
        draw(json.loads(Path(args.out).read_text()))
        return

    from zoo import data, io, registry

    start = time.time()
    splits = data.splits("mnist")
    to_u8 = lambda rows: np.round(rows * 255).astype(np.uint8).reshape(-1, 28, 28)  # noqa: E731 (exact: rows are k/255)
    x_train, x = to_u8(splits["train"][0]), to_u8(splits["test"][0][:args.limit])
    exports = registry.runs_dir() / args.model / "exports"
    paths = export_pair(args.model, exports)
    codec = LiteRTCodec(paths["encoder"], paths["decoder"])

    learned = []
    codes = codec.encode(x)
    rec = codec.decode(codes)
    learned.append(curve_row(f"{args.model} int8 LiteRT (int8 code)", np.full(len(x), codes.shape[1]), x, rec, bits=8,
                             quantizer="the encoder's own int8 output"))
    z_train, z = codec.code_values(codec.encode(x_train)), codec.code_values(codes)
    for bits in BITS:
        qz = BitQuantizer(z_train, bits)
        idx = qz.indices(z)
        rec_b = codec.decode_values(qz.values(idx))
        learned.append(curve_row(f"{args.model} int8 LiteRT, {bits} bits/dim", np.full(len(x), qz.bytes_per_image()),
                                 x, rec_b, bits=bits, quantizer="per-dimension uniform over the training range",
                                 entropy_bound_bytes=round(entropy_bytes(idx), 2)))
        print(json.dumps(learned[-1]), flush=True)

    pil = {}
    curves_ = {}
    for fmt, qualities in (("jpeg", JPEG_QUALITIES), ("webp", WEBP_QUALITIES)):
        sizes, payloads, recs = [], [], []
        for q in qualities:
            s, p, r = pil_codec(x, fmt, q)
            sizes.append(s), payloads.append(p), recs.append(r)
        sizes, payloads, recs = np.stack(sizes), np.stack(payloads), np.stack(recs)
        curves_[fmt] = [curve_row(f"{fmt} q{q}", sizes[i], x, recs[i], quality=q,
                                  mean_payload_bytes=round(float(payloads[i].mean()), 2))
                        for i, q in enumerate(qualities)]
        pil[fmt] = {"file": [matched(sizes, recs, x, b) for b in BUDGETS],
                    "payload": [matched(payloads, recs, x, b) for b in BUDGETS]}
        print(fmt, json.dumps(pil[fmt]["payload"][:6]), flush=True)

    result = {"bench": "compression", "model": args.model, "images": int(len(x)), "split": "test",
              "learned_codec": {"encoder": str(paths["encoder"].relative_to(registry.repo_dir())),
                                "decoder": str(paths["decoder"].relative_to(registry.repo_dir())),
                                "encoder_bytes": paths["encoder"].stat().st_size,
                                "decoder_bytes": paths["decoder"].stat().st_size, "rows": learned},
              "jpeg_curve": curves_["jpeg"], "webp_curve": curves_["webp"],
              "matched_budgets": {"budgets_bytes": list(BUDGETS), "jpeg": pil["jpeg"], "webp": pil["webp"],
                                  "note": "per image, the highest quality whose size fits the budget; 'file' counts "
                                          "the whole file, 'payload' only the coded data (headers and tables shared)"},
              "command": "python bench/compression.py", "seconds": round(time.time() - start, 1),
              "versions": {**io.versions(), "pillow": __import__("PIL").__version__}}
    io.write_json_atomic(Path(args.out), result)

    draw(result)
    print(f"wrote {args.out} in {time.time() - start:.0f}s")


if __name__ == "__main__":
    main()
