"""Reinforcement learning (seed 004): the agent-environment loop on gymnasium environments, value functions,
TD(0) prediction, Q-learning (deterministic and stochastic updates) on the six-room example, exploration, hill
climbing and REINFORCE in policy space, and deep Q-learning with experience replay, prioritized replay, a target
network and double Q-learning.

Modules: envs (the six-room env and the 5-state random walk, registered with gymnasium.register; env state for
checkpoints), tabular (Q-learning, TD(0)), replay (sum-tree, uniform and prioritized buffers), dqn (the DQN zoo
model and its resumable training loop), policy (hill climbing with a linear policy, REINFORCE with a learned
baseline), evaluation (the shared seeded evaluation).

The shipped preset dqn_cartpole has no data set ("data": None): its `train` hook runs dqn.learn (one Keras
`fit` does not fit RL), checkpointing the whole run state in the work folder training hands it.
"""

import numpy as np
import keras

from zoo import checks, figures
from zoo.base import ExportPart, metric_report
from zoo.errors import ZooError
from zoo.families.rl import dqn, envs
from zoo.families.rl.dqn import DQN, steps_to
from zoo.families.rl.evaluation import evaluate, observations

FAMILY = "rl"
MAX_PLAY_EPISODES = 10_000
PLAY_SEED = 2_000_000   # `zoo play` episodes: seeds 2,000,000 ... unless --seed says otherwise


# -- family hooks ---------------------------------------------------------------------------------------------------
def train(model, data, recipe, fit):
    """dqn.learn for epochs x eval_every env steps (an epoch: eval_every steps, then an evaluation and a
    checkpoint in the run's work folder, `fit.work_dir`)."""
    if not isinstance(model, DQN):
        raise ZooError(f"{type(model).__name__} has no training recipe here")
    if recipe.get("lr_schedule", "constant") != "constant" or recipe.get("early_stopping") is not None:
        raise ZooError("DQN trains in its own loop at a constant learning rate, keeping the best evaluation's "
                       "weights: --lr-schedule and --early-stopping do not apply to it; leave them out")
    c = model.get_config()
    history, summary = dqn.learn(model, recipe["epochs"] * c["eval_every"], learning_rate=recipe["learning_rate"],
                                 batch_size=recipe["batch_size"], seed=recipe["seed"],
                                 work_dir=getattr(fit, "work_dir", None),
                                 verbose=getattr(fit, "verbose", 1))
    steps, seconds = steps_to(history, 475.0)
    extra = {"learning": {**summary, "steps_to_475": steps, "train_seconds_to_475": seconds,
                          "evaluation": f"greedy policy, mean return over {c['eval_episodes']} episodes every "
                                        f"{c['eval_every']} env steps (seeds {dqn.EVAL_SEED} + 1000 k + i); the "
                                        "saved weights are those of the best evaluation (the latest among equals)",
                          "curve": {k: history[k] for k in ("env_steps", "eval_return", "seconds")}}}
    # wall-clock seconds differ between two runs of one command: kept in the curve, not in the per-epoch history
    return {k: v for k, v in history.items() if k != "seconds"}, extra


