"""GANs: the minibatch-discrimination layer against numpy, shapes, the measures against independent
computations, a tiny game that pulls D's accuracy back toward 0.5, divergence stopping with its epoch,
bit-identical kill and resume with both optimizers and the noise generator in the checkpoint, an exact
save/load round trip, the CLI, and the shipped models' exports."""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest

import zoo
from zoo import registry, training
from zoo.errors import ZooError
from zoo.families import gan
from zoo.layers.minibatch import MinibatchDiscrimination
from conftest import ROOT, kill_then_resume, needs_mnist, run_zoo_here, user_lines, zoo_env
from tolerances import assert_f32_close

TINY = dict(latent_dim=8, g_filters=[8, 4], d_filters=[4, 8])
TINY_SET = ["--set", "latent_dim=8", "--set", "g_filters=[8,4]", "--set", "d_filters=[4,8]"]


def digits(n, seed=0):
    """n real MNIST rows and labels (the first test images), or a skip."""
    from conftest import has_mnist
    if not has_mnist():
        pytest.skip("needs $ZOO_DATA_DIR/mnist.npz")
    x, y = zoo.data.splits("mnist", validation=0)["test"]
    return x[:n], y[:n]


# -- the layer ---------------------------------------------------------------------------------------------------
def test_minibatch_discrimination_matches_numpy(rng):
    x = rng.standard_normal((6, 5)).astype(np.float32)
    layer = MinibatchDiscrimination(num_kernels=3, kernel_dim=4)
    out = np.asarray(layer(x))
    t = np.asarray(layer.kernel).reshape(5, 3, 4).astype(np.float64)
    m = np.einsum("na,abc->nbc", x.astype(np.float64), t)
    expected = np.zeros((6, 3))
    for i in range(6):
        for j in range(6):
            expected[i] += np.exp(-np.abs(m[i] - m[j]).sum(axis=-1))
    assert out.shape == (6, 8)
    np.testing.assert_array_equal(out[:, :5], x)
    np.testing.assert_allclose(out[:, 5:], expected, rtol=1e-5)
    # a batch of one identical row per copy: every c_b is exp(0) = 1, so o = the batch size
    same = np.asarray(layer(np.repeat(x[:1], 4, axis=0)))[:, 5:]
    np.testing.assert_allclose(same, 4.0, rtol=1e-6)
    assert MinibatchDiscrimination.from_config(layer.get_config()).get_config() == layer.get_config()


# -- shapes and inputs -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, extra", [("dcgan_mnist", {}), ("cgan_mnist", {}),
                                         ("dcgan_stacked_mnist", {"minibatch_kernels": 3, "minibatch_dim": 2}),
                                         ("dcgan_stacked_mnist", {"minibatch_kernels": 3, "minibatch_dim": 2, "pack": 2}),
                                         ("dcgan_mnist", {"pack": 3})])
def test_shapes(name, extra):
    model = zoo.create_model(name, **TINY, **extra)
    ch = model.channels
    img = (5, 28, 28) if ch == 1 else (5, 28, 28, 3)
    assert model.sample(5, seed=1).shape == img
    np.testing.assert_array_equal(model.sample(5, seed=1), model.sample(5, seed=1))
    assert model.generator.output.shape[1:] == (28, 28, ch)
    x = model.sample(5, seed=2)
    p = model.discriminate(x, labels=[1] * 5) if model.conditional else model.discriminate(x)
    assert p.shape == (5,) and np.all((p > 0) & (p < 1))
    if model.conditional:
        assert np.asarray(model({"image": x, "label": np.arange(5)})).shape == (5,)
        assert model.sample(3, labels=7, seed=0).shape == (3, 28, 28)
    else:
        # every accepted layout of the same images gives the same answer; uint8 is rescaled in the graph
        u8 = np.round(x * 255).astype(np.uint8)
        layouts = [u8, u8.reshape(5, -1)] + ([u8[..., None]] if ch == 1 else [])
        answers = [np.asarray(model(a)) for a in layouts]
        assert answers[0].shape == (5,)
        for a in answers[1:]:
            np.testing.assert_array_equal(a, answers[0])
        np.testing.assert_allclose(answers[0], np.asarray(model(u8.astype(np.float32) / 255.0)), atol=1e-6)
    assert type(model).parameter_count(model.get_config()) == model.count_params_unique()


