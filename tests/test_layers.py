"""zoo.layers: the W^T tie, the three corruptions, the activity penalties, the in-graph image rows, and config
round trips."""

import warnings
import zipfile

import h5py
import numpy as np
import pytest
import tensorflow as tf
import keras

from zoo.layers import (ContractivePenalty, DenseTranspose, GaussianNoise, KLSparsityRegularizer,
                        L1ActivityRegularizer, MaskingNoise, NoiseMixture, SaltAndPepperNoise, image_rows,
                        jacobian_sq_norm, like_input, reconstruction_terms, replica_mean, shift_images,
                        sigmoid_jacobian_sq_norm)


def rows(n=64, d=784, seed=0):
    return np.random.default_rng(seed).random((n, d)).astype(np.float32)


def binomial_tolerance(rate, n, sigmas=5):
    """The corrupted fraction of n independent components has std sqrt(rate (1 - rate) / n); 5 sigmas make
    a false failure about one in 1.7 million."""
    return sigmas * np.sqrt(rate * (1 - rate) / n)


# -- tied weights ---------------------------------------------------------------------------------------------
def tied_model(seed=0):
    keras.utils.set_random_seed(seed)
    x = keras.Input((20,))
    enc = keras.layers.Dense(6, activation="sigmoid", name="enc")
    dec = DenseTranspose(enc, name="dec")
    return keras.Model(x, dec(enc(x))), enc, dec


def test_dense_transpose_is_x_times_kernel_transposed_plus_bias():
    model, enc, dec = tied_model()
    dec.bias.assign(np.arange(20, dtype=np.float32))
    h = rows(5, 6)
    np.testing.assert_allclose(np.asarray(dec(h)), h @ np.asarray(enc.kernel).T + np.arange(20), rtol=1e-5,
                               atol=1e-5)
    assert dec.compute_output_shape((None, 6)) == (None, 20)


def test_tie_holds_exactly_during_training():
    model, enc, dec = tied_model()
    # One kernel variable, counted once: 20*6 kernel + 6 encoder bias + 20 decoder bias.
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 20 * 6 + 6 + 20
    before = np.asarray(enc.kernel).copy()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    x = rows(64, 20)
    for _ in range(3):
        model.fit(x, x, epochs=1, batch_size=16, verbose=0)
        np.testing.assert_array_equal(np.asarray(dec.kernel), np.asarray(enc.kernel).T)
    assert not np.allclose(before, np.asarray(enc.kernel)), "training did not move the kernel"


@pytest.mark.slow
def test_regularized_tied_model_keeps_tie_after_training_and_reload(tmp_path):
    import zoo

    model = zoo.create_model("stacked_tied_ae_mnist", hidden_units=[12], latent_dim=4)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = rows(64)
    model.fit(x, epochs=2, batch_size=16, verbose=0)

    def check_ties(m):
        encs = m.encoder_layers
        decs = [l for l in m.decoder_logits.layers if isinstance(l, DenseTranspose)]
        assert len(decs) == len(encs) == 2
        for enc, dec in zip(encs, reversed(decs)):
            assert dec.dense is enc
            np.testing.assert_array_equal(np.asarray(dec.kernel), np.asarray(enc.kernel).T)

    check_ties(model)
    # Both ways a zoo model reaches disk: the zoo's folder (inference copy, no optimizer state) and a plain
    # keras save read back by plain Keras; the tie must come back as a reference either way.
    folder = zoo.registry.save_model(model, tmp_path / "tied")
    model.save(tmp_path / "plain.keras")
    with warnings.catch_warnings():
        # a plain save holds Adam's moments, which a freshly compiled zoo model does not restore
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        plain = keras.saving.load_model(tmp_path / "plain.keras")
    for loaded in (zoo.load(folder), plain):
        check_ties(loaded)
        np.testing.assert_array_equal(model.reconstruct(x), loaded.reconstruct(x))
        for a, b in zip(model.encoder_layers, loaded.encoder_layers):
            np.testing.assert_array_equal(np.asarray(a.kernel), np.asarray(b.kernel))
        # A step on the reloaded model moves encoder and decoder together.
        loaded.compile(optimizer=keras.optimizers.Adam(1e-2))
        loaded.fit(x, epochs=1, batch_size=16, verbose=0)
        check_ties(loaded)

    path = folder / "model.keras"
    with zipfile.ZipFile(path) as zf:
        zf.extract("model.weights.h5", tmp_path)
    shapes = []
    with h5py.File(tmp_path / "model.weights.h5") as f:
        f.visititems(lambda n, o: shapes.append(tuple(o.shape)) if isinstance(o, h5py.Dataset) else None)
    # Each kernel once (784x12, 12x4), no transposed copy; biases: 12, 4 (encoder), 12, 784 (decoder).
    assert sorted(s for s in shapes if len(s) == 2) == [(12, 4), (784, 12)]
    assert sorted(s for s in shapes if len(s) == 1) == [(4,), (12,), (12,), (784,)]


