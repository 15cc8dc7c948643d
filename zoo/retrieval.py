"""Retrieval by codes: the k nearest gallery images of each query in a model's code space.

    from zoo import retrieval
    idx, dist = retrieval.search(zoo.load("ae_mnist"), queries, gallery, k=10, metric="cosine")
    index = retrieval.CodeIndex(model, gallery, metric="euclidean")     # encode the gallery once
    idx, dist = index.search(queries, k=10)
    retrieval.precision_at_k(gallery_labels[idx], query_labels)         # same-label fraction

A model is anything with `encode(images)` (autoencoders; a VAE's posterior mean; a classifier's encoder code)
or a function images -> (N, d) features; `features(model, "penultimate")` gives a classifier's last hidden
layer (the input of its softmax layer). Search is exact brute force in float64, in chunks of queries, so a
gallery of tens of thousands of codes needs a few tens of MB. Ties are broken by the lower gallery index.

The `neighbours` command of the autoencoder, VAE and classifier families (`zoo neighbours NAME --image N
--out fig.png`) is `neighbours_command()`.
"""

import numpy as np
import keras

from zoo import checks, figures
from zoo.base import batched
from zoo.errors import ZooError

METRICS = ("cosine", "euclidean")
FEATURES = ("code", "penultimate")
MAX_K = 1000
QUERY_CHUNK = 256


# -- features ------------------------------------------------------------------------------------------------
def _penultimate(model):
    """The classifier's last hidden features: the input of the head's final Dense layer (dropout is inert at
    inference), through a functional sub-model of the head (public Keras API only)."""
    head = getattr(model, "head", None)
    encoder = getattr(model, "encoder", None)
    dense = [layer for layer in getattr(head, "layers", []) if isinstance(layer, keras.layers.Dense)]
    if not dense or encoder is None:
        raise ZooError(f"{getattr(model, 'name', model)} has no classification head; penultimate features are "
                       "a classifier's (use features='code' for an autoencoder)")
    sub = keras.Model(head.inputs, dense[-1].input, name="penultimate")

    def fn(x):
        rows, _ = checks.as_images(x, "images")
        return batched(lambda r: sub(encoder(r, training=False), training=False), rows)
    return fn


def features(model, kind="code"):
    """images -> (N, d) float features. kind "code": `model.encode` (a VAE's posterior mean); "penultimate": a
    classifier's last hidden layer. A plain function is returned as it is."""
    checks.one_of(kind, FEATURES, "features")
    if callable(model) and not isinstance(model, keras.Model):
        return model
    if kind == "penultimate":
        return _penultimate(model)
    if not hasattr(model, "encode"):
        raise ZooError(f"{getattr(model, 'name', model)} has no encode(); retrieval needs a model with codes")
    return lambda x: model.encode(x)


def _codes(fn, images, name):
    out = np.asarray(fn(images), np.float64)
    if out.ndim == 1:
        out = out[None]
    if out.ndim != 2 or not len(out):
        raise ZooError(f"{name}: the features must be (N, d), got shape {out.shape}")
    return checks.finite(out, f"the {name} features")


# -- exact nearest neighbours ------------------------------------------------------------------------------------
def nearest(query_codes, gallery_codes, k=10, metric="cosine"):
    """(indices (Q, k) int64, distances (Q, k) float64) of the k nearest gallery rows per query row, nearest
    first. cosine distance = 1 - cos(q, g) (a zero vector is at distance 1 from everything); euclidean = ||q - g||."""
    checks.one_of(metric, METRICS, "metric")
    q = checks.finite(np.asarray(query_codes, np.float64), "query codes")
    g = checks.finite(np.asarray(gallery_codes, np.float64), "gallery codes")
    if q.ndim != 2 or g.ndim != 2 or q.shape[1] != g.shape[1] or not len(q) or not len(g):
        raise ZooError(f"codes must be (Q, d) and (G, d) with the same d, got {q.shape} and {g.shape}")
    k = checks.count(k, "k", 1, min(MAX_K, len(g)))
    if metric == "cosine":
        q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-300)
        g = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-300)
    else:
        g_sq = np.sum(g * g, axis=1)
    idx = np.empty((len(q), k), np.int64)
    dist = np.empty((len(q), k), np.float64)
    order_key = np.arange(len(g))
    for s in range(0, len(q), QUERY_CHUNK):
        qc = q[s:s + QUERY_CHUNK]
        if metric == "cosine":
            d = 1.0 - qc @ g.T
        else:
            d = np.sqrt(np.maximum(np.sum(qc * qc, axis=1)[:, None] - 2.0 * qc @ g.T + g_sq[None], 0.0))
        part = np.argpartition(d, k - 1, axis=1)[:, :k] if k < len(g) else np.tile(order_key, (len(qc), 1))
        for r in range(len(qc)):
            # ties on the distance go to the lower gallery index, so the answer does not depend on the partition
            cand = part[r]
            cut = d[r, cand].max()
            pool = np.flatnonzero(d[r] <= cut)
            best = pool[np.lexsort((pool, d[r, pool]))][:k]
            idx[s + r], dist[s + r] = best, d[r, best]
    return idx, dist


