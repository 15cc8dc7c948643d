"""Policy search on CartPole-v1: hill climbing with a linear policy (adaptive noise) and REINFORCE with a learned
baseline (Keras policy and value nets, a tf.function step per episode); env steps until the greedy policy's
evaluation reaches 475, and the learning curves.

    python bench/rl_policy.py   # -> bench/results/rl_policy.json, bench/results/rl_policy.png
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from zoo import figures, io  # noqa: E402
from zoo.families.rl import policy  # noqa: E402
from zoo.rl import evaluate  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def main(args):
    doc = {"command": "python bench/rl_policy.py " + " ".join(sys.argv[1:]), "env": "CartPole-v1",
           "hill_climbing": [], "reinforce": []}
    series = {}
    for seed in range(args.seeds):
        t = time.time()
        pol, h = policy.hill_climb(iterations=args.hill_iterations, episodes_per_eval=5, seed=seed, target=500)
        test = evaluate(pol, "CartPole-v1", 100, 1_000_000)
        doc["hill_climbing"].append({"seed": seed, "iterations": h["iteration"][-1], "env_steps": h["env_steps"][-1],
                                     "best_return": h["best_return"][-1], "test_mean_return_100": test[0],
                                     "test_std": test[1], "weights": pol.weights.tolist(), "seconds": round(time.time() - t, 1)})
        series[f"hill climbing (linear), seed {seed}"] = (np.array(h["env_steps"]), np.array(h["best_return"]))
        print(json.dumps(doc["hill_climbing"][-1]), flush=True)
    for seed in range(args.reinforce_seeds):
        t = time.time()
        agent, h = policy.reinforce(episodes=args.reinforce_episodes, seed=seed, eval_every=25, eval_episodes=10,
                                    target=475)
        test = evaluate(agent, "CartPole-v1", 100, 1_000_000)
        reached = next((s for s, r in zip(h["env_steps"], h["eval_return"]) if r >= 475), None)
        doc["reinforce"].append({"seed": seed, "episodes": h["episode"][-1] if h["episode"] else 0,
                                 "env_steps_to_475": reached, "final_eval": h["eval_return"][-1] if h["eval_return"] else None,
                                 "test_mean_return_100": test[0], "test_std": test[1], "curve": h,
                                 "seconds": round(time.time() - t, 1)})
        series[f"REINFORCE + baseline, seed {seed}"] = (np.array(h["env_steps"]), np.array(h["eval_return"]))
        print(json.dumps({k: v for k, v in doc["reinforce"][-1].items() if k != "curve"}), flush=True)
        io.write_json_atomic(RESULTS / "rl_policy.json", doc)
    io.write_json_atomic(RESULTS / "rl_policy.json", doc)
    fig = figures.curves(series, title="CartPole-v1 policy search: best return so far (hill climbing)\n"
                                       "or greedy evaluation over 10 episodes (REINFORCE)", xlabel="environment steps", ylabel="return")
    figures.save(fig, RESULTS / "rl_policy.png")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--hill-iterations", type=int, default=200)
    p.add_argument("--reinforce-seeds", type=int, default=1)
    p.add_argument("--reinforce-episodes", type=int, default=1000)
    main(p.parse_args())