def test_dense_transpose_exports_as_a_plain_function():
    model, enc, dec = tied_model()
    fn = tf.function(lambda h: dec(h), input_signature=[tf.TensorSpec((None, 6), tf.float32)])
    graph = fn.get_concrete_function().graph
    ops = {op.type for op in graph.get_operations()}
    assert "MatMul" in ops or "BatchMatMulV2" in ops
    h = rows(3, 6)
    np.testing.assert_allclose(np.asarray(fn(h)), np.asarray(dec(h)), rtol=1e-5, atol=1e-6)


def test_dense_transpose_needs_a_dense():
    with pytest.raises(TypeError):
        DenseTranspose(keras.layers.Conv1D(3, 1))


# -- noise ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", [GaussianNoise(0.5, seed=1), MaskingNoise(0.3, seed=1),
                                   SaltAndPepperNoise(0.3, seed=1), NoiseMixture([["masking", 0.5]], seed=1)])
def test_noise_is_identity_at_inference(layer):
    x = rows()
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    assert not np.array_equal(np.asarray(layer(x, training=True)), x)


@pytest.mark.parametrize("rate", [0.1, 0.25, 0.5])
def test_masking_zeroes_a_fraction_rate(rate):
    x = rows(200) * 0.9 + 0.1  # strictly positive, so a zero is a mask
    out = np.asarray(MaskingNoise(rate, seed=3)(x, training=True))
    masked = out == 0
    assert abs(masked.mean() - rate) < binomial_tolerance(rate, x.size)
    np.testing.assert_array_equal(out[~masked], x[~masked])


@pytest.mark.parametrize("rate,low,high", [(0.25, 0.0, 1.0), (0.5, -1.0, 2.0)])
def test_salt_and_pepper_sets_a_fraction_to_min_or_max_equally(rate, low, high):
    x = rows(200) * 0.8 + 0.1  # strictly inside (low, high), so a changed value is a hit
    out = np.asarray(SaltAndPepperNoise(rate, low=low, high=high, seed=4)(x, training=True))
    salt, pepper = out == high, out == low
    hit = salt | pepper
    assert abs(hit.mean() - rate) < binomial_tolerance(rate, x.size)
    # Among hits, salt is Binomial(hits, 1/2).
    assert abs(salt.sum() / hit.sum() - 0.5) < binomial_tolerance(0.5, hit.sum())
    np.testing.assert_array_equal(out[~hit], x[~hit])


def test_gaussian_noise_has_the_stddev_and_zero_mean():
    x = rows(200)
    z = np.asarray(GaussianNoise(0.3, seed=5)(x, training=True)) - x
    n = z.size
    assert abs(z.mean()) < 5 * 0.3 / np.sqrt(n)
    # The sample variance of n normals has std sigma^2 sqrt(2 / n).
    assert abs(z.var() - 0.09) < 5 * 0.09 * np.sqrt(2 / n)


def test_noise_is_seeded():
    x = rows()
    a = np.asarray(SaltAndPepperNoise(0.3, seed=7)(x, training=True))
    b = np.asarray(SaltAndPepperNoise(0.3, seed=7)(x, training=True))
    c = np.asarray(SaltAndPepperNoise(0.3, seed=8)(x, training=True))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_noise_mixture_corrupts_each_example_with_one_kind():
    x = rows(400) * 0.8 + 0.1
    out = np.asarray(NoiseMixture([["masking", 0.5], ["salt_and_pepper", 0.5]], seed=2)(x, training=True))
    masked_only = np.all((out == x) | (out == 0), axis=1)
    has_salt = np.any(out == 1.0, axis=1)
    assert np.all(masked_only ^ has_salt)
    assert abs(masked_only.mean() - 0.5) < binomial_tolerance(0.5, len(x))


