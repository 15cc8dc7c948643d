"""Reinforcement learning, the public face of the rl family (zoo/families/rl):

    import zoo.rl
    agent = zoo.load("dqn_cartpole")                        # a DQN zoo model: agent(obs) -> Q-values
    agent.act(obs)                                           # the greedy action
    mean, std = zoo.rl.evaluate(agent, "CartPole-v1", episodes=100, seed=0)
    q = zoo.rl.q_learning(zoo.rl.SIX_ROOMS_ID, episodes=2000)   # the six-room example
    v = zoo.rl.td0(zoo.rl.RANDOM_WALK_ID, episodes=100, eta=0.1)

Episode k of an evaluation is reset with seed + k; bad arguments (an unknown env id, observations of the wrong
shape, episodes <= 0) raise one-line ZooErrors.
"""

from zoo.families.rl import envs, tabular
from zoo.families.rl.dqn import DQN, learn as learn_dqn, steps_to
from zoo.families.rl.envs import RANDOM_WALK_ID, SIX_ROOMS_ID, env_state, make, set_env_state
from zoo.families.rl.evaluation import evaluate as _evaluate
from zoo.families.rl.policy import LinearPolicy, hill_climb, reinforce, ReinforceAgent
from zoo.families.rl.replay import PrioritizedReplayBuffer, ReplayBuffer, SumTree, beta_schedule
from zoo.families.rl.tabular import q_learning, rms_curve, td0, value_iteration_q


def evaluate(agent, env_id, episodes, seed):
    """(mean, std) of the undiscounted return of agent.act over `episodes` episodes of `env_id`, episode k reset
    with seed + k."""
    return _evaluate(agent, env_id, episodes, seed)


__all__ = ["evaluate", "DQN", "learn_dqn", "steps_to", "envs", "tabular", "make", "env_state", "set_env_state",
           "SIX_ROOMS_ID", "RANDOM_WALK_ID", "q_learning", "td0", "rms_curve", "value_iteration_q", "SumTree",
           "ReplayBuffer", "PrioritizedReplayBuffer", "beta_schedule", "LinearPolicy", "hill_climb", "reinforce",
           "ReinforceAgent"]
