"""Deep Q-learning (Mnih et al. 2015) with experience replay, and each of its refinements switchable: a target
network (synced every `target_update` environment steps; 0 = none, the online net bootstraps itself), double
Q-learning (van Hasselt et al. 2016: the online net picks a', the target net values it) and proportional
prioritized replay (Schaul et al. 2016, on a sum-tree, with importance-sampling weights annealed to 1).

`DQN` is a zoo model (a keras.Model): `model(obs)` gives Q-values (N, actions) for observations (N, obs_dim);
`act(obs)` the greedy action. `learn(...)` runs the training loop: an epsilon-greedy behaviour policy (linear
from 1 to `final_epsilon` over the first `exploration_fraction` of the steps), `gradient_steps` Huber-loss Adam
updates every `train_freq` environment steps once `learning_starts` transitions are stored, and an evaluation
of the greedy policy every `eval_every` steps (mean return over `eval_episodes` episodes on held-out seeds; both
from the config unless given).
With a work folder the whole state is checkpointed at each evaluation (weights, optimizer, replay buffer,
sum-tree, the numpy generator, the environment mid-episode, step counters, histories) in one
tf.train.Checkpoint (arrays as variables, the rest as one JSON string), so a killed run resumes bit for bit.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf
import keras

from zoo import checks
from zoo.base import ZooModel
from zoo.errors import ZooError
from zoo.families.rl import envs
from zoo.families.rl.evaluation import evaluate, observations
from zoo.families.rl.replay import PrioritizedReplayBuffer, ReplayBuffer, beta_schedule

FAMILY = "rl"
MAX_ENV_STEPS = 10_000_000


@keras.saving.register_keras_serializable(package="zoo")
class DQN(ZooModel):
    """A Q-network over a gymnasium environment with a Box observation and Discrete actions."""

    family = FAMILY
    acts_on_batches = True
    input_kind = "rows"     # observations (N, obs_dim)

    def __init__(self, env_id="CartPole-v1", obs_dim=4, n_actions=2, hidden_units=(256, 256), double_q=True,
                 target_update=10, prioritized=True, alpha=0.6, beta0=0.4, gamma=0.99, buffer_size=100_000,
                 learning_starts=1000, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
                 final_epsilon=0.04, max_grad_norm=10.0, eval_every=2500, eval_episodes=20, **kwargs):
        super().__init__(**kwargs)
        self._config = dict(
            env_id=str(env_id), obs_dim=checks.count(obs_dim, "obs_dim", 1, 10_000),
            n_actions=checks.count(n_actions, "n_actions", 2, 10_000),
            hidden_units=[checks.count(u, "hidden_units", 1, 8192) for u in hidden_units],
            double_q=bool(double_q), target_update=checks.count(target_update, "target_update", 0),
            prioritized=bool(prioritized), alpha=checks.number(alpha, "alpha", 0.0, 1.0),
            beta0=checks.number(beta0, "beta0", 0.0, 1.0), gamma=checks.number(gamma, "gamma", 0.0, 1.0),
            buffer_size=checks.count(buffer_size, "buffer_size", 1, 10_000_000),
            learning_starts=checks.count(learning_starts, "learning_starts", 1),
            train_freq=checks.count(train_freq, "train_freq", 1), gradient_steps=checks.count(gradient_steps, "gradient_steps", 1),
            exploration_fraction=checks.number(exploration_fraction, "exploration_fraction", 0.0, 1.0),
            final_epsilon=checks.number(final_epsilon, "final_epsilon", 0.0, 1.0),
            max_grad_norm=checks.number(max_grad_norm, "max_grad_norm", 0.0, strict_min=True),
            eval_every=checks.count(eval_every, "eval_every", 1), eval_episodes=checks.count(eval_episodes, "eval_episodes", 1, 10_000))
        if self._config["double_q"] and not self._config["target_update"]:
            raise ZooError("double_q needs a target network (target_update > 0)")
        c = self._config
        self.obs_dim, self.n_actions, self.env_id = c["obs_dim"], c["n_actions"], c["env_id"]
        self.online = [keras.layers.Dense(u, activation="relu", name=f"q_hidden{i}") for i, u in enumerate(c["hidden_units"])]
        self.online.append(keras.layers.Dense(self.n_actions, name="q_out"))
        self.target = [keras.layers.Dense(u, activation="relu", name=f"target_hidden{i}", trainable=False)
                       for i, u in enumerate(c["hidden_units"])]
        self.target.append(keras.layers.Dense(self.n_actions, name="target_out", trainable=False))
        example = np.zeros((1, self.obs_dim), np.float32)
        self._net(self.target, example)
        self.finish(example, optimizer=keras.optimizers.Adam(1e-3))
        self.sync_target()
        self._greedy = tf.function(lambda x: tf.argmax(self._net(self.online, x), axis=-1, output_type=tf.int32),
                                   input_signature=[tf.TensorSpec([None, self.obs_dim], tf.float32)])

    @classmethod
    def parameter_count(cls, config):
        sizes = [int(config.get("obs_dim", 4)), *[int(u) for u in config.get("hidden_units", (256, 256))],
                 int(config.get("n_actions", 2))]
        return 2 * sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))

    @staticmethod
    def _net(layers, x):
        h = tf.cast(x, tf.float32)
        for layer in layers:
            h = layer(h)
        return h

    def call(self, x, training=False):
        return self._net(self.online, x)

    @property
    def q_variables(self):
        return [w for layer in self.online for w in layer.trainable_weights]

    def sync_target(self):
        for a, b in zip(self.online, self.target):
            for wa, wb in zip(a.weights, b.weights):
                wb.assign(wa)

    def numpy_policy(self):
        """The greedy policy of the current weights as a numpy function of one observation: for a training loop
        that acts thousands of times between weight changes, where a TensorFlow call per action costs far more
        than the network itself. Take a new one after the weights change."""
        layers = [(w.numpy(), b.numpy()) for w, b in zip(self.q_variables[::2], self.q_variables[1::2])]

        def greedy(obs):
            h = np.asarray(obs, np.float32)
            for w, b in layers[:-1]:
                h = np.maximum(h @ w + b, 0.0)
            w, b = layers[-1]
            return int(np.argmax(h @ w + b))

        return greedy

    # -- the policy ----------------------------------------------------------------------------------------------
    def q_values(self, obs):
        x, single = observations(obs, self.obs_dim)
        q = self._net(self.online, x).numpy()
        return q[0] if single else q

    def act(self, obs):
        """The greedy action for one observation (obs_dim,) -> int, or for a batch (N, obs_dim) -> (N,) ints."""
        x, single = observations(obs, self.obs_dim)
        a = self._greedy(tf.constant(x)).numpy()
        return int(a[0]) if single else a

    def test_metrics(self, x=None, y=None, episodes=100):
        """The greedy policy's return over `episodes` episodes on held-out seeds (never used in training)."""
        mean, std, returns = evaluate(self, self.env_id, episodes, TEST_SEED, return_all=True)
        return {"mean_return": float(mean), "std_return": float(std), "episodes": int(episodes),
                "min_return": float(np.min(returns)), "env_id": self.env_id,
                "seeds": f"{TEST_SEED}..{TEST_SEED + episodes - 1}"}