class CodeIndex:
    """A gallery encoded once; `search(queries, k)` -> (indices, distances) into the gallery."""

    def __init__(self, model, gallery, labels=None, metric="cosine", features_kind="code"):
        self.metric = checks.one_of(metric, METRICS, "metric")
        self.embed = features(model, features_kind)
        self.gallery_codes = _codes(self.embed, gallery, "gallery")
        self.labels = None if labels is None else checks.as_labels(labels, len(self.gallery_codes), 2 ** 31,
                                                                  "gallery labels")

    def __len__(self):
        return len(self.gallery_codes)

    def search(self, queries, k=10):
        return nearest(_codes(self.embed, queries, "query"), self.gallery_codes, k, self.metric)


def search(model, queries, gallery, k=10, metric="cosine", features_kind="code"):
    """The k nearest gallery images of each query in the model's code space: (indices (Q, k), distances)."""
    return CodeIndex(model, gallery, metric=metric, features_kind=features_kind).search(queries, k)


def precision_at_k(neighbour_labels, query_labels):
    """Mean over queries of the fraction of their neighbours that share the query's label."""
    nl = np.asarray(neighbour_labels)
    ql = np.asarray(query_labels)
    if nl.ndim != 2 or ql.shape != (len(nl),):
        raise ZooError(f"expected (Q, k) neighbour labels and (Q,) query labels, got {nl.shape} and {ql.shape}")
    return float(np.mean(nl == ql[:, None]))


# -- the figure and the CLI command -------------------------------------------------------------------------------
def neighbours_figure(query, neighbours, *, title, query_label=None, neighbour_labels=None, distances=None):
    """One row: the query, then its neighbours nearest first, each captioned with its label and (below) its
    distance."""
    tiles = np.concatenate([np.asarray(query, np.float32).reshape(1, -1),
                            np.asarray(neighbours, np.float32).reshape(len(neighbours), -1)])
    caps = ["query" + (f"\n{query_label}" if query_label is not None else "")]
    for i in range(len(neighbours)):
        lab = f"#{i + 1}" if neighbour_labels is None else f"{neighbour_labels[i]}"
        dist = "" if distances is None else f"\n{distances[i]:.3f}"
        caps.append(f"{lab}{dist}")
    return figures.image_grid(tiles, cols=len(tiles), col_labels=caps, title=title)


def neighbours_command(features_kind="code"):
    """The `neighbours` COMMANDS entry a family offers: a test image and its nearest training images."""

    def arguments(parser):
        parser.add_argument("--image", type=int, required=True, help="index of the query in the test split")
        parser.add_argument("--out", required=True, help="PNG file to write")
        parser.add_argument("-k", type=int, default=10, help="neighbours to show (1..50, default 10)")
        parser.add_argument("--metric", choices=METRICS, default="cosine")
        parser.add_argument("--gallery", choices=("train", "test"), default="train",
                            help="split searched (default train; with test the query itself is left out)")

    def run(model, args, data):
        if data is None:
            raise ZooError("neighbours needs the model's data set (set ZOO_DATA_DIR to a folder holding mnist.npz)")
        k = checks.count(args.k, "-k", 1, 50)
        x_test, y_test = data["test"]
        n = checks.count(args.image, "--image", 0, len(x_test) - 1)
        gx, gy = data[args.gallery]
        query = x_test[n:n + 1]
        index = CodeIndex(model, gx, metric=args.metric, features_kind=features_kind)
        idx, dist = index.search(query, k + (args.gallery == "test"))
        keep = idx[0] != n if args.gallery == "test" else np.ones(idx.shape[1], bool)
        idx, dist = idx[0][keep][:k], dist[0][keep][:k]
        same = int(np.sum(gy[idx] == y_test[n]))
        fig = neighbours_figure(query[0], gx[idx], query_label=int(y_test[n]), neighbour_labels=gy[idx].tolist(),
                                distances=dist,
                                title=f"{model.name}: test image {n} and its {k} nearest {args.gallery} images "
                                      f"({features_kind}, {args.metric}; {same}/{k} share its label)\ncaptions: label and distance")
        path = figures.save(fig, args.out)
        print(f"wrote {path}: test image {n} (label {int(y_test[n])}), {same} of its {k} nearest {args.gallery} "
              f"images by {features_kind} ({args.metric}) share its label: {gy[idx].tolist()}")

    # Its help is the family's, in NAME_presets.py, so `zoo --help` reads it without importing the family.
    return {"arguments": arguments, "run": run}
