"""Semi-supervised MNIST: test accuracy of fine-tuned encoders against random initialisation, for labelled
training sets of 100, 1000 and all 15,000 images (class-balanced, seeded), mean and std over seeds.

    python bench/semisupervised.py                          # every row and size (several minutes on CPU)
    python bench/semisupervised.py --rows random,ae_mnist --sizes 100 --seeds 1 --out /tmp/x.json
    python bench/semisupervised.py --mode probe --sizes 100,1000    # frozen encoders, linear head only
    python bench/semisupervised.py --rows random,ae_mnist --merge --out bench/results/semisupervised.json
                                                            # re-measure rows after an encoder is re-trained

Each run at 100 and 1,000 labels is what `zoo finetune ROW --labels N --seed SEED` runs, step for step: the data
split with the seed (2,000 validation images held out), keras.utils.set_random_seed(SEED), then
zoo.create_model("mnist_classifier", encoder=ROW, **few_label_config(N)) (a linear softmax head on batch-normalised
codes over the row's pretrained test-time encoder, no dropout, the preset's initializer seed), trained by the
classifier family's train hook through zoo.training.fit with few_label_recipe(N): the hook draws N class-balanced
labelled images with the seed (every row sees the same images for a given seed), trains the head with the encoder
frozen, then everything at a lower rate with cosine decay. Recipe and head come from
zoo/families/classifier_presets.py, the same functions `zoo finetune` reads; "all" is this bench's own short
recipe (RECIPES["all"]), not `zoo finetune --labels all` (which runs mnist_classifier's 100 epochs). The recipes
are kept small so the whole table fits in a few minutes on 2 CPU cores; the figures are for comparing rows, not
the best each encoder can reach. The validation images are not used. "random" is the ae_mnist architecture
(784-1000-500-250-30 since its re-training) from random weights (zoo.create_model("ae_mnist")), trained with the
same recipe: `zoo finetune ae_mnist --from-scratch --labels N --seed SEED`.

--mode probe keeps every encoder frozen and trains only the linear head (longer: probe_recipe(N) of
classifier_presets, which docs/classifier.md's Python example spells out): it measures the features themselves,
which is where pretraining shows most with few labels.

--mode vat is the recipe that uses the unlabelled images too (mnist_classifier_100labels' preset: a 256-unit
head, everything trained by virtual adversarial training on the labelled images and all 15,000 training
images), 5 label draws per size by default:

    python bench/semisupervised.py --mode vat --rows ae_mnist_512 --sizes 100,1000 --out bench/results/semisupervised_vat.json
"""

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from zoo.families.classifier_presets import MANY_LABELS, few_label_config, few_label_recipe, probe_recipe  # noqa: E402

ROWS = ("random", "ae_mnist", "ae_mnist_512", "stacked_tied_ae_mnist", "dae_mnist", "cae_mnist", "sparse_ae_mnist",
        "vae_mnist")
SIZES = ("100", "1000", "all")
SEEDS = {"100": 3, "1000": 3, "all": 2}
VAT_SEEDS = 5
RANDOM_ARCH = "ae_mnist"
# Fine-tuning: head epochs at lr_head with the encoder frozen, then `epochs` of everything at learning_rate
# (cosine decay), per labelled-set size: `zoo finetune`'s own recipes, and a short one for all labels.
RECIPES = {"100": few_label_recipe(100), "1000": few_label_recipe(1000),
           "all": dict(epochs_head=1, epochs=10, batch_size=128, lr_head=1e-2, learning_rate=1e-3, shift=0)}
# Frozen-encoder linear probe: head epochs only.
PROBE_RECIPES = {"100": probe_recipe(100), "1000": probe_recipe(1000), "all": probe_recipe(MANY_LABELS)}
LINEAR_HEAD = dict(head="linear", dropout=0.0)


def recipe(size, seed, mode):
    if mode == "vat":
        r = dict(few_label_recipe(int(size), "vat"), unlabelled="vat")
    else:
        r = dict((PROBE_RECIPES if mode == "probe" else RECIPES)[size])
    r.update(seed=seed, labels=None if size == "all" else int(size))
    # Every key is set here, so the hook's few-label defaults change none of them.
    r["user_set"] = sorted(r)
    return r


def encoder_for(row, cache):
    """The model whose test-time encoder the classifier starts from: shipped weights, or random ones."""
    import zoo

    if row == "random":
        return zoo.create_model(RANDOM_ARCH)
    if row not in cache:
        # Each classifier copies the encoder's weights (inference_encoder), so one loaded model serves every run.
        cache[row] = zoo.load(row)
    return cache[row]


def head_config(size, mode):
    """The classifier config of a run: `zoo finetune`'s for 100 and 1,000 labels (few_label_config), a linear head
    for the probe and for this bench's short all-label recipe."""
    if mode == "vat":
        return few_label_config(int(size), "vat")
    if mode == "probe" or size == "all":
        return dict(LINEAR_HEAD)
    return few_label_config(int(size))


