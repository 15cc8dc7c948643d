"""Semi-supervised MNIST: test accuracy of fine-tuned encoders against random initialisation, for labelled
training sets of 100, 1000 and all 15,000 images (class-balanced, seeded), mean and std over seeds.

    python bench/semisupervised.py                          # every row and size (a few minutes on CPU)
    python bench/semisupervised.py --rows random,ae_mnist --sizes 100 --out bench/results/x.json
    python bench/semisupervised.py --mode probe --sizes 100,1000    # frozen encoders, linear head only

Each run: a linear softmax head (on batch-normalised codes) is trained with the encoder frozen, then
everything at a lower rate with cosine decay (zoo.train.fine_tune). Epoch counts depend on the labelled-set
size (zoo.finetune.recipe_for) and are kept small so the whole table fits in about ten minutes on 2 CPU
cores; the figures are for comparing rows, not the best each encoder can reach. "random" is the ae_mnist
architecture (784-512-256-30) from random weights, trained with the same recipe.

--mode probe keeps every encoder frozen and trains only the linear head (longer, PROBE_RECIPES): it measures
the features themselves, which is where pretraining shows most with few labels.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

ROWS = ("random", "ae_mnist", "stacked_tied_ae_mnist", "dae_mnist", "cae_mnist", "sparse_ae_mnist", "vae_mnist")
SIZES = ("100", "1000", "all")
SEEDS = {"100": 3, "1000": 3, "all": 2}
RANDOM_ARCH = "ae_mnist"
# Frozen-encoder linear probe: (head epochs, batch size) per labelled-set size.
PROBE_RECIPES = {"100": dict(epochs_head=100, epochs_all=0, batch_size=32),
                 "1000": dict(epochs_head=30, epochs_all=0, batch_size=64),
                 "all": dict(epochs_head=10, epochs_all=0, batch_size=128)}


def run(row, size, seed, splits, mode="finetune"):
    from zoo.finetune import classifier, fine_tune, recipe_for, sample_labelled

    x, y = splits["train"]
    n = None if size == "all" else int(size)
    idx = np.arange(len(y)) if n is None else sample_labelled(y, n, seed)
    pretrained = row != "random"
    clf = classifier(RANDOM_ARCH if row == "random" else row, pretrained=pretrained, seed=seed)
    start = time.time()
    fine_tune(clf, x[idx], y[idx], seed=seed, **(PROBE_RECIPES[size] if mode == "probe" else recipe_for(n)))
    return clf.test_metrics(*splits["test"])["accuracy"], time.time() - start


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, from {', '.join(ROWS)}")
    ap.add_argument("--sizes", default=",".join(SIZES), help="comma-separated, from 100, 1000, all")
    ap.add_argument("--seeds", type=int, help="seeds per size (default 3 for 100 and 1000, 2 for all)")
    ap.add_argument("--mode", choices=["finetune", "probe"], default="finetune",
                    help="finetune: head then everything; probe: frozen encoder, head only")
    ap.add_argument("--out", help="also write the JSON here")
    args = ap.parse_args(argv)

    from zoo import data, registry
    from zoo.finetune import recipe_for

    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    bad = [r for r in rows if r not in ROWS] + [s for s in sizes if s not in SIZES]
    if bad:
        ap.error(f"unknown rows or sizes: {bad}")
    splits = data.mnist_splits(validation=2000, seed=0)
    result = {"benchmark": "semi-supervised MNIST, test accuracy", "test_examples": int(len(splits["test"][0])),
              "train_examples": int(len(splits["train"][0])),
              "mode": args.mode,
              "recipes": {s: (PROBE_RECIPES[s] if args.mode == "probe" else recipe_for(None if s == "all" else int(s)))
                          for s in sizes},
              "head": "linear (batch-norm + softmax)", "rows": {}, "skipped": {}}
    start = time.time()
    for row in rows:
        if row != "random" and not (registry.saved_models_dir() / row / registry.MODEL_FILE).is_file():
            result["skipped"][row] = "no pretrained weights in saved_models/"
            print(f"skip {row}: no pretrained weights", file=sys.stderr)
            continue
        result["rows"][row] = {}
        for size in sizes:
            seeds = list(range(args.seeds or SEEDS[size]))
            accs, secs = [], 0.0
            for seed in seeds:
                acc, s = run(row, size, seed, splits, args.mode)
                accs.append(round(float(acc), 4))
                secs += s
            result["rows"][row][size] = {"mean": round(float(np.mean(accs)), 4), "std": round(float(np.std(accs)), 4),
                                         "runs": accs, "seeds": seeds, "seconds": round(secs, 1)}
            print(f"{row:22s} {size:>5s}: {np.mean(accs):.4f} +- {np.std(accs):.4f} ({secs:.0f}s)", file=sys.stderr)
    result["seconds"] = round(time.time() - start, 1)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
