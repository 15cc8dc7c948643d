"""The command line as a user meets it: one line and exit 1 for a mistake (2 for usage), a traceback only with
--debug, a quiet end when the reader of its output leaves, and shipped weights replaced only by --publish."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import zoo
from zoo import cards, registry
from zoo.cli import main
from conftest import HELPERS, ROOT, needs_mnist, run_zoo, user_lines, zoo_env

COMMANDS = ["list", "info", "train", "finetune", "evaluate", "sample", "pictures", "demo"]
TINY_SET = ["--set", "hidden_units=[8]", "--set", "latent_dim=2"]


# -- in a real process ----------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_mistake_is_one_line_and_exit_1_and_debug_shows_the_traceback():
    code, out, err = run_zoo("info", "ae_mnsit")
    assert code == 1 and out == ""
    assert err.count("\n") == 1    # the raw stderr: TensorFlow's start-up lines are hidden too
    lines = user_lines(err)
    assert len(lines) == 1 and lines[0].startswith("zoo info: error: unknown model 'ae_mnsit'; did you mean ae_mnist")
    assert lines[0].endswith("(known: " + ", ".join(zoo.list_models()) + ")")
    code, out, err = run_zoo("--debug", "info", "ae_mnsit")
    assert code == 1 and "Traceback (most recent call last)" in err
    assert user_lines(err)[-1].startswith("zoo.errors.ZooError: unknown model 'ae_mnsit'")
    # Even with TensorFlow's C++ logging turned up, the import says nothing without --debug.
    code, _, err = run_zoo("info", "ae_mnsit", TF_CPP_MIN_LOG_LEVEL=0)
    assert code == 1 and err.count("\n") == 1, err


@pytest.mark.slow
def test_a_reader_that_leaves_early_ends_the_command_quietly():
    # 400 extra presets make `zoo list` longer than a pipe buffer, so the write that meets the closed pipe
    # happens inside the command, not only at the final flush.
    env = zoo_env(ZOO_FAMILIES="filler_family", PYTHONPATH=os.pathsep.join([str(HELPERS), str(ROOT)]))
    p = subprocess.Popen([sys.executable, "-m", "zoo", "list"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdout.close()   # like `| head -0`: gone before the first line
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 0 and user_lines(err) == [], err
    # and the real pipeline: `zoo list | head -1`
    p = subprocess.run(f"{sys.executable} -m zoo list | head -1", shell=True, cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.split()[0] == zoo.list_models()[0] and p.stdout.count("\n") == 1
    assert user_lines(p.stderr) == [], p.stderr


@pytest.mark.slow
def test_missing_data_is_one_line(tmp_path):
    code, _, err = run_zoo("evaluate", "ae_mnist", ZOO_DATA_DIR=tmp_path)
    assert code == 1 and user_lines(err) == [f"zoo evaluate: error: ZOO_DATA_DIR is set but {tmp_path / 'mnist.npz'} "
                                             "does not exist"]


# -- in process -------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_sample_and_pictures_write_beside_the_user_without_out(tmp_path, monkeypatch, capsys):
    """docs/gan.md's `zoo sample dcgan_mnist -n 64` and the README's `zoo pictures NAME` work as written: without
    --out they write NAME_samples.png and pictures/NAME/ in the current folder, and say so."""
    monkeypatch.chdir(tmp_path)
    assert main(["sample", "perceptron", "-n", "4"]) == 1   # not generative: refused, nothing written
    capsys.readouterr()
    assert main(["sample", "dcgan_mnist", "-n", "4", "--seed", "1"]) == 0
    assert "wrote dcgan_mnist_samples.png: 4 samples" in capsys.readouterr().out
    assert (tmp_path / "dcgan_mnist_samples.png").stat().st_size > 1000
    assert main(["pictures", "perceptron"]) == 0
    written = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "pictures").rglob("*.png"))
    assert written == ["pictures/perceptron/decision_boundaries.png"], written
    assert not (tmp_path / "perceptron_samples.png").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_help_on_every_command(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith(f"usage: zoo {command}")


def test_list_marks_what_is_pretrained(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_MODELS_DIR", str(tmp_path))
    shutil.copytree(registry.repo_dir() / "saved_models" / "vae_mnist", tmp_path / "vae_mnist")
    assert main(["list", "*vae*"]) == 0
    rows = {line.split()[0]: line.split()[2] for line in capsys.readouterr().out.splitlines()}
    assert rows == {"cvae_mnist": "untrained", "vae2d_mnist": "untrained", "vae_mnist": "pretrained"}


def test_info_prints_the_preset_and_the_card(capsys):
    assert main(["info", "ae_mnist"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["family"] == "autoencoder" and info["pretrained"] is True
    assert info["card"] == zoo.model_card("ae_mnist") and info["config"] == registry.preset("ae_mnist")["config"]


@needs_mnist
@pytest.mark.slow
def test_evaluate_prints_the_figures_a_numpy_computation_gives(capsys):
    assert main(["evaluate", "ae_mnist", "--limit", "100"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    x = zoo.data.splits("mnist", validation=0)["test"][0][:100].astype(np.float64)
    recon = zoo.load("ae_mnist").reconstruct(x.astype(np.float32)).astype(np.float64)
    assert metrics["examples"] == 100 and metrics["split"] == "test"
    assert metrics["squared_error_per_image"] == pytest.approx(np.sum((recon - x) ** 2, axis=1).mean(), rel=1e-4)


def test_sample_writes_a_png(tmp_path, capsys):
    png = tmp_path / "s.png"
    assert main(["sample", "cvae_mnist", "--out", str(png), "--labels", "3,1,4", "--seed", "2"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert capsys.readouterr().out.strip() == f"wrote {png}: 3 samples from cvae_mnist"


def test_set_name_is_refused_and_writes_nothing(zoo_dirs, capsys):
    # The decision: a trained model keeps its preset's name (its card, `zoo evaluate` and --publish find it by
    # that name); --out chooses where it goes.
    runs, _ = zoo_dirs
    assert main(["train", "ae_mnist", "--set", "name=x", *TINY_SET, "--epochs", "1"]) == 1
    assert "choose the folder it is written to with --out" in capsys.readouterr().err
    assert not runs.exists()


def _digests(folder):
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


@needs_mnist
@pytest.mark.slow
def test_training_writes_runs_and_only_publish_replaces_shipped_weights(zoo_dirs, small_data_dir, monkeypatch, capsys):
    runs, models = zoo_dirs
    monkeypatch.setenv("ZOO_DATA_DIR", str(small_data_dir))
    shipped = models / "ae_mnist"
    shutil.copytree(registry.repo_dir() / "saved_models" / "ae_mnist", shipped)
    (shipped / "exports").mkdir(exist_ok=True)
    (shipped / "exports" / "old.tflite").write_bytes(b"made from the old weights")
    before = _digests(shipped)
    old_metrics = json.loads((shipped / "card.json").read_text())["metrics"]
    args = ["train", "ae_mnist", *TINY_SET, "--epochs", "1", "--batch-size", "256", "--verbose", "0"]

    previous = os.umask(0o022)
    try:
        assert main(args) == 0
    finally:
        os.umask(previous)
    printed = json.loads(capsys.readouterr().out)
    assert printed["saved"] == str(runs / "ae_mnist") and printed["published"] is False
    assert _digests(shipped) == before
    run = runs / "ae_mnist"
    assert zoo.load(run).latent_dim == 2 and sorted(p.name for p in run.iterdir()) == ["card.json", "model.keras",
                                                                                    "preview.png"]
    assert json.loads((run / "card.json").read_text())["training"]["epochs"] == 1
    # Ordinary permissions under umask 022: a folder others can read, files others can read.
    assert run.stat().st_mode & 0o777 == 0o755
    assert {p.name: p.stat().st_mode & 0o777 for p in run.iterdir()} == dict.fromkeys(
        ["card.json", "model.keras", "preview.png"], 0o644)

    assert main([*args, "--publish"]) == 0
    err = capsys.readouterr().err
    assert f"published {run} to {shipped}; it replaced a model whose test metrics were: {old_metrics}" in err
    assert zoo.load("ae_mnist").latent_dim == 2
    # old exports gone; the model card README generated from the new card
    assert sorted(p.name for p in shipped.iterdir()) == ["README.md", "card.json", "model.keras", "preview.png"]
    assert zoo.model_card("ae_mnist") == json.loads((run / "card.json").read_text())
    assert (shipped / "README.md").read_text() == cards.render_readme(zoo.model_card("ae_mnist"), None)
    assert zoo.model_card("ae_mnist")["training"]["command"] in (shipped / "README.md").read_text()


@needs_mnist
@pytest.mark.slow
def test_finetune_with_twelve_labels(zoo_dirs, small_data_dir, monkeypatch, capsys):
    runs, models = zoo_dirs
    monkeypatch.setenv("ZOO_DATA_DIR", str(small_data_dir))
    encoder = registry.save_model(zoo.create_model("ae_mnist", **{"hidden_units": [8], "latent_dim": 2}),
                                  models / "ae_mnist", card={"name": "ae_mnist"})
    assert main(["finetune", str(encoder), "--labels", "12", "--epochs", "1", "--head-epochs", "1", "--verbose", "0"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["labelled_examples"] == 12 and printed["saved"] == str(runs / "ae_mnist_classifier_12")
    card = zoo.model_card(printed["saved"])
    # 12 labels over 10 classes: one of each, and two of two classes
    assert card["labelled_examples"] == 12 and card["fine_tuning"]["labels"] == 12
    assert 0 <= card["metrics"]["accuracy"] <= 1
