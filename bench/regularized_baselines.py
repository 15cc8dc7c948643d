"""What each regularizer buys: the shipped regularized autoencoders against twins trained without it.

    ZOO_DATA_DIR=... python bench/regularized_baselines.py --out bench/results/regularized_baselines.json
    python bench/regularized_baselines.py --quick                    # 1 epoch per twin: a smoke run
    python bench/regularized_baselines.py --only sparse,cae          # a subset (sparse, cae, stacked)

Cards describe one model; comparisons that need another model trained live here. Each twin is the shipped
preset with one thing changed, trained through zoo.training.train with the recipe in the shipped card's
"training" (epochs, batch size, learning rate, seed) into a temporary folder (never saved_models/):
- sparse_ae_mnist vs sparsity_weight=0: mean code activation, fraction of code values below 0.01, and squared
  and relative error on test digits and on non-digit probes (an autoencoder near the identity copies those too);
- cae_mnist vs contractive_weight=0: mean encoder Jacobian Frobenius norm on the first 1,000 test images, and
  test squared error (ae_mnist's norm is given for reference: a different architecture);
- stacked_tied_ae_mnist as shipped (layer-wise pretraining, then fine-tuning) vs trained end to end from random
  weights for the same total epochs (pretraining epochs x layers + fine-tuning epochs; an epoch of one layer
  pair costs less than one of the whole stack, so this favours the end-to-end run).

The shipped side is measured again from saved_models/ (the card's figures are not copied). One seed per twin:
the figures compare two runs, they carry no spread. Prints one JSON object on stdout; training progress goes to
stderr. The JSON keeps the shapes of the comparisons the cards used to hold ("sparsity", "contraction",
"layerwise_pretraining"), which bench/model_table.py reads.
"""

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

COMPARISONS = ("sparse", "cae", "stacked")
JACOBIAN_IMAGES = 1000
NEAR_ZERO = 0.01


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# -- figures (numpy) ---------------------------------------------------------------------------------------------
def squared_error_per_image(rec, x):
    return float(np.mean(np.sum((np.asarray(rec, np.float64) - np.asarray(x, np.float64)) ** 2, axis=1)))


def relative_error(rec, x):
    """Squared error over each image's own variation around its mean pixel, averaged: 0 for a perfect copy,
    1 for answering every pixel with the image's mean."""
    x = np.asarray(x, np.float64)
    se = np.sum((np.asarray(rec, np.float64) - x) ** 2, axis=1)
    spread = np.sum((x - x.mean(axis=1, keepdims=True)) ** 2, axis=1)
    return float(np.mean(se / np.maximum(spread, 1e-12)))


def probe_inputs(x, seed=0):
    """Test digits and non-digit inputs: an autoencoder close to the identity reconstructs the latter too; one
    that has learned the digits' structure does not."""
    rng = np.random.default_rng(seed)
    return {"test_digits": x,
            "uniform_noise": rng.random(x.shape, dtype=np.float32),
            "binary_noise_p0.2": (rng.random(x.shape) < 0.2).astype(np.float32),
            "pixel_shuffled_digits": x[:, rng.permutation(x.shape[1])],
            "inverted_digits": 1.0 - x}


def activation_figures(codes, threshold=NEAR_ZERO):
    return {"mean_activation": round(float(codes.mean()), 4),
            "fraction_near_zero": round(float((codes < threshold).mean()), 4),
            "near_zero_threshold": threshold,
            "units_never_above_threshold": int(np.sum(codes.max(axis=0) < threshold))}


def sparsity_figures(model, x):
    out = activation_figures(model.encode(x))
    out["squared_error_per_image"], out["relative_error"] = {}, {}
    for probe, rows in probe_inputs(x).items():
        rec = model.reconstruct_rows(rows)
        out["squared_error_per_image"][probe] = round(squared_error_per_image(rec, rows), 3)
        out["relative_error"][probe] = round(relative_error(rec, rows), 4)
    return out


def contraction_figures(model, x):
    return {"mean_jacobian_frobenius_norm": round(float(model.jacobian_norms(x[:JACOBIAN_IMAGES]).mean()), 4),
            "test_squared_error_per_image": round(model.test_metrics(x)["squared_error_per_image"], 4)}


# -- training a twin ---------------------------------------------------------------------------------------------
def card_recipe(card):
    t = card["training"]
    return {k: t[k] for k in ("epochs", "batch_size", "learning_rate", "seed")}


def train_twin(name, recipe, workdir, label, recipe_changes=None, **config_changes):
    """The preset `name` with config_changes, trained with `recipe` through zoo.training.train into workdir."""
    from zoo import training

    log(f"[{time.strftime('%H:%M:%S')}] {name} {label}: {recipe['epochs']} epochs, batch {recipe['batch_size']}, "
        f"learning rate {recipe['learning_rate']}, seed {recipe['seed']}, changes {config_changes or recipe_changes}")
    start = time.time()
    # Keras writes its progress to stdout, which is kept for the JSON.
    with contextlib.redirect_stdout(sys.stderr):
        model, _, _ = training.train(
            name, out=Path(workdir) / f"{name}_{label}", restart=True, verbose=2,
            command=f"bench/regularized_baselines.py: {name} with {config_changes or recipe_changes}",
            recipe_changes=recipe_changes, **recipe, **config_changes)
    seconds = round(time.time() - start, 1)
    log(f"[{time.strftime('%H:%M:%S')}] {name} {label}: trained in {seconds:.0f} s")
    return model, seconds


