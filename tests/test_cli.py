import json
import os
import subprocess
import sys

import pytest

from zoo.__main__ import main
from conftest import ROOT, needs_mnist


def run(*args):
    """The CLI as a user runs it: a subprocess, its exit code and both streams."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    p = subprocess.run([sys.executable, "-m", "zoo", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    return p.returncode, p.stdout, p.stderr


def test_list_and_unknown_name_exit_codes():
    code, out, err = run("list")
    assert code == 0 and "ae_mnist" in out and "linear_ae_mnist" in out
    code, out, err = run("info", "ae_mnsit")
    assert code == 1
    lines = [l for l in err.splitlines() if l.strip() and not l.startswith(("I0000", "WARNING: All"))]
    assert lines == [lines[0]] and "did you mean ae_mnist" in lines[0] and "Traceback" not in err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "ae_mnist", "--epochs", "0"])
    assert e.value.code == 2 and "expected a positive integer, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["frobnicate"])
    assert e.value.code == 2


def test_help_on_every_command(capsys):
    for cmd in ["list", "info", "train", "evaluate", "reconstruct", "sample", "features", "pictures", "demo"]:
        with pytest.raises(SystemExit) as e:
            main([cmd, "--help"])
        assert e.value.code == 0
        assert "usage: python -m zoo " + cmd in capsys.readouterr().out


def test_info_prints_the_card(capsys):
    assert main(["info", "ae_mnist"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["family"] == "autoencoder" and info["pretrained"] is True
    assert info["card"]["training"]["command"].startswith("python -m zoo train ae_mnist")


def test_sample_refuses_a_non_generative_model(capsys):
    assert main(["sample", "ae_mnist", "--out", "never.png"]) == 1
    assert "not generative" in capsys.readouterr().err


@needs_mnist
def test_evaluate_reconstruct_and_features(tmp_path, capsys):
    assert main(["evaluate", "ae_mnist", "--limit", "100"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["examples"] == 100 and 0 < metrics["squared_error_per_image"] < 20
    png = tmp_path / "rec.png"
    assert main(["reconstruct", "ae_mnist", "--out", str(png), "-n", "5"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    feat = tmp_path / "features.png"
    assert main(["features", "ae_mnist", "--out", str(feat), "-n", "16"]) == 0
    assert feat.stat().st_size > 100


@needs_mnist
def test_train_writes_a_loadable_folder_with_card(tmp_path):
    out = tmp_path / "tiny"
    code, stdout, err = run("train", "ae_mnist", "--epochs", "1", "--batch-size", "256", "--out", str(out),
                            "--set", "hidden_units=[16]", "--set", "latent_dim=2", "--verbose", "0")
    assert code == 0, err
    card = json.loads((out / "card.json").read_text())
    assert card["config"]["latent_dim"] == 2 and card["training"]["epochs"] == 1
    assert "--set 'hidden_units=[16]'" in card["training"]["command"]
    assert (out / "preview.png").is_file() and (out / "model.keras").is_file()
    assert not any(p.name.startswith(".tiny") for p in tmp_path.iterdir())


def test_missing_data_is_one_line(tmp_path):
    env_dir = tmp_path / "empty"
    env_dir.mkdir()
    p = subprocess.run([sys.executable, "-m", "zoo", "evaluate", "ae_mnist"], cwd=ROOT, capture_output=True,
                       text=True, env=dict(os.environ, ZOO_DATA_DIR=str(env_dir), TF_CPP_MIN_LOG_LEVEL="3"))
    assert p.returncode == 1 and str(env_dir / "mnist.npz") in p.stderr and "Traceback" not in p.stderr
