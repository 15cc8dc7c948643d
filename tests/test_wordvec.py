"""Word vectors: the next-word table of the "crooked man" rhyme cell by cell, co-occurrence, PPMI and SVD against
brute force and numpy, the Huffman tree against an independent optimal code, hierarchical-softmax probabilities
summing to 1, the pair pipeline against the corpus, training that separates topics, the lookup API against
numpy, round trips, the CLI, a killed run resuming bit-identically, and bad input."""

import heapq
import sys
from fractions import Fraction
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import zoo
from zoo import registry, training
from zoo.errors import ZooError
from zoo.families import wordvec as wv
from conftest import ROOT, run_zoo_here, user_lines, zoo_env, kill_then_resume

RHYME = """There was a crooked man, who walked a crooked mile,
He found a crooked sixpence upon a crooked stile.
He bought a crooked cat, which caught a crooked mouse,
And they all lived together in a little crooked house."""


# -- text basics ------------------------------------------------------------------------------------------------
def test_tokenizer_lowercases_and_drops_punctuation_but_keeps_inner_apostrophes():
    assert wv.tokenize("There was a crooked man, who walked a crooked mile,") == \
        ["there", "was", "a", "crooked", "man", "who", "walked", "a", "crooked", "mile"]
    assert wv.tokenize("O'er the hills -- 'tis I'll; KING_HENRY: ay!") == \
        ["o'er", "the", "hills", "tis", "i'll", "king", "henry", "ay"]
    assert wv.tokenize("crooked mile".encode("utf-8")) == ["crooked", "mile"]


def test_crooked_man_next_word_table_cell_by_cell():
    # Written by hand from the rhyme: each word and the words that follow it, with how often.
    expected = {
        "there": {"was": 1}, "was": {"a": 1}, "a": {"crooked": 6, "little": 1},
        "crooked": {"man": 1, "mile": 1, "sixpence": 1, "stile": 1, "cat": 1, "mouse": 1, "house": 1},
        "man": {"who": 1}, "who": {"walked": 1}, "walked": {"a": 1}, "mile": {"he": 1},
        "he": {"found": 1, "bought": 1}, "found": {"a": 1}, "sixpence": {"upon": 1}, "upon": {"a": 1},
        "stile": {"he": 1}, "bought": {"a": 1}, "cat": {"which": 1}, "which": {"caught": 1}, "caught": {"a": 1},
        "mouse": {"and": 1}, "and": {"they": 1}, "they": {"all": 1}, "all": {"lived": 1}, "lived": {"together": 1},
        "together": {"in": 1}, "in": {"a": 1}, "little": {"crooked": 1}, "house": {},
    }
    probability = {"a": {"crooked": Fraction(6, 7), "little": Fraction(1, 7)},
                   "crooked": {w: Fraction(1, 7) for w in expected["crooked"]},
                   "he": {"found": Fraction(1, 2), "bought": Fraction(1, 2)}}
    table = wv.next_word_table(RHYME)
    assert sorted(table.words) == sorted(expected)
    assert table.words[:5] == ["there", "was", "a", "crooked", "man"]   # order of first appearance
    for word in expected:
        for following in expected:
            count = expected[word].get(following, 0)
            assert table.count(word, following) == count, (word, following)
            p = probability.get(word, {}).get(following, Fraction(count, 1) if count else 0)
            assert table.probability(word, following) == pytest.approx(float(p), abs=1e-15), (word, following)
    assert table.counts.sum() == sum(sum(row.values()) for row in expected.values()) == len(wv.tokenize(RHYME)) - 1 == 38
    # Each row sums to 1, except the last word's, which nothing follows.
    sums = table.probabilities.sum(axis=1)
    assert np.allclose(sums[[i for i, w in enumerate(table.words) if w != "house"]], 1.0)
    assert sums[table.words.index("house")] == 0.0


def test_vocabulary_orders_by_count_then_word_and_applies_min_count():
    vocab = wv.Vocabulary.build(RHYME, min_count=2)
    assert vocab.words == ["a", "crooked", "he"] and vocab.counts == [7, 7, 2]   # ties: alphabetical
    assert list(vocab.encode("a crooked cat, he said")) == [0, 1, 2]   # unknown words dropped