def test_a_packed_discriminator_judges_consecutive_images_side_by_side_along_the_channels(rng):
    """PacGAN: with pack=m, D's input is m images concatenated along the channels; every image gets the
    answer of its pack, and a batch that does not divide is filled up by repeating its first images."""
    model = zoo.create_model("dcgan_stacked_mnist", **TINY, pack=2)
    assert model.discriminator.input.shape[1:] == (28, 28, 6)
    x = rng.uniform(0, 1, (5, 28, 28, 3)).astype(np.float32)
    by_hand = np.concatenate([x[[0, 2, 4]], x[[1, 3, 0]]], axis=-1)      # packs (0, 1), (2, 3), (4, 0)
    want = 1 / (1 + np.exp(-np.asarray(model.discriminator(by_hand)).ravel()))
    np.testing.assert_allclose(np.asarray(model(x)), np.repeat(want, 2)[:5], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.discriminate(x), np.repeat(want, 2)[:5], rtol=1e-5, atol=1e-6)
    with pytest.raises(ZooError, match="pack > 1 is for unconditional GANs"):
        zoo.create_model("cgan_mnist", **TINY, pack=2)


def test_projection_discriminator_is_psi_of_phi_plus_the_label_embedding_dot_phi(rng):
    """Miyato & Koyama's projection D, recomputed from its own weights in numpy: the label changes the logit only
    through embed(y) . phi(x), and the planes variant gets no label planes when projection is chosen."""
    model = zoo.create_model("cgan_mnist", **TINY, conditioning="projection", aux_weight=0.0)
    assert "d_label_planes" not in [layer.name for layer in model.discriminator.layers]
    planes = zoo.create_model("cgan_mnist", **TINY, conditioning="planes", aux_weight=0.0)
    assert planes.get_config()["conditioning"] == "planes"
    x = rng.random((4, 28, 28, 1)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[[0, 3, 3, 9]]
    d = model.discriminator
    phi = np.asarray(keras.Model(d.inputs, d.get_layer("d_flatten").output)([x, y]), np.float64)
    w, b = (np.asarray(v, np.float64) for v in d.get_layer("d_logit").weights)
    v = np.asarray(d.get_layer("d_label_embedding").kernel, np.float64)
    expected = phi @ w[:, 0] + b[0] + np.sum((y @ v) * phi, axis=1)
    # the logits are ~1e-3 here (an untrained D), so a fixed atol of 1e-5 let them be 1% off; the bound is
    # float32 eps of the magnitude (~0.02) the two sums are made of
    size = np.abs(phi) @ np.abs(w[:, 0]) + abs(b[0]) + np.sum(np.abs(y @ v) * np.abs(phi), axis=1)
    assert_f32_close(np.asarray(d([x, y]))[:, 0], expected, size, what="projection logits")
    with pytest.raises(ZooError, match="conditioning must be one of planes, projection"):
        zoo.create_model("cgan_mnist", **TINY, conditioning="both")


@pytest.mark.parametrize("call, message", [
    (lambda m, c: m.sample(0), "n must be"),
    (lambda m, c: m.sample(3, labels=[1, 2, 3]), "not class-conditional"),
    (lambda m, c: c.sample(2, labels=[1, 12]), "labels"),
    (lambda m, c: c({"image": np.zeros((1, 28, 28))}), "takes a dict"),
    (lambda m, c: m.generate(np.zeros((2, 3))), "z"),
    (lambda m, c: zoo.create_model("dcgan_mnist", g_filters=[8]), "g_filters must have 2 entries"),
    (lambda m, c: zoo.create_model("dcgan_mnist", channels=4), "channels"),
    (lambda m, c: gan.mode_statistics([0, 1000]), "modes must be integers"),
])
def test_bad_inputs_raise_one_clear_error(call, message):
    m, c = zoo.create_model("dcgan_mnist", **TINY), zoo.create_model("cgan_mnist", **TINY)
    with pytest.raises(ZooError, match=message) as e:
        call(m, c)
    assert "\n" not in str(e.value)


# -- measures ----------------------------------------------------------------------------------------------------
def test_mode_counter_on_synthetic_sets(rng):
    known = rng.choice(1000, 37, replace=False)
    stats, counts = gan.mode_statistics(np.repeat(known, 100))
    assert stats["modes_covered"] == 37 and counts.sum() == 3700
    np.testing.assert_allclose(stats["kl_to_uniform"], np.log(1000 / 37), rtol=1e-12)
    stats, _ = gan.mode_statistics(np.tile(np.arange(1000), 26))
    assert stats["modes_covered"] == 1000 and abs(stats["kl_to_uniform"]) < 1e-12
    skewed = np.concatenate([np.zeros(900, int), np.arange(100)])
    p = np.bincount(skewed, minlength=1000) / 1000.0
    p = p[p > 0]
    np.testing.assert_allclose(gan.mode_statistics(skewed)[0]["kl_to_uniform"], np.sum(p * np.log(p * 1000)))


@pytest.mark.slow
def test_stacked_mode_counter_with_the_judge_finds_the_modes_put_in():
    clf = gan.judge()
    if clf is None:
        pytest.skip("needs the shipped mnist_classifier")
    x, y = digits(400)
    ok = clf.classify(x) == y         # digits the judge reads right, so the count is exact
    x, y = x[ok], y[ok]
    rng = np.random.default_rng(0)
    modes = rng.choice(1000, 12, replace=False)
    want = modes[rng.integers(0, 12, 300)]
    planes = []
    for k, place in enumerate((100, 10, 1)):
        d = (want // place) % 10
        planes.append(np.stack([x[rng.choice(np.flatnonzero(y == v))] for v in d]).reshape(-1, 28, 28))
    found = gan.stacked_modes(clf, np.stack(planes, -1))
    np.testing.assert_array_equal(found, want)
    assert gan.mode_statistics(found)[0]["modes_covered"] == 12


def test_frechet_distance_against_an_eigendecomposition(rng):
    a = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 6))
    b = rng.standard_normal((400, 6)) * 2.0 + 1.0

    def sqrt_psd(m):
        w, v = np.linalg.eigh(m)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T

    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    r = sqrt_psd(s1)
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(s1 + s2 - 2 * sqrt_psd(r @ s2 @ r))
    np.testing.assert_allclose(gan.frechet_distance(a, b), expected, rtol=1e-7)
    assert abs(gan.frechet_distance(a, a)) < 1e-6


