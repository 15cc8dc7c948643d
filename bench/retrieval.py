"""Retrieval by codes on MNIST: precision@10 of same-label neighbours for every test image, with the training
split as the gallery, in each representation's space, by cosine and by Euclidean distance.

    python bench/retrieval.py                      # about a minute on CPU; writes bench/results/retrieval.json
    python bench/retrieval.py --k 10 --out /tmp/r.json

Rows: raw pixels (784-d); each shipped model's features (ae_mnist's 30-d code, vae_mnist's 32-d posterior
mean, cae_mnist's 500-d code, and the fine-tuned mnist_classifier's 256-d penultimate layer, plus its 30-d
encoder code); and, beside each model, PCA fitted on the training split at the same dimension k (the
linear baseline with the same budget). Splits are zoo.data.splits("mnist"): train = the 15,000 images the
models were trained on (the 2,000 validation images are left out of the gallery), test = 2,690 queries.
Search is exact (zoo.retrieval.nearest, float64 brute force).
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

OUT = Path(__file__).resolve().parent / "results" / "retrieval.json"
MODELS = (("ae_mnist", "code", "ae_mnist code"), ("vae_mnist", "code", "vae_mnist posterior mean"),
          ("cae_mnist", "code", "cae_mnist code"),
          ("mnist_classifier", "penultimate", "mnist_classifier penultimate layer (fine-tuned, supervised)"),
          ("mnist_classifier", "code", "mnist_classifier encoder code (fine-tuned, supervised)"))
METRICS = ("cosine", "euclidean")


def pca_features(x_train, k):
    from zoo.families.autoencoder import pca

    mean, components = pca(x_train.astype(np.float64), k)
    return lambda x: (np.asarray(x, np.float64) - mean) @ components.T


BASELINE = {}  # metric -> raw pixels' per-query precision, for paired differences


def evaluate(name, kind, fn, x_train, y_train, x_test, y_test, k):
    from zoo import retrieval

    start = time.time()
    g, q = np.asarray(fn(x_train), np.float64), np.asarray(fn(x_test), np.float64)
    row = {"row": name, "features": kind, "dim": int(g.shape[1])}
    for metric in METRICS:
        idx, _ = retrieval.nearest(q, g, k=k, metric=metric)
        per_query = np.mean(y_train[idx] == y_test[:, None], axis=1)
        row[f"precision_at_{k}_{metric}"] = round(float(per_query.mean()), 4)
        # the error bar a different draw of 2,690 queries would move it by
        row[f"stderr_{metric}"] = round(float(per_query.std(ddof=1) / np.sqrt(len(per_query))), 4)
        # rows share their queries, so the comparison with raw pixels is paired: its error bar is smaller
        if kind == "pixels":
            BASELINE[metric] = per_query
        else:
            diff = per_query - BASELINE[metric]
            row[f"minus_pixels_{metric}"] = round(float(diff.mean()), 4)
            row[f"minus_pixels_stderr_{metric}"] = round(float(diff.std(ddof=1) / np.sqrt(len(diff))), 4)
    row["seconds"] = round(time.time() - start, 1)
    print(json.dumps(row), flush=True)
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)

    import zoo
    from zoo import data, io, retrieval

    splits = data.splits("mnist")
    (x_train, y_train), (x_test, y_test) = splits["train"], splits["test"]
    rows = [evaluate("raw pixels", "pixels", lambda x: x, x_train, y_train, x_test, y_test, args.k)]
    pca_done = set()
    for name, kind, label in MODELS:
        model = zoo.load(name)
        fn = retrieval.features(model, kind)
        row = evaluate(label, f"{name}:{kind}", fn, x_train, y_train, x_test, y_test, args.k)
        row["model"] = name
        rows.append(row)
        if row["dim"] not in pca_done:
            pca_done.add(row["dim"])
            rows.append(evaluate(f"PCA, k = {row['dim']}", "pca", pca_features(x_train, row["dim"]), x_train, y_train,
                                 x_test, y_test, args.k))
    result = {"bench": "retrieval", "k": args.k, "gallery": f"train split ({len(x_train):,} images)",
              "queries": f"test split ({len(x_test):,} images)",
              "measure": f"precision@{args.k}: fraction of each query's {args.k} nearest gallery images with the "
                         "query's label, averaged over queries; stderr is the standard error over queries; minus_pixels_* is "
                         "the paired difference from raw pixels over the same queries, with its standard error",
              "command": "python bench/retrieval.py", "rows": rows, "versions": io.versions()}
    io.write_json_atomic(Path(args.out), result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
