"""Checking observations, and the evaluation every agent here shares: the mean and standard deviation of the
undiscounted return of the agent's greedy policy over seeded episodes.

Episode k of `evaluate(agent, env_id, episodes, seed)` is the environment reset with seed `seed + k`, so two
agents evaluated with the same arguments meet the same initial states. Agents whose `act` takes a batch of
observations (`acts_on_batches = True`) play up to 64 episodes side by side, one network call per step for all
of them; the returns are the same as one episode at a time (each episode has its own environment).
"""

import numpy as np

from zoo import checks
from zoo.errors import ZooError
from zoo.families.rl import envs

MAX_EPISODES = 100_000
SIDE_BY_SIDE = 64


def observations(obs, obs_dim, name="observation"):
    """float32 (N, obs_dim) rows, finite, and whether one observation (obs_dim,) came without a batch axis."""
    return checks.as_rows(obs, obs_dim, name, what="observation")


def _check_agent(agent, env):
    if not callable(getattr(agent, "act", None)):
        raise ZooError(f"an agent needs an act(observation) method; got {type(agent).__name__}")
    obs_dim = getattr(agent, "obs_dim", None)
    shape = env.observation_space.shape
    if obs_dim is not None and shape != (obs_dim,):
        raise ZooError(f"the agent takes observations of shape ({obs_dim},) but {env.spec.id} gives {shape}")


def evaluate(agent, env_id, episodes=100, seed=0, return_all=False, max_steps=None):
    """(mean, std) of the return of agent.act over `episodes` episodes seeded seed, seed + 1, ...
    (with return_all, also the returns)."""
    episodes = checks.count(episodes, "episodes", 1, MAX_EPISODES)
    seed = checks.count(seed, "seed", 0, 2 ** 31 - 1)
    probe = envs.make(env_id)
    _check_agent(agent, probe)
    probe.close()
    batched = getattr(agent, "acts_on_batches", False)
    returns = np.zeros(episodes)
    for start in range(0, episodes, SIDE_BY_SIDE if batched else 1):
        group = range(start, min(episodes, start + (SIDE_BY_SIDE if batched else 1)))
        games = [envs.make(env_id) for _ in group]
        obs = [g.reset(seed=seed + k)[0] for g, k in zip(games, group)]
        alive = list(range(len(games)))
        steps = 0
        while alive and (max_steps is None or steps < max_steps):
            if batched:
                actions = np.asarray(agent.act(np.stack([obs[i] for i in alive]))).reshape(-1)
            else:
                actions = [agent.act(obs[i]) for i in alive]
            still = []
            for i, a in zip(alive, actions):
                obs[i], r, terminated, truncated, _ = games[i].step(int(a) if np.ndim(a) == 0 else a)
                returns[group[i]] += r
                if not (terminated or truncated):
                    still.append(i)
            alive = still
            steps += 1
        for g in games:
            g.close()
    mean, std = float(returns.mean()), float(returns.std())
    return (mean, std, returns) if return_all else (mean, std)