def test_stacked_training_triples_are_a_stateless_function_of_the_seed():
    rows = np.random.default_rng(0).random((50, 784), dtype=np.float32)
    aug = gan.stack_augment(rows)
    out1 = np.asarray(aug(rows[:4], [3, 1])).reshape(4, 28, 28, 3)
    np.testing.assert_array_equal(out1, np.asarray(aug(rows[:4], [3, 1])).reshape(4, 28, 28, 3))
    np.testing.assert_array_equal(out1[..., 0], rows[:4].reshape(4, 28, 28))    # R is the batch itself
    for k in (1, 2):  # G and B planes are whole training digits
        flat = out1[..., k].reshape(4, 784)
        assert all(np.any(np.all(rows == f, axis=1)) for f in flat)
    assert not np.array_equal(out1, np.asarray(aug(rows[:4], [3, 2])).reshape(4, 28, 28, 3))


# -- training ----------------------------------------------------------------------------------------------------
class FreezeG(keras.callbacks.Callback):
    """G's learning rate set to 0: D plays against G's initial weights."""

    def on_train_begin(self, logs=None):
        self.model.g_optimizer.learning_rate.assign(0.0)


SMALL = dict(latent_dim=16, g_filters=[16, 8], d_filters=[8, 16])


@pytest.mark.slow
def test_the_game_moves_d_accuracy_toward_one_half():
    """The same D, seed and steps, against a G that learns and against a frozen G: the game keeps D's
    accuracy nearer 0.5 and its D(G(z)) far from 0."""
    x, _ = digits(256)
    figures = {}
    for frozen in (True, False):
        keras.utils.set_random_seed(0)
        model = zoo.create_model("dcgan_mnist", **SMALL)
        training.fit(model, (x,), epochs=3, batch_size=32, learning_rate=2e-3, seed=0, verbose=0,
                     callbacks=[FreezeG()] if frozen else [])
        figures[frozen] = model.test_metrics(x)
    alone, game = figures[True], figures[False]
    assert alone["d_accuracy"] == 1.0 and game["d_accuracy"] < alone["d_accuracy"], figures
    assert game["d_fake"] > 5 * alone["d_fake"], figures


