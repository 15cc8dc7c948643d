"""Experience replay: a uniform ring buffer and the proportional prioritized replay of Schaul et al. (2016) on a
sum-tree, with importance-sampling weights whose exponent beta is annealed to 1.

Everything is numpy arrays and plain numbers, so `state()` / `load_state()` move a buffer in and out of a
checkpoint exactly (no pickle), and sampling draws from a numpy Generator the caller owns (its state is
checkpointed by the caller).
"""

import numpy as np

from zoo.errors import ZooError


def _write(nodes, leaves, values, combine):
    """Set leaves (the last value wins for a repeated leaf, as in a loop) and recompute every node above them,
    one tree level at a time."""
    if leaves.size == 1:
        # One leaf (every transition added): a scalar walk up the tree is ten times faster than the array one.
        i = int(leaves[0])
        nodes[i] = values[0]
        i >>= 1
        while i >= 1:
            nodes[i] = combine(nodes[2 * i], nodes[2 * i + 1])
            i >>= 1
        return
    nodes[leaves] = values
    # Every leaf sits at the same depth, so the walk up is level by level; a node repeated in `node` is
    # recomputed twice to the same value, which is cheaper than deduplicating each level.
    node = leaves >> 1
    while node.size and node[0] >= 1:
        nodes[node] = combine(nodes[2 * node], nodes[2 * node + 1])
        node = node >> 1


class SumTree:
    """Priorities p_0..p_{n-1} at the leaves of a binary tree whose inner nodes hold the sums of their children:
    update and prefix-sum search in O(log n). Leaves live at [size, 2 size) of one float64 array (size the
    capacity rounded up to a power of two), node i's children at 2i and 2i+1, the total at 1."""

    def __init__(self, capacity):
        self.capacity = int(capacity)
        if self.capacity < 1:
            raise ZooError(f"capacity must be >= 1, got {capacity}")
        self.size = 1 << max(0, (self.capacity - 1).bit_length())
        self.nodes = np.zeros(2 * self.size, np.float64)

    @property
    def total(self):
        return float(self.nodes[1])

    def __getitem__(self, index):
        return self.nodes[self.size + np.asarray(index)]

    def update(self, index, priority):
        """Set leaf `index` (int or array) to `priority` (>= 0, finite) and refresh the sums above it."""
        index = np.atleast_1d(np.asarray(index, np.int64))
        priority = np.broadcast_to(np.asarray(priority, np.float64), index.shape)
        if np.any(index < 0) or np.any(index >= self.capacity):
            raise ZooError(f"sum-tree index out of range [0, {self.capacity})")
        if not np.all(np.isfinite(priority)) or np.any(priority < 0):
            raise ZooError("priorities must be finite and >= 0")
        _write(self.nodes, self.size + index, priority, np.add)

    def find(self, mass):
        """For each value in [0, total): the leaf i with sum(p_<i) <= value < sum(p_<=i) (a zero-priority leaf is
        never returned)."""
        mass = np.atleast_1d(np.asarray(mass, np.float64)).copy()
        node = np.ones(len(mass), np.int64)
        while node[0] < self.size:
            left = 2 * node
            go_right = mass >= self.nodes[left]
            mass = np.where(go_right, mass - self.nodes[left], mass)
            node = np.where(go_right, left + 1, left)
        leaf = node - self.size
        # Rounding in the sums can leave a value a hair past the last positive leaf: step back onto one.
        bad = (self.nodes[node] <= 0) | (leaf >= self.capacity)
        if np.any(bad):
            positive = np.flatnonzero(self.nodes[self.size:self.size + self.capacity] > 0)
            leaf[bad] = positive[np.clip(np.searchsorted(positive, leaf[bad]), 0, len(positive) - 1)]
        return leaf


