"""Word vectors: next-word counts, a windowed co-occurrence matrix with truncated SVD, and word2vec (skip-gram
and CBOW, each with negative sampling or a hierarchical softmax over a Huffman tree), all on one tokenizer and
one vocabulary.

- `tokenize(text)`: lowercase words, punctuation removed (apostrophes inside a word kept: "o'er", "i'll").
- `Vocabulary.build(tokens, min_count)`: words ordered by count, then alphabetically.
- `next_word_table(text)`: the 1-gram (next-word) table as counts and as row-normalized probabilities.
- `cooccurrence(ids, V, window)`: a symmetric scipy.sparse matrix; `ppmi(C)`; `svd_vectors(M, dim)` (scipy's
  ARPACK `svds`, seeded) gives the rows of U (times S**power).
- `Word2Vec`: W (input vectors) and W' (output vectors: one per word for negative sampling, one per internal
  Huffman node for the hierarchical softmax); u_j = v'_j . h. Training pairs come from a tf.data pipeline
  keyed on (seed, epoch, batch): subsampling (a word is dropped with probability 1 - sqrt(t / f(w))), a
  dynamic window, and negatives from a unigram^0.75 table, so a killed run resumes bit-identically.
- Both models answer `vector`, `most_similar`, `analogy`, `similarity` and write TensorBoard projector files.
"""

import collections
import dataclasses
import difflib
import heapq
import re
from pathlib import Path

import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import tensorflow as tf
import keras

from zoo import checks, figures, io
from zoo import data as zdata
from zoo.base import ExportPart, metric_report, ZooModel
from zoo.errors import ZooError

FAMILY = "wordvec"
ARCHITECTURES = ("skipgram", "cbow")
OBJECTIVES = ("negative", "hierarchical")
MAX_VOCABULARY = 200_000
MAX_WINDOW = 50
MAX_NEGATIVES = 100
UNIGRAM_POWER = 0.75
TABLE_SIZE = 1 << 20

# Apostrophes inside a word belong to it; every other non-letter, non-digit character separates words.
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


# -- text ---------------------------------------------------------------------------------------------------------
def as_text(text, what="corpus"):
    """str, or UTF-8 bytes decoded; anything else (binary data, other types) is refused in one line."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        raw = bytes(text)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ZooError(f"{what}: these bytes are not UTF-8 text (byte 0x{raw[e.start]:02x} at offset "
                           f"{e.start}); pass a str or UTF-8 encoded text") from None
    if not isinstance(text, str):
        raise ZooError(f"{what} must be text (a str or UTF-8 bytes), got {type(text).__name__}")
    # NUL never occurs in text but fills binary files, many of which happen to decode as UTF-8.
    if "\x00" in text:
        raise ZooError(f"{what} contains NUL characters: binary data, not text")
    return text


def tokenize(text):
    """Lowercase words with punctuation removed."""
    return _TOKEN.findall(as_text(text).lower())


def _tokens(text_or_tokens, what="corpus"):
    if isinstance(text_or_tokens, (list, tuple)):
        if not all(isinstance(t, str) for t in text_or_tokens):
            raise ZooError(f"{what}: a token list must hold str only")
        return list(text_or_tokens)
    return tokenize(as_text(text_or_tokens, what))


@dataclasses.dataclass
class Vocabulary:
    words: list
    counts: list

    def __post_init__(self):
        self.index = {w: i for i, w in enumerate(self.words)}

    def __len__(self):
        return len(self.words)

    @classmethod
    def build(cls, text_or_tokens, min_count=1, max_size=MAX_VOCABULARY):
        min_count = checks.count(min_count, "min_count", 1)
        tokens = _tokens(text_or_tokens)
        if not tokens:
            raise ZooError("the corpus is empty: it holds no words")
        counted = collections.Counter(tokens)
        kept = sorted(((w, c) for w, c in counted.items() if c >= min_count), key=lambda wc: (-wc[1], wc[0]))
        if not kept:
            top, n = counted.most_common(1)[0]
            raise ZooError(f"min_count={min_count} removes every word: the most frequent word, {top!r}, occurs "
                           f"{n} time{'s' if n != 1 else ''} in {len(tokens):,} words")
        if len(kept) > max_size:
            raise ZooError(f"the vocabulary has {len(kept):,} words at min_count={min_count}, above the limit of "
                           f"{max_size:,}; raise min_count")
        return cls([w for w, _ in kept], [int(c) for _, c in kept])

    def encode(self, text_or_tokens):
        """Word ids of the words in the vocabulary; the others are dropped, as word2vec drops them."""
        return np.array([self.index[t] for t in _tokens(text_or_tokens) if t in self.index], np.int32)


# -- the next-word (1-gram) table ---------------------------------------------------------------------------------
@dataclasses.dataclass
class NextWordTable:
    """counts[i, j]: how often word j follows word i; probabilities: each row divided by its sum (a word that
    is never followed, the text's last word when it occurs only there, keeps a row of zeros)."""
    words: list
    counts: np.ndarray
    probabilities: np.ndarray

    def count(self, word, following):
        return int(self.counts[self.words.index(word), self.words.index(following)])

    def probability(self, word, following):
        return float(self.probabilities[self.words.index(word), self.words.index(following)])

    def rows(self):
        """{word: {next word: (count, probability)}} over the non-zero cells."""
        return {w: {self.words[j]: (int(self.counts[i, j]), float(self.probabilities[i, j]))
                    for j in np.flatnonzero(self.counts[i])} for i, w in enumerate(self.words)}


def next_word_table(text_or_tokens):
    """The next-word table of a text; words in order of first appearance."""
    tokens = _tokens(text_or_tokens)
    if len(tokens) < 2:
        raise ZooError(f"a next-word table needs at least 2 words; the corpus has {len(tokens)}")
    words = list(dict.fromkeys(tokens))
    index = {w: i for i, w in enumerate(words)}
    ids = np.array([index[t] for t in tokens])
    counts = np.zeros((len(words), len(words)), np.int64)
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
    totals = counts.sum(axis=1, keepdims=True)
    probs = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    return NextWordTable(words, counts, probs)


# -- co-occurrence and SVD --------------------------------------------------------------------------------------
def _check_window(window, n_words):
    window = checks.count(window, "window", 1, MAX_WINDOW)
    if n_words <= window:
        raise ZooError(f"the corpus has {n_words} word{'s' if n_words != 1 else ''} in the vocabulary, not more "
                       f"than the window of {window}; give a longer text or a smaller window")
    return window


def cooccurrence(ids, vocab_size, window, weighting="count"):
    """C[i, j] = how often j occurs within `window` words of i (both sides), as a symmetric CSR matrix.
    weighting "harmonic" counts a pair at distance d as 1/d (GloVe's weighting)."""
    ids = np.asarray(ids, np.int64)
    window = _check_window(window, len(ids))
    checks.one_of(weighting, ("count", "harmonic"), "weighting")
    rows, cols, vals = [], [], []
    for d in range(1, window + 1):
        a, b = ids[:-d], ids[d:]
        w = np.full(len(a), 1.0 if weighting == "count" else 1.0 / d)
        rows += [a, b]
        cols += [b, a]
        vals += [w, w]
    c = scipy.sparse.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                shape=(vocab_size, vocab_size)).tocsr()
    c.sum_duplicates()
    return c