@pytest.mark.slow
def test_divergence_is_reported_with_its_epoch_before_it_is_checkpointed(tmp_path):
    guard = gan.DivergenceGuard()
    with pytest.raises(gan.GANDiverged, match="at epoch 4: d_loss became NaN"):
        guard.check(3, {"d_loss": float("nan"), "g_loss": 1.0})
    with pytest.raises(gan.GANDiverged, match=r"at epoch 2: D's loss fell to 0\.0010 .*D\(G\(z\)\) = 0\.0005"):
        guard.check(1, {"d_loss": 0.001, "g_loss": 9.0, "d_fake": 0.0005, "spread": 0.9})
    guard.check(1, {"d_loss": 0.001, "g_loss": 2.0, "d_fake": 0.2, "spread": 0.9})   # D strong, G still varied
    guard.check(1, {"d_loss": 1.2, "g_loss": 0.8, "d_fake": 0.4, "spread": 0.05})    # not won by D

    # A real run against a frozen G: D soon rejects every sample.
    x, _ = digits(256)
    keras.utils.set_random_seed(0)
    model = zoo.create_model("dcgan_mnist", **SMALL)
    with pytest.raises(gan.GANDiverged, match=r"at epoch (\d+): D's loss fell") as e:
        training.fit(model, (x,), epochs=30, batch_size=32, learning_rate=2e-3, seed=0, verbose=0,
                     work_dir=tmp_path, callbacks=[FreezeG()])
    epoch = int(str(e.value).split("at epoch ")[1].split(":")[0])
    history = json.loads((tmp_path / "main" / "history.json").read_text())
    assert epoch > 1 and len(history["loss"]) == epoch - 1   # the diverged epoch left no checkpoint behind
    assert history["d_loss"][-1] > model._config["divergence_d_loss"]
    assert "\n" not in str(e.value)


@needs_mnist
@pytest.mark.slow
def test_sigkill_mid_training_then_the_same_command_gives_bit_identical_weights(tmp_path, small_data_dir):
    env = zoo_env(ZOO_DATA_DIR=small_data_dir, ZOO_RUNS_DIR=tmp_path / "runs", ZOO_MODELS_DIR=tmp_path / "models")

    def command(out):
        return [sys.executable, "-m", "zoo", "train", "cgan_mnist", *TINY_SET, "--set", "unroll_steps=1",
                "--epochs", "2", "--batch-size", "64", "--seed", "3", "--verbose", "2", "--out", str(out)]

    run = kill_then_resume(command, tmp_path, env, settle=0.2)
    assert run.cards[0]["history"] == run.cards[1]["history"] and len(run.cards[1]["history"]["d_loss"]) == 2
    # the sample-grid callback wrote one grid per epoch beside each run's folder, the killed run's first
    # epoch and the resumed run's second in the same place
    for folder in ("straight", "resumed"):
        assert sorted(p.name for p in (tmp_path / f"{folder}.grids").glob("*.png")) == \
            ["epoch_001.png", "epoch_002.png"]
    assert not (tmp_path / "runs" / "cgan_mnist.grids").exists()


