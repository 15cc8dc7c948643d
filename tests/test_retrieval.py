"""Retrieval by codes: exact k nearest neighbours against scipy's distances and a full sort, search through a
model equal to search on its codes, a classifier's penultimate features equal to its layers written out in
numpy, precision@k against a loop, the `zoo neighbours` command end to end, and bad inputs in one line."""

import json

import numpy as np
import pytest
from scipy.spatial.distance import cdist

import zoo
from zoo import retrieval
from zoo.errors import ZooError
from conftest import ROOT, needs_mnist, run_zoo_here, user_lines


def brute(q, g, k, metric):
    d = cdist(q, g, "cosine" if metric == "cosine" else "euclidean")
    idx = np.array([np.lexsort((np.arange(len(g)), row))[:k] for row in d])
    return idx, np.take_along_axis(d, idx, 1)


@pytest.mark.parametrize("metric", retrieval.METRICS)
def test_nearest_equals_a_full_sort_of_scipys_distances(metric, rng):
    q, g = rng.normal(size=(300, 7)), rng.normal(size=(500, 7))  # 300 queries: two chunks of 256
    idx, dist = retrieval.nearest(q, g, k=10, metric=metric)
    want_idx, want_dist = brute(q, g, 10, metric)
    assert np.array_equal(idx, want_idx)
    np.testing.assert_allclose(dist, want_dist, atol=1e-9)
    assert np.all(np.diff(dist, axis=1) >= 0)


def test_ties_go_to_the_lower_gallery_index_and_k_may_be_the_whole_gallery(rng):
    g = np.repeat(rng.normal(size=(5, 3)), 4, axis=0)  # every vector four times
    idx, dist = retrieval.nearest(g[[0, 7]], g, k=20, metric="euclidean")
    assert idx[0][:4].tolist() == [0, 1, 2, 3] and np.allclose(dist[0][:4], 0)
    assert idx[1][:4].tolist() == [4, 5, 6, 7]
    assert sorted(idx[0].tolist()) == list(range(20))
    zero = retrieval.nearest(np.zeros((1, 3)), g, k=3, metric="cosine")[1]
    assert np.allclose(zero, 1.0)  # a zero code is at cosine distance 1 from everything


def test_precision_at_k_against_a_loop(rng):
    nl, ql = rng.integers(0, 3, (50, 10)), rng.integers(0, 3, 50)
    want = np.mean([sum(int(a == ql[i]) for a in nl[i]) / 10 for i in range(50)])
    assert retrieval.precision_at_k(nl, ql) == pytest.approx(want, abs=1e-12)


def test_search_through_a_model_is_search_on_its_codes(mnist_small):
    (xtr, _), (xte, _) = mnist_small
    model = zoo.create_model("ae_mnist", hidden_units=[16], latent_dim=4)
    idx, dist = retrieval.search(model, xte[:20], xtr, k=5, metric="euclidean")
    want_idx, want_dist = brute(model.encode(xte[:20]).astype(np.float64), model.encode(xtr).astype(np.float64), 5,
                                "euclidean")
    assert np.array_equal(idx, want_idx)
    np.testing.assert_allclose(dist, want_dist, atol=1e-6)
    # a gallery image is its own nearest neighbour, at distance 0
    self_idx, self_dist = retrieval.CodeIndex(model, xtr, metric="euclidean").search(xtr[[3, 99]], k=1)
    assert np.allclose(self_dist, 0, atol=1e-6)
    assert np.allclose(model.encode(xtr[self_idx[:, 0]]), model.encode(xtr[[3, 99]]))


def test_penultimate_features_are_the_heads_hidden_layer(mnist_small):
    (xtr, _), _ = mnist_small
    ae = zoo.create_model("ae_mnist", hidden_units=[16], latent_dim=4)
    clf = zoo.create_model("mnist_classifier", encoder=ae, seed=1)
    feats = retrieval.features(clf, "penultimate")(xtr[:30])
    code = clf.encode(xtr[:30]).astype(np.float64)
    bn = clf.head.get_layer("code_norm")
    gamma, beta, mean, var = (np.asarray(w, np.float64) for w in bn.get_weights())
    normed = gamma * (code - mean) / np.sqrt(var + bn.epsilon) + beta
    hidden = clf.head.get_layer("head_hidden")
    want = np.maximum(normed @ np.asarray(hidden.kernel, np.float64) + np.asarray(hidden.bias, np.float64), 0)
    assert feats.shape == (30, 256)
    np.testing.assert_allclose(feats, want, atol=1e-4)


@needs_mnist
@pytest.mark.slow
def test_zoo_neighbours_writes_the_figure_of_the_true_neighbours(tmp_path):
    from zoo import data

    out = tmp_path / "n.png"
    code, stdout, stderr = run_zoo_here("neighbours", "ae_mnist", "--image", "5", "--out", out, "-k", "6")
    assert code == 0, stderr
    assert out.is_file() and out.stat().st_size > 5000
    # the labels it prints are those of the 6 nearest training images, found here independently
    s = data.splits("mnist", validation=0)
    model = zoo.load("ae_mnist")
    g, q = model.encode(s["train"][0]).astype(np.float64), model.encode(s["test"][0][5:6]).astype(np.float64)
    want, _ = brute(q, g, 6, "cosine")
    printed = json.loads(stdout.strip().rsplit(": ", 1)[1])
    assert printed == s["train"][1][want[0]].tolist()