# -- penalties ------------------------------------------------------------------------------------------------
def test_closed_form_contractive_penalty_matches_batch_jacobian():
    keras.utils.set_random_seed(0)
    dense = keras.layers.Dense(7, activation="sigmoid")
    x = tf.constant(rows(5, 11))
    h = dense(x)
    closed = np.asarray(sigmoid_jacobian_sq_norm(h, dense.kernel))
    exact = np.asarray(jacobian_sq_norm(dense, x))
    np.testing.assert_allclose(closed, exact, rtol=1e-5)
    layer = ContractivePenalty(dense, weight=0.3)
    assert layer.closed_form
    np.testing.assert_allclose(float(layer.penalty(x, h)), 0.3 * exact.mean(), rtol=1e-5)


def test_contractive_penalty_uses_the_jacobian_for_other_activations():
    keras.utils.set_random_seed(0)
    dense = keras.layers.Dense(4, activation="tanh")
    x = tf.constant(rows(3, 5))
    h = dense(x)
    layer = ContractivePenalty(dense, weight=1.0)
    assert not layer.closed_form
    w, b = np.asarray(dense.kernel), np.asarray(dense.bias)
    d = 1 - np.tanh(np.asarray(x) @ w + b) ** 2   # tanh' by hand: J = diag(d) W^T
    expected = np.sum(d ** 2 * np.sum(w ** 2, axis=0), axis=1).mean()
    np.testing.assert_allclose(float(layer.penalty(x, h)), expected, rtol=1e-5)


def test_kl_sparsity_matches_numpy():
    h = np.random.default_rng(1).uniform(0.01, 0.99, (32, 10)).astype(np.float32)
    rho, w = 0.05, 0.7
    rho_hat = h.mean(axis=0).astype(np.float64)
    expected = w * np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    np.testing.assert_allclose(float(KLSparsityRegularizer(rho, w).penalty(h)), expected, rtol=1e-5)
    # Zero exactly when every unit's mean activation is the target.
    assert abs(float(KLSparsityRegularizer(rho, w).penalty(np.full((4, 3), rho, np.float32)))) < 1e-6


def test_l1_activity_value():
    h = np.random.default_rng(2).normal(size=(8, 5)).astype(np.float32)
    np.testing.assert_allclose(float(L1ActivityRegularizer(0.2).penalty(h)), 0.2 * np.abs(h).sum(1).mean(),
                               rtol=1e-5)


def test_penalties_add_a_loss_only_when_training():
    x = keras.Input((6,))
    h = keras.layers.Dense(5, activation="sigmoid")(x)
    out = KLSparsityRegularizer(0.05, 1.0)(L1ActivityRegularizer(0.1)(h))
    model = keras.Model(x, out)
    data = rows(8, 6)
    model(data, training=False)
    assert len(model.losses) == 0
    model(data, training=True)
    assert len(model.losses) == 2 and all(float(l) > 0 for l in model.losses)


# -- configs --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", [
    GaussianNoise(0.2, seed=3), MaskingNoise(0.4, seed=1), SaltAndPepperNoise(0.3, low=-1, high=1, seed=2),
    NoiseMixture([["gaussian", 0.5], ["masking", 0.25]], seed=4), L1ActivityRegularizer(0.01),
    KLSparsityRegularizer(0.1, 0.3)])
