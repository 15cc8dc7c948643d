"""Presets of the wordvec family: plain dicts beside the models they configure (keras-hub's *_presets.py), read by
`zoo list`, `zoo info` and `zoo --help` without importing TensorFlow. "class" and "build" name attributes of
zoo.families.wordvec, which the registry imports the first time a model of this family is built or loaded."""

PRESETS = {
    "word2vec_shakespeare": {
        "class": "Word2Vec", "data": "tinyshakespeare", "build": "build_word2vec",
        "description": "word2vec skip-gram with negative sampling (100-d, window 5, 5 negatives, subsampling 1e-3, "
                       "min_count 5) on the training 90% of tinyshakespeare.",
        "config": dict(dim=100, architecture="skipgram", objective="negative", window=5, negatives=5, sample=1e-3,
                       min_count=5),
        "train": dict(epochs=10, batch_size=1024, learning_rate=5e-3),
    },
    "svd_shakespeare": {
        "class": "SVDWordVectors", "data": "tinyshakespeare", "build": "build_svd",
        "description": "Truncated SVD (scipy ARPACK) of the PPMI-weighted co-occurrence matrix (window 5, context "
                       "counts**0.75), rows of U times S**0.5, 100-d, min_count 5, training 90% of tinyshakespeare.",
        "config": dict(dim=100, window=5, weighting="count", use_ppmi=True, context_power=0.75, power=0.5,
                       min_count=5),
        "train": dict(epochs=1),
    },
}

# The family's own commands (`zoo COMMAND NAME ...`) and their help; their arguments and run are in COMMANDS of
# zoo.families.wordvec.
COMMANDS = {
    "neighbours": "nearest words by cosine (one word), or an analogy (three words)",
    "projector": "write vectors.tsv and metadata.tsv for TensorBoard's embedding projector",
}