# -- co-occurrence, PPMI, SVD -------------------------------------------------------------------------------------
def test_cooccurrence_matches_a_brute_force_count(rng):
    ids = rng.integers(0, 7, 300)
    for weighting in ("count", "harmonic"):
        c = wv.cooccurrence(ids, 7, 3, weighting).toarray()
        brute = np.zeros((7, 7))
        for i in range(len(ids)):
            for j in range(len(ids)):
                if 0 < abs(i - j) <= 3:
                    brute[ids[i], ids[j]] += 1.0 if weighting == "count" else 1.0 / abs(i - j)
        assert np.allclose(c, brute) and np.allclose(c, c.T)


def test_ppmi_matches_the_dense_formula(rng):
    c = wv.cooccurrence(rng.integers(0, 9, 500), 9, 2)
    dense = c.toarray()
    for alpha in (1.0, 0.75):
        col = dense.sum(0) ** alpha
        pmi = np.log(dense / dense.sum() / (dense.sum(1, keepdims=True) / dense.sum() * (col / col.sum())[None]))
        expected = np.where(dense > 0, np.maximum(pmi, 0), 0)
        assert np.allclose(wv.ppmi(c, alpha).toarray(), expected)


def test_svd_vectors_are_numpys_singular_vectors(rng):
    m = wv.ppmi(wv.cooccurrence(rng.integers(0, 30, 3000), 30, 2))
    u, s, _ = np.linalg.svd(m.toarray())
    for power in (0.0, 0.5):
        vectors, values = wv.svd_vectors(m, 5, seed=1, power=power)
        assert np.allclose(values, s[:5], rtol=1e-8)
        for k in range(5):   # up to sign, which svd_vectors fixes: the largest entry positive
            col = u[:, k] * np.sign(u[np.argmax(np.abs(u[:, k])), k]) * s[k] ** power
            assert np.allclose(vectors[:, k], col, atol=1e-5)


# -- Huffman tree, hierarchical softmax, negative sampling, subsampling -------------------------------------------
def optimal_code_cost(counts):
    """The expected code length (times the total) of an optimal prefix code: the sum of Huffman's merged weights,
    computed here without building any tree."""
    heap = list(counts)
    heapq.heapify(heap)
    cost = 0
    while len(heap) > 1:
        merged = heapq.heappop(heap) + heapq.heappop(heap)
        cost += merged
        heapq.heappush(heap, merged)
    return cost


@pytest.mark.parametrize("seed", range(4))
def test_huffman_code_lengths_are_those_of_an_optimal_code(seed):
    counts = np.random.default_rng(seed).zipf(1.5, size=200).clip(1, 10 ** 6) if seed else [5, 5, 5, 5, 1]
    codes, paths = wv.huffman_tree(counts)
    assert sum(c * len(code) for c, code in zip(counts, codes)) == optimal_code_cost(counts)
    strings = ["".join(map(str, code)) for code in codes]
    assert all(not b.startswith(a) for a in strings for b in strings if a != b)   # prefix-free
    assert sum(2.0 ** -len(s) for s in strings) == pytest.approx(1.0)           # a full binary tree (Kraft)
    assert all(p[0] == len(counts) - 2 for p in paths)                            # every path starts at the root