def policy_slice(model, resolution=121):
    """The greedy action over pole angle x pole angular velocity (cart at rest in the centre): the preference
    Q(right) - Q(left) on a diverging map centred on 0, blue for left and red for right. Each side starts from a
    clear tint, never white, so the action is readable however small the margin; the shade grows with the margin
    on a symmetric-log scale, and a black line marks where the two actions tie."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap, SymLogNorm
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    theta = np.linspace(-0.21, 0.21, resolution)
    omega = np.linspace(-2.0, 2.0, resolution)
    tt, ww = np.meshgrid(theta, omega)
    obs = np.stack([np.zeros(tt.size), np.zeros(tt.size), tt.ravel(), ww.ravel()], axis=1).astype(np.float32)
    q = np.asarray(model(obs), np.float64)
    pref = (q[:, 1] - q[:, 0]).reshape(tt.shape)
    blues, reds = colormaps["Blues"], colormaps["Reds"]
    shades = np.linspace(0.35, 1.0, 128)
    cmap = ListedColormap(np.vstack([blues(shades[::-1]), reds(shades)]), name="left_blue_right_red")
    limit = max(float(np.abs(pref).max()), 1.0)
    norm = SymLogNorm(linthresh=1.0, linscale=0.5, vmin=-limit, vmax=limit, base=10)

    fig = Figure(figsize=(7.6, 5.4), layout="constrained")
    ax = fig.subplots()
    im = ax.pcolormesh(theta, omega, pref, cmap=cmap, norm=norm, shading="nearest", rasterized=True)
    if pref.min() < 0 < pref.max():
        ax.contour(tt, ww, pref, levels=[0.0], colors="k", linewidths=1.2)
    bar = fig.colorbar(im, ax=ax, label="Q(push right) − Q(push left)  (symmetric log scale)")
    bar.ax.axhline(0.0, color="k", linewidth=1.2)
    steps = [v for v in (1, 3, 10, 30, 100, 300, 1000) if v <= limit]
    bar.set_ticks([-v for v in steps[::-1]] + [0] + steps, labels=[f"\u2212{v:g}" for v in steps[::-1]] + ["0"]
                  + [f"+{v:g}" for v in steps])
    ax.set_xlabel("pole angle (rad, > 0: leaning right)")
    ax.set_ylabel("pole angular velocity (rad/s)")
    share = float(np.mean(pref > 0))
    ax.legend(handles=[Patch(facecolor=reds(0.7), label=f"pushes right ({share:.0%} of the slice)"),
                       Patch(facecolor=blues(0.7), label=f"pushes left ({1 - share:.0%})"),
                       Line2D([], [], color="k", linewidth=1.2, label="Q(right) = Q(left)")],
              loc="upper left", fontsize=8, framealpha=0.9)
    fig.suptitle(f"{model.name}: greedy action, cart at rest at x = 0\n"
                 "(paler = smaller margin between the two actions' Q-values)", fontsize=11)
    return fig


def preview(model, data):
    return policy_slice(model) if isinstance(model, DQN) and model.env_id.startswith("CartPole") else None


def pictures(model, data):
    fig = preview(model, data)
    return {"policy.png": fig} if fig is not None else {}


def card_metrics(model, data):
    return {"agent": {"act": "greedy: argmax_a Q(obs, a)", "test_episodes": f"seeds from {dqn.TEST_SEED}, never used "
                      "in training (training resets with the recipe seed, evaluations use seeds from "
                      f"{dqn.EVAL_SEED})"}}


def qnet_part(model):
    x_in = keras.Input((model.obs_dim,), name="observation")
    h = x_in
    for layer in model.online:
        h = layer(h)
    return keras.Model(x_in, {"q_values": h}, name="qnet")


EXPORT_EPISODES = 20


def export_parts(model, data):
    """"qnet": observation (N, obs_dim) -> Q-values (N, actions). Inputs are observations the greedy policy meets
    (with 20% random actions, so calibration also sees states off the policy's path); the metric is the mean
    return of the greedy policy through the file against Keras's over the same 20 seeded episodes."""
    part = qnet_part(model)

    def inputs(n, seed):
        rng = np.random.default_rng(seed)
        env = envs.make(model.env_id)
        obs, _ = env.reset(seed=seed)
        rows = []
        while len(rows) < n:
            rows.append(np.asarray(obs, np.float32))
            a = int(rng.integers(model.n_actions)) if rng.random() < 0.2 else model.act(obs)
            obs, _, terminated, truncated, _ = env.step(a)
            if terminated or truncated:
                obs, _ = env.reset(seed=int(rng.integers(2 ** 31 - 1)))
        return [np.stack(rows)]

    class Policy:
        acts_on_batches = True
        obs_dim = model.obs_dim

        def __init__(self, runner):
            self.runner = runner

        def act(self, obs):
            return np.argmax(np.asarray(self.runner([np.asarray(obs, np.float32)])[0]), axis=-1)

    def metric(runner):
        exported, _ = evaluate(Policy(runner), model.env_id, EXPORT_EPISODES, dqn.TEST_SEED)
        keras_value, _ = evaluate(model, model.env_id, EXPORT_EPISODES, dqn.TEST_SEED)
        return metric_report("mean_return", exported, keras_value,
                             episodes=f"{EXPORT_EPISODES} greedy episodes, seeds {dqn.TEST_SEED}...")

    return {"qnet": ExportPart(part, inputs, metric, metric_bound=0.0,
                               description="observation (N, obs_dim) float32 -> q_values (N, actions)")}


# -- CLI: zoo play ------------------------------------------------------------------------------------------------------
def _play_arguments(parser):
    parser.add_argument("--episodes", type=int, default=10, help=f"episodes to play (1..{MAX_PLAY_EPISODES})")
    parser.add_argument("--seed", type=int, default=PLAY_SEED, help="episode k is reset with seed + k")
    parser.add_argument("--video", default=None, help="write the first episode as an animated GIF here")


def gif_path(text):
    from pathlib import Path

    path = Path(text)
    if path.suffix.lower() != ".gif":
        raise ZooError(f"--video writes a GIF: give a file name ending in .gif, got {path.name!r}")
    if not path.parent.is_dir():
        raise ZooError(f"--video: folder {path.parent} does not exist")
    return path


def record_gif(model, path, seed, max_frames=500, every=2, scale=0.5):
    """Play one greedy episode with render_mode="rgb_array" and write its frames as a GIF; returns its return."""
    import os

    from PIL import Image

    path = gif_path(path)
    # pygame draws off-screen for rgb_array; without a display, SDL would complain on stderr
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    try:
        env = envs.make(model.env_id, render_mode="rgb_array")
        obs, _ = env.reset(seed=seed)
        frames, total, done, t = [], 0.0, False, 0
        while not done:
            if t % every == 0 and len(frames) < max_frames:
                frames.append(env.render())
            obs, r, terminated, truncated, _ = env.step(model.act(obs))
            total += r
            done = terminated or truncated
            t += 1
        frames.append(env.render())
    except ImportError as e:   # gymnasium's classic-control renderer needs pygame
        raise ZooError(f"--video needs pygame for gymnasium's renderer: {e}") from None
    images = [Image.fromarray(f).resize((int(f.shape[1] * scale), int(f.shape[0] * scale))) for f in frames]
    tmp = path.with_name(f".{path.name}.tmp")
    images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=40 * every, loop=0)
    tmp.replace(path)
    return total, len(images)


def _play_run(model, args, data):
    if not isinstance(model, DQN):
        raise ZooError(f"{model.name} is not an agent that plays")
    episodes = checks.count(args.episodes, "--episodes", 1, MAX_PLAY_EPISODES)
    seed = checks.count(args.seed, "--seed", 0, 2 ** 31 - 1 - episodes)
    if args.video:
        gif_path(args.video)
    mean, std, returns = evaluate(model, model.env_id, episodes, seed, return_all=True)
    for k, r in enumerate(returns):
        print(f"episode {k + 1} (seed {seed + k}): return {r:g}")
    print(f"mean return {mean:.2f} +- {std:.2f} over {episodes} episodes of {model.env_id}")
    if args.video:
        total, n = record_gif(model, args.video, seed)
        print(f"wrote {args.video}: episode 1, return {total:g}, {n} frames")


COMMANDS = {"play": {"arguments": _play_arguments, "run": _play_run}}
