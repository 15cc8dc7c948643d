import os
import re
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
HELPERS = Path(__file__).resolve().parent / "helpers"
SHARED_DATA = ROOT.parent / "shared" / "data"

# Tests read the offline copy of the data when it sits beside the checkout (as in CI).
if "ZOO_DATA_DIR" not in os.environ and (SHARED_DATA / "mnist.npz").is_file():
    os.environ["ZOO_DATA_DIR"] = str(SHARED_DATA)


def has_mnist():
    d = os.environ.get("ZOO_DATA_DIR")
    return bool(d) and (Path(d) / "mnist.npz").is_file()


needs_mnist = pytest.mark.skipif(not has_mnist(), reason="needs $ZOO_DATA_DIR/mnist.npz")


@pytest.fixture(scope="session")
def mnist_small():
    """500 train and 200 test MNIST images as float rows in [0, 1], with labels."""
    if not has_mnist():
        pytest.skip("needs $ZOO_DATA_DIR/mnist.npz")
    from zoo import checks, data

    (xtr, ytr), (xte, yte) = data.load("mnist")
    xtr, _ = checks.as_images(xtr[:500])
    xte, _ = checks.as_images(xte[:200])
    return (xtr, ytr[:500].astype(np.int64)), (xte, yte[:200].astype(np.int64))


@pytest.fixture(scope="session")
def small_data_dir(tmp_path_factory):
    """A ZOO_DATA_DIR holding a cut-down mnist.npz: 4,000 training images (2,000 train + the 2,000 the recipe holds
    out for validation) and 200 test images. Real digits, so a run trains as it would, in a fraction of the time
    (the VAE's card alone runs 1,000 importance samples per test image)."""
    if not has_mnist():
        pytest.skip("needs $ZOO_DATA_DIR/mnist.npz")
    from zoo import data

    (xtr, ytr), (xte, yte) = data.load("mnist")
    folder = tmp_path_factory.mktemp("data")
    np.savez(folder / "mnist.npz", x_train=xtr[:4000], y_train=ytr[:4000], x_test=xte[:200], y_test=yte[:200])
    return folder


@pytest.fixture(scope="session")
def medium_data_dir(tmp_path_factory):
    """A ZOO_DATA_DIR holding the first 17,000 training images (15,000 to train on after the recipes' 2,000 held
    out) and the whole test set: for a test whose figure needs a real amount of training data, at a quarter of
    what the full 60,000 would cost."""
    if not has_mnist():
        pytest.skip("needs $ZOO_DATA_DIR/mnist.npz")
    from zoo import data

    (xtr, ytr), (xte, yte) = data.load("mnist")
    folder = tmp_path_factory.mktemp("medium_data")
    np.savez(folder / "mnist.npz", x_train=xtr[:17000], y_train=ytr[:17000], x_test=xte, y_test=yte)
    return folder


@pytest.fixture
def zoo_dirs(tmp_path, monkeypatch):
    """ZOO_RUNS_DIR and ZOO_MODELS_DIR in a temporary folder, so nothing a test trains lands in the checkout."""
    runs, models = tmp_path / "runs", tmp_path / "saved_models"
    models.mkdir()
    monkeypatch.setenv("ZOO_RUNS_DIR", str(runs))
    monkeypatch.setenv("ZOO_MODELS_DIR", str(models))
    return runs, models


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def user_lines(stderr):
    """The lines of stderr a user reads: all of them. TensorFlow's C++ start-up lines are the zoo's to hide
    (zoo._import_tensorflow_quietly), so a test that counts lines sees them if they come back."""
    return [line for line in stderr.splitlines() if line.strip()]


