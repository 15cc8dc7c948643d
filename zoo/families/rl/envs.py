"""The family's environments, registered with gymnasium.register, and what checkpoints need of any environment.

- `zoo/SixRooms-v0`: the classic six-room example. Rooms 0-4 and the outside, 5; an action is the room to go
  to, allowed only through a door (0-4, 1-3, 1-5, 2-3, 3-4, 4-5 and 5-5, both ways). Entering 5 pays 100,
  every other move 0. Reaching the outside ends the episode as a *truncation*: the outside is not an
  absorbing terminal state (5-5 is a door paying 100), so Q-learning still bootstraps from it, and with
  gamma = 0.8 its value is 100 / (1 - 0.8) = 500, the maximum the classic table is normalized by.
- `zoo/RandomWalk-v0`: Sutton and Barto's 5-state random walk (Example 6.2). States A..E are 1..5, the
  terminals 0 and 6; every episode starts in C (3) and moves left or right with probability 1/2 whatever
  the action; ending on the right pays 1, everything else 0. True values (gamma = 1) are 1/6 ... 5/6.

`env_state(env)` / `set_env_state(env, state)` capture and restore an environment mid-episode as JSON-able
values (the unwrapped env's state attributes, its random generator, a TimeLimit's step count), so a killed
training run resumes inside the very episode it was in.
"""

import gymnasium
import numpy as np
from gymnasium import spaces

from zoo.errors import ZooError

SIX_ROOMS_ID = "zoo/SixRooms-v0"
RANDOM_WALK_ID = "zoo/RandomWalk-v0"

SIX_ROOM_DOORS = ((0, 4), (1, 3), (1, 5), (2, 3), (3, 4), (4, 5), (5, 5))
GOAL = 5


def six_room_rewards():
    """The reward matrix R[s, a]: -1 where there is no door, 100 for entering 5, 0 for any other door."""
    r = -np.ones((6, 6))
    for a, b in SIX_ROOM_DOORS:
        for s, t in ((a, b), (b, a)):
            r[s, t] = 100.0 if t == GOAL else 0.0
    return r


class SixRooms(gymnasium.Env):
    """Observation: the room (Discrete(6)); action: the room to move to (Discrete(6)). A move through a wall
    is refused with a ZooError; `valid_actions(s)` lists the doors. Starts in a uniformly drawn room 0-5 (the classic tutorial picks any initial state)."""

    metadata = {"render_modes": []}
    STATE_ATTRS = ("room",)

    def __init__(self):
        self.rewards = six_room_rewards()
        self.observation_space = spaces.Discrete(6)
        self.action_space = spaces.Discrete(6)
        self.room = 0

    def valid_actions(self, s):
        return np.flatnonzero(self.rewards[s] >= 0)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        start = (options or {}).get("start")
        self.room = int(self.np_random.integers(0, 6)) if start is None else int(start)
        return self.room, {}

    def step(self, action):
        action = int(action)
        if not 0 <= action < 6 or self.rewards[self.room, action] < 0:
            raise ZooError(f"no door from room {self.room} to {action}; doors: {self.valid_actions(self.room).tolist()}")
        reward = float(self.rewards[self.room, action])
        self.room = action
        return self.room, reward, False, self.room == GOAL, {}


class RandomWalk(gymnasium.Env):
    """Observation: the position 0..6 (0 and 6 terminal); the action is ignored (a prediction problem)."""

    metadata = {"render_modes": []}
    STATE_ATTRS = ("position",)
    N = 5
    TRUE_VALUES = np.arange(1, 6) / 6.0

    def __init__(self):
        self.observation_space = spaces.Discrete(self.N + 2)
        self.action_space = spaces.Discrete(1)
        self.position = 3

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = (self.N + 1) // 2
        return self.position, {}

    def step(self, action=0):
        self.position += 1 if self.np_random.random() < 0.5 else -1
        done = self.position in (0, self.N + 1)
        return self.position, float(self.position == self.N + 1), done, False, {}


def register():
    for env_id, cls, steps in ((SIX_ROOMS_ID, SixRooms, 100), (RANDOM_WALK_ID, RandomWalk, None)):
        if env_id not in gymnasium.registry:
            gymnasium.register(env_id, entry_point=cls, max_episode_steps=steps)


register()


def make(env_id, **kwargs):
    """gymnasium.make with a one-line ZooError for an id gymnasium does not know."""
    if not isinstance(env_id, str):
        raise ZooError(f"env_id must be a string such as 'CartPole-v1', got {type(env_id).__name__}")
    try:
        return gymnasium.make(env_id, **kwargs)
    except gymnasium.error.Error as e:
        raise ZooError(f"unknown environment {env_id!r}: {str(e).splitlines()[0]}") from None


# -- checkpointable environment state -------------------------------------------------------------------------
DEFAULT_STATE_ATTRS = ("state", "steps_beyond_terminated")   # gymnasium's classic-control envs


def _encode(value):
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def _decode(value):
    if isinstance(value, dict) and "array" in value:
        return np.array(value["array"], dtype=value["dtype"])
    if isinstance(value, dict) and "tuple" in value:
        return tuple(_decode(v) for v in value["tuple"])
    return value


def env_state(env):
    """A JSON-able snapshot of an environment mid-episode."""
    u = env.unwrapped
    attrs = getattr(u, "STATE_ATTRS", DEFAULT_STATE_ATTRS)
    elapsed = []
    e = env
    while isinstance(e, gymnasium.Wrapper):
        if hasattr(e, "_elapsed_steps"):
            elapsed.append(e._elapsed_steps)
        e = e.env
    return {"attrs": {k: _encode(getattr(u, k)) for k in attrs if hasattr(u, k)},
            "np_random": u.np_random.bit_generator.state, "elapsed_steps": elapsed}


def set_env_state(env, state):
    """Restore `env_state`'s snapshot into an environment of the same id that has been reset once."""
    u = env.unwrapped
    for k, v in state["attrs"].items():
        setattr(u, k, _decode(v))
    u.np_random.bit_generator.state = state["np_random"]
    elapsed = list(state["elapsed_steps"])
    e = env
    while isinstance(e, gymnasium.Wrapper):
        if hasattr(e, "_elapsed_steps"):
            e._elapsed_steps = elapsed.pop(0)
        e = e.env
