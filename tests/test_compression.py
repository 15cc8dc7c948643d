"""The compression bench's parts: SSIM from its definition equals tf.image.ssim, PSNR its formula, the
b-bit quantizer's error bound and byte count, JPEG's header really is shared (so 'payload' is a fair count),
matched budgets pick the best quality that fits, and the int8 LiteRT codec round-trips a tiny autoencoder's
codes within int8 error."""

import io as pyio
import json
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT, needs_mnist

sys.path.insert(0, str(ROOT / "bench"))
import compression as C  # noqa: E402


def test_ssim_equals_tf_image_ssim(mnist_small):
    (xtr, _), _ = mnist_small
    rng = np.random.default_rng(0)
    a = np.round(xtr[:16].reshape(-1, 28, 28) * 255)
    b = np.clip(a + rng.normal(0, 30, a.shape), 0, 255).round()
    want = tf.image.ssim(tf.constant(a[..., None], tf.float32), tf.constant(b[..., None], tf.float32), max_val=255.0,
                         filter_size=11, filter_sigma=1.5, k1=0.01, k2=0.03).numpy()
    np.testing.assert_allclose(C.ssim(a, b), want, atol=2e-5)
    np.testing.assert_allclose(C.ssim(a, a), 1.0, atol=1e-12)


def test_psnr_is_its_formula():
    a = np.zeros((2, 28, 28))
    b = a.copy()
    b[0, 0, 0] = 255  # MSE = 255^2 / 784
    np.testing.assert_allclose(C.psnr(a, b), [10 * np.log10(784), 10 * np.log10(255 ** 2 / 1e-10)])  # MSE floor


def test_bit_quantizer_error_is_at_most_half_a_step_and_bytes_round_up(rng):
    z_train = rng.normal(size=(500, 30))
    for bits in (1, 3, 8):
        q = C.BitQuantizer(z_train, bits)
        idx = q.indices(z_train)
        assert idx.min() >= 0 and idx.max() <= 2 ** bits - 1
        step = (z_train.max(0) - z_train.min(0)) / (2 ** bits - 1)
        assert np.all(np.abs(q.values(idx) - z_train) <= step / 2 + 1e-12)
        assert q.bytes_per_image() == -(-30 * bits // 8)


def test_entropy_bound_of_a_known_distribution():
    idx = np.stack([np.arange(8).repeat(10), np.zeros(80, int)], 1)  # 3 bits + 0 bits per image
    assert C.entropy_bytes(idx) == pytest.approx(3 / 8)


def test_jpeg_payload_is_what_differs_between_images(mnist_small):
    """Two images coded with the standard tables share every byte before the scan data: a receiver that has
    the header once needs only the scan, which is what 'payload' counts."""
    from PIL import Image

    (xtr, _), _ = mnist_small
    files = []
    for img in np.round(xtr[:2].reshape(-1, 28, 28) * 255).astype(np.uint8):
        buf = pyio.BytesIO()
        Image.fromarray(img, mode="L").save(buf, format="JPEG", quality=30)
        files.append(buf.getvalue())
    heads = [f[:len(f) - C.jpeg_scan_bytes(f) - 2] for f in files]
    assert heads[0] == heads[1] and files[0] != files[1]
    # header of one + scan of the other decodes to the other image
    swapped = heads[0] + files[1][len(heads[1]):]
    assert np.array_equal(np.asarray(Image.open(pyio.BytesIO(swapped))), np.asarray(Image.open(pyio.BytesIO(files[1]))))


def test_matched_budget_takes_the_best_quality_that_fits():
    x = np.zeros((3, 28, 28))
    recon = np.stack([np.full((3, 28, 28), v) for v in (40.0, 20.0, 0.0)])  # better with quality
    sizes = np.array([[10, 10, 50], [20, 30, 60], [40, 35, 70]])             # [quality, image]
    out = C.matched(sizes, recon, x, 30)
    assert out["feasible"] == pytest.approx(2 / 3, abs=1e-4)
    assert out["mean_bytes"] == pytest.approx((20 + 30) / 2)                  # image 0 at q1, image 1 at q1
    assert out["psnr_db"] == pytest.approx(10 * np.log10(255 ** 2 / 400), abs=1e-3)
    assert C.matched(sizes, recon, x, 5) == {"budget": 5, "feasible": 0.0}


@needs_mnist
@pytest.mark.slow
def test_litert_codec_round_trips_a_tiny_autoencoder(tmp_path, mnist_small):
    import zoo
    from export import api

    (xtr, _), (xte, _) = mnist_small
    model = zoo.create_model("ae_mnist", hidden_units=[32], latent_dim=6)
    model.fit(xtr, xtr, epochs=2, batch_size=64, verbose=0)
    folder = tmp_path / "m"
    zoo.registry.save_model(model, folder)
    paths = {p: api.to_litert(str(folder), part=p, quantize="int8", io="int8", out=tmp_path / "x", timing=False,
                              representative_size=200)["path"] for p in ("encoder", "decoder")}
    codec = C.LiteRTCodec(paths["encoder"], paths["decoder"])
    x = np.round(xte[:50].reshape(-1, 28, 28) * 255).astype(np.uint8)
    codes = codec.encode(x)
    assert codes.dtype == np.int8 and codes.shape == (50, 6)                   # 6 bytes per image
    z = model.encode(x)
    scale = codec.enc_out["quantization"][0]
    assert np.max(np.abs(codec.code_values(codes) - z)) <= 4 * scale + 0.05 * np.abs(z).max()
    rec = codec.decode(codes)
    keras_rec = np.round(model.reconstruct(x.astype(np.float32) / 255) * 255)
    assert rec.dtype == np.uint8 and np.mean(np.abs(rec - keras_rec)) < 6      # int8 error, on a 0..255 scale


def test_bench_results_state_both_sides():
    r = json.loads((ROOT / "bench" / "results" / "compression.json").read_text())
    learned = r["learned_codec"]["rows"]
    psnrs = [row["psnr_db"] for row in learned[1:]]
    assert psnrs == sorted(psnrs)  # more bits, better
    # the learned codec's ceiling is below what JPEG and WebP reach with more bytes
    assert max(psnrs) < max(row["psnr_db"] for row in r["webp_curve"])
