"""Device-side example: play CartPole-v1 with an exported LiteRT Q-network, greedy, and print each return.

Needs only numpy, gymnasium, ai_edge_litert and the standard library (no TensorFlow, no Keras, no zoo):

    python play_cartpole.py saved_models/dqn_cartpole/exports/qnet_int8.tflite --episodes 10 --seed 2000000

The file has one signature with an input "observation" (N, 4) and an output "q_values" (N, 2); the action is
argmax over q_values. int8 inputs are quantized with the file's own scale and zero point (q = round(x / scale) +
zero_point, clipped to [-128, 127]), int8 outputs dequantized ((q - zero_point) * scale). Episode k is reset with
seed + k, as zoo.rl.evaluate and `zoo play` do, so the returns can be compared episode by episode with the Keras
policy's.

Before the file is used, device_checks.py (beside this script) checks it: a bounded read, the 'TFL3' identifier,
builtin ops only, the sha256 and the input/output details recorded in the export.json beside it, quantized
tensors with a scale > 0, and the bytes its tensors take. A file that cannot be loaded or is not such a
Q-network, or whose observation width or action count is not the environment's, is refused with one line on
stderr and exit 1; one that passes the checks but fails while playing gives one line and exit 2 (--debug shows
the traceback).
"""

import argparse
import contextlib
import sys

import numpy as np

try:  # run as a script: device_checks.py sits beside it
    import device_checks as dc
except ImportError:  # imported as export.examples.play_cartpole
    from export.examples import device_checks as dc

MAX_EPISODES = 10_000
Refused = dc.Refused
# Without an "input" contract in export.json (exports made before it was recorded): observations are any finite
# numbers.
DEFAULT_CONTRACT = {"observation": {"name": "observation", "kind": "values", "range": [None, None]}}


class QNetwork:
    """A checked LiteRT Q-network: q_values(observations (N, obs_dim)) -> (N, actions) float32."""

    def __init__(self, path):
        self.model = dc.load(path, defaults=DEFAULT_CONTRACT)
        ins, outs = self.model.inputs, self.model.outputs
        if set(ins) != {"observation"} or set(outs) != {"q_values"}:
            raise Refused(f"expected input 'observation' and output 'q_values', got {sorted(ins)} -> {sorted(outs)}")
        for name, d in (("observation", ins["observation"]), ("q_values", outs["q_values"])):
            if len(dc.shape_of(d)) != 2:
                raise Refused(f"{name!r} has shape {dc.shape_of(d)}; expected (N, width)")
        self.obs_dim = dc.shape_of(ins["observation"])[1]
        self.actions = dc.shape_of(outs["q_values"])[1]
        self.batch = self.model.fixed_batch or 1

    def check_env(self, env):
        """A network built for another observation width would be fed a reshaped observation: refuse it."""
        shape = getattr(env.observation_space, "shape", None)
        width = int(np.prod(shape)) if shape else None
        if width != self.obs_dim:
            name = env.spec.id if env.spec else "the environment"
            raise Refused(f"the Q-network takes observations of width {self.obs_dim}; {name} gives {width}")
        actions = getattr(env.action_space, "n", None)
        if actions is None or int(actions) != self.actions:
            raise Refused(f"the Q-network scores {self.actions} actions; the environment has {actions}")

    def q_values(self, obs):
        x = np.asarray(obs, np.float32).reshape(1, self.obs_dim)
        if self.batch > 1:  # a fixed-batch file: pad with copies of the one observation
            x = np.repeat(x, self.batch, axis=0)
        q = dc.run(self.model, {"observation": dc.feed(self.model, "observation", x)})["q_values"]
        return q[:1]

    def act(self, obs):
        return int(np.argmax(self.q_values(obs)[0]))


def play(policy, episodes, seed, env_id="CartPole-v1"):
    """The undiscounted return of each greedy episode; episode k is reset with seed + k."""
    import gymnasium

    env = gymnasium.make(env_id)
    try:
        if hasattr(policy, "check_env"):
            policy.check_env(env)
        returns = []
        for k in range(episodes):
            obs, _ = env.reset(seed=seed + k)
            total, done = 0.0, False
            while not done:
                obs, r, terminated, truncated, _ = env.step(policy.act(obs))
                total += float(r)
                done = terminated or truncated
            returns.append(total)
    finally:
        env.close()
    return returns


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="a .tflite Q-network (observation -> q_values)")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=2_000_000)
    p.add_argument("--debug", action="store_true", help="show the traceback of a failure (and the runtime's log)")
    args = p.parse_args(argv)
    if not 1 <= args.episodes <= MAX_EPISODES:
        print(f"play_cartpole: error: --episodes must be in [1, {MAX_EPISODES}], got {args.episodes}", file=sys.stderr)
        return 1
    if not 0 <= args.seed <= 2 ** 31 - 1 - args.episodes:
        print(f"play_cartpole: error: --seed must be in [0, 2**31 - 1 - episodes], got {args.seed}", file=sys.stderr)
        return 1
    try:
        with dc.runtime_log() if not args.debug else contextlib.nullcontext():
            net = QNetwork(args.model)
            returns = play(net, args.episodes, args.seed)
    except Exception as e:
        return dc.exit_status(e, args.debug, args.model, prefix="play_cartpole: error: ")
    for k, r in enumerate(returns):
        print(f"episode {k + 1} (seed {args.seed + k}): return {r:g}")
    print(f"mean return {np.mean(returns):.2f} +- {np.std(returns):.2f} over {args.episodes} episodes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