TEST_SEED = 1_000_000          # the card's held-out episodes: seeds 1,000,000 ...
EVAL_SEED = 500_000            # evaluations during training: seeds 500,000 + 1,000 * k ...


def epsilon(step, total, fraction, final):
    """Linear from 1 to `final` over the first `fraction` of `total` steps, then `final`."""
    span = fraction * total
    if span <= 0:
        return final
    return float(max(final, 1.0 + (final - 1.0) * step / span))


def make_update(model, double_q, use_target, gamma, max_grad_norm):
    """One Adam step on the importance-weighted Huber loss of a batch of numpy arrays; returns (loss, TD errors)
    as a float and a numpy array."""
    variables = model.q_variables
    optimizer = model.optimizer
    huber = keras.losses.Huber(delta=1.0, reduction=None)

    # A fixed signature: each call skips retracing checks, which otherwise cost more than the step itself.
    spec = lambda *shape, dtype=tf.float32: tf.TensorSpec([None, *shape], dtype)  # noqa: E731

    @tf.function(input_signature=[spec(model.obs_dim), spec(dtype=tf.int64), spec(), spec(model.obs_dim), spec(), spec()])
    def update(obs, action, reward, next_obs, done, weights):
        action = tf.cast(action, tf.int32)
        q_next_online = model._net(model.online, next_obs)
        q_next = model._net(model.target, next_obs) if use_target else q_next_online
        if double_q:
            best = tf.argmax(q_next_online, axis=-1, output_type=tf.int32)
            value = tf.gather(q_next, best, axis=1, batch_dims=1)
        else:
            value = tf.reduce_max(q_next, axis=-1)
        target = tf.stop_gradient(reward + gamma * (1.0 - done) * value)
        with tf.GradientTape() as tape:
            q = tf.gather(model._net(model.online, obs), action, axis=1, batch_dims=1)
            td = target - q
            loss = tf.reduce_mean(weights * huber(target[:, None], q[:, None]))
        grads = tape.gradient(loss, variables)
        grads, _ = tf.clip_by_global_norm(grads, max_grad_norm)
        optimizer.apply_gradients(zip(grads, variables))
        # one tensor, so the caller pays for one device-to-host copy per step
        return tf.concat([loss[None], td], axis=0)

    # The concrete function: calling it skips the polymorphic function's argument binding (about a millisecond a
    # call here, as much as the update's arithmetic).
    concrete = update.get_concrete_function()

    def step(obs, action, reward, next_obs, done, weights):
        out = concrete(*[tf.constant(b) for b in (obs, action, reward, next_obs, done, weights)]).numpy()
        return float(out[0]), out[1:]

    return step


