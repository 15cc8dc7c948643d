"""Long-range probe (seed 004's claims): the first symbol of a sequence must be given at its end, with L random
distractors between. Window MLP, Elman SRN, LSTM and GRU at (about) equal parameter counts, for each L.

    .venv/bin/python bench/long_range.py      # -> JSON on stdout, bench/results/long_range.json and .png

Task: vocabulary of 4 cue symbols and 4 distractor symbols (one-hot inputs). Position 0 holds a cue, positions
1..L distractors drawn uniformly; the net reads all L+1 symbols and, from its last hidden state, names the cue
(4 classes, chance = 25%). The window net sees only its last `WINDOW` symbols, so it is at chance by construction
once L >= WINDOW; the recurrent nets must carry the cue across L steps.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import keras

from zoo.layers.rnn_cells import CELLS, SlidingWindow

CUES, DISTRACTORS = 4, 4
VOCAB = CUES + DISTRACTORS
WINDOW = 8
TARGET_PARAMETERS = 1700
LAGS = (5, 10, 20, 50, 100)
OUT = Path(__file__).resolve().parent / "results"


def task(n, lag, seed):
    rng = np.random.default_rng(seed)
    cue = rng.integers(0, CUES, n)
    seq = np.concatenate([cue[:, None], rng.integers(CUES, VOCAB, (n, lag))], axis=1)
    return np.eye(VOCAB, dtype=np.float32)[seq], cue


def params(kind, units):
    head = units * CUES + CUES
    if kind == "window":
        return WINDOW * VOCAB * units + units + head
    gates = {"srn": 1, "lstm": 4, "gru": 3}[kind]
    return gates * units * (VOCAB + units + 1) + head


def units_for(kind, target=TARGET_PARAMETERS):
    return min(range(1, 200), key=lambda u: abs(params(kind, u) - target))


def build(kind, units, seed):
    x = keras.Input((None, VOCAB))
    if kind == "window":
        h = keras.layers.Dense(units, activation="tanh")(SlidingWindow(WINDOW)(x))[:, -1]
    else:
        h = keras.layers.RNN(CELLS[kind](units, seed=seed))(x)
    out = keras.layers.Dense(CUES, kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1))(h)
    m = keras.Model(x, out)
    m.compile(keras.optimizers.Adam(1e-2, global_clipnorm=1.0),
              keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return m


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train", type=int, default=2000)
    p.add_argument("--test", type=int, default=500)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--lags", default=",".join(map(str, LAGS)))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", default="window,srn,lstm,gru")
    p.add_argument("--tag", default="", help="write long_range_TAG.json/.png instead (a second budget)")
    args = p.parse_args(argv)
    lags = [int(s) for s in args.lags.split(",")]
    keras.utils.set_random_seed(args.seed)
    rows = []
    start = time.time()
    for kind in args.models.split(","):
        units = units_for(kind)
        for lag in lags:
            t0 = time.time()
            x, y = task(args.train, lag, args.seed + lag)
            xt, yt = task(args.test, lag, args.seed + 10_000 + lag)
            m = build(kind, units, args.seed)
            m.fit(x, y, batch_size=64, epochs=args.epochs, verbose=0, shuffle=True)
            acc = float(m.evaluate(xt, yt, verbose=0, batch_size=500)[1])
            rows.append({"model": kind, "units": units, "parameters": int(m.count_params()), "lag": lag,
                         "test_accuracy": round(acc, 4), "seconds": round(time.time() - t0, 1)})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            write(args, rows, start)
    result = write(args, rows, start)
    draw(result, OUT / f"long_range{'_' + args.tag if args.tag else ''}.png")
    print(json.dumps(result, indent=2))


def write(args, rows, start):
    """The results so far (rewritten after every run, so a stopped probe still leaves its rows)."""
    result = {"task": f"name the first of L+1 symbols (4 cues, 4 distractors; chance 0.25); window width {WINDOW}",
              "train_sequences": args.train, "test_sequences": args.test, "epochs": args.epochs,
              "optimizer": "Adam 1e-2, global norm clip 1, batch 64", "seed": args.seed,
              "seconds": round(time.time() - start, 1), "results": rows}
    OUT.mkdir(exist_ok=True)
    (OUT / f"long_range{'_' + args.tag if args.tag else ''}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def draw(result, path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    for kind in dict.fromkeys(r["model"] for r in result["results"]):
        pts = [(r["lag"], r["test_accuracy"]) for r in result["results"] if r["model"] == kind]
        if pts:
            n = next(r["parameters"] for r in result["results"] if r["model"] == kind)
            ax.plot(*zip(*pts), marker="o", label=f"{kind} ({n} params)")
    ax.axhline(0.25, color="gray", ls=":", label="chance")
    ax.set_xscale("log")
    ax.set_xlabel("L (steps between the cue and the answer)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title("Long-range probe: recall the first symbol after L distractors")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
