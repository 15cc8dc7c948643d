"""Search in policy space.

- Hill climbing with a linear policy: a = argmax(obs @ W) (W of shape (obs_dim, actions)). Each iteration
  perturbs the best W so far with Gaussian noise of scale sigma and keeps the candidate if its mean return over
  `episodes_per_eval` seeded episodes is at least the best's; sigma halves after an improvement (down to
  sigma_min) and doubles otherwise (up to sigma_max), the adaptive-noise variant.
- REINFORCE with a learned baseline (Williams 1992; Sutton and Barto 13.4): a Keras policy net pi(a|s) and value
  net V(s); after each episode, with returns G_t = sum_k gamma^k r_{t+k}, one tf.function step does
      policy: gradient ascent on mean_t log pi(a_t|s_t) (G_t - V(s_t))   (the gamma^t factor dropped, as usual)
      value:  gradient descent on mean_t (G_t - V(s_t))^2
  with Adam on each net.
"""

import numpy as np
import tensorflow as tf
import keras

from zoo import checks
from zoo.families.rl import envs
from zoo.families.rl.evaluation import evaluate, observations


class LinearPolicy:
    """Deterministic linear policy a = argmax(obs @ W); acts on one observation or a batch."""

    acts_on_batches = True

    def __init__(self, weights):
        self.weights = np.asarray(weights, np.float64)
        self.obs_dim = self.weights.shape[0]

    def act(self, obs):
        x, single = observations(obs, self.obs_dim)
        a = np.argmax(x.astype(np.float64) @ self.weights, axis=-1)
        return int(a[0]) if single else a


def hill_climb(env_id="CartPole-v1", iterations=200, episodes_per_eval=5, sigma=1e-2, sigma_min=1e-3, sigma_max=2.0,
               seed=0, target=None):
    """Adaptive-noise hill climbing of a linear policy. Returns (policy, history {"iteration", "best_return",
    "env_steps"}); stops early once the best mean return reaches `target`."""
    iterations = checks.count(iterations, "iterations", 1, 1_000_000)
    probe = envs.make(env_id)
    obs_dim, n_actions = int(probe.observation_space.shape[0]), int(probe.action_space.n)
    rng = np.random.default_rng(seed)
    best_w = 1e-4 * rng.standard_normal((obs_dim, n_actions))
    steps = 0

    def score(w, k):
        nonlocal steps
        _, _, returns = evaluate(LinearPolicy(w), env_id, episodes_per_eval, seed * 100_003 + k * episodes_per_eval,
                                 return_all=True)
        steps += int(returns.sum())   # CartPole pays 1 per step
        return float(returns.mean())

    best = score(best_w, 0)
    history = {"iteration": [0], "best_return": [best], "env_steps": [steps]}
    for it in range(1, iterations + 1):
        w = best_w + sigma * rng.standard_normal(best_w.shape)
        r = score(w, it)
        if r >= best:
            best, best_w, sigma = r, w, max(sigma_min, sigma / 2)
        else:
            sigma = min(sigma_max, sigma * 2)
        history["iteration"].append(it)
        history["best_return"].append(best)
        history["env_steps"].append(steps)
        if target is not None and best >= target:
            break
    return LinearPolicy(best_w), history


