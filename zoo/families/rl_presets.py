"""Presets of the rl family: plain dicts beside the models they configure (keras-hub's *_presets.py), read by
`zoo list`, `zoo info` and `zoo --help` without importing TensorFlow. "class" and "build" name attributes of
zoo.families.rl, which the registry imports the first time a model of this family is built or loaded."""

PRESETS = {
    "dqn_cartpole": {
        "class": "DQN", "data": None,
        "description": "DQN on CartPole-v1: a 4-256-256-2 Q-network with a target network (synced every 10 env "
                       "steps), double Q-learning and proportional prioritized replay (alpha 0.6, beta 0.4 -> 1); "
                       "rl-baselines3-zoo's CartPole-v1 DQN hyperparameters otherwise.",
        "config": dict(env_id="CartPole-v1", obs_dim=4, n_actions=2, hidden_units=[256, 256], double_q=True,
                       target_update=10, prioritized=True),
        "train": dict(epochs=20, batch_size=64, learning_rate=2.3e-3, seed=0),
    },
}

# The family's own commands (`zoo COMMAND NAME ...`) and their help; their arguments and run are in COMMANDS of
# zoo.families.rl.
COMMANDS = {
    "play": "Play episodes with an agent's greedy policy; prints each return (--video: a GIF).",
}