def test_get_config_round_trip(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    x = rows(4, 784)
    np.testing.assert_array_equal(np.asarray(clone(x)), np.asarray(layer(x)))


def test_get_config_round_trip_of_layers_that_hold_a_dense():
    dense = keras.layers.Dense(3, activation="sigmoid", name="d")
    for layer in (DenseTranspose(dense, activation="relu", name="t"), ContractivePenalty(dense, 0.2)):
        config = layer.get_config()
        clone = type(layer).from_config(config)
        assert clone.get_config() == config
    # Rebuilt alone from its config, a DenseTranspose owns a fresh Dense: the tie is made by the model.
    assert DenseTranspose.from_config(DenseTranspose(dense).get_config()).dense is not dense


# -- images and losses inside the graph -----------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 28, 28), (5, 28, 28, 1), (5, 784)])
def test_image_rows_rescales_uint8_exactly_in_a_graph(shape):
    u8 = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    u8.flat[:256] = np.arange(256)  # every value once
    expected = u8.reshape(5, 784).astype(np.float32) / 255
    graph = tf.function(image_rows)
    for fn in (image_rows, graph):
        got = np.asarray(fn(tf.constant(u8)))
        assert got.dtype == np.float32
        # Bit for bit what numpy gives: a graph may not swap the division for a multiplication by 1/255.
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(np.asarray(fn(tf.constant(expected.reshape(shape)))), expected)
    np.testing.assert_array_equal(np.asarray(like_input(tf.constant(expected), tf.constant(u8))),
                                  expected.reshape(shape))


def test_image_layout_works_at_unknown_rank():
    """Keras' predict retraces with an unknown rank once it has seen two layouts; the round trip to rows and
    back must still hold."""
    fn = tf.function(lambda x: like_input(image_rows(x) * 2, x),
                     input_signature=[tf.TensorSpec(None, tf.float32)])
    for shape in [(3, 28, 28), (3, 28, 28, 1), (3, 784)]:
        x = rows(3).reshape(shape)
        np.testing.assert_array_equal(np.asarray(fn(x)), x * 2)


def test_image_rows_keeps_rows_of_another_width():
    x = rows(3, 20)
    np.testing.assert_array_equal(np.asarray(image_rows(tf.constant(x))), x)


def numpy_shift(img, dy, dx):
    """img moved down dy and right dx pixels, zeros filling in: slicing, independent of crop_and_resize."""
    out = np.zeros_like(img)
    h, w = img.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = img[max(-dy, 0):h - max(dy, 0),
                                                                    max(-dx, 0):w - max(dx, 0)]
    return out


@pytest.mark.parametrize("max_shift", [1, 2, 3])
def test_shift_images_moves_each_image_by_a_whole_shift_within_the_bound(max_shift):
    # Random pixels make every shift distinguishable, so exactly one candidate may match each output.
    x = rows(64, seed=max_shift)
    out = np.asarray(shift_images(tf.constant(x), max_shift, tf.constant([4, 2], tf.int64))).reshape(-1, 28, 28)
    seen = set()
    for img, moved in zip(x.reshape(-1, 28, 28), out):
        hits = [(dy, dx) for dy in range(-max_shift, max_shift + 1) for dx in range(-max_shift, max_shift + 1)
                if np.array_equal(moved, numpy_shift(img, dy, dx))]
        assert len(hits) == 1, hits
        seen.add(hits[0])
    # 64 draws over (2s+1)^2 shifts: both extremes of each axis appear, so the bound is reached, not shrunk.
    assert {d for d, _ in seen} == set(range(-max_shift, max_shift + 1)) == {d for _, d in seen}
    again = np.asarray(shift_images(tf.constant(x), max_shift, tf.constant([4, 2], tf.int64))).reshape(-1, 28, 28)
    np.testing.assert_array_equal(out, again)


def test_reconstruction_terms_match_numpy():
    rng = np.random.default_rng(3)
    x = rng.random((6, 784)).astype(np.float32)
    logits = rng.normal(0, 3, (6, 784)).astype(np.float32)
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    bce, se = (np.asarray(t) for t in reconstruction_terms(x, logits, "bce", "sigmoid"))
    np.testing.assert_allclose(bce, -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1), rtol=1e-5)
    np.testing.assert_allclose(se, np.sum((p - x) ** 2, axis=1), rtol=1e-5)
    mse, se_linear = (np.asarray(t) for t in reconstruction_terms(x, logits, "mse", None))
    np.testing.assert_allclose(mse, np.sum((logits - x) ** 2, axis=1), rtol=1e-5)
    np.testing.assert_array_equal(mse, se_linear)
    assert float(replica_mean(tf.constant(bce))) == pytest.approx(bce.mean(), rel=1e-6)