def run(row, size, seed, splits, mode="finetune", cache=None):
    import keras

    import zoo
    from zoo import registry, training

    # As zoo.training.train does for `zoo finetune --seed SEED`: the split is drawn with the seed, then every
    # generator is seeded, then the model is built with the preset's own initializer seed.
    splits = splits(seed)
    keras.utils.set_random_seed(seed)
    clf = zoo.create_model("mnist_classifier", encoder=encoder_for(row, {} if cache is None else cache),
                           **head_config(size, mode))
    hook = registry.hook(registry.family("mnist_classifier"), "train")
    fit = functools.partial(training.fit, verbose=0)
    start = time.time()
    _, extra = hook(clf, {"train": splits["train"], "val": None}, recipe(size, seed, mode), fit)
    expected = len(splits["train"][1]) if size == "all" else int(size)
    if extra["labelled_examples"] != expected:
        raise RuntimeError(f"the hook trained on {extra['labelled_examples']} labelled images, not {expected}")
    return clf.test_metrics(*splits["test"])["accuracy"], time.time() - start


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, from {', '.join(ROWS)}")
    ap.add_argument("--sizes", default=",".join(SIZES), help="comma-separated, from 100, 1000, all")
    ap.add_argument("--seeds", type=int, help="seeds per size (default 3 for 100 and 1000, 2 for all)")
    ap.add_argument("--mode", choices=["finetune", "probe", "vat"], default="finetune",
                    help="finetune: head then everything; probe: frozen encoder, head only; vat: everything, "
                         "with the unlabelled images through virtual adversarial training")
    ap.add_argument("--out", help="also write the JSON here")
    ap.add_argument("--merge", action="store_true",
                    help="keep the other rows already in --out and re-measure only --rows (after an encoder is "
                         "re-trained); refused if --out was made with another mode or recipe")
    args = ap.parse_args(argv)

    from zoo import data, registry

    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    bad = [r for r in rows if r not in ROWS] + [s for s in sizes if s not in SIZES]
    if bad:
        ap.error(f"unknown rows or sizes: {bad}")
    if args.mode == "vat" and "all" in sizes:
        ap.error("--mode vat needs unlabelled images: sizes 100 or 1000, not all")
    if args.seeds is not None and not 1 <= args.seeds <= 20:
        ap.error(f"--seeds must be between 1 and 20, got {args.seeds}")
    if args.merge and not (args.out and Path(args.out).is_file()):
        ap.error("--merge updates an existing --out file; give one")
    splits = functools.lru_cache(maxsize=1)(lambda seed: data.splits("mnist", validation=2000, seed=seed))
    result = {"benchmark": "semi-supervised MNIST, test accuracy", "test_examples": int(len(splits(0)["test"][0])),
              "train_examples": int(len(splits(0)["train"][0])),
              "mode": args.mode,
              "recipes": {s: (recipe(s, 0, "vat") if args.mode == "vat" else
                              (PROBE_RECIPES if args.mode == "probe" else RECIPES)[s]) for s in sizes},
              "trained_by": "zoo.families.classifier.train (the family's train hook) through zoo.training.fit",
              "head": {s: head_config(s, args.mode) for s in sizes},
              "split_seed": "each run's seed, as zoo finetune --seed draws it", "rows": {}, "skipped": {}}
    old = json.loads(Path(args.out).read_text()) if args.merge else None
    if old is not None:
        # checked before measuring, so a refused merge costs nothing
        clash = merge_clash(old, result)
        if clash:
            ap.error(clash)
    start = time.time()
    cache = {}
    for row in rows:
        if row != "random" and not (registry.saved_models_dir() / row / registry.MODEL_FILE).is_file():
            result["skipped"][row] = "no pretrained weights in saved_models/"
            print(f"skip {row}: no pretrained weights", file=sys.stderr)
            continue
        result["rows"][row] = {}
        for size in sizes:
            seeds = list(range(args.seeds or (VAT_SEEDS if args.mode == "vat" else SEEDS[size])))
            accs, secs = [], 0.0
            for seed in seeds:
                acc, s = run(row, size, seed, splits, args.mode, cache)
                accs.append(round(float(acc), 4))
                secs += s
            result["rows"][row][size] = {"mean": round(float(np.mean(accs)), 4), "std": round(float(np.std(accs)), 4),
                                         "runs": accs, "seeds": seeds, "seconds": round(secs, 1)}
            print(f"{row:22s} {size:>5s}: {np.mean(accs):.4f} +- {np.std(accs):.4f} ({secs:.0f}s)", file=sys.stderr)
    result["seconds"] = round(time.time() - start, 1)
    if old is not None:
        result = merged(old, result)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")


def merge_clash(old, new):
    """Why old's rows cannot stand beside new's (another mode, or another recipe for a size both hold), or None."""
    recipes = json.loads(json.dumps(new["recipes"]))   # as the file holds them (lists, not tuples)
    clash = sorted(s for s in set(old["recipes"]) & set(recipes) if old["recipes"][s] != recipes[s])
    if old.get("mode") != new["mode"] or clash:
        return (f"--merge: the existing file was made with mode {old.get('mode')!r} and other recipes for sizes "
                f"{clash}; re-run every row without --merge")
    counts = ("train_examples", "test_examples")
    if any(old.get(k) != new[k] for k in counts) or old.get("split_seed") != new.get("split_seed"):
        return (f"--merge: the existing file was measured on other data ({old.get('train_examples')} training / "
                f"{old.get('test_examples')} test images, split seed {old.get('split_seed', 0)!r}); re-run every "
                "row without --merge")
    return None


def merged(old, new):
    """old's rows with new's rows measured again (merge_clash(old, new) is None)."""
    rows = {**old["rows"]}
    for row, sizes in new["rows"].items():
        rows[row] = {**rows.get(row, {}), **sizes}
    return {**old, "recipes": {**old["recipes"], **new["recipes"]}, "rows": rows,
            "remeasured": {**old.get("remeasured", {}), **{row: time.strftime("%Y-%m-%d") for row in new["rows"]}}}


if __name__ == "__main__":
    main()
