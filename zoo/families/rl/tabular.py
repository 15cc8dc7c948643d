"""Tabular methods: Q-learning on the six-room example and TD(0) prediction on the 5-state random walk.

Q-learning, deterministic update (learning rate 1, right for a deterministic environment):
    Q(s, a) <- r + gamma max_a' Q(s', a')
stochastic update (for noisy environments; converges to the same fixed point here):
    Q(s, a) <- Q(s, a) + eta [r + gamma max_a' Q(s', a') - Q(s, a)]
TD(0):
    V(s) <- V(s) + eta [r + gamma V(s') - V(s)]      (V(terminal) = 0)

Exploration: the behaviour policy is epsilon-greedy over the doors of the current room (epsilon = 1 is the
classic tutorial's purely random exploration); Q-learning is off-policy, so the table it learns is the optimal
one whatever the behaviour, as long as every door keeps being tried.
"""

import numpy as np

from zoo import checks
from zoo.errors import ZooError
from zoo.families.rl import envs

# The classic table, Q normalized to its maximum x 100 and rounded (rows: rooms 0-4 and the outside, 5).
SIX_ROOMS_Q_NORMALIZED = np.array([
    [0, 0, 0, 0, 80, 0],
    [0, 0, 0, 64, 0, 100],
    [0, 0, 0, 64, 0, 0],
    [0, 80, 51, 0, 80, 0],
    [64, 0, 0, 64, 0, 100],
    [0, 80, 0, 0, 80, 100],
])


def q_learning(env_id=envs.SIX_ROOMS_ID, episodes=1000, gamma=0.8, eta=None, epsilon=1.0, seed=0):
    """Q-learning over `episodes` episodes of a Discrete-observation, Discrete-action environment; eta None is the
    deterministic update (eta = 1). The six-room env offers only its doors (`valid_actions`). Returns Q."""
    episodes = checks.count(episodes, "episodes", 1, 10_000_000)
    gamma = checks.number(gamma, "gamma", 0.0, 1.0)
    epsilon = checks.number(epsilon, "epsilon", 0.0, 1.0)
    if eta is not None:
        eta = checks.number(eta, "eta", 0.0, 1.0, strict_min=True)
    env = envs.make(env_id)
    n_s, n_a = env.observation_space.n, env.action_space.n
    valid = getattr(env.unwrapped, "valid_actions", lambda s: np.arange(n_a))
    q = np.zeros((n_s, n_a))
    rng = np.random.default_rng(seed)
    for episode in range(episodes):
        s, _ = env.reset(seed=seed + episode)
        done = False
        while not done:
            doors = valid(s)
            if rng.random() < epsilon:
                a = int(rng.choice(doors))
            else:
                a = int(doors[np.argmax(q[s, doors])])
            s2, r, terminated, truncated, _ = env.step(a)
            # a truncation (reaching the outside, a time limit) still bootstraps; only a true terminal does not
            target = r + (0.0 if terminated else gamma * np.max(q[s2, valid(s2)]))
            q[s, a] = target if eta is None else q[s, a] + eta * (target - q[s, a])
            s, done = s2, terminated or truncated
    return q


def normalized(q):
    """Q / max(Q) x 100, rounded to integers (the classic table's presentation)."""
    top = np.max(q)
    if top <= 0:
        raise ZooError("Q has no positive entry to normalize by")
    return np.rint(100.0 * q / top).astype(int)


def value_iteration_q(rewards, gamma=0.8, sweeps=500):
    """Q* of a deterministic room graph (action = next room, -1 = no door) by value iteration: an independent
    reference for Q-learning."""
    q = np.zeros_like(rewards, dtype=np.float64)
    door = rewards >= 0
    for _ in range(sweeps):
        v = np.where(door, q, -np.inf).max(axis=1)
        q = np.where(door, rewards + gamma * v[None, :], 0.0)
    return q


def td0(env_id=envs.RANDOM_WALK_ID, episodes=100, eta=0.1, gamma=1.0, v0=0.5, seed=0, record=True):
    """TD(0) prediction of the state values under the environment's own dynamics (the action is ignored).
    Returns V after each episode, (episodes + 1, states) with row 0 the initial V (record=False: the last only).
    Terminal states keep V = 0."""
    episodes = checks.count(episodes, "episodes", 1, 10_000_000)
    eta = checks.number(eta, "eta", 0.0, 1.0, strict_min=True)
    gamma = checks.number(gamma, "gamma", 0.0, 1.0)
    env = envs.make(env_id)
    n = env.observation_space.n
    v = np.full(n, float(v0))
    v[0] = v[-1] = 0.0
    rows = [v.copy()]
    for episode in range(episodes):
        s, _ = env.reset(seed=seed * 1_000_003 + episode)
        done = False
        while not done:
            s2, r, terminated, truncated, _ = env.step(0)
            v[s] += eta * (r + gamma * (0.0 if terminated else v[s2]) - v[s])
            s, done = s2, terminated or truncated
        if record:
            rows.append(v.copy())
    return np.array(rows) if record else v


def rms_curve(etas=(0.05, 0.1, 0.15), episodes=100, runs=100, seed=0):
    """Sutton and Barto's figure (Example 6.2, right): RMS error of TD(0)'s V over states A-E against the true
    values, averaged over `runs` runs, after 0..episodes episodes, for each eta. Returns {eta: (episodes + 1,)}."""
    runs = checks.count(runs, "runs", 1, 100_000)
    truth = envs.RandomWalk.TRUE_VALUES
    out = {}
    for eta in etas:
        errors = [np.sqrt(np.mean((td0(episodes=episodes, eta=eta, seed=seed + r)[:, 1:-1] - truth) ** 2, axis=1))
                  for r in range(runs)]
        out[float(eta)] = np.mean(errors, axis=0)
    return out


def rms_figure(curves, runs):
    from zoo import figures

    series = {f"TD(0), eta = {eta:g}": (np.arange(len(c)), c) for eta, c in curves.items()}
    return figures.curves(series, title=f"TD(0), 5-state random walk: RMS error over states A-E\n"
                                        f"(mean of {runs} runs, V0 = 0.5)",
                          xlabel="episodes", ylabel="RMS error")
