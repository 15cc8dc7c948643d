"""rbm_mnist's test log-likelihood by annealed importance sampling, and how the estimate of log Z settles as the
annealing gets longer.

    ZOO_DATA_DIR=... python bench/energy_rbm_ais.py [--betas 1000,4000,14500] [--runs 3] [--chains 100]

For each number of intermediate distributions (the paper's schedule shape: 500 : 4,000 : 10,000 betas over
[0, .5], [.5, .9], [.9, 1], scaled), --runs independent AIS runs of --chains chains each (Salakhutdinov & Murray
2008; base model: the training pixels' log-odds, stored in the model as base_bias). Reported per setting: log Z
from all runs' weights pooled, each run's estimate and their spread, log(Z_hat +- 3 sigma_hat), and the mean test
log-likelihood -F(v) - log Z on the fixed binarization zoo.data.binarize(x_test, seed=0), next to the anchors.
AIS underestimates log Z in expectation (Jensen), so a too-short schedule flatters the likelihood; the longest
schedule is the figure to quote. Writes bench/results/energy_rbm_ais.json.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

ANCHORS = {"CD-1": -125.5, "CD-3": -105.5, "CD-25": -86.3}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--betas", default="1000,4000,14500")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--chains", type=int, default=100)
    ap.add_argument("--model", default="rbm_mnist")
    ap.add_argument("--history", help="a run's history.json with fe_gap, when the card has no free_energy_history")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "energy_rbm_ais.json"))
    ap.add_argument("--figure-only", action="store_true", help="redraw the gap figure from --out's JSON")
    args = ap.parse_args(argv)
    if args.figure_only:
        from zoo import figures
        from zoo.families.energy import free_energy_gap_figure

        result = json.loads(Path(args.out).read_text())
        figures.save(free_energy_gap_figure(result["free_energy_history"], result["model"]),
                     Path(args.out).with_name("energy_rbm_fe_gap.png"))
        return

    import zoo
    from zoo import data, io

    model = zoo.load(args.model)
    splits = data.splits("mnist")
    xb = data.binarize(splits["test"][0], 0)
    xtr = data.binarize(splits["train"][0], 0)
    fe_test, fe_train = float(model.free_energy(xb).mean()), float(model.free_energy(xtr).mean())
    settings = []
    for k in [int(b) for b in args.betas.split(",")]:
        start = time.time()
        est = model.ais(num_chains=args.chains, num_betas=k, runs=args.runs, seed=1)
        seconds = time.time() - start
        row = {"num_betas": est["num_betas"], "num_chains": args.chains, "runs": args.runs,
               "log_z": round(est["log_z"], 3), "log_z_runs": [round(r, 3) for r in est["runs"]],
               "log_z_run_std": round(est["run_std"], 3) if est["run_std"] is not None else None,
               "log_z_3sd": [None if est["log_z_minus_3sd"] is None else round(est["log_z_minus_3sd"], 3),
                             round(est["log_z_plus_3sd"], 3)],
               "test_log_likelihood": round(-fe_test - est["log_z"], 3),
               "train_log_likelihood": round(-fe_train - est["log_z"], 3),
               "effective_sample_size": round(est["effective_sample_size"], 1), "seconds": round(seconds, 1)}
        settings.append(row)
        print(json.dumps(row), file=sys.stderr)
    card = zoo.model_card(args.model)
    result = {"model": args.model, "test_images": int(len(xb)), "binarization": "zoo.data.binarize(x, seed=0)",
              "anchors_full_mnist_500_hidden": ANCHORS, "goal": -100.0,
              "card_metrics": {k: card["metrics"].get(k) for k in ("log_likelihood", "log_likelihood_interval",
                                                                     "log_z", "log_z_runs", "ais")},
              "settings": settings,
              "command": "python bench/energy_rbm_ais.py" + "".join(
                  f" --{k} {v}" for k, v in (("betas", args.betas), ("runs", args.runs), ("chains", args.chains))
                  if str(v) != {"betas": "1000,4000,14500", "runs": "3", "chains": "100"}[k])}
    history = card.get("free_energy_history")
    if history is None and args.history:
        history = json.loads(Path(args.history).read_text())
        history = {k: history[k] for k in ("fe_train", "fe_val", "fe_gap")}
    if history:
        from zoo import figures
        from zoo.families.energy import free_energy_gap_figure

        result["free_energy_history"] = history
        figures.save(free_energy_gap_figure(history, args.model), Path(args.out).with_name("energy_rbm_fe_gap.png"))
    io.write_json_atomic(Path(args.out), result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