def tiny_vocab(n=12):
    return [f"w{i}" for i in range(n)], [100 // (i + 1) + 1 for i in range(n)]


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_hierarchical_softmax_probabilities_sum_to_one_and_give_the_loss(architecture, rng):
    words, counts = tiny_vocab(12)
    model = wv.Word2Vec(vocabulary=words, counts=counts, dim=8, architecture=architecture, objective="hierarchical",
                        window=1)
    model.output_vectors.embeddings.assign(rng.normal(size=(11, 8)).astype(np.float32))
    model.input_vectors.embeddings.assign(rng.normal(size=(12, 8)).astype(np.float32))
    for _ in range(5):
        assert model.hs_probabilities(rng.normal(size=8) * 2).sum() == pytest.approx(1.0, abs=1e-12)
    w_in = model.vectors().astype(np.float64)
    rows = np.array([[3, 7], [0, 11], [5, 5]]) if architecture == "skipgram" else np.array([[3, 7, -1], [0, 11, 2]])
    losses = np.asarray(model.row_losses(tf.constant(rows)))
    for row, loss in zip(rows, losses):
        if architecture == "skipgram":
            h, target = w_in[row[0]], row[1]
        else:
            h, target = w_in[[c for c in row[1:] if c >= 0]].mean(0), row[0]
        assert loss == pytest.approx(-np.log(model.hs_probabilities(h)[target]), rel=1e-4)


def test_negative_sampling_loss_is_the_formula_and_skips_negatives_equal_to_the_target(rng):
    words, counts = tiny_vocab(10)
    model = wv.Word2Vec(vocabulary=words, counts=counts, dim=6, negatives=3, window=1)
    model.output_vectors.embeddings.assign(rng.normal(size=(10, 6)).astype(np.float32))
    w_in, w_out = model.vectors().astype(np.float64), np.asarray(model.output_vectors.embeddings, np.float64)
    rows = np.array([[1, 2, 4, 5, 6], [3, 0, 0, 9, 8]])   # the second row draws its own target as a negative
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    expected = [-np.log(sig(w_in[c] @ w_out[o])) - sum(np.log(sig(-w_in[c] @ w_out[n])) for n in negs if n != o)
                for c, o, *negs in rows]
    assert np.allclose(np.asarray(model.row_losses(tf.constant(rows))), expected, rtol=1e-5)


def test_unigram_table_draws_words_in_proportion_to_count_to_the_three_quarters():
    counts = [1000, 300, 50, 7, 1]
    table = wv.unigram_table(counts, size=100_000)
    share = np.bincount(table, minlength=5) / len(table)
    p = np.asarray(counts, float) ** 0.75
    assert np.allclose(share, p / p.sum(), atol=2e-5)


def test_subsampling_keeps_a_word_with_probability_sqrt_t_over_f():
    counts = np.array([9000, 900, 90, 10])
    keep = wv.keep_probabilities(counts, 1e-2)
    assert np.allclose(keep, np.minimum(1, np.sqrt(1e-2 / (counts / counts.sum()))))
    # The pipeline's draws: how often each word survives as a center over 40 epochs.
    ids = np.repeat(np.arange(4), counts)
    np.random.default_rng(0).shuffle(ids)
    make = wv.pair_pipeline(ids, counts, window=1, sample=1e-2, negatives=0)
    survived = np.zeros(4)
    for epoch in range(40):
        rows = make(tf.range(len(ids), dtype=tf.int64), tf.constant([epoch, 0], tf.int64)).numpy()
        # window 1: every surviving center but the stream's two ends makes exactly two pairs
        survived += np.bincount(rows[:, 0], minlength=4) / 2
    assert np.allclose(survived / (40 * counts), keep, atol=0.03)


def test_skipgram_and_cbow_rows_are_the_corpus_windows_when_nothing_is_subsampled(rng):
    ids = rng.integers(0, 9, 200).astype(np.int32)
    counts = np.bincount(ids, minlength=9) + 1
    pos = tf.range(len(ids), dtype=tf.int64)
    rows = wv.pair_pipeline(ids, counts, window=1, sample=0, negatives=0)(pos, tf.constant([0, 0], tf.int64)).numpy()
    brute = [(ids[i], ids[j]) for i in range(len(ids)) for j in (i - 1, i + 1) if 0 <= j < len(ids)]
    assert sorted(map(tuple, rows)) == sorted(brute)
    cbow = wv.pair_pipeline(ids, counts, window=1, sample=0, negatives=2, architecture="cbow")
    rows = cbow(pos, tf.constant([0, 3], tf.int64)).numpy()
    assert rows.shape == (200, 5)
    expected = [(ids[i], ids[i - 1] if i else -1, ids[i + 1] if i + 1 < len(ids) else -1) for i in range(len(ids))]
    assert [tuple(r[:3]) for r in rows] == expected
    # Dynamic windows: with window 3 no pair is further apart than 3, and near pairs are the most frequent.
    rows = wv.pair_pipeline(ids, counts, window=3, sample=0, negatives=0)(pos, tf.constant([1, 0], tf.int64)).numpy()
    assert len(rows) < len(ids) * 6
    again = wv.pair_pipeline(ids, counts, window=3, sample=0, negatives=0)(pos, tf.constant([1, 0], tf.int64)).numpy()
    assert np.array_equal(rows, again)   # a function of the seed pair


# -- training -------------------------------------------------------------------------------------------------------
def topic_corpus(seed=0, sentences=600):
    """Two vocabularies that never share a sentence: vectors should put each topic's words together."""
    rng = np.random.default_rng(seed)
    out = []
    for s in range(sentences):
        topic = "ab"[s % 2]
        out += [f"{topic}{k}" for k in rng.integers(0, 8, 8)]
    return " ".join(out)


def topic_separation(model):
    u = model._unit()
    a = [model.word_id(f"a{k}") for k in range(8)]
    b = [model.word_id(f"b{k}") for k in range(8)]
    within = (np.mean(u[a] @ u[a].T) + np.mean(u[b] @ u[b].T)) / 2
    return within, float(np.mean(u[a] @ u[b].T))


@pytest.mark.parametrize("architecture, objective", [("skipgram", "negative"), ("cbow", "negative"),
                                                     ("skipgram", "hierarchical"), ("cbow", "hierarchical")])
@pytest.mark.slow
def test_word2vec_training_lowers_the_loss_and_separates_topics(architecture, objective):
    text = topic_corpus()
    keras.utils.set_random_seed(0)
    model = wv.Word2Vec.from_text(text, min_count=1, dim=8, architecture=architecture, objective=objective, window=2,
                                  negatives=4, sample=0)
    ids = model.encode_text(text)
    history = training.fit(model, (np.arange(len(ids), dtype=np.int64),), None, epochs=4, batch_size=512,
                           learning_rate=0.02, augment=model.pipeline_map(ids, table_size=4096), verbose=0)
    assert history["loss"][-1] < history["loss"][0]
    within, across = topic_separation(model)
    assert within > across + 0.3, (within, across)


def test_svd_vectors_separate_topics():
    model = wv.SVDWordVectors.from_text(topic_corpus(), min_count=1, dim=4, window=2)
    model.fit_text(topic_corpus())
    within, across = topic_separation(model)
    assert within > across + 0.3


# -- the lookup API ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def random_model():
    words = [f"word{i}" for i in range(40)] + ["king", "queen", "kings"]
    model = wv.Word2Vec(vocabulary=words, counts=list(range(100, 57, -1)), dim=5, window=2)
    model.input_vectors.embeddings.assign(np.random.default_rng(3).normal(size=(43, 5)).astype(np.float32))
    return model


def test_most_similar_analogy_and_similarity_match_numpy(random_model):
    m = random_model
    v = m.vectors().astype(np.float64)
    u = v / np.linalg.norm(v, axis=1, keepdims=True)
    sims = u @ u[m.word_id("king")]
    order = [i for i in np.argsort(-sims) if i != m.word_id("king")][:7]
    assert [w for w, _ in m.most_similar("king", topn=7)] == [m.words[i] for i in order]
    assert np.allclose([c for _, c in m.most_similar("king", topn=7)], sims[order])
    # a vector query keeps every word, the one it came from first
    assert m.most_similar(m.vector("queen"), topn=1)[0][0] == "queen"
    assert m.similarity("king", "queen") == pytest.approx(float(u[m.word_id("king")] @ u[m.word_id("queen")]))
    target = u[m.word_id("queen")] - u[m.word_id("king")] + u[m.word_id("word3")]
    scores = u @ (target / np.linalg.norm(target))
    scores[[m.word_id(w) for w in ("king", "queen", "word3")]] = -np.inf
    assert m.analogy("king", "queen", "word3", topn=3)[0] == (m.words[int(np.argmax(scores))], pytest.approx(scores.max()))
    assert np.array_equal(m.vector("KING"), v[m.word_id("king")].astype(np.float32))   # case falls back to lowercase


def test_unknown_word_names_close_matches(random_model):
    with pytest.raises(ZooError, match=r"'kingz' is not in .* vocabulary of 43 words .*close matches: king"):
        random_model.most_similar("kingz")
    with pytest.raises(ZooError, match="no close matches"):
        random_model.vector("xylophone")


def test_projector_files_hold_the_vectors_and_words(random_model, tmp_path):
    vec_path, meta_path = random_model.write_projector(tmp_path / "proj")
    vectors = np.loadtxt(vec_path, delimiter="\t")
    assert np.allclose(vectors, random_model.vectors(), rtol=1e-5, atol=1e-6)
    lines = meta_path.read_text().splitlines()
    assert lines[0] == "word\tcount" and [line.split("\t")[0] for line in lines[1:]] == random_model.words


def test_save_load_round_trip_is_exact_and_keras_native(random_model, tmp_path):
    for model in (random_model, wv.SVDWordVectors.from_text(topic_corpus(), min_count=1, dim=4, window=2)):
        folder = tmp_path / type(model).__name__
        registry.save_model(model, folder, {"name": "word2vec_shakespeare"})
        loaded = zoo.load(folder)
        assert type(loaded) is type(model) and loaded.words == model.words
        assert np.array_equal(loaded.vectors(), model.vectors())
        ids = np.arange(len(model.words), dtype=np.int32)
        assert np.array_equal(loaded.predict(ids, verbose=0), model.vectors())
        assert loaded.most_similar(model.words[0], 3) == model.most_similar(model.words[0], 3)
    hs = wv.Word2Vec(vocabulary=tiny_vocab()[0], counts=tiny_vocab()[1], dim=4, objective="hierarchical", window=1)
    registry.save_model(hs, tmp_path / "hs")
    assert np.array_equal(np.asarray(zoo.load(tmp_path / "hs").path_nodes), np.asarray(hs.path_nodes))


def test_export_part_is_the_embedding_lookup(random_model):
    part = wv.export_parts(random_model, None)["embedding"]
    ids = part.inputs(64, 0)[0]
    assert ids.dtype == np.int32 and ids.max() < 43
    assert np.array_equal(np.asarray(part.model(ids)["vector"]), random_model.vectors()[ids])
    metric = part.metric(lambda arrays: [random_model.vectors()[arrays[0]]])
    assert metric["relative_diff"] == 0 or np.isnan(metric["keras"])


def test_projection_picture_captions_the_queries_first_and_no_two_captions_overlap(random_model):
    fig = wv.pictures(random_model, None)["projection.png"]
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    # every word is a point; the query word present ("king") and its neighbours are captioned first
    assert len(ax.collections[0].get_offsets()) == len(random_model.words)
    near = [w for w, _ in random_model.most_similar("king", 5)]
    assert texts[0] == "king" and ax.texts[0].get_fontweight() == "bold"
    captioned_near = [w for w in near if w in texts]
    assert len(captioned_near) >= 3 and texts[1:1 + len(captioned_near)] == captioned_near, texts
    assert len(set(texts)) == len(texts) and set(texts) <= set(random_model.words)
    assert any(t in texts for t in random_model.words[:5])  # then the most frequent words, while they fit
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), "two captions overlap"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "king and its 5 nearest" in legend


