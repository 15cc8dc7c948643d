"""Tabular RL figures: the six-room Q table (deterministic and stochastic Q-learning, against value iteration) and
TD(0)'s RMS error on the 5-state random walk against episodes for several step sizes (Sutton and Barto, Example
6.2, right panel).

    python bench/rl_tabular.py   # -> bench/results/rl_tabular.json, bench/results/rl_td0_rms.png
"""

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
from zoo.families.rl import envs, tabular  # noqa: E402

RESULTS = ROOT / "bench" / "results"
ETAS = (0.05, 0.1, 0.15)
RUNS, EPISODES = 100, 100


def main():
    start = time.time()
    q_det = tabular.q_learning(envs.SIX_ROOMS_ID, episodes=1500, gamma=0.8, eta=None, seed=1)
    q_sto = tabular.q_learning(envs.SIX_ROOMS_ID, episodes=1500, gamma=0.8, eta=0.5, seed=1)
    q_star = tabular.value_iteration_q(envs.six_room_rewards(), gamma=0.8)
    curves = tabular.rms_curve(ETAS, episodes=EPISODES, runs=RUNS, seed=0)
    figures.save(tabular.rms_figure(curves, RUNS), RESULTS / "rl_td0_rms.png")
    doc = {"command": "python bench/rl_tabular.py",
           "six_rooms": {"gamma": 0.8, "episodes": 1500, "exploration": "uniformly random doors (epsilon = 1)",
                         "known_table_x100": tabular.SIX_ROOMS_Q_NORMALIZED.tolist(),
                         "deterministic_update_x100": tabular.normalized(q_det).tolist(),
                         "stochastic_update_eta_0.5_x100": tabular.normalized(q_sto).tolist(),
                         "value_iteration_x100": tabular.normalized(q_star).tolist(),
                         "max_q": {"deterministic": float(q_det.max()), "stochastic": float(q_sto.max()),
                                   "value_iteration": float(q_star.max())},
                         "all_equal_known": bool(all(np.array_equal(tabular.normalized(q), tabular.SIX_ROOMS_Q_NORMALIZED)
                                                     for q in (q_det, q_sto, q_star)))},
           "td0_random_walk": {"runs": RUNS, "v0": 0.5, "true_values": (np.arange(1, 6) / 6).tolist(),
                               "rms_after": {f"eta={eta:g}": {str(k): round(float(c[k]), 4) for k in (0, 10, 25, 50, 100)}
                                             for eta, c in curves.items()},
                               "figure": "bench/results/rl_td0_rms.png"},
           "seconds": round(time.time() - start, 1)}
    io.write_json_atomic(RESULTS / "rl_tabular.json", doc)
    print(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
