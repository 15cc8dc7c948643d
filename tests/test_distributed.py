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
