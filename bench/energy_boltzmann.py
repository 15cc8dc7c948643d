"""The Boltzmann machine on the 4-2-4 and 4-3-4 encoders (Ackley, Hinton & Sejnowski 1985): exact
KL(p_data || p_model) over the 256 visible states after training with the Boltzmann learning rule, over seeds,
with the statistics from simulated annealing (the machine as it is used) and, as a control, computed exactly by
enumeration (the same rule without sampling noise).

    python bench/energy_boltzmann.py [--seeds 8] [--epochs 1000]

Annealed settings are the test's (tests/test_energy.py): 10 copies of the 4 patterns per clamped phase, 100 free
chains, the schedule geometric_schedule(10, 1, steps=6, sweeps_per_temperature=1) in both phases, then 5 sweeps
at T = 1 for the statistics; learning rate 2.0 falling geometrically to 0.1. The exact control runs 3 x --epochs
epochs on the same learning-rate range. A run "finds the code" when its KL is below 0.1 nats. Writes
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

FOUND = 0.1     # nats: below it, every pattern has its own code (a shared code costs about log(2) / 2 = 0.35)


def run(hidden, statistics, seed, epochs):
    data, mask = E.encoder_problem(4, hidden)
    idx = (data @ (2 ** np.arange(8)[::-1])).astype(int)
    start = time.time()
    bm = E.BoltzmannMachine(8, hidden, connectivity=mask, seed=seed)
    if statistics == "exact":
        bm.fit(data, epochs=3 * epochs, learning_rate=2.0, final_learning_rate=0.1, statistics="exact",
               callback=lambda epoch, m: None)
    else:
        bm.fit(np.repeat(data, 10, axis=0), epochs=epochs, learning_rate=2.0, final_learning_rate=0.1,
               schedule=E.geometric_schedule(10.0, 1.0, steps=6, sweeps_per_temperature=1), sample_sweeps=5,
               chains=100, callback=lambda epoch, m: None)
    p = bm.visible_distribution()
    return {"seed": seed, "kl": round(bm.kl_to(data), 4), "mass_on_data_states": round(float(p[idx].sum()), 4),
            "p_each_pattern": [round(float(v), 4) for v in p[idx]], "seconds": round(time.time() - start, 1)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "energy_boltzmann.json"))
    args = ap.parse_args(argv)
    seeds = range(min(max(args.seeds, 1), 100))
    epochs = min(max(args.epochs, 1), 100_000)
    rows = {}
    for hidden in (2, 3):
        for statistics in ("annealed", "exact"):
            runs = [run(hidden, statistics, seed, epochs) for seed in seeds]
            kls = [r["kl"] for r in runs]
            key = f"4-{hidden}-4 {statistics}"
            rows[key] = {"found_the_code": sum(k < FOUND for k in kls), "seeds": len(kls),
                         "kl_median": round(float(np.median(kls)), 4), "kl_min": min(kls), "kl_max": max(kls),
                         "runs": runs}
            print(json.dumps({key: {k: v for k, v in rows[key].items() if k != "runs"}}), file=sys.stderr)
    result = {"problem": "n-h-n encoder, 8 visible units, V1 and V2 unconnected; KL(p_data || p_model) in nats",
              "kl_untrained": round(float(np.log(64)), 4), "found_means_kl_below": FOUND, "rows": rows,
              "command": "python bench/energy_boltzmann.py" + (f" --seeds {args.seeds}" if args.seeds != 8 else "")
              + (f" --epochs {args.epochs}" if args.epochs != 1000 else "")}
    io.write_json_atomic(Path(args.out), result)
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "runs"} for k, v in rows.items()}, indent=2))


if __name__ == "__main__":
    main()