@needs_mnist
@pytest.mark.parametrize("args,message,status", [
    (["neighbours", "ae_mnist", "--image", "99999", "--out", "x.png"], "--image must be at most", 1),
    (["neighbours", "perceptron", "--image", "0", "--out", "x.png"], "has no 'neighbours' command", 1),
    (["neighbours", "ae_mnist", "--out", "x.png"], "the following arguments are required: --image", 2),
])
@pytest.mark.slow
def test_neighbours_bad_arguments_are_one_line(args, message, status, tmp_path):
    code, _, stderr = run_zoo_here(*[str(tmp_path / a) if a.startswith("x.") else a for a in args])
    lines = user_lines(stderr)
    assert code == status and message in lines[-1], stderr
    if status == 1:
        assert len(lines) == 1


def _run_neighbours(tmp_path, mnist_small, model=None, **changes):
    import argparse

    (xtr, ytr), (xte, yte) = mnist_small
    args = {"image": 0, "out": str(tmp_path / "n.png"), "k": 3, "metric": "cosine", "gallery": "train", **changes}
    model = model or zoo.create_model("ae_mnist", hidden_units=[8], latent_dim=2)
    retrieval.neighbours_command()["run"](model, argparse.Namespace(**args),
                                          {"train": (xtr, ytr), "test": (xte, yte)})


@pytest.mark.parametrize("changes,message", [({"k": 0}, "-k must be an integer >= 1"), ({"k": 51}, "-k must be at most 50"),
                                             ({"image": -1}, "--image must be an integer >= 0"),
                                             ({"out": "n.jpg"}, "expected a path ending in .png")])
def test_neighbours_command_refuses_bad_values_in_one_line(changes, message, tmp_path, mnist_small):
    with pytest.raises(ZooError) as e:
        _run_neighbours(tmp_path, mnist_small, **changes)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_neighbours_command_on_the_test_gallery_leaves_the_query_out(tmp_path, mnist_small, capsys):
    model = zoo.create_model("ae_mnist", hidden_units=[8], latent_dim=2)
    _run_neighbours(tmp_path, mnist_small, model, gallery="test", image=4, k=5)
    printed = json.loads(capsys.readouterr().out.strip().rsplit(": ", 1)[1])
    _, (xte, yte) = mnist_small
    codes = model.encode(xte).astype(np.float64)
    others = np.delete(np.arange(len(xte)), 4)
    want, _ = brute(codes[4:5], codes[others], 5, "cosine")
    assert printed == yte[others[want[0]]].tolist() and (tmp_path / "n.png").is_file()


@pytest.mark.parametrize("call,message", [
    (lambda: retrieval.nearest(np.zeros((2, 3)), np.zeros((4, 2))), "same d"),
    (lambda: retrieval.nearest(np.zeros((2, 3)), np.zeros((4, 3)), k=5), "k must be at most 4"),
    (lambda: retrieval.nearest(np.zeros((2, 3)), np.zeros((4, 3)), metric="manhattan"), "metric must be one of"),
    (lambda: retrieval.nearest(np.full((2, 3), np.nan), np.zeros((4, 3))), "NaN or Inf"),
    (lambda: retrieval.features(object(), "code"), "has no encode()"),
    (lambda: retrieval.features(zoo.create_model("ae_mnist", hidden_units=[8], latent_dim=2), "penultimate"),
     "no classification head"),
    (lambda: retrieval.search(lambda x: np.zeros((len(x), 2)), np.zeros((2, 784)), np.zeros((3, 784)), k=4),
     "k must be at most 3"),
    (lambda: retrieval.precision_at_k(np.zeros((3, 2)), np.zeros(4)), "expected (Q, k) neighbour labels"),
])
def test_bad_inputs_are_one_clear_line(call, message):
    with pytest.raises(ZooError) as e:
        call()
    assert message in str(e.value) and "\n" not in str(e.value)


def test_bench_results_cover_every_row_the_issue_names():
    result = json.loads((ROOT / "bench" / "results" / "retrieval.json").read_text())
    rows = {r["features"] for r in result["rows"]}
    assert {"pixels", "pca", "ae_mnist:code", "vae_mnist:code", "cae_mnist:code", "mnist_classifier:penultimate"} <= rows
    pca_dims = {r["dim"] for r in result["rows"] if r["features"] == "pca"}
    assert {r["dim"] for r in result["rows"] if ":" in r["features"]} <= pca_dims  # PCA at every model's k
    for r in result["rows"]:
        assert 0.1 <= r["precision_at_10_cosine"] <= 1 and 0.1 <= r["precision_at_10_euclidean"] <= 1