def zoo_env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run_zoo(*args, timeout=300, **env):
    """The CLI as a user runs it: `python -m zoo ARGS` in a subprocess; (exit code, stdout, stderr)."""
    p = subprocess.run([sys.executable, "-m", "zoo", *map(str, args)], cwd=ROOT, env=zoo_env(**env),
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def run_zoo_here(*args, **env):
    """The CLI in this process (zoo.cli.main, with sys.argv and the environment as a user's shell would set them):
    (exit code, stdout, stderr). What only a fresh process proves (TensorFlow's start-up noise kept off a one-line
    error, a closed pipe, $ZOO_FAMILIES discovery, a kill) is run_zoo's; everything else is the same code without
    a TensorFlow start-up per call."""
    import contextlib
    import io

    from zoo import cli

    argv = [str(a) for a in args]
    saved_env = {k: os.environ.get(k) for k in env}
    saved_argv = sys.argv
    out, err = io.StringIO(), io.StringIO()
    cli._UNREACHABLE.clear()   # said once per process: a fresh command says it again
    try:
        os.environ.update({k: str(v) for k, v in env.items()})
        sys.argv = ["zoo", *argv]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as e:   # argparse's usage errors and --help
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = saved_argv
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return code, out.getvalue(), err.getvalue()


class KilledAndResumed:
    """What kill_then_resume leaves for a test's own checks: the resume's exit code, stdout and stderr, and the two
    folders' models and cards."""

    def __init__(self, again, straight, resumed):
        import json

        import zoo

        self.again = again
        self.straight, self.resumed = zoo.load(straight), zoo.load(resumed)
        self.cards = [json.loads((f / "card.json").read_text()) for f in (straight, resumed)]


def kill_then_resume(command, tmp_path, env, *, phase="main", first_epoch_line=None, timeout=180, settle=0.1):
    """The resume guarantee, with a real process: `command(out)` (a training command line writing to `out`) is
    started in a fresh process and SIGKILLed just after its first complete checkpoint; meanwhile the same command
    runs through uninterrupted here. The same command, run again on the killed folder, must resume (not restart)
    from what the killed process left on disk, and every variable of the two finished models must be
    bit-identical, as must the losses their cards report. The uninterrupted run and the resume use the CLI in this
    process, with the same environment: only the killed process must be one of its own, and each fresh process
    spared is a TensorFlow start-up."""
    import signal
    import threading
    import time
    import types

    straight_dir, resumed_dir = tmp_path / "straight", tmp_path / "resumed"
    log = open(tmp_path / "killed.log", "w+")
    killed = subprocess.Popen(command(resumed_dir), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    pointer = tmp_path / ".resumed.work" / phase / "checkpoint"   # written once a checkpoint is complete
    outcome = {}

    def kill_after_first_checkpoint():
        deadline = time.time() + timeout
        while not pointer.exists():
            if killed.poll() is not None:
                outcome["error"] = "the run ended before its first checkpoint:\n" + \
                    (tmp_path / "killed.log").read_text()[-3000:]
                return
            if time.time() > deadline:
                outcome["error"] = f"no checkpoint after {timeout} s"
                return
            time.sleep(0.01)
        time.sleep(settle)   # into the next epoch, with no warning
        killed.send_signal(signal.SIGKILL)
        outcome["status"] = killed.wait(timeout=30)

    watcher = threading.Thread(target=kill_after_first_checkpoint)
    watcher.start()
    try:
        argv = command(straight_dir)
        assert argv[1:3] == ["-m", "zoo"], argv
        ours = {k: v for k, v in env.items() if k.startswith("ZOO_") and os.environ.get(k) != v}
        code, _, err = run_zoo_here(*argv[3:], **ours)
        assert code == 0, err[-3000:]
    finally:
        watcher.join(timeout=2 * timeout)
        if killed.poll() is None:
            killed.kill()
            killed.wait()
    log.close()
    assert "error" not in outcome, outcome.get("error")
    assert outcome.get("status") == -signal.SIGKILL, outcome
    assert not (resumed_dir / "model.keras").exists(), "the run finished before the kill: nothing tested"
    code, out, err = run_zoo_here(*command(resumed_dir)[3:], **ours)
    again = types.SimpleNamespace(returncode=code, stdout=out, stderr=err)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"resuming {phase} from its checkpoint at epoch " in again.stderr, again.stderr[-2000:]
    if first_epoch_line:
        assert first_epoch_line not in again.stdout    # the epochs before the kill were not trained again
    result = KilledAndResumed(again, straight_dir, resumed_dir)
    a, b = result.straight.variables, result.resumed.variables
    assert len(a) == len(b) > 0
    for va, vb in zip(a, b):
        assert np.array_equal(np.asarray(va), np.asarray(vb)), va.path
    assert result.cards[0]["training"]["final"] == result.cards[1]["training"]["final"]
    assert not (tmp_path / ".resumed.work").exists()   # a finished run removes its backup
    return result


# Module fixtures that cost tens of seconds (a dozen LiteRT conversions): every test that uses one is slow.
SLOW_FIXTURES = {"test_export.py": {"ae", "vae"}}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SLOW_FIXTURES.get(item.path.name, set()) & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