class ReplayBuffer:
    """A ring buffer of (obs, action, reward, next_obs, terminated) with uniform sampling (with replacement)."""

    prioritized = False

    def __init__(self, capacity, obs_shape, obs_dtype=np.float32):
        self.capacity = int(capacity)
        self.obs = np.zeros((self.capacity, *obs_shape), obs_dtype)
        self.next_obs = np.zeros((self.capacity, *obs_shape), obs_dtype)
        self.action = np.zeros(self.capacity, np.int64)
        self.reward = np.zeros(self.capacity, np.float32)
        self.done = np.zeros(self.capacity, np.float32)
        self.pos = 0
        self.count = 0

    def __len__(self):
        return self.count

    def add(self, obs, action, reward, next_obs, terminated):
        i = self.pos
        self.obs[i], self.next_obs[i] = obs, next_obs
        self.action[i], self.reward[i], self.done[i] = action, reward, float(terminated)
        self.pos = (self.pos + 1) % self.capacity
        self.count = min(self.count + 1, self.capacity)
        return i

    def batch(self, index):
        return (self.obs[index], self.action[index], self.reward[index], self.next_obs[index], self.done[index])

    def sample(self, n, rng, beta=None):
        """(index, batch, IS weights (all 1 here))."""
        if self.count == 0:
            raise ZooError("cannot sample from an empty replay buffer")
        index = rng.integers(0, self.count, n)
        return index, self.batch(index), np.ones(n, np.float32)

    def update_priorities(self, index, td_errors):
        pass

    ARRAYS = ("obs", "next_obs", "action", "reward", "done")

    def state(self):
        """{name: array} and {name: number}: everything needed to rebuild the buffer exactly."""
        return {k: getattr(self, k) for k in self.ARRAYS}, {"pos": self.pos, "count": self.count}

    def load_state(self, arrays, scalars):
        for k in self.ARRAYS:
            getattr(self, k)[...] = arrays[k]
        self.pos, self.count = int(scalars["pos"]), int(scalars["count"])


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritization: P(i) = p_i / sum_k p_k with p_i = (|delta_i| + eps)^alpha, new transitions at
    the largest priority so far; a batch takes one value per equal slice of the total mass (stratified), and
    weights w_i = (N P(i))^-beta / max_j w_j, the max over the whole buffer (the smallest priority), so w <= 1."""

    prioritized = True
    ARRAYS = ReplayBuffer.ARRAYS + ("tree_nodes", "min_nodes")

    def __init__(self, capacity, obs_shape, alpha=0.6, eps=1e-6, obs_dtype=np.float32):
        super().__init__(capacity, obs_shape, obs_dtype)
        self.alpha, self.eps = float(alpha), float(eps)
        self.tree = SumTree(capacity)
        # a min-tree over the same leaves (inf where empty) gives the largest weight in O(1)
        self.min_nodes = np.full(2 * self.tree.size, np.inf)
        self.max_priority = 1.0

    @property
    def tree_nodes(self):
        return self.tree.nodes

    def _set(self, index, priority):
        index = np.atleast_1d(np.asarray(index, np.int64))
        self.tree.update(index, priority)
        _write(self.min_nodes, self.tree.size + index, np.broadcast_to(priority, index.shape), np.minimum)

    def add(self, obs, action, reward, next_obs, terminated):
        i = super().add(obs, action, reward, next_obs, terminated)
        self._set(i, self.max_priority)
        return i

    def probabilities(self):
        """P(i) for the stored transitions (a brute-force view, for tests and figures)."""
        p = self.tree[np.arange(self.count)]
        return p / p.sum()

    def sample(self, n, rng, beta=0.4):
        if self.count == 0:
            raise ZooError("cannot sample from an empty replay buffer")
        total = self.tree.total
        edges = np.arange(n) * (total / n)
        mass = np.minimum(edges + rng.random(n) * (total / n), np.nextafter(total, 0))
        index = self.tree.find(mass)
        p = self.tree[index] / total
        p_min = self.min_nodes[1] / total
        weights = (p / p_min) ** (-float(beta))   # (N P)^-beta / (N P_min)^-beta
        return index, self.batch(index), weights.astype(np.float32)

    def priority_of(self, td_errors):
        return (np.abs(np.asarray(td_errors, np.float64)) + self.eps) ** self.alpha

    def update_priorities(self, index, td_errors):
        p = self.priority_of(td_errors)
        self._set(np.asarray(index), p)
        self.max_priority = max(self.max_priority, float(p.max()))

    def state(self):
        arrays, scalars = super().state()
        return arrays, {**scalars, "max_priority": self.max_priority}

    def load_state(self, arrays, scalars):
        for k in ReplayBuffer.ARRAYS:
            getattr(self, k)[...] = arrays[k]
        self.tree.nodes[...] = arrays["tree_nodes"]
        self.min_nodes[...] = arrays["min_nodes"]
        self.pos, self.count = int(scalars["pos"]), int(scalars["count"])
        self.max_priority = float(scalars["max_priority"])


def beta_schedule(step, total, beta0=0.4):
    """Linear from beta0 at step 0 to 1 at `total`, then 1."""
    return float(min(1.0, beta0 + (1.0 - beta0) * step / max(1, total)))