# -- bad input ---------------------------------------------------------------------------------------------------
BAD = [
    ("empty corpus", lambda: wv.Word2Vec.from_text("  ,;  \n", min_count=1), "the corpus is empty"),
    ("no text at all", lambda: wv.Vocabulary.build(""), "the corpus is empty"),
    ("shorter than the window", lambda: wv.cooccurrence(np.arange(3), 3, 5), "not more than the window of 5"),
    ("pipeline on a short corpus", lambda: wv.pair_pipeline([0, 1], [1, 1], window=4), "not more than the window"),
    ("min_count removes every word", lambda: wv.Vocabulary.build(RHYME, min_count=8),
     r"min_count=8 removes every word: the most frequent word, 'a', occurs 7 times"),
    ("bytes that are not UTF-8", lambda: wv.tokenize(b"\xff\xfe\x00k\x89PNG"), "not UTF-8 text .*offset 0"),
    ("binary that decodes", lambda: wv.Vocabulary.build(b"abc\x00\x00\x01def"), "NUL characters: binary data"),
    ("not text", lambda: wv.tokenize(12345), "must be text"),
    ("svd dim too large", lambda: wv.SVDWordVectors.from_text(RHYME, min_count=1, dim=40), "dim=40 needs a vocab"),
    ("unknown objective", lambda: wv.Word2Vec.from_text(RHYME, min_count=1, objective="softmax"), "objective"),
    ("negative without negatives", lambda: wv.Word2Vec.from_text(RHYME, min_count=1, negatives=0), "negatives >= 1"),
    ("one-word vocabulary", lambda: wv.Word2Vec.from_text("a a a a", min_count=1), "at least 2 entries"),
]


