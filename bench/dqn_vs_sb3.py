"""The zoo's DQN against Stable-Baselines3's DQN on CartPole-v1, side by side, and the zoo DQN's ablation.

    python bench/dqn_vs_sb3.py --part main        # 5 seeds each, alternating SB3 / zoo -> bench/results/dqn_vs_sb3.json
    python bench/dqn_vs_sb3.py --part main --seed-list 0,2,4 --shard a   # the same, split over processes
    python bench/dqn_vs_sb3.py --part main --seed-list 1,3 --shard b     # (then --part merge)
    python bench/dqn_vs_sb3.py --part ablation    # plain, + target, + double Q (the full DQN is main's zoo runs)
                                                  # -> bench/results/dqn_ablation.json
    python bench/dqn_vs_sb3.py --part figure      # the learning curves of main -> bench/results/dqn_vs_sb3.png

Both agents use rl-baselines3-zoo's CartPole-v1 DQN hyperparameters (5e4 steps, lr 2.3e-3, batch 64, buffer 1e5,
learning_starts 1000, gamma 0.99, target sync every 10 env steps, 128 gradient steps every 256 env steps,
epsilon 1 -> 0.04 over the first 16% of the steps, a 256-256 MLP); the zoo adds double Q-learning and
prioritized replay (alpha 0.6, beta 0.4 -> 1). Both are evaluated the same way, by the same code
(zoo.rl.evaluate): the greedy policy's mean return over 20 episodes every 2,500 env steps, evaluation k on seeds
500,000 + 1,000 k + i. Wall-clock seconds are training time only (evaluations excluded), on the same machine,
one run at a time per process, SB3 and zoo alternating so that load from other processes falls on both alike;
both libraries run single-threaded (torch.set_num_threads(1), TensorFlow intra/inter-op 1): on a shared,
oversubscribed 2-core machine torch's spinning OpenMP threads otherwise slow SB3 down tenfold.
Each finished run is written to the JSON at once, so a partial bench keeps what it measured.
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

RESULTS = ROOT / "bench" / "results"
STEPS = 50_000
EVAL_EVERY, EVAL_EPISODES = 2500, 20
THRESHOLD = 475.0
SB3_ZOO = dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
               target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
               exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[256, 256]))
ABLATION = {
    "plain DQN": dict(target_update=0, double_q=False, prioritized=False),
    "+ target net": dict(target_update=10, double_q=False, prioritized=False),
    "+ double Q": dict(target_update=10, double_q=True, prioritized=False),
    "+ prioritized replay": dict(target_update=10, double_q=True, prioritized=True),
}


def steps_to(curve):
    for steps, ret, sec in zip(curve["env_steps"], curve["eval_return"], curve["seconds"]):
        if ret >= THRESHOLD:
            return steps, sec
    return None, None


def run_sb3(seed, steps):
    import torch
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    from zoo.rl import evaluate
    from zoo.families.rl.dqn import EVAL_SEED

    class Greedy:
        acts_on_batches, obs_dim = True, 4

        def __init__(self, model):
            self.model = model

        def act(self, obs):
            return self.model.predict(np.asarray(obs, np.float32), deterministic=True)[0]

    curve = {"env_steps": [], "eval_return": [], "eval_std": [], "seconds": []}

    class Evaluate(BaseCallback):
        def _on_training_start(self):
            self.train_seconds, self.tick = 0.0, time.perf_counter()

        def _on_step(self):
            n = self.num_timesteps
            if n % EVAL_EVERY == 0 or n == steps:
                self.train_seconds += time.perf_counter() - self.tick
                mean, std = evaluate(Greedy(self.model), "CartPole-v1", EVAL_EPISODES, EVAL_SEED + 1000 * (n // EVAL_EVERY))
                for k, v in (("env_steps", n), ("eval_return", mean), ("eval_std", std),
                             ("seconds", self.train_seconds)):
                    curve[k].append(round(float(v), 4))
                print(f"sb3 seed {seed} step {n}: {mean:.1f} ({self.train_seconds:.1f}s)", file=sys.stderr, flush=True)
                self.tick = time.perf_counter()
            return True

    model = DQN("MlpPolicy", "CartPole-v1", seed=seed, verbose=0, **SB3_ZOO)
    model.learn(total_timesteps=steps, callback=Evaluate())
    return curve, {"torch": torch.__version__, "torch_threads": torch.get_num_threads()}


def run_zoo(seed, steps, stop_at=None, **config):
    import keras
    import tensorflow as tf

    import zoo
    from zoo.families.rl import dqn

    keras.utils.set_random_seed(seed)
    model = zoo.create_model("dqn_cartpole", **config)
    history, summary = dqn.learn(model, steps, learning_rate=SB3_ZOO["learning_rate"], batch_size=SB3_ZOO["batch_size"],
                                 seed=seed, eval_every=EVAL_EVERY, eval_episodes=EVAL_EPISODES, stop_at=stop_at,
                                 log=sys.stderr)
    curve = {k: history[k] for k in ("env_steps", "eval_return", "eval_std", "seconds")}
    return curve, {"tensorflow": tf.__version__, "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads()}


def load(path):
    return json.loads(path.read_text()) if path.is_file() else None


def save(path, doc):
    from zoo import io

    io.write_json_atomic(path, doc)


def summarize(runs):
    out = {}
    for name in sorted({r["agent"] for r in runs}):
        mine = [r for r in runs if r["agent"] == name]
        steps = [r["steps_to_475"] for r in mine]
        secs = [r["seconds_to_475"] for r in mine]
        reached = [s for s in steps if s is not None]
        # a run that never reached 475 counts as infinitely slow in the median; an infinite median is written as
        # null (strict JSON has no Infinity)
        def med(xs):
            m = float(np.median([np.inf if x is None else x for x in xs])) if xs else None
            return m if m is not None and np.isfinite(m) else None
        out[name] = {"runs": len(mine), "reached_475": len(reached),
                     "median_steps_to_475": med(steps), "median_seconds_to_475": med(secs),
                     "median_final_return": float(np.median([r["final_return"] for r in mine])),
                     "mean_total_train_seconds": round(float(np.mean([r["curve"]["seconds"][-1] for r in mine])), 1)}
    return out


def record(agent, seed, curve, versions):
    s, sec = steps_to(curve)
    return {"agent": agent, "seed": seed, "steps_to_475": s, "seconds_to_475": sec,
            "final_return": curve["eval_return"][-1], "final_env_steps": curve["env_steps"][-1], "curve": curve,
            "versions": versions}


def single_threaded():
    import tensorflow as tf
    import torch

    torch.set_num_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def main_part(args):
    single_threaded()
    path = RESULTS / (f"dqn_vs_sb3_shard_{args.shard}.json" if args.shard else "dqn_vs_sb3.json")
    doc = load(path) or {"setup": __doc__.split("\n\n")[2].replace("\n", " "), "steps": args.steps,
                         "eval": {"every": EVAL_EVERY, "episodes": EVAL_EPISODES, "threshold": THRESHOLD},
                         "sb3_hyperparameters": SB3_ZOO, "command": "python bench/dqn_vs_sb3.py --part main",
                         "runs": []}
    done = {(r["agent"], r["seed"]) for r in doc["runs"]}
    for seed in (args.seed_list or range(args.seeds)):
        for agent in ("sb3", "zoo"):
            if (agent, seed) in done:
                continue
            curve, versions = run_sb3(seed, args.steps) if agent == "sb3" else run_zoo(seed, args.steps)
            doc["runs"].append(record(agent, seed, curve, versions))
            doc["summary"] = summarize(doc["runs"])
            save(path, doc)
            print(json.dumps({"agent": agent, "seed": seed, **{k: doc["runs"][-1][k] for k in
                                                               ("steps_to_475", "seconds_to_475", "final_return")}}))
    print(json.dumps(doc["summary"], indent=2))


def merge_part(args):
    shards = sorted(RESULTS.glob("dqn_vs_sb3_shard_*.json"))
    docs = [load(p) for p in shards]
    doc = {**docs[0], "runs": sorted((r for d in docs for r in d["runs"]), key=lambda r: (r["seed"], r["agent"])),
           "shards": [p.name for p in shards]}
    doc["summary"] = summarize(doc["runs"])
    save(RESULTS / "dqn_vs_sb3.json", doc)
    print(json.dumps(doc["summary"], indent=2))


def ablation_part(args):
    single_threaded()
    path = RESULTS / "dqn_ablation.json"
    doc = load(path) or {"setup": "zoo DQN on CartPole-v1, the main bench's recipe; each row adds one refinement; runs "
                                  "stop at the first evaluation reaching 475 (or at the step budget). The last row's "
                                  "runs are the main bench's zoo runs (full length).",
                         "steps": args.steps, "command": "python bench/dqn_vs_sb3.py --part ablation", "runs": []}
    done = {(r["agent"], r["seed"]) for r in doc["runs"]}
    seeds = args.seed_list or list(range(args.ablation_seeds))
    for seed in seeds:
        for name, config in list(ABLATION.items())[:-1]:
            if (name, seed) in done:
                continue
            curve, versions = run_zoo(seed, args.steps, stop_at=THRESHOLD, **config)
            doc["runs"].append({**record(name, seed, curve, versions), "config": config})
            doc["summary"] = summarize(doc["runs"])
            save(path, doc)
            print(json.dumps({"agent": name, "seed": seed, "steps_to_475": doc["runs"][-1]["steps_to_475"]}))
    main = load(RESULTS / "dqn_vs_sb3.json")
    if main:
        full = [{**r, "agent": "+ prioritized replay", "config": ABLATION["+ prioritized replay"]}
                for r in main["runs"] if r["agent"] == "zoo" and r["seed"] in seeds]
        doc["summary"] = summarize([r for r in doc["runs"] if r["agent"] != "+ prioritized replay"] + full)
        save(path, doc)
    print(json.dumps(doc.get("summary"), indent=2))


def figure_part(args):
    from zoo import figures

    doc = load(RESULTS / "dqn_vs_sb3.json")
    series = {}
    for agent, label in (("sb3", "Stable-Baselines3 DQN"), ("zoo", "zoo DQN (double Q, prioritized replay)")):
        runs = [r for r in doc["runs"] if r["agent"] == agent]
        if not runs:
            continue
        n = min(len(r["curve"]["eval_return"]) for r in runs)
        x = np.array(runs[0]["curve"]["env_steps"][:n])
        y = np.array([r["curve"]["eval_return"][:n] for r in runs])
        series[f"{label}: median of {len(runs)} seeds"] = (x, np.median(y, axis=0))
    fig = figures.curves(series, title="CartPole-v1: greedy return (mean of 20 episodes) every 2,500 env steps",
                         xlabel="environment steps", ylabel="evaluation return")
    ax = fig.axes[0]
    for agent, colour in (("sb3", "C0"), ("zoo", "C1")):
        for r in (r for r in doc["runs"] if r["agent"] == agent):
            ax.plot(r["curve"]["env_steps"], r["curve"]["eval_return"], color=colour, alpha=0.2, linewidth=0.8)
    ax.axhline(THRESHOLD, color="gray", linestyle=":", linewidth=1)
    out = figures.save(fig, RESULTS / "dqn_vs_sb3.png")
    print(f"wrote {out}")


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--part", choices=("main", "ablation", "figure", "merge"), default="main")
    p.add_argument("--seed-list", type=lambda t: [int(x) for x in t.split(",")], default=None)
    p.add_argument("--shard", default=None, help="write bench/results/dqn_vs_sb3_shard_SHARD.json (see --part merge)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--ablation-seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=STEPS)
    return p.parse_args()


if __name__ == "__main__":
    a = parse()
    {"main": main_part, "ablation": ablation_part, "figure": figure_part, "merge": merge_part}[a.part](a)
