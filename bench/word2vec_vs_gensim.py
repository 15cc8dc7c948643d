"""word2vec in the zoo (Keras, tf.data pairs, large-batch steps) against gensim 4.4's optimized C, side by side in
one process: the same corpus (the training 90% of tinyshakespeare, the zoo's tokenizer), dimension, window,
negatives, min_count, sample and epochs; runs alternate (gensim, zoo, gensim, zoo, ...). Prints JSON.

    pip install -r bench/requirements.txt        # gensim==4.4.0
    python bench/word2vec_vs_gensim.py --out bench/results/word2vec_vs_gensim.json

Throughput is in-vocabulary corpus words times epochs over training wall time, the same denominator for both
(gensim's own log counts words left after subsampling). Quality: the mean overlap of each of the 200 most frequent
words' top-10 neighbours between the two models, and both models' mean reciprocal rank on the relatedness pairs
(zoo.families.wordvec.RELATED, the pairs whose words occur >= 10 times in the training text).
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def gensim_run(chunks, vocab, args, seed):
    from gensim.models import Word2Vec as GensimWord2Vec

    model = GensimWord2Vec(vector_size=args.dim, window=args.window, negative=args.negatives, hs=0, sg=1,
                           min_count=args.min_count, sample=args.sample, workers=args.workers, seed=seed,
                           alpha=0.025, min_alpha=0.0001)
    model.build_vocab(chunks)
    start = time.perf_counter()
    model.train(chunks, total_examples=len(chunks), epochs=args.epochs)
    seconds = time.perf_counter() - start
    missing = [w for w in vocab.words if w not in model.wv.key_to_index]
    if missing or len(model.wv.key_to_index) != len(vocab.words):
        raise SystemExit(f"gensim's vocabulary differs from the zoo's: {missing[:5]}")
    return model.wv[vocab.words], seconds


def zoo_run(text, vocab, args, seed):
    import keras

    from zoo import training
    from zoo.families import wordvec as wv

    keras.utils.set_random_seed(seed)
    model = wv.Word2Vec(vocabulary=vocab.words, counts=vocab.counts, dim=args.dim, window=args.window,
                        negatives=args.negatives, sample=args.sample, min_count=args.min_count, seed=seed)
    ids = model.encode_text(text)
    start = time.perf_counter()
    training.fit(model, (np.arange(len(ids), dtype=np.int64),), None, epochs=args.epochs, batch_size=args.batch_size,
                 learning_rate=args.learning_rate, seed=seed, augment=model.pipeline_map(ids), verbose=0)
    return model.vectors(), time.perf_counter() - start


def neighbours(vectors, k=10, first=200):
    u = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    sims = u[:first] @ u.T
    sims[np.arange(first), np.arange(first)] = -np.inf
    return [set(np.argsort(-row, kind="stable")[:k]) for row in sims]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--negatives", type=int, default=5)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--sample", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=1024, help="zoo: center words per step")
    p.add_argument("--learning-rate", type=float, default=5e-3, help="zoo: Adam's rate")
    p.add_argument("--workers", type=int, default=2, help="gensim's threads (the machine has 2 cores)")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--out")
    args = p.parse_args(argv)

    import gensim

    import zoo
    from zoo.families import wordvec as wv

    text = zoo.data.splits("tinyshakespeare")["train"][0]
    tokens = wv.tokenize(text)
    vocab = wv.Vocabulary.build(tokens, args.min_count)
    words = int(np.sum(np.isin(tokens, vocab.words)))
    # gensim caps a sentence at 10,000 words; the zoo reads the text as one stream, so gensim gets the stream in
    # 10,000-word pieces (windows cross a piece's edge in neither; 17 edges in 170,000 words).
    chunks = [tokens[i:i + 10_000] for i in range(0, len(tokens), 10_000)]
    pairs = wv.relatedness_pairs(vocab.words, vocab.counts)
    runs = {"gensim": [], "zoo": []}
    vectors = {}
    for r in range(args.repeats):
        for name, run in (("gensim", lambda s: gensim_run(chunks, vocab, args, s)),
                          ("zoo", lambda s: zoo_run(text, vocab, args, s))):
            v, seconds = run(r)
            runs[name].append({"seed": r, "seconds": round(seconds, 2), "words_per_second": round(words * args.epochs / seconds),
                               "relatedness_mrr": round(wv.relatedness_mrr(vocab.words, v, pairs), 4)})
            vectors.setdefault(name, []).append(v)
            print(f"{name} run {r}: {runs[name][-1]}", file=sys.stderr)
    speed = {k: statistics.median(x["words_per_second"] for x in v) for k, v in runs.items()}
    mrr = {k: round(statistics.mean(x["relatedness_mrr"] for x in v), 4) for k, v in runs.items()}
    def overlap(x, y):
        return round(float(np.mean([len(a & b) / 10 for a, b in zip(neighbours(x), neighbours(y))])), 4)

    # What two seeds of the same trainer share: the ceiling the cross-trainer overlap is read against.
    same_trainer = {k: overlap(v[0], v[1]) for k, v in vectors.items() if len(v) > 1}
    result = {
        "corpus": "tinyshakespeare training 90%, zoo tokenizer (lowercase, punctuation removed)",
        "in_vocabulary_words": words, "vocabulary": len(vocab.words),
        "settings": {"architecture": "skip-gram", "objective": "negative sampling", "dim": args.dim,
                     "window": args.window, "negatives": args.negatives, "min_count": args.min_count,
                     "sample": args.sample, "epochs": args.epochs},
        "zoo": {"trainer": "zoo.training.fit, tf.data pairs, Adam", "batch_size_centers": args.batch_size,
                "learning_rate": args.learning_rate, "runs": runs["zoo"]},
        "gensim": {"version": gensim.__version__, "workers": args.workers, "alpha": 0.025, "runs": runs["gensim"]},
        "words_per_second": speed,
        "throughput_ratio_zoo_over_gensim": round(speed["zoo"] / speed["gensim"], 4),
        "relatedness_pairs": len(pairs), "relatedness_mrr": mrr,
        "top10_neighbour_overlap_200_most_frequent": overlap(vectors["gensim"][0], vectors["zoo"][0]),
        "same_trainer_other_seed_overlap": same_trainer,
        "notes": ["subsampling: the zoo keeps a word with probability min(1, sqrt(t/f)) (the seed's formula); "
                  "gensim keeps it with (sqrt(f/t) + 1) t/f (word2vec.c's), so the zoo drops frequent words a little "
                  "more often at the same sample value",
                  "gensim: 10,000-word sentences; zoo: one stream",
                  f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"],
    }
    text_out = json.dumps(result, indent=2)
    print(text_out)
    if args.out:
        from zoo import io

        io.write_json_atomic(args.out, result)


if __name__ == "__main__":
    main()