class ReinforceAgent:
    """A softmax policy net and a value net (Keras), trained by REINFORCE with the value as a baseline."""

    acts_on_batches = True

    def __init__(self, obs_dim, n_actions, hidden=32, policy_lr=1e-2, value_lr=1e-2, gamma=0.99, seed=0):
        self.obs_dim, self.n_actions, self.gamma = obs_dim, n_actions, gamma
        init = keras.initializers.GlorotUniform
        self.policy = keras.Sequential([keras.Input((obs_dim,)),
                                        keras.layers.Dense(hidden, activation="tanh", kernel_initializer=init(seed)),
                                        keras.layers.Dense(n_actions, kernel_initializer=init(seed + 1))], name="policy")
        self.value = keras.Sequential([keras.Input((obs_dim,)),
                                       keras.layers.Dense(hidden, activation="tanh", kernel_initializer=init(seed + 2)),
                                       keras.layers.Dense(1, kernel_initializer=init(seed + 3))], name="value")
        self.policy_opt, self.value_opt = keras.optimizers.Adam(policy_lr), keras.optimizers.Adam(value_lr)
        self.policy_opt.build(self.policy.trainable_variables)
        self.value_opt.build(self.value.trainable_variables)
        self._logits = tf.function(lambda x: self.policy(x), reduce_retracing=True)
        self._step = tf.function(self._update, reduce_retracing=True)

    def act(self, obs):
        x, single = observations(obs, self.obs_dim)
        a = np.argmax(self._logits(tf.constant(x)).numpy(), axis=-1)
        return int(a[0]) if single else a

    def sample(self, obs, rng):
        logits = self._logits(tf.constant(np.asarray(obs, np.float32)[None])).numpy()[0].astype(np.float64)
        p = np.exp(logits - logits.max())
        return int(rng.choice(self.n_actions, p=p / p.sum()))

    def _update(self, obs, actions, returns):
        with tf.GradientTape(persistent=True) as tape:
            baseline = self.value(obs)[:, 0]
            advantage = tf.stop_gradient(returns - baseline)
            logp = tf.nn.log_softmax(self.policy(obs))
            chosen = tf.gather(logp, actions, axis=1, batch_dims=1)
            policy_loss = -tf.reduce_mean(chosen * advantage)
            value_loss = tf.reduce_mean(tf.square(returns - baseline))
        self.policy_opt.apply_gradients(zip(tape.gradient(policy_loss, self.policy.trainable_variables),
                                            self.policy.trainable_variables))
        self.value_opt.apply_gradients(zip(tape.gradient(value_loss, self.value.trainable_variables),
                                           self.value.trainable_variables))
        return policy_loss, value_loss

    def discounted_returns(self, rewards):
        g, out = 0.0, np.zeros(len(rewards), np.float32)
        for t in range(len(rewards) - 1, -1, -1):
            g = rewards[t] + self.gamma * g
            out[t] = g
        return out

    def update(self, obs, actions, rewards):
        returns = self.discounted_returns(rewards)
        losses = self._step(tf.constant(np.asarray(obs, np.float32)), tf.constant(np.asarray(actions, np.int32)),
                            tf.constant(returns))
        return [float(v) for v in losses]


def reinforce(env_id="CartPole-v1", episodes=1000, seed=0, eval_every=50, eval_episodes=10, target=None, **agent_kwargs):
    """Train a ReinforceAgent for `episodes` episodes; returns (agent, history {"episode", "env_steps", "eval_return",
    "train_return"}) with the greedy policy evaluated every `eval_every` episodes."""
    episodes = checks.count(episodes, "episodes", 1, 1_000_000)
    keras.utils.set_random_seed(seed)
    env = envs.make(env_id)
    agent = ReinforceAgent(int(env.observation_space.shape[0]), int(env.action_space.n), seed=seed, **agent_kwargs)
    rng = np.random.default_rng(seed)
    steps = 0
    history = {"episode": [], "env_steps": [], "eval_return": [], "train_return": []}
    obs, _ = env.reset(seed=seed)
    recent = []
    for episode in range(1, episodes + 1):
        xs, acts, rews = [], [], []
        done = False
        while not done:
            a = agent.sample(obs, rng)
            xs.append(np.asarray(obs, np.float32))
            acts.append(a)
            obs, r, terminated, truncated, _ = env.step(a)
            rews.append(float(r))
            done = terminated or truncated
        steps += len(rews)
        recent.append(sum(rews))
        agent.update(np.stack(xs), acts, rews)
        obs, _ = env.reset()
        if episode % eval_every == 0:
            mean, _ = evaluate(agent, env_id, eval_episodes, 700_000 + episode)
            history["episode"].append(episode)
            history["env_steps"].append(steps)
            history["eval_return"].append(round(mean, 3))
            history["train_return"].append(round(float(np.mean(recent)), 3))
            recent = []
            if target is not None and mean >= target:
                break
    return agent, history