class TrainState:
    """Everything a DQN run carries between environment steps besides the weights and the optimizer."""

    def __init__(self, model, total_steps, seed, batch_size):
        c = model.get_config()
        self.c, self.total, self.seed, self.batch_size = c, total_steps, seed, batch_size
        capacity = min(c["buffer_size"], total_steps)
        shape = (model.obs_dim,)
        self.buffer = (PrioritizedReplayBuffer(capacity, shape, alpha=c["alpha"]) if c["prioritized"]
                       else ReplayBuffer(capacity, shape))
        self.rng = np.random.default_rng(seed)
        self.env = envs.make(c["env_id"])
        obs, _ = self.env.reset(seed=seed)
        self.obs = np.asarray(obs, np.float32)
        self.step = 0
        self.updates = 0
        self.episode_return = 0.0
        self.episodes = []
        self.history = {"env_steps": [], "eval_return": [], "eval_std": [], "loss": [], "epsilon": [], "seconds": []}
        self.losses = []
        self.seconds = 0.0
        self.best = {"score": -np.inf, "step": 0}

    # -- checkpoint -----------------------------------------------------------------------------------------------
    def scalars(self):
        arrays, buffer_scalars = self.buffer.state()
        return {"step": self.step, "updates": self.updates, "episode_return": self.episode_return,
                "episodes": self.episodes, "history": self.history, "losses": self.losses, "seconds": self.seconds,
                "best": self.best, "obs": self.obs.tolist(), "rng": self.rng.bit_generator.state,
                "env": envs.env_state(self.env), "buffer": buffer_scalars}

    def load(self, s, arrays):
        self.buffer.load_state(arrays, s["buffer"])
        self.step, self.updates, self.episode_return = s["step"], s["updates"], s["episode_return"]
        self.episodes, self.history, self.losses, self.seconds = s["episodes"], s["history"], s["losses"], s["seconds"]
        self.best = s["best"]
        self.obs = np.asarray(s["obs"], np.float32)
        self.rng.bit_generator.state = s["rng"]
        envs.set_env_state(self.env, s["env"])


class Checkpointer:
    """One tf.train.Checkpoint holding the model's and optimizer's variables, the best weights so far, the
    replay buffer's arrays and the rest of the run's state as a JSON string."""

    def __init__(self, model, state, folder):
        arrays, _ = state.buffer.state()
        self.model, self.state = model, state
        self.arrays = {k: tf.Variable(np.zeros_like(v), trainable=False) for k, v in arrays.items()}
        self.best = [tf.Variable(np.asarray(w), trainable=False) for w in model.q_variables]
        self.text = tf.Variable("", dtype=tf.string, trainable=False)
        ckpt = tf.train.Checkpoint(model=[v.value for v in model.variables],
                                   optimizer=[v.value for v in model.optimizer.variables],
                                   buffer=self.arrays, best=self.best, state=self.text)
        self.manager = tf.train.CheckpointManager(ckpt, str(folder), max_to_keep=1) if folder else None

    def keep_best(self):
        for v, w in zip(self.best, self.model.q_variables):
            v.assign(w)

    def restore_best(self):
        for v, w in zip(self.best, self.model.q_variables):
            w.assign(v)
        self.model.sync_target()

    def save(self):
        if self.manager is None:
            return
        arrays, _ = self.state.buffer.state()
        for k, v in arrays.items():
            self.arrays[k].assign(v)
        self.text.assign(json.dumps(self.state.scalars()))
        self.manager.save()

    def restore(self):
        if self.manager is None or not self.manager.latest_checkpoint:
            return False
        self.manager.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
        self.state.load(json.loads(self.text.numpy().decode()), {k: v.numpy() for k, v in self.arrays.items()})
        return True