@pytest.mark.slow
def test_resumed_fit_restores_both_optimizers_and_the_noise_generator(tmp_path):
    x = np.random.default_rng(1).random((192, 784), dtype=np.float32)
    args = dict(batch_size=64, learning_rate=1e-3, seed=5, verbose=0)
    keras.utils.set_random_seed(0)
    straight = zoo.create_model("dcgan_stacked_mnist", **TINY, minibatch_kernels=3, minibatch_dim=2)
    aug = gan.stack_augment(x)
    training.fit(straight, (x,), epochs=2, work_dir=tmp_path / "a", augment=aug, **args)
    keras.utils.set_random_seed(0)
    first = zoo.create_model("dcgan_stacked_mnist", **TINY, minibatch_kernels=3, minibatch_dim=2)
    training.fit(first, (x,), epochs=1, work_dir=tmp_path / "b", augment=aug, **args)
    keras.utils.set_random_seed(0)
    second = zoo.create_model("dcgan_stacked_mnist", **TINY, minibatch_kernels=3, minibatch_dim=2)
    training.fit(second, (x,), epochs=2, work_dir=tmp_path / "b", augment=aug, **args)
    for va, vb in zip(straight.variables, second.variables, strict=True):
        assert np.array_equal(np.asarray(va), np.asarray(vb)), va.path
    for oa, ob in zip(straight.checkpoint_optimizers(), second.checkpoint_optimizers()):
        assert int(oa.iterations) == int(ob.iterations) == 6
        for va, vb in zip(oa.variables, ob.variables, strict=True):
            assert np.array_equal(np.asarray(va), np.asarray(vb)), va.path


def test_unrolled_generator_step_sees_through_the_discriminators_update():
    """With unroll_steps=k the G gradient differs from the plain one, and D's own weights are untouched by
    the lookahead; with a vanishing inner rate it is the plain gradient again."""
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = zoo.create_model("dcgan_mnist", **TINY, unroll_steps=2, unroll_learning_rate=1.0)
    x = tf.constant(np.random.default_rng(0).random((16, 28, 28, 1), dtype=np.float32))
    z = tf.constant(model.prior(16, 0))
    before = [np.asarray(v) for v in model.discriminator.variables]

    def grads(unrolled):
        with tf.GradientTape() as tape:
            fake = model._g(z, None, training=False)
            logits = model._unrolled_logits(x, fake, None) if unrolled else model._d(fake, None)
            loss = tf.reduce_mean(gan._bce(logits, 1.0))
        return [g.numpy() for g in tape.gradient(loss, model.generator.trainable_variables)]

    plain, unrolled = grads(False), grads(True)
    assert max(np.max(np.abs(a - b)) for a, b in zip(plain, unrolled)) > 1e-6
    for a, b in zip(before, model.discriminator.variables):
        np.testing.assert_array_equal(a, np.asarray(b))
    model._config["unroll_learning_rate"] = 1e-12
    for a, b in zip(plain, grads(True)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-9)


@pytest.mark.slow
def test_save_load_round_trip_is_exact(tmp_path):
    x, y = digits(128)
    for name in ("cgan_mnist", "dcgan_stacked_mnist"):
        keras.utils.set_random_seed(0)
        extra = {"minibatch_kernels": 3, "minibatch_dim": 2, "pack": 2} if name == "dcgan_stacked_mnist" else {}
        model = zoo.create_model(name, **TINY, **extra)
        train = (x, y) if model.conditional else (x,)
        training.fit(model, train, epochs=1, batch_size=64, seed=0, verbose=0,
                     augment=gan.stack_augment(x) if model.channels == 3 else None)
        registry.save_model(model, tmp_path / name)
        loaded = zoo.load(tmp_path / name)
        assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
        for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
            assert np.array_equal(a, b)
        kw = {"labels": np.arange(20) % 10} if model.conditional else {}
        np.testing.assert_array_equal(model.sample(20, seed=4, **kw), loaded.sample(20, seed=4, **kw))
        s = model.sample(20, seed=4, **kw)
        np.testing.assert_array_equal(model.discriminate(s, **kw), loaded.discriminate(s, **kw))


# -- CLI and shipped models --------------------------------------------------------------------------------------
def shipped(name):
    if not (registry.saved_models_dir() / name / "model.keras").is_file():
        pytest.skip(f"{name} is not shipped")
    return zoo.load(name)