@pytest.mark.parametrize("make, message", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_gets_one_clear_line(make, message):
    with pytest.raises(ZooError, match=message) as e:
        make()
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("call, message", [
    (lambda m: m.most_similar("king", topn=0), "topn must be an integer >= 1"),
    (lambda m: m.most_similar(np.ones(4)), r"a vector of shape \(5,\)"),
    (lambda m: m.most_similar(np.full(5, np.nan)), "NaN"),
    (lambda m: m.most_similar(np.zeros(5)), "zero"),
    (lambda m: m.similarity("king", 3), "expected a word"),
    (lambda m: m.analogy("king", "queen", "prince"), "'prince' is not in"),
], ids=["topn 0", "vector shape", "vector nan", "zero vector", "not a word", "unknown analogy word"])
def test_bad_queries_get_one_clear_line(random_model, call, message):
    with pytest.raises(ZooError, match=message):
        call(random_model)


# -- CLI and a killed run ---------------------------------------------------------------------------------------
def small_shakespeare(folder, chars=60_000):
    text = (Path(zoo.data.data_dir() or ROOT.parent / "shared" / "data") / "tinyshakespeare.txt").read_text()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tinyshakespeare.txt").write_text(text[:chars])
    return folder


@pytest.mark.slow
def test_cli_neighbours_analogy_projector_and_an_unknown_word(random_model, tmp_path):
    folder = tmp_path / "model"
    registry.save_model(random_model, folder, {"name": "word2vec_shakespeare"})
    code, out, err = run_zoo_here("neighbours", folder, "king", "--topn", "3")
    assert code == 0, err
    assert [line.split()[0] for line in out.splitlines()[1:]] == [w for w, _ in random_model.most_similar("king", 3)]
    code, out, err = run_zoo_here("neighbours", folder, "king", "queen", "word1", "--topn", "1")
    assert code == 0 and out.split()[-2] == random_model.analogy("king", "queen", "word1", 1)[0][0]
    code, out, err = run_zoo_here("neighbours", folder, "kingz")
    assert code == 1 and user_lines(err) == [user_lines(err)[0]] and "close matches: king" in err
    code, out, err = run_zoo_here("projector", folder, "--out", tmp_path / "proj")
    assert code == 0 and (tmp_path / "proj" / "metadata.tsv").is_file()


@pytest.mark.slow
def test_shipped_models_answer_the_cli_and_reproduce_their_cards():
    shipped = [n for n in ("word2vec_shakespeare", "svd_shakespeare")
               if (registry.saved_models_dir() / n / "model.keras").is_file()]
    if not shipped:
        pytest.skip("no shipped word-vector models")
    for name in shipped:
        model, card = zoo.load(name), zoo.model_card(name)
        pairs = wv.relatedness_pairs(model.words, model.counts)
        assert round(wv.relatedness_mrr(model.words, model.vectors(), pairs), 4) == card["metrics"]["relatedness_mrr"]
    code, out, err = run_zoo_here("neighbours", shipped[0], "king")
    assert code == 0 and len(out.splitlines()) == 11, err


def _train_command(out):
    return [sys.executable, "-m", "zoo", "train", "word2vec_shakespeare", "--set", "dim=16", "--set", "min_count=2",
            "--epochs", "4", "--batch-size", "128", "--seed", "3", "--verbose", "2", "--out", str(out)]


@pytest.mark.slow
def test_sigkill_mid_training_then_the_same_command_gives_bit_identical_weights(tmp_path):
    env = zoo_env(ZOO_DATA_DIR=small_shakespeare(tmp_path / "data"), ZOO_RUNS_DIR=tmp_path / "runs",
                  ZOO_MODELS_DIR=tmp_path / "models")
    run = kill_then_resume(_train_command, tmp_path, env, first_epoch_line="Epoch 1/4", timeout=240, settle=0.2)
    assert run.cards[0]["metrics"] == run.cards[1]["metrics"]


def test_shipped_int8_embedding_gives_the_models_vectors_and_relatedness():
    path = registry.saved_models_dir() / "word2vec_shakespeare" / "exports" / "embedding_int8.tflite"
    if not path.is_file():
        pytest.skip("no shipped int8 embedding")
    from ai_edge_litert.interpreter import Interpreter

    model = zoo.load("word2vec_shakespeare")
    interpreter = Interpreter(model_path=str(path))
    # a plain gather (RowLookup): no int32 SELECT_V2 wrapping negative ids, which TensorFlow Lite Micro lacks
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert "SELECT_V2" not in ops and "GATHER" in ops, ops
    runner = interpreter.get_signature_runner()
    vectors = runner(word_id=np.arange(len(model.words), dtype=np.int32))["vector"]
    assert vectors.shape == model.vectors().shape
    # One int8 step of a symmetric scale over the table; the converter clips its few most extreme values (one
    # row here) to a narrower range, so almost every row, not all, is within a step.
    step = np.abs(model.vectors()).max() / 127
    assert np.mean(np.abs(vectors - model.vectors()).max(axis=1) <= step) > 0.999
    pairs = wv.relatedness_pairs(model.words, model.counts)
    keras_mrr = wv.relatedness_mrr(model.words, model.vectors(), pairs)
    assert abs(wv.relatedness_mrr(model.words, vectors, pairs) - keras_mrr) / keras_mrr < 0.05
