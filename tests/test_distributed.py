"""Training under tf.distribute gives the weights a single process gives, with the same global batch: the batch
is split between replicas and their gradients averaged, so nothing but the order of float additions changes."""

import json
import socket
import subprocess
import sys

import numpy as np
import pytest

from conftest import HELPERS, zoo_env

SCRIPT = HELPERS / "distributed_run.py"
TIMEOUT = 240  # seconds; every process is killed by then


def _run(mode, out, *extra):
    p = subprocess.run([sys.executable, str(SCRIPT), mode, str(out), *extra], env=zoo_env(), capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr[-3000:]


def _weights(path):
    with np.load(path) as f:
        n = sum(k.startswith("trained_") for k in f.files)
        return [f[f"trained_{i}"] for i in range(n)], [f[f"initial_{i}"] for i in range(n)], int(f["replicas"])


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("single") / "w.npz"
    _run("default", out)
    trained, initial, replicas = _weights(out)
    assert replicas == 1
    # The run moved every weight, so agreeing with it means agreeing on the training, not on the initialisation.
    assert all(not np.array_equal(a, b) for a, b in zip(trained, initial))
    return trained, initial


def _assert_same_training(got, single, rtol, atol):
    trained, initial, replicas = got
    assert replicas == 2 and len(trained) == len(single[0])
    for a, b in zip(initial, single[1]):
        assert np.array_equal(a, b)   # the same starting point
    for a, b in zip(trained, single[0]):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus_matches_single_process(single, tmp_path):
    _run("mirrored2", tmp_path / "w.npz")
    # Float tolerance only: two replicas sum half-batch gradients in another order than one process does. A
    # gradient summed rather than averaged over replicas would be off by a factor of two.
    _assert_same_training(_weights(tmp_path / "w.npz"), single, rtol=1e-4, atol=1e-6)


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_two_worker_processes_match_single_process(single, tmp_path):
    # Two MultiWorkerMirroredStrategy workers on 127.0.0.1, through zoo/compat.py's fit workaround
    # (keras-team/keras#20585). About 15 s on an idle 2-core machine.
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    procs = []
    try:
        for i in range(2):
            tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
            procs.append(subprocess.Popen([sys.executable, str(SCRIPT), "multiworker", str(tmp_path / f"w{i}.npz")],
                                          env=zoo_env(TF_CONFIG=tf_config), stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True))
        for p in procs:
            _, err = p.communicate(timeout=TIMEOUT)
            assert p.returncode == 0, err[-3000:]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert not (tmp_path / "w1.npz").exists()  # only the chief writes
    _assert_same_training(_weights(tmp_path / "w0.npz"), single, rtol=1e-4, atol=1e-6)


@pytest.mark.slow
def test_fine_tuning_under_mirrored_matches_single_process(tmp_path):
    _run("default", tmp_path / "one.npz", "finetune")
    _run("mirrored2", tmp_path / "two.npz", "finetune")
    one, two = _weights(tmp_path / "one.npz"), _weights(tmp_path / "two.npz")
    assert one[2] == 1 and all(not np.array_equal(a, b) for a, b in zip(one[0][-2:], one[1][-2:]))
    # Synchronized batch norm sees the global batch, but its statistics and Adam's second moments are summed in
    # another order, and Adam divides by their square roots: a looser tolerance than SGD's above. Per-replica
    # batch norm would miss by far more.
    _assert_same_training(two, (one[0], one[1]), rtol=1e-3, atol=1e-4)


# -- multi-worker training: proven or refused, for every family ------------------------------------------------
# A real MultiWorkerMirroredStrategy must exist before any other TensorFlow op runs, which in a test process has long
# happened; an uninitialised instance of the real class answers the same isinstance question the check asks.
def _multiworker_stand_in():
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy.__new__(tf.distribute.MultiWorkerMirroredStrategy)
    assert isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    return strategy


# The presets test_two_worker_processes_match_single_process covers: plain (untied, noise-, dropout- and
# penalty-free) autoencoders.
PROVEN = {"ae_mnist", "ae_mnist_512", "linear_ae_mnist"}


def _all_presets():
    from zoo import registry
    return registry.list_models()


@pytest.mark.parametrize("name", _all_presets())
def test_train_under_multiworker_is_refused_unless_proven(name, tmp_path):
    import tensorflow as tf

    from zoo import compat, registry, training
    from zoo.errors import ZooError

    p = registry.preset(name)
    strategy = _multiworker_stand_in()
    if name in PROVEN:
        compat.check_multiworker(p["class"], p["config"], strategy, name)
        return
    with pytest.raises(ZooError) as e:
        # The stand-in is handed to train itself: the refusal must come before any data or model is touched
        # (the stand-in has no scope and no cluster, so getting further would fail otherwise).
        training.train(name, out=tmp_path / "run", strategy=strategy, verbose=0)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith(f"{p['family']} model {name} ({p['class'].__name__}) cannot train under "
                              "--strategy multiworker: ")
    assert message.endswith("; use --strategy default or mirrored")
    assert not (tmp_path / "run").exists() and not (tmp_path / ".run.work").exists()
    # Only multi-worker training is refused: the same check passes under one process's strategy.
    compat.check_multiworker(p["class"], p["config"], tf.distribute.get_strategy(), name)


def test_every_refused_class_says_why():
    from zoo import compat, registry

    reasons = {}
    for name in _all_presets():
        p = registry.preset(name)
        reasons[p["class"].__name__] = compat.multiworker_refusal(p["class"], p["config"])
    assert "built-in train step" in reasons["CharLM"] and "keras-team/keras#20585" in reasons["EncoderClassifier"]
    assert "reparameterisation noise" in reasons["VAE"] and "generator noise" in reasons["ConditionalGAN"]
    assert "contrastive-divergence" in reasons["RBM"] and "example by example" in reasons["Perceptron"]
    assert "share of a step's variable number" in reasons["Word2Vec"] and "own loop" in reasons["DQN"]
    assert "tied, noise" in compat.multiworker_refusal(registry.preset("dae_mnist")["class"],
                                                       registry.preset("dae_mnist")["config"])


def test_fit_refuses_unproven_models_and_new_classes_under_multiworker():
    import keras

    from zoo import compat
    from zoo.errors import ZooError
    from zoo.families.autoencoder import Autoencoder

    strategy = _multiworker_stand_in()
    compat.check_fit_supported(Autoencoder(input_dim=6, hidden_units=[4], latent_dim=2), strategy)

    # a subclass of the proven class is a new class: refused until a test proves it and it is listed
    class WiderAutoencoder(Autoencoder):
        pass

    cases = [
        (Autoencoder(input_dim=6, hidden_units=[4], latent_dim=2, hidden_dropout=0.5),
         r"^autoencoder model \w+ \(Autoencoder\) cannot train under --strategy multiworker: the two-worker test "
         r"proves a plain autoencoder only, and this one sets hidden_dropout "),
        (WiderAutoencoder(input_dim=6, hidden_units=[4], latent_dim=2),
         r"\(WiderAutoencoder\) cannot train under --strategy multiworker: no multi-worker test proves that its "
         r"training gives a single process's weights; use --strategy default or mirrored$"),
        # a layer-wise pretraining pair: Keras' own train step
        (keras.Sequential([keras.Input((6,)), keras.layers.Dense(2)], name="pair"),
         r"^pair \(Sequential\) cannot train under --strategy multiworker: it trains with Keras' built-in train "
         r"step"),
    ]
    for model, message in cases:
        with pytest.raises(ZooError, match=message) as e:
            compat.check_fit_supported(model, strategy)
        assert "\n" not in str(e.value)


def test_the_cli_refuses_multiworker_training_in_one_line(monkeypatch, tmp_path):
    from conftest import run_zoo_here

    from zoo import training

    strategy = _multiworker_stand_in()
    monkeypatch.setattr(training, "make_strategy", lambda name="default": strategy if name == "multiworker" else
                        pytest.fail(f"unexpected strategy {name}"))
    code, out, err = run_zoo_here("train", "rbm_mnist", "--strategy", "multiworker", "--out", tmp_path / "rbm")
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        "zoo train: error: energy model rbm_mnist (RBM) cannot train under --strategy multiworker: each worker averages its "
        "contrastive-divergence statistics over its own share and the shares are summed, and its scalar logs are "
        "not reshaped for keras-team/keras#20585; use --strategy default or mirrored"]