@pytest.mark.slow
def test_cli_sample_draws_the_requested_digits(tmp_path):
    clf = gan.judge()
    model = shipped("cgan_mnist")
    if clf is None:
        pytest.skip("needs mnist_classifier")
    code, out, err = run_zoo_here("sample", "cgan_mnist", "--labels", "0,1,2,3,4,5,6,7,8,9", "--seed", "3",
                             "--out", tmp_path / "c.png")
    assert code == 0 and (tmp_path / "c.png").is_file() and "10 samples" in out, user_lines(err)
    code, out, err = run_zoo_here("sample", "dcgan_mnist", "-n", "64", "--out", tmp_path / "d.png")
    assert code == 0 and (tmp_path / "d.png").stat().st_size > 1000 and "64 samples" in out, user_lines(err)
    labels = np.repeat(np.arange(10), 20)
    agreement = np.mean(clf.classify(model.sample(len(labels), labels=labels, seed=3)) == labels)
    # chance is 0.1; the shipped model's agreement over 5,000 samples is in bench/results/gan_modes.json
    assert agreement > 0.6, agreement


@pytest.mark.parametrize("name", ["dcgan_mnist", "cgan_mnist"])
def test_shipped_int8_generator_agrees_with_keras(name):
    model = shipped(name)
    manifest = registry.saved_models_dir() / name / "exports" / "export.json"
    if not manifest.is_file():
        pytest.skip(f"{name} has no published export")
    from ai_edge_litert.interpreter import Interpreter

    entry = json.loads(manifest.read_text())["artifacts"]["generator_int8.tflite"]
    assert entry["passed"] and abs(entry["metric"]["relative_diff"]) <= 0.02
    runner = Interpreter(model_path=str(manifest.parent / "generator_int8.tflite")).get_signature_runner()
    z = model.prior(200, seed=9)
    feed = {"code": z}
    labels = np.arange(200) % 10
    if model.conditional:
        feed["label_onehot"] = np.eye(10, dtype=np.float32)[labels]
    lite = np.asarray(runner(**feed)["image"]).reshape(200, 28, 28)
    ref = model.generate(z, labels) if model.conditional else model.generate(z)
    assert np.mean(np.abs(lite - ref)) < 0.03
    clf = gan.judge()
    if model.conditional and clf is not None:
        # the same digits: the judge reads the int8 samples' labels as it reads Keras'
        assert np.mean(clf.classify(lite) == clf.classify(ref)) > 0.95