def recipe_for_run(card, quick):
    recipe = card_recipe(card)
    if quick:
        recipe["epochs"] = 1
    return recipe


# -- the three comparisons ---------------------------------------------------------------------------------------
def sparse(data, workdir, quick):
    import zoo

    name = "sparse_ae_mnist"
    shipped, card = zoo.load(name), zoo.model_card(name)
    recipe = recipe_for_run(card, quick)
    twin, seconds = train_twin(name, recipe, workdir, "unregularized", sparsity_weight=0.0)
    x = data["test"][0]
    return {"sparsity": {
        "split": "test", "images": int(len(x)),
        "comparison_recipe": {"config_changes": {"sparsity_weight": 0.0}, **recipe},
        "sparse": sparsity_figures(shipped, x),
        "unregularized": sparsity_figures(twin, x),
        "twin_training_seconds": seconds,
        "note": "errors on non-digit probes (seeded): relative_error near 0 means the autoencoder copies "
                "anything (identity-like); near or above 1 means it does not"}}


def cae(data, workdir, quick):
    import zoo

    name = "cae_mnist"
    shipped, card = zoo.load(name), zoo.model_card(name)
    recipe = recipe_for_run(card, quick)
    twin, seconds = train_twin(name, recipe, workdir, "plain", contractive_weight=0.0)
    x = data["test"][0]
    out = {"split": "test", "images": JACOBIAN_IMAGES, "squared_error_images": int(len(x)),
           "comparison_recipe": {"config_changes": {"contractive_weight": 0.0}, **recipe},
           "contractive": contraction_figures(shipped, x),
           "plain_same_architecture": contraction_figures(twin, x),
           "twin_training_seconds": seconds}
    try:
        ae = zoo.load("ae_mnist")
        norms = ae.jacobian_norms(x[:JACOBIAN_IMAGES])
        out["ae_mnist"] = {"mean_jacobian_frobenius_norm": round(float(norms.mean()), 4),
                           "note": "different architecture (784-512-256-30 ReLU)"}
    except zoo.ZooError as e:
        out["ae_mnist"] = f"not available: {e}"
    return {"contraction": out}


def stacked(data, workdir, quick):
    import zoo

    name = "stacked_tied_ae_mnist"
    shipped, card = zoo.load(name), zoo.model_card(name)
    recipe = card_recipe(card)
    per_layer = int(card["training"]["layerwise_pretrain_epochs"])
    layers = len(shipped.encoder_layers)
    total = per_layer * layers + recipe["epochs"]
    end_to_end = {**recipe, "epochs": 1 if quick else total}
    twin, seconds = train_twin(name, end_to_end, workdir, "end_to_end",
                               recipe_changes={"layerwise_pretrain_epochs": 0})
    x = data["test"][0]
    se = {label: round(m.test_metrics(x)["squared_error_per_image"], 4)
          for label, m in (("with", shipped), ("without", twin))}
    return {"layerwise_pretraining": {
        "split": "test", "images": int(len(x)),
        "with_pretraining": {"layerwise_epochs_per_layer": per_layer, "layers": layers,
                             "fine_tune_epochs": recipe["epochs"], "total_epochs": total,
                             "test_squared_error_per_image": se["with"],
                             "source": "saved_models/stacked_tied_ae_mnist"},
        "without_pretraining": {"epochs": end_to_end["epochs"], "batch_size": recipe["batch_size"],
                                "learning_rate": recipe["learning_rate"], "seed": recipe["seed"],
                                "test_squared_error_per_image": se["without"],
                                "training_seconds": seconds},
        "note": "same total epochs; an epoch of one layer pair costs less than an epoch of the whole stack, so "
                "this favours the end-to-end run"}}


RUNNERS = {"sparse": ("sparse_ae_mnist", sparse), "cae": ("cae_mnist", cae),
           "stacked": ("stacked_tied_ae_mnist", stacked)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 epoch per twin: checks the script end to end")
    ap.add_argument("--only", default=",".join(COMPARISONS), help=f"comma-separated, from {', '.join(COMPARISONS)}")
    ap.add_argument("--out", help="also write the JSON here (written again after each comparison)")
    args = ap.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = [s for s in only if s not in COMPARISONS]
    if bad:
        ap.error(f"unknown comparisons {bad}; expected some of {', '.join(COMPARISONS)}")

    import tensorflow as tf

    from zoo import data as zdata, io

    # jacobian_norms traces once per batch shape; TensorFlow's retracing warnings would bury the progress log.
    tf.get_logger().setLevel("ERROR")
    data = zdata.splits("mnist", validation=2000, seed=0)
    result = {"benchmark": "regularized autoencoders against twins trained without the regularizer",
              "quick": args.quick,
              "data": {k: int(len(v[0])) for k, v in data.items()},
              "cpu_count": os.cpu_count(), "load_average_1min_at_start": round(os.getloadavg()[0], 2),
              "versions": io.versions(), "complete": False, "models": {}}
    start = time.time()
    with tempfile.TemporaryDirectory(prefix="zoo-regularized-baselines-") as workdir:
        for key in only:
            name, runner = RUNNERS[key]
            result["models"][name] = runner(data, workdir, args.quick)
            log(f"[{time.strftime('%H:%M:%S')}] {name}: {json.dumps(result['models'][name])}")
            result["seconds"] = round(time.time() - start, 1)
            if args.out:
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                io.write_json_atomic(Path(args.out), result)
    result["complete"] = True
    result["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    result["seconds"] = round(time.time() - start, 1)
    if args.out:
        io.write_json_atomic(Path(args.out), result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
