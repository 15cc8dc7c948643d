"""The Boltzmann machine on the 4-2-4 encoder (Ackley, Hinton & Sejnowski 1985): exact KL(p_data || p_model) over
the 256 visible states after training with the Boltzmann learning rule and simulated annealing, over seeds.

    python bench/energy_boltzmann.py [--seeds 8] [--epochs 400]

Settings are the test's (tests/test_energy.py): 10 copies of the 4 patterns per clamped phase, 100 free chains,
the annealing schedule geometric_schedule(10, 1, steps=6, sweeps_per_temperature=1) in both phases, then 5 sweeps
at T = 1 for the statistics; learning rate 2.0 falling geometrically to 0.1. Writes
bench/results/energy_boltzmann.json.
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from zoo import io  # noqa: E402
from zoo.families import energy as E  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "energy_boltzmann.json"))
    args = ap.parse_args(argv)
    data, mask = E.encoder_problem(4)
    schedule = E.geometric_schedule(10.0, 1.0, steps=6, sweeps_per_temperature=1)
    idx = (data @ (2 ** np.arange(8)[::-1])).astype(int)
    runs = []
    for seed in range(args.seeds):
        start = time.time()
        bm = E.BoltzmannMachine(8, 2, connectivity=mask, seed=seed)
        hist = bm.fit(np.repeat(data, 10, axis=0), epochs=args.epochs, learning_rate=2.0, final_learning_rate=0.1,
                      schedule=schedule, sample_sweeps=5, chains=100)
        p = bm.visible_distribution()
        runs.append({"seed": seed, "kl": round(hist[-1], 4), "mass_on_data_states": round(float(p[idx].sum()), 4),
                     "p_each_pattern": [round(float(v), 4) for v in p[idx]], "seconds": round(time.time() - start, 1)})
        print(json.dumps(runs[-1]), file=sys.stderr)
    kls = [r["kl"] for r in runs]
    result = {"problem": "4-2-4 encoder, 8 visible + 2 hidden units, V1 and V2 unconnected",
              "kl_untrained": round(float(np.log(64)), 4), "kl_median": round(float(np.median(kls)), 4),
              "kl_min": min(kls), "kl_max": max(kls), "runs": runs,
              "command": "python bench/energy_boltzmann.py" + (f" --seeds {args.seeds}" if args.seeds != 8 else "")
              + (f" --epochs {args.epochs}" if args.epochs != 1000 else "")}
    io.write_json_atomic(Path(args.out), result)
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