def ppmi(c, context_power=1.0):
    """Positive pointwise mutual information max(0, log P(i, j) / (P(i) P_a(j))) of a co-occurrence matrix,
    sparse; P_a smooths the context distribution with counts**context_power (Levy et al. use 0.75)."""
    c = scipy.sparse.coo_matrix(c, dtype=np.float64)
    total = c.sum()
    row = np.asarray(c.sum(axis=1)).ravel()
    col = np.asarray(c.sum(axis=0)).ravel() ** context_power
    pmi = np.log(c.data * total / (row[c.row] * col[c.col] / col.sum() * total))
    keep = pmi > 0
    return scipy.sparse.csr_matrix((pmi[keep], (c.row[keep], c.col[keep])), shape=c.shape)


def svd_vectors(m, dim, seed=0, power=0.0):
    """The top-`dim` left singular vectors of m (scipy's ARPACK svds, seeded start vector) scaled by the
    singular values**power: rows of U for power 0. Signs fixed so each column's largest entry is positive.
    Returns (vectors (V, dim), singular values, descending)."""
    m = scipy.sparse.csr_matrix(m, dtype=np.float64)
    dim = checks.count(dim, "dim", 1)
    if dim >= min(m.shape):
        raise ZooError(f"dim={dim} needs a vocabulary of more than {dim} words; this one has {min(m.shape)}")
    v0 = np.random.default_rng(seed).standard_normal(min(m.shape))
    u, s, _ = scipy.sparse.linalg.svds(m, k=dim, v0=v0, solver="arpack")
    order = np.argsort(-s)
    u, s = u[:, order], s[order]
    signs = np.sign(u[np.argmax(np.abs(u), axis=0), np.arange(dim)])
    u = u * np.where(signs == 0, 1, signs)
    return (u * s ** power).astype(np.float32), s