def test_device_example_draws_a_grid_without_tensorflow(tmp_path):
    folder = registry.saved_models_dir() / "cgan_mnist" / "exports"
    if not (folder / "generator_int8.tflite").is_file():
        pytest.skip("cgan_mnist has no published int8 generator")
    script = ROOT / "export" / "examples" / "run_generator.py"
    # TensorFlow and Keras made unimportable: the example must not need them
    blocker = tmp_path / "block"
    blocker.mkdir()
    for mod in ("tensorflow", "keras", "zoo"):
        (blocker / f"{mod}.py").write_text("raise ImportError('not on the device')\n")
    env = zoo_env(PYTHONPATH=str(blocker))
    p = subprocess.run([sys.executable, str(script), str(folder / "generator_int8.tflite"), str(tmp_path / "g.png"),
                        "--labels", "0,1,2,3,4,5,6,7,8,9", "--seed", "1"], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    from PIL import Image
    img = np.asarray(Image.open(tmp_path / "g.png"))
    assert img.shape == (2 + 2 * 30, 2 + 8 * 30) and img.min() < 50 and img.max() == 255
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model at all")
    p = subprocess.run([sys.executable, str(script), str(bad), str(tmp_path / "b.png")], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "not a LiteRT model" in p.stderr and not (tmp_path / "b.png").exists()


@pytest.mark.slow
def test_plain_keras_load_predict_and_saved_model_export(tmp_path):
    """A GAN file is a plain Keras model too: keras.saving.load_model gives the same D, predict agrees with
    call, and model.export serves D's probabilities."""
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = zoo.create_model("dcgan_mnist", **TINY)
    registry.save_model(model, tmp_path / "m")
    plain = keras.saving.load_model(tmp_path / "m" / "model.keras")
    x = (np.random.default_rng(0).random((16, 784)) * 255).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(plain(x)), np.asarray(model(x)))
    np.testing.assert_allclose(model.predict(x, verbose=0), np.asarray(model(x)), atol=1e-6)
    model.export(str(tmp_path / "sm"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "sm"))
    rows = x.astype(np.float32) / 255
    np.testing.assert_allclose(np.asarray(served.serve(rows.reshape(16, 28, 28, 1))), np.asarray(model(rows)),
                               atol=1e-5)


@pytest.mark.slow
def test_the_auxiliary_classifier_adds_its_cross_entropy_to_both_losses(rng, tmp_path):
    """AC-GAN's term, recomputed in numpy from D's class logits: with aux_weight w, D's loss gains w * CE on the real
    images' labels and G's on the requested labels of its samples; a zero weight leaves the plain losses."""
    model = zoo.create_model("cgan_mnist", **TINY, aux_weight=0.5)
    assert type(model).parameter_count(model.get_config()) == model.count_params_unique()
    x = rng.random((6, 28, 28, 1)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[[0, 1, 2, 3, 4, 5]]
    logit, classes = (np.asarray(t, np.float64) for t in model._d_both(x, y))
    assert logit.shape == (6,) and classes.shape == (6, 10)
    log_softmax = classes - np.log(np.exp(classes).sum(1, keepdims=True))
    expected = -(y * log_softmax).sum(1).mean()
    np.testing.assert_allclose(float(model._class_loss(classes.astype(np.float32), y)), expected, rtol=1e-5)
    # a train step runs and the model round-trips through a .keras file with its head
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    logs = model.train_on_batch(x, np.arange(6), return_dict=True)
    assert np.isfinite(logs["d_loss"]) and np.isfinite(logs["g_loss"])
    registry.save_model(model, tmp_path / "m")
    loaded = zoo.load(tmp_path / "m")
    assert loaded.get_config() == model.get_config()
    for a, b in zip(model._d_both(x, y), loaded._d_both(x, y)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(ZooError, match="aux_weight > 0 needs conditioning='projection'"):
        zoo.create_model("cgan_mnist", **TINY, conditioning="planes", aux_weight=1.0)



class RecordRates(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_end(self, batch, logs=None):
        self.rates.append([float(o.learning_rate) for o in (self.model.g_optimizer, self.model.d_optimizer)])


@pytest.mark.slow
def test_a_learning_rate_schedule_reaches_both_optimizers():
    """fit's lr_schedule="cosine" is a schedule on the optimizer it compiles with; both Adams must follow it, not
    freeze its first value."""
    x = np.random.default_rng(2).random((128, 784), dtype=np.float32)
    keras.utils.set_random_seed(0)
    model = zoo.create_model("dcgan_mnist", **TINY)
    record = RecordRates()
    training.fit(model, (x,), epochs=2, batch_size=32, learning_rate=1e-3, seed=0, verbose=0, lr_schedule="cosine",
                 callbacks=[record])
    steps = 2 * 128 // 32
    cosine = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=steps)
    want = [float(cosine(i)) for i in range(1, steps + 1)]     # the rate for the next step, after each step
    np.testing.assert_allclose(np.array(record.rates), np.array([want, want]).T, rtol=1e-6, atol=1e-12)
    assert record.rates[-1] == [0.0, 0.0]


def test_the_train_hook_passes_the_recipes_schedule_and_early_stopping_to_fit():
    seen = {}

    def fit(model, train, val, **kwargs):
        seen.update(kwargs)
        return {"loss": [1.0]}

    model = zoo.create_model("dcgan_mnist", **TINY)
    x = np.zeros((4, 784), np.float32)
    recipe = dict(epochs=3, batch_size=2, learning_rate=1e-3, seed=1, lr_schedule="cosine", early_stopping=2,
                  sample_grids=False)
    gan.train(model, {"train": (x, None)}, recipe, fit)
    assert seen["lr_schedule"] == "cosine" and seen["early_stopping"] == 2 and seen["epochs"] == 3