def learn(model, total_steps, *, learning_rate=2.3e-3, batch_size=64, seed=0, eval_every=None, eval_episodes=None,
          work_dir=None, verbose=1, stop_at=None, log=None):
    """Train `model` in its environment for `total_steps` environment steps; returns the history
    {"env_steps", "eval_return", "eval_std", "loss", "epsilon", "seconds"} (one entry per evaluation; seconds is the
    training wall-clock so far, evaluations excluded) and a summary. At the end the weights are the best
    evaluated ones (the latest among equals). stop_at: end the run at the first evaluation reaching it."""
    total_steps = checks.count(total_steps, "steps", 1, MAX_ENV_STEPS)
    batch_size = checks.count(batch_size, "batch_size", 1, 65_536)
    c = model.get_config()
    eval_every = checks.count(eval_every or c["eval_every"], "eval_every", 1)
    eval_episodes = checks.count(eval_episodes or c["eval_episodes"], "eval_episodes", 1, 10_000)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    model.optimizer.build(model.q_variables)
    state = TrainState(model, total_steps, seed, batch_size)
    folder = Path(work_dir) / "dqn" if work_dir is not None else None
    ckpt = Checkpointer(model, state, folder)
    if ckpt.restore() and verbose:
        print(f"resuming dqn from its checkpoint at epoch {state.step // eval_every} (env step {state.step}; {folder})",
              file=sys.stderr)
    use_target = c["target_update"] > 0
    update = make_update(model, c["double_q"], use_target, c["gamma"], c["max_grad_norm"])
    buffer, env, rng = state.buffer, state.env, state.rng
    stopped = bool(stop_at is not None and state.history["eval_return"] and state.history["eval_return"][-1] >= stop_at)
    # The weights change only in the training rounds: act with a numpy copy of them in between, and sync the
    # target only when the online net has changed since the last sync (syncing equal weights is a no-op).
    greedy, target_stale = model.numpy_policy(), True   # True: a resumed run syncs once, as a no-op or a catch-up
    tick = time.perf_counter()
    while state.step < total_steps and not stopped:
        eps = epsilon(state.step, total_steps, c["exploration_fraction"], c["final_epsilon"])
        explore = rng.random() < eps
        action = int(rng.integers(model.n_actions)) if explore else greedy(state.obs)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        next_obs = np.asarray(next_obs, np.float32)
        buffer.add(state.obs, action, reward, next_obs, terminated)
        state.episode_return += float(reward)
        state.step += 1
        if terminated or truncated:
            state.episodes.append(state.episode_return)
            state.episode_return = 0.0
            next_obs = np.asarray(env.reset()[0], np.float32)
        state.obs = next_obs
        if use_target and target_stale and state.step % c["target_update"] == 0:
            model.sync_target()
            target_stale = False
        if state.step >= c["learning_starts"] and state.step % c["train_freq"] == 0:
            beta = beta_schedule(state.step, total_steps, c["beta0"])
            for _ in range(c["gradient_steps"]):
                index, (o, a, r, o2, d), w = buffer.sample(batch_size, rng, beta)
                loss, td = update(o, a, r, o2, d, w)
                buffer.update_priorities(index, td)
                state.losses.append(loss)
                state.updates += 1
            greedy, target_stale = model.numpy_policy(), True
        if state.step % eval_every == 0 or state.step == total_steps:
            state.seconds += time.perf_counter() - tick
            mean, std = evaluate(model, c["env_id"], eval_episodes, EVAL_SEED + 1000 * (state.step // eval_every))
            h = state.history
            h["env_steps"].append(state.step)
            h["eval_return"].append(round(float(mean), 4))
            h["eval_std"].append(round(float(std), 4))
            h["loss"].append(round(float(np.mean(state.losses)), 6) if state.losses else 0.0)
            h["epsilon"].append(round(eps, 6))
            h["seconds"].append(round(state.seconds, 3))
            state.losses = []
            if mean >= state.best["score"]:
                state.best = {"score": float(mean), "step": state.step}
                ckpt.keep_best()
            if verbose:
                line = (f"step {state.step}/{total_steps}: eval return {mean:.1f} +- {std:.1f}, loss {h['loss'][-1]:.4f}, "
                        f"epsilon {eps:.3f}, {len(state.episodes)} episodes, {state.seconds:.1f}s")
                print(line, file=log or sys.stderr, flush=True)
            stopped = stop_at is not None and mean >= stop_at
            ckpt.save()
            tick = time.perf_counter()
    ckpt.restore_best()
    summary = {"env_steps": state.step, "updates": state.updates, "training_episodes": len(state.episodes),
               "best_eval": state.best, "train_seconds": round(state.seconds, 1)}
    return state.history, summary


def steps_to(history, threshold=475.0):
    """(env steps, seconds) at the first evaluation whose mean return reaches `threshold`, or (None, None)."""
    for steps, ret, sec in zip(history["env_steps"], history["eval_return"], history["seconds"]):
        if ret >= threshold:
            return steps, sec
    return None, None
