"""A DBN-style 784-500-500 encoder, pretrained greedily with RBMs, as a row of the semi-supervised study.

    ZOO_DATA_DIR=... python bench/energy_dbn.py [--epochs 20] [--out bench/results/energy_dbn.json]

Layer 1 is the shipped rbm_mnist (784-500, PCD). Layer 2 is a 500-500 RBM trained here with PCD on layer 1's
hidden probabilities of the training images, binarized afresh at every step (each batch samples h ~ p(h|v)),
with rbm_mnist's recipe shape (SGD + the model's momentum, cosine decay) for --epochs epochs. The stack's up-pass
sigmoid(W2^T sigmoid(W1^T v + c1) + c2) is then fine-tuned by bench/semisupervised.py's own `run` (the classifier
family's train hook, its RECIPES, seeds and linear head), next to the one-layer rbm_mnist encoder, so the rows
compare with that study's table.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--sizes", default="100,1000,all", help="fine-tuned rows (head, then everything)")
    ap.add_argument("--probe-sizes", default="100,1000", help="frozen-encoder linear-probe rows")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "energy_dbn.json"))
    args = ap.parse_args(argv)

    import keras

    import zoo
    from zoo import data, io, training
    from zoo.families import energy
    import semisupervised as study

    splits = data.splits("mnist", validation=2000, seed=0)
    start = time.time()
    rbm1 = zoo.load("rbm_mnist")
    h_train = rbm1.encode(splits["train"][0])
    keras.utils.set_random_seed(0)
    rbm2 = energy.RBM(visible=500, hidden=500, cd_k=1, persistent=True, num_chains=100, momentum=0.9,
                      weight_decay=1e-4, seed=0, name="rbm_layer2")
    odds = energy.pixel_log_odds(h_train)
    rbm2.base_bias.assign(odds)
    rbm2.visible_bias.assign(odds)
    history = training.fit(rbm2, h_train, epochs=args.epochs, batch_size=100, learning_rate=0.01, optimizer="sgd",
                           lr_schedule="cosine", verbose=0)
    pretrain_seconds = time.time() - start
    rows = {"rbm_mnist (784-500)": energy.DeepBeliefEncoder([rbm1], "rbm_mnist"),
            "dbn 784-500-500 (RBM-pretrained)": energy.DeepBeliefEncoder([rbm1, rbm2], "dbn")}
    result = {"benchmark": "semi-supervised MNIST, test accuracy (bench/semisupervised.py's run and recipes)",
              "layer2": {"epochs": args.epochs, "final": {k: v[-1] for k, v in history.items()},
                         "seconds": round(pretrain_seconds, 1)},
              "recipes": {s: study.RECIPES[s] for s in args.sizes.split(",")},
              "probe_recipes": {s: study.PROBE_RECIPES[s] for s in args.probe_sizes.split(",") if s},
              "rows": {}}
    for row, model in rows.items():
        result["rows"][row] = {}
        plan = [("finetune", s) for s in args.sizes.split(",") if s] + \
               [("probe", s) for s in args.probe_sizes.split(",") if s]
        for mode, size in plan:
            accs, secs = [], 0.0
            for seed in range(study.SEEDS[size]):
                acc, s = study.run(row, size, seed, splits, mode, cache={row: model})
                accs.append(round(float(acc), 4))
                secs += s
            key = size if mode == "finetune" else f"probe_{size}"
            result["rows"][row][key] = {"mean": round(float(np.mean(accs)), 4), "std": round(float(np.std(accs)), 4),
                                        "runs": accs, "seconds": round(secs, 1)}
            print(f"{row:34s} {key:>10s}: {np.mean(accs):.4f} +- {np.std(accs):.4f} ({secs:.0f}s)", file=sys.stderr)
    result["seconds"] = round(time.time() - start, 1)
    result["command"] = "python bench/energy_dbn.py" + (f" --epochs {args.epochs}" if args.epochs != 20 else "")
    io.write_json_atomic(Path(args.out), result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
