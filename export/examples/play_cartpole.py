"""Device-side example: play CartPole-v1 with an exported LiteRT Q-network, greedy, and print each return.

Needs only numpy, gymnasium, ai_edge_litert and the standard library (no TensorFlow, no Keras, no zoo):

    python play_cartpole.py saved_models/dqn_cartpole/exports/qnet_int8.tflite --episodes 10 --seed 2000000

The file has one signature with an input "observation" (N, 4) and an output "q_values" (N, 2); the action is
argmax over q_values. int8 inputs are quantized with the file's own scale and zero point (q = round(x / scale) +
zero_point, clipped to [-128, 127]), int8 outputs dequantized ((q - zero_point) * scale). Episode k is reset with
seed + k, as zoo.rl.evaluate and `zoo play` do, so the returns can be compared episode by episode with the Keras
policy's. A file that cannot be loaded or is not such a Q-network is refused with one line on stderr and exit 1.
"""

import argparse
import sys

import numpy as np

MAX_EPISODES = 10_000


class Refused(Exception):
    """The model file cannot be used; the message says why."""


class QNetwork:
    """A LiteRT Q-network: q_values(observations (N, obs_dim)) -> (N, actions) float32."""

    def __init__(self, path, num_threads=1):
        from ai_edge_litert.interpreter import Interpreter

        try:
            self.interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
            self.runner = self.interpreter.get_signature_runner()
        except (ValueError, RuntimeError, OSError) as e:
            raise Refused(f"{path}: not a loadable LiteRT model ({str(e).splitlines()[0] if str(e) else type(e).__name__})")
        ins, outs = self.runner.get_input_details(), self.runner.get_output_details()
        if set(ins) != {"observation"} or set(outs) != {"q_values"}:
            raise Refused(f"{path}: expected input 'observation' and output 'q_values', got {sorted(ins)} -> {sorted(outs)}")
        self.inp, self.out = ins["observation"], outs["q_values"]
        self.obs_dim = int(self.inp["shape_signature"][-1] if len(self.inp["shape_signature"]) else self.inp["shape"][-1])

    def q_values(self, obs):
        x = np.asarray(obs, np.float32).reshape(-1, self.obs_dim)
        if self.inp["dtype"] == np.int8:
            scale, zero = self.inp["quantization"]
            x = np.clip(np.round(x / scale) + zero, -128, 127).astype(np.int8)
        q = self.runner(observation=x)["q_values"]
        if self.out["dtype"] == np.int8:
            scale, zero = self.out["quantization"]
            q = (q.astype(np.float32) - zero) * scale
        return np.asarray(q, np.float32)

    def act(self, obs):
        return int(np.argmax(self.q_values(obs)[0]))


def play(policy, episodes, seed, env_id="CartPole-v1"):
    """The undiscounted return of each greedy episode; episode k is reset with seed + k."""
    import gymnasium

    env = gymnasium.make(env_id)
    returns = []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        total, done = 0.0, False
        while not done:
            obs, r, terminated, truncated, _ = env.step(policy.act(obs))
            total += float(r)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return returns


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="a .tflite Q-network (observation -> q_values)")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=2_000_000)
    args = p.parse_args(argv)
    if not 1 <= args.episodes <= MAX_EPISODES:
        print(f"play_cartpole: error: --episodes must be in [1, {MAX_EPISODES}], got {args.episodes}", file=sys.stderr)
        return 1
    if not 0 <= args.seed <= 2 ** 31 - 1 - args.episodes:
        print(f"play_cartpole: error: --seed must be in [0, 2**31 - 1 - episodes], got {args.seed}", file=sys.stderr)
        return 1
    try:
        net = QNetwork(args.model)
        returns = play(net, args.episodes, args.seed)
    except Refused as e:
        print(f"play_cartpole: error: {e}", file=sys.stderr)
        return 1
    for k, r in enumerate(returns):
        print(f"episode {k + 1} (seed {args.seed + k}): return {r:g}")
    print(f"mean return {np.mean(returns):.2f} +- {np.std(returns):.2f} over {args.episodes} episodes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