# -- word2vec's trees and tables --------------------------------------------------------------------------------
def huffman_tree(counts):
    """A Huffman tree over the words' counts: for each word its code (bits from the root) and the internal
    nodes on its path (0..V-2, the root last created, V-2). Ties break on creation order, so the tree is a
    function of the counts."""
    counts = [int(c) for c in counts]
    v = len(counts)
    if v < 2:
        raise ZooError(f"a hierarchical softmax needs at least 2 words in the vocabulary; it has {v}")
    heap = [(c, i, i) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    parent, bit = {}, {}
    order = v
    for k in range(v - 1):
        c1, _, a = heapq.heappop(heap)
        c2, _, b = heapq.heappop(heap)
        node = v + k
        parent[a], bit[a] = node, 0
        parent[b], bit[b] = node, 1
        heapq.heappush(heap, (c1 + c2, order, node))
        order += 1
    codes, paths = [], []
    for w in range(v):
        code, path, n = [], [], w
        while n in parent:
            code.append(bit[n])
            path.append(parent[n] - v)
            n = parent[n]
        codes.append(code[::-1])
        paths.append(path[::-1])
    return codes, paths


def padded_paths(codes, paths):
    """(nodes (V, L) int32, signs (V, L) float32): sign +1 for bit 0, -1 for bit 1, 0 past the code's end."""
    depth = max(len(c) for c in codes)
    nodes = np.zeros((len(codes), depth), np.int32)
    signs = np.zeros((len(codes), depth), np.float32)
    for w, (code, path) in enumerate(zip(codes, paths)):
        nodes[w, :len(path)] = path
        signs[w, :len(code)] = 1.0 - 2.0 * np.asarray(code, np.float32)
    return nodes, signs


def unigram_table(counts, size=TABLE_SIZE, power=UNIGRAM_POWER):
    """word2vec's negative-sampling table: word w fills about size * P(w) slots, P(w) ∝ count**power, so a
    uniform slot is a draw from P."""
    p = np.asarray(counts, np.float64) ** power
    cdf = np.cumsum(p / p.sum())
    return np.minimum(np.searchsorted(cdf, (np.arange(size) + 0.5) / size), len(p) - 1).astype(np.int32)


def keep_probabilities(counts, sample):
    """Subsampling: a word with frequency f is kept with probability min(1, sqrt(t / f)), i.e. discarded with
    probability 1 - sqrt(t / f); sample=0 keeps every word."""
    counts = np.asarray(counts, np.float64)
    if not sample:
        return np.ones(len(counts), np.float32)
    return np.minimum(1.0, np.sqrt(sample / (counts / counts.sum()))).astype(np.float32)


def pair_pipeline(ids, counts, *, window, architecture="skipgram", negatives=5, sample=1e-3, table_size=TABLE_SIZE):
    """The map that turns a batch of corpus positions into training examples, as a stateless function of the
    seed pair (seed*7919 + epoch, batch) zoo.data.pipeline hands it:

    - subsampling: one keep/drop draw per corpus position per epoch (keyed on the epoch only, so every batch of
      an epoch sees the same subsampled stream), and dropped words are removed before windowing;
    - a dynamic window b ~ U{1..window} per center (word2vec's weighting of near words);
    - skip-gram: rows [center, context, k negatives]; CBOW: rows [center, 2*window context slots (-1 empty),
      k negatives]; negatives are slots of the unigram^0.75 table.
    """
    ids = np.asarray(ids, np.int32)
    n = len(ids)
    window = _check_window(window, n)
    checks.one_of(architecture, ARCHITECTURES, "architecture")
    corpus = tf.constant(ids)
    keep = tf.constant(keep_probabilities(counts, sample))
    table = tf.constant(unigram_table(counts, table_size)) if negatives else None
    offsets = tf.constant(np.r_[np.arange(-window, 0), np.arange(1, window + 1)].astype(np.int32))

    def make(positions, seed):
        seed = tf.cast(seed, tf.int64)
        kept = tf.random.stateless_uniform([n], seed=tf.stack([seed[0], tf.constant(-1, tf.int64)])) \
            < tf.gather(keep, corpus)
        rank = tf.cumsum(tf.cast(kept, tf.int32)) - 1
        stream = tf.boolean_mask(corpus, kept)
        m = tf.size(stream)
        positions = tf.boolean_mask(positions, tf.gather(kept, positions))
        r = tf.gather(rank, positions)
        centers = tf.gather(stream, r)
        b = tf.random.stateless_uniform(tf.shape(r), seed=tf.stack([seed[0], 2 * seed[1]]), minval=1,
                                        maxval=window + 1, dtype=tf.int32)
        at = r[:, None] + offsets[None, :]
        valid = (tf.abs(offsets)[None, :] <= b[:, None]) & (at >= 0) & (at < m)
        context = tf.where(valid, tf.gather(stream, tf.clip_by_value(at, 0, tf.maximum(m - 1, 0))), -1)
        if architecture == "skipgram":
            rows = tf.stack([tf.boolean_mask(tf.broadcast_to(centers[:, None], tf.shape(context)), valid),
                             tf.boolean_mask(context, valid)], axis=1)
        else:
            has = tf.reduce_any(valid, axis=1)
            rows = tf.concat([tf.boolean_mask(centers, has)[:, None], tf.boolean_mask(context, has)], axis=1)
        if negatives:
            slots = tf.random.stateless_uniform([tf.shape(rows)[0], negatives],
                                                seed=tf.stack([seed[0], 2 * seed[1] + 1]),
                                                minval=0, maxval=table_size, dtype=tf.int32)
            rows = tf.concat([rows, tf.gather(table, slots)], axis=1)
        return rows

    return make


# -- the models --------------------------------------------------------------------------------------------------
class WordVectors(ZooModel):
    """What every word-vector model offers: a vocabulary (config `vocabulary` and `counts`), an input
    embedding `self.input_vectors` (V, dim), and the lookups. `model(ids)` maps word ids to vectors."""

    family = FAMILY
    predict_batch_size = 8192
    input_kind = "ids"

    @property
    def vocab_size(self):
        return len(self.words)

    def _set_vocabulary(self, vocabulary, counts, dim):
        if vocabulary is None or counts is None:
            raise ZooError("a word-vector model needs its vocabulary: build it with zoo.create_model (which reads the "
                           "training text) or from_text(text, ...)")
        if isinstance(vocabulary, str) or not all(isinstance(w, str) for w in vocabulary):
            raise ZooError("vocabulary must be a list of words (str)")
        if len(vocabulary) != len(counts) or len(vocabulary) < 2:
            raise ZooError(f"vocabulary and counts must be equally long lists of at least 2 entries, got "
                           f"{len(vocabulary)} words and {len(counts)} counts")
        if len(set(vocabulary)) != len(vocabulary):
            raise ZooError("vocabulary holds a word twice")
        counts = [checks.count(c, "counts entries", 1) for c in counts]
        self.words = list(vocabulary)
        self.counts = np.asarray(counts, np.int64)
        self.index = {w: i for i, w in enumerate(self.words)}
        self.dim = checks.count(dim, "dim", 1, 4096)
        return self.words, counts

    @classmethod
    def parameter_count(cls, config):
        v = len(config.get("vocabulary") or [])
        return v * int(config.get("dim", 100)) * (2 if cls is Word2Vec else 1)

    @classmethod
    def from_text(cls, text, min_count=5, **config):
        vocab = Vocabulary.build(text, min_count)
        return cls(vocabulary=vocab.words, counts=vocab.counts, min_count=min_count, **config)

    def call(self, ids, training=False):
        return self.input_vectors(tf.cast(ids, tf.int32))

    # -- lookups -------------------------------------------------------------------------------------------------
    def word_id(self, word):
        if not isinstance(word, str):
            raise ZooError(f"expected a word (str), got {type(word).__name__}")
        if word in self.index:
            return self.index[word]
        if word.lower() in self.index:
            return self.index[word.lower()]
        close = difflib.get_close_matches(word.lower(), self.words, n=5, cutoff=0.6)
        hint = f"; close matches: {', '.join(close)}" if close else "; no close matches"
        raise ZooError(f"{word!r} is not in {self.name}'s vocabulary of {len(self.words):,} words (min_count="
                       f"{self._config.get('min_count')}){hint}")

    def encode_text(self, text):
        return Vocabulary(self.words, list(self.counts)).encode(text)

    def vectors(self):
        return np.asarray(self.input_vectors.embeddings, np.float32)

    def vector(self, word):
        return self.vectors()[self.word_id(word)].copy()

    def _unit(self):
        v = self.vectors().astype(np.float64)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    def _query(self, word_or_vector):
        if isinstance(word_or_vector, str):
            i = self.word_id(word_or_vector)
            return self._unit()[i], {i}
        v = checks.finite(np.asarray(word_or_vector, np.float64), "vector") if not isinstance(word_or_vector, (
            bytes, dict)) else None
        if v is None or v.shape != (self.dim,):
            raise ZooError(f"expected a word or a vector of shape ({self.dim},), got "
                           f"{getattr(v, 'shape', type(word_or_vector).__name__)}")
        # scaled by its largest |component| before the norm: the squares of 1e200 overflow to inf (every cosine
        # 0.0) and those of 1e-200 underflow to 0, where the direction is all a cosine ranking needs
        scale = np.max(np.abs(v))
        if scale == 0:
            raise ZooError("the query vector is zero: it has no direction")
        v = v / scale
        return v / np.linalg.norm(v), set()

    def _ranked(self, query, exclude, topn):
        topn = checks.count(topn, "topn", 1, len(self.words))
        sims = self._unit() @ query
        sims[list(exclude)] = -np.inf
        best = np.argsort(-sims, kind="stable")[:topn]
        return [(self.words[i], float(sims[i])) for i in best if np.isfinite(sims[i])]

    def most_similar(self, word_or_vector, topn=10):
        """The topn words nearest by cosine, [(word, cosine)], best first (a query word itself left out)."""
        query, exclude = self._query(word_or_vector)
        return self._ranked(query, exclude, topn)

    def similarity(self, word1, word2):
        u = self._unit()
        return float(u[self.word_id(word1)] @ u[self.word_id(word2)])

    def analogy(self, a, b, c, topn=5):
        """a is to b as c is to ?: the words nearest b - a + c (unit vectors, 3CosAdd), a, b and c left out."""
        u = self._unit()
        i, j, k = self.word_id(a), self.word_id(b), self.word_id(c)
        target = u[j] - u[i] + u[k]
        norm = np.linalg.norm(target)
        return self._ranked(target / max(norm, 1e-12), {i, j, k}, topn)

    def write_projector(self, folder):
        """vectors.tsv (one vector a line) and metadata.tsv (word and count, with a header) for TensorBoard's
        embedding projector; returns the two paths."""
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise ZooError(f"{folder} is a file; expected a folder for vectors.tsv and metadata.tsv")
        vec = "".join("\t".join(f"{x:.6g}" for x in row) + "\n" for row in self.vectors())
        meta = "word\tcount\n" + "".join(f"{w}\t{c}\n" for w, c in zip(self.words, self.counts))
        paths = folder / "vectors.tsv", folder / "metadata.tsv"
        io.write_bytes_atomic(paths[0], vec.encode("utf-8"))
        io.write_bytes_atomic(paths[1], meta.encode("utf-8"))
        return paths

    def test_metrics(self, x, y=None):
        """On a held-out text: the relatedness MRR (pairs from the training vocabulary) and the share of the
        text's words outside the vocabulary."""
        tokens = tokenize(x)
        oov = sum(t not in self.index for t in tokens) / max(len(tokens), 1)
        pairs = relatedness_pairs(self.words, self.counts)
        return {"relatedness_mrr": relatedness_mrr(self.words, self.vectors(), pairs), "relatedness_pairs": len(pairs),
                "test_words": len(tokens), "test_oov_rate": oov}


@keras.saving.register_keras_serializable(package="zoo")
class SVDWordVectors(WordVectors):
    """Rows of U from the truncated SVD of a windowed co-occurrence matrix (optionally PPMI-weighted), times
    S**power; the vectors are the model's one weight. Trained by `fit_text` (no gradient steps)."""

    def __init__(self, vocabulary=None, counts=None, dim=100, window=5, weighting="count", use_ppmi=True,
                 context_power=0.75, power=0.5, min_count=5, seed=0, **kwargs):
        super().__init__(**kwargs)
        words, counts = self._set_vocabulary(vocabulary, counts, dim)
        checks.one_of(weighting, ("count", "harmonic"), "weighting")
        self._config = dict(vocabulary=words, counts=counts, dim=self.dim,
                            window=checks.count(window, "window", 1, MAX_WINDOW), weighting=weighting,
                            use_ppmi=bool(use_ppmi), context_power=checks.number(context_power, "context_power", 0, 1),
                            power=checks.number(power, "power", 0, 1), min_count=checks.count(min_count, "min_count"),
                            seed=checks.count(seed, "seed", 0))
        type(self).check_budget(self._config)
        if self.dim >= len(words):
            raise ZooError(f"dim={self.dim} needs a vocabulary of more than {self.dim} words; this one has {len(words)}")
        self.input_vectors = keras.layers.Embedding(len(words), self.dim, trainable=False, name="vectors")
        self.finish(np.zeros((1,), np.int32))

    def fit_text(self, text):
        """Count, weight, decompose; returns the top singular values."""
        c = self._config
        ids = self.encode_text(text)
        m = cooccurrence(ids, len(self.words), c["window"], c["weighting"])
        if c["use_ppmi"]:
            m = ppmi(m, c["context_power"])
        vectors, s = svd_vectors(m, self.dim, seed=c["seed"], power=c["power"])
        self.input_vectors.embeddings.assign(vectors)
        return s


@keras.saving.register_keras_serializable(package="zoo")
class Word2Vec(WordVectors):
    """word2vec in Keras: skip-gram or CBOW, negative sampling or hierarchical softmax.

    W = `input_vectors` (V, dim), uniform in ±0.5/dim as in word2vec.c; W' = `output_vectors`, zeros: one row
    per word for negative sampling, one per internal node of the Huffman tree (V - 1) for the hierarchical
    softmax. A training row is made by `pair_pipeline`; the loss per row is -log σ(v'_o · h) - Σ_k log σ(-v'_k · h)
    (negatives equal to the target left out), or -Σ_j log σ(sign_j v'_{n_j} · h) along the target's Huffman path;
    h = v_center (skip-gram) or the mean of the context's vectors (CBOW).
    """

    def check_evaluate(self, x, y=None):
        """evaluate takes training rows as pair_pipeline makes them, not the word ids model(x) takes: (N, 2 +
        negatives) for skip-gram, (N, 1 + 2 window + negatives) for CBOW, whose empty context slots hold -1."""
        cbow = self.architecture == "cbow"
        width = (1 + 2 * self.window if cbow else 2) + self.negatives
        rows = checks.model_ids(x, self.vocab_size, "x", rank=2, width=width, low=-1 if cbow else 0,
                                what="word id", layout=f"(N, {width}) (training rows)")
        # an embedding lookup wraps -1 round to the last word: only a context slot may hold it
        if cbow and (rows[:, 0].min() < 0 or (self.negatives and rows[:, -self.negatives:].min() < 0)):
            raise ZooError(f"x: only the context slots of a CBOW training row may hold -1 (empty); the centre "
                           f"and the negatives are word ids in 0..{self.vocab_size - 1}")
        return rows, y

    def __init__(self, vocabulary=None, counts=None, dim=100, architecture="skipgram", objective="negative",
                 window=5, negatives=5, sample=1e-3, min_count=5, seed=0, **kwargs):
        super().__init__(**kwargs)
        words, counts = self._set_vocabulary(vocabulary, counts, dim)
        checks.one_of(architecture, ARCHITECTURES, "architecture")
        checks.one_of(objective, OBJECTIVES, "objective")
        negatives = checks.count(negatives, "negatives", 0, MAX_NEGATIVES)
        if objective == "negative" and negatives < 1:
            raise ZooError("objective='negative' needs negatives >= 1")
        self._config = dict(vocabulary=words, counts=counts, dim=self.dim, architecture=architecture,
                            objective=objective, window=checks.count(window, "window", 1, MAX_WINDOW),
                            negatives=negatives if objective == "negative" else 0,
                            sample=checks.number(sample, "sample", 0.0, 1.0), min_count=checks.count(min_count, "min_count"),
                            seed=checks.count(seed, "seed", 0))
        type(self).check_budget(self._config)
        v, d = len(words), self.dim
        self.architecture, self.objective = architecture, objective
        self.negatives, self.window = self._config["negatives"], self._config["window"]
        self.input_vectors = keras.layers.Embedding(
            v, d, embeddings_initializer=keras.initializers.RandomUniform(-0.5 / d, 0.5 / d, seed=seed),
            name="input_vectors")
        outputs = v if objective == "negative" else v - 1
        self.output_vectors = keras.layers.Embedding(outputs, d, embeddings_initializer="zeros", name="output_vectors")
        self.output_vectors.build((None,))
        if objective == "hierarchical":
            codes, paths = huffman_tree(counts)
            self.codes = codes
            nodes, signs = padded_paths(codes, paths)
            self.path_nodes, self.path_signs = tf.constant(nodes), tf.constant(signs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.finish(np.zeros((1,), np.int32), optimizer=keras.optimizers.Adam(1e-3))

    @property
    def metrics(self):
        return [self.loss_tracker]

    def pipeline_map(self, ids, table_size=TABLE_SIZE):
        c = self._config
        return pair_pipeline(ids, self.counts, window=c["window"], architecture=c["architecture"],
                             negatives=c["negatives"], sample=c["sample"], table_size=table_size)

    def hidden(self, rows):
        """h for each row: v_center (skip-gram) or the mean of the context vectors (CBOW)."""
        if self.architecture == "skipgram":
            return self.input_vectors(rows[:, 0]), rows[:, 1]
        context = rows[:, 1:1 + 2 * self.window]
        mask = tf.cast(context >= 0, tf.float32)
        summed = tf.reduce_sum(self.input_vectors(tf.maximum(context, 0)) * mask[:, :, None], axis=1)
        return summed / tf.maximum(tf.reduce_sum(mask, axis=1, keepdims=True), 1.0), rows[:, 0]

    def row_losses(self, rows):
        """-log p(target | h) per row (for negative sampling, the NS objective instead)."""
        rows = tf.cast(rows, tf.int32)
        h, target = self.hidden(rows)
        if self.objective == "negative":
            negs = rows[:, -self.negatives:]
            out = tf.concat([target[:, None], negs], axis=1)
            logits = tf.reduce_sum(h[:, None, :] * self.output_vectors(out), axis=2)
            signs = tf.concat([tf.ones_like(target[:, None], tf.float32),
                               -tf.cast(tf.not_equal(negs, target[:, None]), tf.float32)], axis=1)
        else:
            logits = tf.reduce_sum(h[:, None, :] * self.output_vectors(tf.gather(self.path_nodes, target)), axis=2)
            signs = tf.gather(self.path_signs, target)
        # softplus(-s x) = -log σ(s x); s = 0 marks a skipped negative or a position past the code's end.
        return tf.reduce_sum(tf.where(signs != 0, tf.nn.softplus(-signs * logits), 0.0), axis=1)

    def train_step(self, data):
        rows, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            per_row = self.row_losses(rows)
            loss = tf.reduce_sum(per_row) / tf.cast(tf.maximum(tf.shape(per_row)[0], 1), tf.float32) / \
                tf.cast(tf.distribute.get_strategy().num_replicas_in_sync, tf.float32)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.loss_tracker.update_state(per_row)
        return self.metric_logs()

    def test_step(self, data):
        rows, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        self.loss_tracker.update_state(self.row_losses(rows))
        return self.metric_logs()

    def hs_probabilities(self, h):
        """p(w | h) for every word under the hierarchical softmax, as float64 numpy (for checking)."""
        if self.objective != "hierarchical":
            raise ZooError("hs_probabilities needs objective='hierarchical'")
        h = np.asarray(h, np.float64)
        w_out = np.asarray(self.output_vectors.embeddings, np.float64)
        nodes, signs = np.asarray(self.path_nodes), np.asarray(self.path_signs, np.float64)
        x = w_out[nodes] @ h
        terms = np.where(signs != 0, 1.0 / (1.0 + np.exp(-signs * x)), 1.0)
        return terms.prod(axis=1)

    def heldout_loss(self, text, seed=0, max_rows=200_000):
        """The training objective on another text's (center, context) rows: no subsampling, a fixed seed."""
        ids = self.encode_text(text)
        make = pair_pipeline(ids, self.counts, window=self.window, architecture=self.architecture,
                             negatives=self.negatives, sample=0)
        rows = make(tf.range(len(ids), dtype=tf.int64), tf.constant([seed, 0], tf.int64))[:max_rows]
        return float(tf.reduce_mean(self.row_losses(rows)))

    def test_metrics(self, x, y=None):
        return {**super().test_metrics(x, y), "test_loss": self.heldout_loss(x)}


# -- relatedness ----------------------------------------------------------------------------------------------
# Pairs that belong together in Shakespeare's English: kin, rank, pronouns in their old and new forms, opposites.
RELATED = [("king", "queen"), ("thee", "thou"), ("father", "son"), ("mother", "daughter"), ("lord", "lady"),
           ("brother", "sister"), ("man", "woman"), ("husband", "wife"), ("day", "night"), ("heaven", "earth"),
           ("sir", "madam"), ("he", "she"), ("his", "her"), ("my", "thy"), ("me", "thee"), ("love", "hate"),
           ("life", "death"), ("duke", "duchess"), ("prince", "princess"), ("boy", "girl"),
           ("master", "mistress"), ("war", "peace"), ("true", "false"), ("sun", "moon"), ("uncle", "nephew"),
           ("brother", "brothers"), ("eyes", "eye"), ("hand", "hands"), ("good", "bad"), ("friend", "friends"),
           ("come", "go"), ("live", "die"), ("speak", "say"), ("god", "heaven"), ("blood", "sword"),
           ("thy", "your"), ("thou", "you"), ("hath", "has"), ("doth", "does"), ("art", "are"), ("rome", "romans"),
           ("york", "lancaster"), ("richard", "edward"), ("tongue", "words"), ("heart", "soul"), ("gentle", "noble"),
           ("kill", "slay"), ("young", "old"), ("fair", "sweet"), ("crown", "throne")]


def relatedness_pairs(words, counts, min_count=10):
    """The RELATED pairs whose two words occur at least min_count times in the training text."""
    have = {w for w, c in zip(words, counts) if c >= min_count}
    return [(a, b) for a, b in RELATED if a in have and b in have]


def relatedness_mrr(words, vectors, pairs):
    """Mean reciprocal rank of b among a's neighbours (cosine over the whole vocabulary, a left out), and of a
    among b's, over the pairs. The same function scores any (words, vectors), so a peer gets the same test."""
    if not pairs:
        return float("nan")
    index = {w: i for i, w in enumerate(words)}
    v = np.asarray(vectors, np.float64)
    u = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    reciprocal = []
    for a, b in pairs:
        for q, t in ((a, b), (b, a)):
            sims = u @ u[index[q]]
            sims[index[q]] = -np.inf
            reciprocal.append(1.0 / (1 + int(np.sum(sims > sims[index[t]]))))
    return float(np.mean(reciprocal))


# -- family hooks ----------------------------------------------------------------------------------------------
def build(config, requires):
    """The preset's builder: the vocabulary of the training split (90% of tinyshakespeare) at the preset's
    min_count, unless the caller passes one."""
    cls = config.pop("class")
    if config.get("vocabulary") is None:
        text = zdata.splits("tinyshakespeare")["train"][0]
        vocab = Vocabulary.build(text, config.get("min_count", 5))
        config = {**config, "vocabulary": vocab.words, "counts": vocab.counts}
    return cls(**config)


def build_word2vec(config, requires):
    return build({**config, "class": Word2Vec}, requires)


def build_svd(config, requires):
    return build({**config, "class": SVDWordVectors}, requires)


def train(model, data, recipe, fit):
    text = data["train"][0]
    if isinstance(model, SVDWordVectors):
        s = model.fit_text(text)
        return {}, {"svd": {"top_singular_values": [round(float(x), 4) for x in s[:10]],
                            "solver": "scipy.sparse.linalg.svds (ARPACK)"}}
    ids = model.encode_text(text)
    positions = np.arange(len(ids), dtype=np.int64)
    history = fit(model, (positions,), None, epochs=recipe["epochs"], batch_size=recipe["batch_size"],
                  learning_rate=recipe["learning_rate"], seed=recipe["seed"], phase="main",
                  lr_schedule=recipe.get("lr_schedule", "constant"), augment=model.pipeline_map(ids))
    return history, {"training_words": int(len(ids)),
                     "batching": f"{recipe['batch_size']} center words per step, every (center, context) pair "
                                 "of their windows in one step"}


# Words whose nearest neighbours the projection marks: common enough in the text to have settled vectors.
PROJECTION_QUERIES = ("king", "love", "death", "night")


def projection(model, n=200, queries=PROJECTION_QUERIES, topn=5, max_labels=None):
    """2-D PCA (scikit-learn) of the n most frequent words' vectors, with each query word and its topn nearest
    neighbours (cosine in the full space) marked in a colour of its own and projected onto the same axes.

    Captions are placed without overlap (figures.scatter_xy): first the queries and their neighbours, then the
    most frequent words in order of frequency while there is room, at most max_labels in all; the other words
    stay small unlabelled points."""
    from sklearn.decomposition import PCA

    n = min(n, len(model.words))
    queries = [q for q in queries if q in model.index]
    near = {q: [w for w, _ in model.most_similar(q, topn)] for q in queries}
    ids = list(range(n))
    for q in queries:
        ids += [model.index[w] for w in [q, *near[q]] if model.index[w] not in ids]
    row = {i: k for k, i in enumerate(ids)}
    vectors = model.vectors().astype(np.float64)
    points = PCA(2, random_state=0).fit(vectors[:n]).transform(vectors[ids])
    groups = {f"{q} and its {topn} nearest": [row[model.index[w]] for w in [q, *near[q]]] for q in queries}
    heads = [g[0] for g in groups.values()]
    # the queries first, then their neighbours, then the rest by frequency
    order = list(dict.fromkeys(heads + [k for g in groups.values() for k in g] + list(range(n))))
    subtitle = (f"bold: query words; coloured: their {topn} nearest neighbours by cosine in all {vectors.shape[1]} "
                f"dimensions\n({len(ids) - n} of them beyond the top {n}); black: the most frequent words that fit "
                "without overlapping" if queries else "captions: the most frequent words that fit without overlapping")
    return figures.scatter_xy(points, labels=[model.words[i] for i in ids], label_order=order, groups=groups,
                              max_labels=max_labels, bold=heads, subtitle=subtitle,
                              xlabel="principal component 1", ylabel="principal component 2",
                              title=f"{model.name}: the {n} most frequent words, PCA of their vectors")


def pictures(model, data):
    return {"projection.png": projection(model)}


def preview(model, data):
    return projection(model)


PROBES = ("king", "thee", "father", "love", "rome", "death", "sword", "night")


def card_metrics(model, data):
    pairs = relatedness_pairs(model.words, model.counts)
    return {"vocabulary_size": len(model.words),
            "relatedness": {"pairs": [list(p) for p in pairs],
                            "note": "RELATED pairs whose words occur >= 10 times in the training split; MRR of each "
                                    "word among the other's neighbours over the whole vocabulary"},
            "neighbours": {w: [[x, round(c, 3)] for x, c in model.most_similar(w, 5)] for w in PROBES
                           if w in model.index}}


@keras.saving.register_keras_serializable(package="zoo")
class RowLookup(keras.layers.Layer):
    """ids -> rows of a (rows, dim) table by a plain gather. Keras' Embedding computes the same for ids in range
    but first wraps negative ids round (an int32 SELECT_V2 in the converted file, which TensorFlow Lite Micro
    lacks); the exported lookup has no negative ids to wrap, so it gathers directly."""

    def __init__(self, rows, dim, **kwargs):
        super().__init__(**kwargs)
        self.rows, self.dim = int(rows), int(dim)

    def build(self, input_shape):
        self.table = self.add_weight(shape=(self.rows, self.dim), initializer="zeros", trainable=False, name="table")

    def call(self, ids):
        return tf.gather(self.table, ids)

    def get_config(self):
        return {**super().get_config(), "rows": self.rows, "dim": self.dim}


def export_parts(model, data):
    """embedding: word id (int32) -> vector, the lookup a device needs (similarity is a dot product after it)."""
    ids = keras.Input((), dtype="int32", name="word_id")
    vectors = model.vectors()
    lookup = RowLookup(*vectors.shape, name="vectors")
    part = keras.Model(ids, {"vector": lookup(ids)}, name="embedding")
    lookup.table.assign(vectors)

    def inputs(n, seed):
        return [np.random.default_rng(seed).integers(0, len(model.words), n).astype(np.int32)]

    def metric(runner):
        exported = runner([np.arange(len(model.words), dtype=np.int32)])[0]
        pairs = relatedness_pairs(model.words, model.counts)
        e, k = relatedness_mrr(model.words, exported, pairs), relatedness_mrr(model.words, model.vectors(), pairs)
        return metric_report("relatedness_mrr", e, k, digits=4, split="vocabulary", pairs=len(pairs),
                             chain="exported embedding")

    return {"embedding": ExportPart(part, inputs, metric, 0.05, "word id -> vector")}


def _neighbours_arguments(parser):
    parser.add_argument("words", nargs="+", help="one word, or three for an analogy: a b c (a is to b as c is to ?)")
    parser.add_argument("--topn", type=int, default=10, help="how many neighbours (default 10)")


def _neighbours_run(model, args, data):
    if len(args.words) == 3:
        found = model.analogy(*args.words, topn=args.topn)
        print(f"{args.words[0]} is to {args.words[1]} as {args.words[2]} is to:")
    elif len(args.words) == 1:
        found = model.most_similar(args.words[0], topn=args.topn)
        print(f"nearest to {args.words[0]!r} in {model.name}:")
    else:
        raise ZooError(f"give one word (neighbours) or three (an analogy), got {len(args.words)}")
    for word, cosine in found:
        print(f"  {word:16s} {cosine:.3f}")


def _projector_arguments(parser):
    parser.add_argument("--out", required=True, help="folder for vectors.tsv and metadata.tsv")


def _projector_run(model, args, data):
    for path in model.write_projector(args.out):
        print(f"wrote {path}")


COMMANDS = {
    "neighbours": {"arguments": _neighbours_arguments, "run": _neighbours_run},
    "projector": {"arguments": _projector_arguments, "run": _projector_run},
}
