"""Speed of the seed-equation LSTM cell against keras.layers.LSTM, and of the LiteRT step against Keras.

    .venv/bin/python bench/rnn_speed.py        # -> JSON on stdout and bench/results/rnn_speed.json

Training: the same network (embedding 64 -> one LSTM layer -> logits over 65 characters) with the LSTM built
either as keras.layers.RNN(zoo LSTMCell) or keras.layers.LSTM, the shipped model's shapes (batch 32, 128 steps,
384 units), XLA on for both (the family's default). The two are timed in alternating rounds, so load from other
processes on the machine hits both alike; the figure is the median over rounds of characters per second.
Generation: characters per second of greedy generation, one character per call at batch 1, through the Keras
step model (a tf.function) and through the float32 and int8 LiteRT files of the same step (1 thread).
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import keras

import zoo
from zoo.families import recurrent
from zoo.layers.rnn_cells import LSTMCell

BATCH, STEPS, UNITS, EMBED, VOCAB = 32, 128, 384, 64, 65
ROUNDS, STEPS_PER_ROUND = 5, 4
OUT = Path(__file__).resolve().parent / "results" / "rnn_speed.json"


def network(kind):
    keras.utils.set_random_seed(0)
    x = keras.Input((STEPS,), dtype="int32")
    h = keras.layers.Embedding(VOCAB, EMBED)(x)
    h = (keras.layers.RNN(LSTMCell(UNITS), return_sequences=True) if kind == "seed"
         else keras.layers.LSTM(UNITS, return_sequences=True))(h)
    m = keras.Model(x, keras.layers.Dense(VOCAB)(h))
    m.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
              jit_compile=True)
    return m


def training_speed():
    rng = np.random.default_rng(0)
    x = rng.integers(0, VOCAB, (BATCH * STEPS_PER_ROUND, STEPS)).astype(np.int32)
    y = rng.integers(0, VOCAB, x.shape).astype(np.int32)
    nets = {k: network(k) for k in ("seed", "keras")}
    for m in nets.values():   # compile outside the timing
        m.fit(x[:BATCH], y[:BATCH], batch_size=BATCH, verbose=0)
    rates = {k: [] for k in nets}
    for _ in range(ROUNDS):
        for k, m in nets.items():
            t = time.perf_counter()
            m.fit(x, y, batch_size=BATCH, verbose=0, shuffle=False)
            rates[k].append(x.size / (time.perf_counter() - t))
    med = {k: float(np.median(v)) for k, v in rates.items()}
    return {"shapes": {"batch": BATCH, "steps": STEPS, "units": UNITS, "embedding": EMBED, "vocabulary": VOCAB},
            "rounds": ROUNDS, "steps_per_round": STEPS_PER_ROUND,
            "chars_per_s": {"seed_lstm_cell": round(med["seed"]), "keras_lstm": round(med["keras"])},
            "all_rounds": {k: [round(r) for r in v] for k, v in rates.items()},
            "ratio_seed_over_keras": round(med["seed"] / med["keras"], 3), "goal": ">= 0.8"}


def generation_speed(model, chars=300):
    from export import litert

    part = recurrent.export_parts(model, None)["step"]
    out = {}
    prompt = model.encode("ROMEO:")

    def rate(step):
        state = model.prime(prompt)
        recurrent.decode_loop(step, state, int(prompt[-1]), 5, 1.0, None, greedy=True)  # warm
        t = time.perf_counter()
        recurrent.decode_loop(step, state, int(prompt[-1]), chars, 1.0, None, greedy=True)
        return chars / (time.perf_counter() - t)

    out["keras_step"] = round(rate(model.step))
    with tempfile.TemporaryDirectory() as tmp:
        for q in ("none", "int8"):
            rep = None
            if q == "int8":
                ins = part.inputs(200, 0)
                names = [t.name for t in part.model.inputs]
                rep = [{k: a[i:i + 1] for k, a in zip(names, ins)} for i in range(len(ins[0]))]
            path = litert.convert(part.model, Path(tmp) / f"step_{q}.tflite", quantize=q, representative=rep)
            runner = litert.LiteRTRunner(path, [t.name for t in part.model.inputs], list(part.model.output),
                                         verify_manifest=False)
            label = f"litert_{'float32' if q == 'none' else q}"
            out[label] = round(rate(recurrent.runner_step(runner.run_once, model)))
    return {"chars": chars, "chars_per_s": out,
            "ratio_litert_float32_over_keras": round(out["litert_float32"] / out["keras_step"], 2)}


def main():
    start = time.time()
    try:
        model = zoo.load("char_lstm_shakespeare")
        which = "shipped char_lstm_shakespeare"
    except Exception:
        model = zoo.create_model("char_lstm_shakespeare")
        which = "char_lstm_shakespeare's config, untrained (no shipped weights)"
    result = {"training": training_speed(), "generation": {"model": which, **generation_speed(model)},
              "load_note": "measured on a 2-core CPU shared with other training jobs; rounds alternate models",
              "seconds": round(time.time() - start, 1)}
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
