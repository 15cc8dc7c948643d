"""Hopfield capacity: the share of stored patterns a network recalls with at most 1% bit errors, against the
load alpha = p / n, for n in {100, 200, 500}.

    python bench/hopfield_capacity.py [--trials-patterns 600] [--out bench/results/hopfield_capacity.json]

For each n and load, p = round(alpha * n) random ±1 patterns (each bit +-1 with probability 1/2) are stored by
the Hebbian rule (zoo.families.energy.HopfieldNetwork); every stored pattern is then the starting state of an
asynchronous recall (random order each sweep, until no neuron changes, at most 100 sweeps), and it counts as
recalled when the fixed point differs from it in at most 1% of the bits. Networks are drawn again until at least
--trials-patterns recalls have been made at that load.

The knee: the smallest load at which the recalled share falls below 50%, linearly interpolated between the two
grid loads around the crossing. Amit, Gutfreund & Sompolinsky (1985) put the capacity at alpha_c = 0.138 for
large n; the retrieval state just below it already has about 1.6% wrong bits, so with a 1% criterion and finite n
the n -> infinity crossing is where AGS's retrieval state has 1% wrong bits (ags_knee_for_1pct_errors, 0.1355),
just below 0.138. At finite n the crossing sits higher and falls with n; finite_size_fits extrapolates it.
Writes JSON and hopfield_capacity.png beside it (--replot redoes both from the JSON).
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from zoo import figures, io  # noqa: E402
from zoo.families.energy import HopfieldNetwork, bit_error_rates  # noqa: E402

SIZES = (100, 200, 500)          # the sizes
EXTRA_SIZES = (1000,)           # the finite-size trend towards the n -> infinity limit
LOADS = np.round(np.arange(0.06, 0.2201, 0.01), 3)
MAX_ERRORS = 0.01


def recalled_share(n, load, min_recalls, seed):
    rng = np.random.default_rng(seed)
    p = max(1, int(round(load * n)))
    ok = total = 0
    trial = 0
    while total < min_recalls:
        patterns = np.where(rng.random((p, n)) < 0.5, 1, -1).astype(np.int8)
        net = HopfieldNetwork(n).store(patterns)
        final, _ = net.recall(patterns, mode="async", max_steps=100, seed=seed * 1000 + trial)
        ok += int(np.sum(bit_error_rates(final, patterns) <= MAX_ERRORS))
        total += p
        trial += 1
    return ok / total, total, trial


def knee(loads, shares, level=0.5):
    """The smallest load where the share falls below `level`, interpolated linearly; None if it never does."""
    for i in range(1, len(loads)):
        if shares[i - 1] >= level > shares[i]:
            return float(loads[i - 1] + (shares[i - 1] - level) * (loads[i] - loads[i - 1]) / (shares[i - 1] - shares[i]))
    return None


def ags_load_for_error(error=MAX_ERRORS):
    """The load at which the retrieval state of Amit, Gutfreund & Sompolinsky's T = 0 replica-symmetric theory
    has `error` wrong bits, (1 - m) / 2 = error: the n -> infinity knee for this criterion (the state vanishes
    at alpha = 0.138 with about 1.6% wrong bits)."""
    from scipy.optimize import brentq
    from scipy.special import erf

    def overlap(alpha):
        # m = erf(y), with y solving y (sqrt(2 alpha) + (2 / sqrt(pi)) exp(-y^2)) = erf(y); the largest root
        f = lambda y: y * (np.sqrt(2 * alpha) + 2 / np.sqrt(np.pi) * np.exp(-y * y)) - erf(y)  # noqa: E731
        ys = np.linspace(0.01, 10, 20000)
        v = f(ys)
        roots = np.flatnonzero(np.sign(v[:-1]) != np.sign(v[1:]))
        return erf(brentq(f, ys[roots[-1]], ys[roots[-1] + 1])) if len(roots) else None

    return float(brentq(lambda a: (1 - overlap(a)) / 2 - error, 0.05, 0.1375))


def finite_size_fits(results):
    """knee(n) = a + b * n^-x for x in (1/2, 1), least squares over the sizes: the intercept a estimates the
    n -> infinity knee; the two exponents bracket the usual finite-size forms."""
    ns = np.array([int(n) for n, r in results.items() if r["knee"] is not None], float)
    knees = np.array([r["knee"] for r in results.values() if r["knee"] is not None])
    fits = {}
    for name, x in (("n^-1/2", 0.5), ("n^-1", 1.0)):
        a, b = np.linalg.lstsq(np.stack([np.ones_like(ns), ns ** -x], 1), knees, rcond=None)[0]
        fits[name] = {"knee_at_infinity": round(float(a), 4), "slope": round(float(b), 4)}
    return fits


def write(report, out):
    results = report["sizes"]
    report["finite_size_fits"] = finite_size_fits(results)
    report["ags_knee_for_1pct_errors"] = round(ags_load_for_error(), 4)
    io.write_json_atomic(out, report)
    fig = figures.curves({f"n = {n} (knee {r['knee']:.3f})" if r["knee"] else f"n = {n}":
                          (r["loads"], r["recalled_share"]) for n, r in ((int(k), v) for k, v in results.items())},
                         title="Hopfield recall: share of patterns with <= 1% bit errors (AGS: 0.138)",
                         xlabel="load p / n", ylabel="share recalled")
    ax = fig.axes[0]
    ax.axvline(0.138, color="grey", linestyle="--")
    ax.axvline(report["ags_knee_for_1pct_errors"], color="grey", linestyle="-.")
    ax.axhline(0.5, color="grey", linestyle=":")
    figures.save(fig, out.with_suffix(".png"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials-patterns", type=int, default=600, help="recalls per (n, load), at least")
    ap.add_argument("--sizes", default=",".join(map(str, SIZES + EXTRA_SIZES)), help="comma-separated n")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "hopfield_capacity.json"))
    ap.add_argument("--replot", action="store_true", help="recompute the summary and the figure from --out's JSON")
    args = ap.parse_args(argv)
    if args.replot:
        report = json.loads(Path(args.out).read_text())
        write(report, Path(args.out))
        print(json.dumps({k: report[k] for k in ("finite_size_fits", "ags_knee_for_1pct_errors")}))
        return
    start = time.time()
    results = {}
    for n in [int(v) for v in args.sizes.split(",")]:
        shares = []
        for j, load in enumerate(LOADS):
            share, recalls, nets = recalled_share(n, load, args.trials_patterns, seed=n * 100 + j)
            shares.append(share)
            print(f"n={n} load={load:.3f} recalled={share:.3f} ({recalls} recalls, {nets} networks)", file=sys.stderr)
        results[str(n)] = {"loads": LOADS.tolist(), "recalled_share": [round(s, 4) for s in shares],
                           "knee": knee(LOADS, shares)}
    report = {"what": "share of stored patterns recalled (async, from the pattern itself) with <= 1% bit errors",
              "knee_definition": "smallest load p/n where the share falls below 0.5, linear interpolation",
              "criterion_bit_errors": MAX_ERRORS, "min_recalls_per_point": args.trials_patterns,
              "reference": "Amit, Gutfreund & Sompolinsky (1985): alpha_c = 0.138",
              "command": "python bench/hopfield_capacity.py" + (f" --trials-patterns {args.trials_patterns}"
                                                                 if args.trials_patterns != 600 else "")
              + (f" --sizes {args.sizes}" if args.sizes != ",".join(map(str, SIZES + EXTRA_SIZES)) else ""),
              "seconds": round(time.time() - start, 1), "sizes": results}
    write(report, Path(args.out))
    print(json.dumps({n: r["knee"] for n, r in results.items()}))


if __name__ == "__main__":
    main()
