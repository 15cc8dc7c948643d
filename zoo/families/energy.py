"""Energy-based nets: Hopfield networks, Boltzmann machines trained with simulated annealing, and restricted
Boltzmann machines whose likelihood is measured rather than guessed.

- `HopfieldNetwork` (Hopfield 1982): ±1 units, energy E(x) = -(1/2 x^T W x + b^T x), Hebbian storage
  W = (1/n) sum_k y_k y_k^T with a zero diagonal, threshold updates that keep x_i when its field is 0,
  asynchronous (one unit at a time, energy never rises) or synchronous (all at once) recall. NumPy; nothing
  to train by gradient, so it is a plain class, not a registered Keras model.
- `BoltzmannMachine` (Ackley, Hinton & Sejnowski 1985): 0/1 stochastic units, visible and hidden, fully
  connected; the Boltzmann learning rule dW ~ <s_i s_j>_clamped - <s_i s_j>_free, each expectation gathered
  by Gibbs sampling after simulated annealing along a temperature schedule the caller chooses. Small enough
  to enumerate, so its learned visible distribution is compared with the data's by an exact KL. NumPy.
- `RBM` (Smolensky 1986; Hinton 2002): Bernoulli-Bernoulli restricted Boltzmann machine in Keras/TF with a
  custom train_step, CD-k or persistent CD (Tieleman 2008), and the test log-likelihood through annealed
  importance sampling (Salakhutdinov & Murray 2008) for log Z, with error bars. Preset: rbm_mnist.

Binary data: the RBM models binary vectors. Training binarizes each batch afresh from the pixel intensities
(dynamic binarization, a seed generator in the model's state); figures on a split use the fixed, seeded
zoo.data.binarize(x, seed=0), as the VAE family does; `log_likelihood` and `free_energy` take binary
vectors only and refuse anything else.
"""

import hashlib

import numpy as np
import tensorflow as tf
import keras

from zoo import checks, data as zdata, figures, progress
from zoo.base import ExportPart, metric_report, ZooModel, batched
from zoo.errors import ZooError
from zoo.layers import image_rows, like_input

FAMILY = "energy"

# Salakhutdinov & Murray (2008): 500 betas uniform in [0, 0.5], 4,000 in [0.5, 0.9], 10,000 in [0.9, 1].
AIS_SCHEDULE_PAPER = ((0.5, 500), (0.9, 4000), (1.0, 10000))
MAX_EXACT_UNITS = 24
# Temperatures per graph call of an AIS run: rbm_mnist's 14,500 take about a second per 250 here, so a progress
# bar moves every second or so, and 58 calls per run cost nothing next to the steps.
AIS_BETAS_PER_CALL = 250
# Steps of the Gibbs chains drawn in samples.png (`zoo pictures`, `zoo demo`): rbm_mnist's take 30 s of CPU here (a
# graph call per step), hence a progress bar; a snapshot every tenth of them.
PICTURE_GIBBS_STEPS = 10_000


# ================================================================================================================
# Hopfield network
# ================================================================================================================
def as_pm1(patterns, what="patterns", n=None):
    """Patterns as an int8 (P, n) array of ±1 states; anything else is refused, naming the first offender."""
    arr = checks._array(patterns, what)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ZooError(f"{what}: expected a ±1 vector or a (P, n) array of them, got shape {np.shape(patterns)}")
    if n is not None and arr.shape[1] != n:
        raise ZooError(f"{what}: the network has {n} neurons, got vectors of length {arr.shape[1]}")
    if arr.dtype == bool:
        raise ZooError(f"{what}: expected ±1 states, got booleans (map them with 2 * x - 1)")
    bad = np.argwhere(~((arr == 1) | (arr == -1)))
    if len(bad):
        k, i = bad[0]
        raise ZooError(f"{what}: a discrete Hopfield neuron is +1 or -1, but pattern {k} has {arr[k, i].item()!r} at "
                       f"position {i}{' (0 is not a ±1 state)' if arr[k, i] == 0 else ''}")
    return arr.astype(np.int8)


class HopfieldNetwork:
    """n ±1 neurons; `store` adds patterns by the Hebbian rule, `recall` runs threshold updates to a fixed
    point (or max_steps sweeps) and returns (state, energy trace)."""

    MODES = ("async", "sync")

    def __init__(self, n):
        self.n = checks.count(n, "n", 1, 100_000)
        checks.budget(self.n * self.n + self.n, f"HopfieldNetwork({self.n})")   # the (n, n) matrix and the biases
        # n * W: integer sums under the Hebbian rule, so a field that is 0 in exact arithmetic is exactly 0 here
        # (W itself, in multiples of 1/n, gives fields like -1e-17 that would flip a unit the rule keeps)
        self._scaled = np.zeros((self.n, self.n), np.float64)
        self.bias = np.zeros(self.n, np.float64)
        self.patterns = np.zeros((0, self.n), np.int8)

    @property
    def weights(self):
        return self._scaled / self.n

    @weights.setter
    def weights(self, value):
        w = np.asarray(value, np.float64)
        if w.shape != (self.n, self.n) or not np.all(np.isfinite(w)) or not np.allclose(w, w.T):
            raise ZooError(f"weights: expected a finite symmetric ({self.n}, {self.n}) matrix")
        self._scaled = w * self.n
        np.fill_diagonal(self._scaled, 0.0)

    def store(self, patterns):
        """W += (1/n) sum_k y_k y_k^T over the new patterns, diagonal kept at zero. Returns self."""
        y = as_pm1(patterns, "patterns", self.n).astype(np.float64)
        self._scaled += y.T @ y
        np.fill_diagonal(self._scaled, 0.0)
        self.patterns = np.concatenate([self.patterns, y.astype(np.int8)])
        return self

    @property
    def load(self):
        """Stored patterns per neuron, p / n."""
        return len(self.patterns) / self.n

    def energy(self, x):
        """E(x) = -(1/2 x^T W x + b^T x) for one state or a (N, n) batch."""
        s = as_pm1(x, "x", self.n).astype(np.float64)
        e = -(0.5 * np.einsum("ki,ij,kj->k", s, self.weights, s) + s @ self.bias)
        return e[0] if np.ndim(x) == 1 else e

    def field(self, x):
        """n times the local fields (W x + b): the same signs, exact zeros."""
        return x @ self._scaled + self.n * self.bias

    def update_sync(self, x):
        """One synchronous step: every neuron takes the sign of its field, and keeps its state at a zero field."""
        h = self.field(x)
        return np.where(h > 0, 1, np.where(h < 0, -1, x)).astype(np.int8)

    def recall(self, x, mode="async", max_steps=100, seed=None):
        """Runs updates from x until no neuron changes or `max_steps` steps: a step is one sweep over the
        neurons in a seeded random order ("async", one neuron at a time) or one simultaneous update of all
        ("sync").

        Returns (final state, energy trace). The trace starts with the energy of x; in sync mode it has one
        entry per step, in async mode one per single-neuron update (trace[k * n] is the energy after k
        sweeps), so the descent can be checked unit by unit. One ±1 vector in gives one state and a 1-D
        trace; a (N, n) batch gives (N, n) states and a (T, N) trace, every row run with the same order."""
        checks.one_of(mode, self.MODES, "mode")
        max_steps = checks.count(max_steps, "max_steps", 1, 1_000_000)
        s = as_pm1(x, "x", self.n).astype(np.float64)
        single = checks._array(x, "x").ndim == 1
        w, b = self.weights, self.bias
        ws, bs = self._scaled, self.n * self.bias
        energy = -(0.5 * np.einsum("ki,ij,kj->k", s, w, s) + s @ b)
        trace = [energy.copy()]
        rng = np.random.default_rng(seed)
        for _ in range(max_steps):
            if mode == "sync":
                new = self.update_sync(s).astype(np.float64)
                changed = bool(np.any(new != s))
                s = new
                energy = -(0.5 * np.einsum("ki,ij,kj->k", s, w, s) + s @ b)
                trace.append(energy.copy())
            else:
                changed = False
                for i in rng.permutation(self.n):
                    h = s @ ws[i] + bs[i]
                    new = np.where(h > 0, 1.0, np.where(h < 0, -1.0, s[:, i]))
                    flips = new != s[:, i]
                    if flips.any():
                        # E changes by -(new - old) * h_i (W has a zero diagonal): never up when new = sign(h)
                        energy = energy - (new - s[:, i]) * h / self.n
                        s[:, i] = new
                        changed = True
                    trace.append(energy.copy())
            if not changed:
                break
        trace = np.asarray(trace)
        return (s[0].astype(np.int8), trace[:, 0]) if single else (s.astype(np.int8), trace)

    def is_fixed_point(self, x):
        s = as_pm1(x, "x", self.n)
        return np.all(self.update_sync(s) == s, axis=1)


def hopfield_weights(patterns):
    """The Hebbian weight matrix (1/n) sum_k y_k y_k^T, zero diagonal, of ±1 patterns."""
    y = as_pm1(patterns)
    return HopfieldNetwork(y.shape[1]).store(y).weights


def bit_error_rates(recalled, targets):
    return np.mean(np.asarray(recalled) != np.asarray(targets), axis=1)


# ================================================================================================================
# Boltzmann machine with hidden units, trained by the Boltzmann learning rule and simulated annealing
# ================================================================================================================
def geometric_schedule(t_start=20.0, t_end=1.0, steps=20, sweeps_per_temperature=2):
    """A simulated-annealing schedule: temperatures falling geometrically from t_start to t_end, each held
    for `sweeps_per_temperature` Gibbs sweeps. Returns a list of (temperature, sweeps)."""
    temps = np.geomspace(checks.number(t_start, "t_start", 0.0, 1e6, strict_min=True),
                         checks.number(t_end, "t_end", 0.0, 1e6, strict_min=True),
                         checks.count(steps, "steps", 1, 10_000))
    return [(float(t), checks.count(sweeps_per_temperature, "sweeps_per_temperature", 1, 10_000)) for t in temps]


def _check_schedule(schedule):
    try:
        out = [(float(t), int(k)) for t, k in schedule]
    except (TypeError, ValueError):
        raise ZooError("schedule: expected a list of (temperature, sweeps) pairs") from None
    if not out or any(not np.isfinite(t) or t <= 0 or k < 1 for t, k in out):
        raise ZooError("schedule: every temperature must be finite and > 0, every sweep count >= 1")
    return out


def as_binary(x, what, n=None):
    arr = checks._array(x, what)
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or len(arr) == 0:
        raise ZooError(f"{what}: expected a (N, n) array of 0/1 states, got shape {np.shape(x)}")
    if n is not None and arr.shape[1] != n:
        raise ZooError(f"{what}: expected {n} units per row, got {arr.shape[1]}")
    with np.errstate(invalid="ignore"):
        if not np.all((arr == 0) | (arr == 1)):
            raise ZooError(f"{what}: a binary unit is 0 or 1; got other values (binarize first, e.g. "
                           "zoo.data.binarize(x))")
    return arr.astype(np.float64)


class BoltzmannMachine:
    """A fully connected Boltzmann machine over `visible` + `hidden` 0/1 units (Ackley, Hinton & Sejnowski
    1985), E(s) = -(1/2 s^T W s + b^T s) with a zero diagonal, p(s) ~ exp(-E(s) / T) at T = 1.

    `fit` runs the Boltzmann learning rule: for each epoch, the clamped phase fixes the visible units to each
    training vector and anneals the hidden ones, the free phase anneals everything; after the schedule,
    `sample_sweeps` Gibbs sweeps at T = 1 gather <s_i s_j>, and W += lr (<s_i s_j>_clamped - <s_i s_j>_free).
    The temperature schedule is a parameter (a list of (T, sweeps)); the last temperature is 1, where the
    statistics are taken.
    """

    def __init__(self, visible, hidden, connectivity=None, init_scale=0.5, seed=0):
        self.visible = checks.count(visible, "visible", 1, MAX_EXACT_UNITS)
        self.hidden = checks.count(hidden, "hidden", 0, MAX_EXACT_UNITS)
        self.n = self.visible + self.hidden
        if self.n > MAX_EXACT_UNITS:
            raise ZooError(f"visible + hidden = {self.n}: at most {MAX_EXACT_UNITS} units, so p(v) can be enumerated")
        mask = np.ones((self.n, self.n), bool) if connectivity is None else np.asarray(connectivity, bool)
        if mask.shape != (self.n, self.n) or not np.array_equal(mask, mask.T):
            raise ZooError(f"connectivity: expected a symmetric ({self.n}, {self.n}) boolean matrix")
        self.mask = mask & ~np.eye(self.n, dtype=bool)
        self.rng = np.random.default_rng(seed)
        # Random, not zero: from W = 0 every hidden unit gets the same expected gradient, and the units stay
        # near-copies of each other (one code bit where two are needed)
        w = self.rng.normal(0.0, checks.number(init_scale, "init_scale", 0.0, 100.0), (self.n, self.n))
        self.weights = np.triu(w, 1) + np.triu(w, 1).T
        self.weights *= self.mask
        self.bias = np.zeros(self.n)

    def energy(self, s):
        s = np.atleast_2d(s).astype(np.float64)
        return -(0.5 * np.einsum("ki,ij,kj->k", s, self.weights, s) + s @ self.bias)

    def _anneal(self, s, free, schedule, final_sweeps):
        """Gibbs sweeps over the `free` units of every chain in s (N, n), along the schedule then at T = 1;
        returns the sum over the final sweeps of s^T s (for <s_i s_j>) and of s, and the final states."""
        stats, means = np.zeros((self.n, self.n)), np.zeros(self.n)
        plan = [(t, k, False) for t, k in schedule] + [(1.0, final_sweeps, True)]
        for temperature, sweeps, collect in plan:
            for _ in range(sweeps):
                for i in self.rng.permutation(free):
                    gap = s @ self.weights[i] + self.bias[i]       # E(s_i = 0) - E(s_i = 1)
                    s[:, i] = self.rng.random(len(s)) < 1.0 / (1.0 + np.exp(-gap / temperature))
                if collect:
                    stats += s.T @ s
                    means += s.sum(axis=0)
        return stats, means, s

    def exact_statistics(self, v):
        """The two phases' <s_i s_j> and <s_i> computed exactly by enumerating every joint state: clamped,
        averaged over the rows of v with the hidden units at p(h | v); free, under p(s). What the annealed
        sampler estimates, for a reference and for `fit(statistics="exact")`."""
        states = ((np.arange(2 ** self.n)[:, None] >> np.arange(self.n)[::-1]) & 1).astype(np.float64)
        neg_e = -self.energy(states)
        p = np.exp(neg_e - neg_e.max())
        p /= p.sum()
        neg, neg_m = (states * p[:, None]).T @ states, p @ states
        visible_index = (states[:, :self.visible] @ (2 ** np.arange(self.visible)[::-1])).astype(int)
        pos, pos_m = np.zeros((self.n, self.n)), np.zeros(self.n)
        for row in (np.asarray(v) @ (2 ** np.arange(self.visible)[::-1])).astype(int):
            chosen = visible_index == row
            q = p[chosen] / p[chosen].sum()
            pos += (states[chosen] * q[:, None]).T @ states[chosen]
            pos_m += q @ states[chosen]
        return pos / len(v), pos_m / len(v), neg, neg_m

    def fit(self, data, epochs=200, learning_rate=0.1, schedule=None, sample_sweeps=10, chains=None, weight_decay=0.0,
            final_learning_rate=None, callback=None, statistics="annealed"):
        """Learn from binary visible vectors (N, visible). The learning rate falls geometrically from
        `learning_rate` to `final_learning_rate` (default: constant), which averages out the sampling noise
        of the statistics late in training. statistics="exact" replaces both annealed phases by their exact
        values (exact_statistics), the same rule without sampling noise. Returns the list of per-epoch
        KL(data || model) over the
        visible states when `callback` is None, else whatever callback(epoch, self) returns each epoch. The KL
        is exact (enumerated), so keep visible + hidden small."""
        v = as_binary(data, "data", self.visible)
        schedule = _check_schedule(schedule if schedule is not None else geometric_schedule())
        epochs = checks.count(epochs, "epochs", 1, 100_000)
        chains = checks.count(chains or len(v), "chains", 1, 100_000)
        learning_rate = checks.number(learning_rate, "learning_rate", 0.0, 100.0, strict_min=True)
        final = checks.number(final_learning_rate or learning_rate, "final_learning_rate", 0.0, 100.0, strict_min=True)
        rates = np.geomspace(learning_rate, final, epochs)
        free_units = np.arange(self.n)
        hidden_units = np.arange(self.visible, self.n)
        history = []
        checks.one_of(statistics, ("annealed", "exact"), "statistics")
        for epoch in range(epochs):
            if statistics == "exact":
                pos, pos_m, neg, neg_m = self.exact_statistics(v)
            else:
                s = self.rng.integers(0, 2, (len(v), self.n)).astype(np.float64)
                s[:, :self.visible] = v
                pos, pos_m, _ = self._anneal(s, hidden_units, schedule, sample_sweeps)
                pos, pos_m = pos / (len(v) * sample_sweeps), pos_m / (len(v) * sample_sweeps)
                s = self.rng.integers(0, 2, (chains, self.n)).astype(np.float64)
                neg, neg_m, _ = self._anneal(s, free_units, schedule, sample_sweeps)
                neg, neg_m = neg / (chains * sample_sweeps), neg_m / (chains * sample_sweeps)
            grad = (pos - neg) * self.mask
            self.weights += rates[epoch] * (grad - weight_decay * self.weights * self.mask)
            self.bias += rates[epoch] * (pos_m - neg_m)
            history.append(callback(epoch, self) if callback else self.kl_to(v))
        return history

    def visible_distribution(self):
        """Exact p(v) over all 2^visible visible states (rows in binary counting order), by enumerating every
        joint state at T = 1."""
        states = ((np.arange(2 ** self.n)[:, None] >> np.arange(self.n)[::-1]) & 1).astype(np.float64)
        neg_e = -self.energy(states)
        p = np.exp(neg_e - neg_e.max())
        p /= p.sum()
        index = (states[:, :self.visible] @ (2 ** np.arange(self.visible)[::-1])).astype(int)
        return np.bincount(index, weights=p, minlength=2 ** self.visible)

    def generate(self, n, schedule=None, sweeps=20):
        """n visible vectors generated by annealing free-running chains and then `sweeps` Gibbs sweeps at T=1."""
        schedule = _check_schedule(schedule if schedule is not None else geometric_schedule())
        n = checks.count(n, "n", 1, 1_000_000)
        s = self.rng.integers(0, 2, (n, self.n)).astype(np.float64)
        _, _, s = self._anneal(s, np.arange(self.n), schedule, sweeps)
        return s[:, :self.visible].astype(np.int8)

    def kl_to(self, data):
        """KL(p_data || p_model) in nats over the enumerated visible states."""
        return kl_divergence(empirical_distribution(as_binary(data, "data", self.visible)), self.visible_distribution())


def empirical_distribution(v):
    v = np.asarray(v)
    index = (v @ (2 ** np.arange(v.shape[1])[::-1])).astype(int)
    return np.bincount(index, minlength=2 ** v.shape[1]) / len(v)


def kl_divergence(p, q):
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    mask = p > 0
    return float(np.sum(p[mask] * (np.log(p[mask]) - np.log(np.maximum(q[mask], 1e-300)))))


def encoder_problem(n=4, hidden=None):
    """The n-h-n encoder problem (Ackley et al. 1985): two groups V1, V2 of n visible units that may talk only
    through h hidden units (default log2(n), the fewest that can carry the code); the data are the n vectors
    with the same one-hot pattern in both groups, equally likely. Returns (data (n, 2n), connectivity mask over
    2n + h units): V1 and V2 are each connected within themselves and to the hidden units, never to each other,
    so the hidden units must learn a code."""
    n = checks.count(n, "n", 2, 8)
    least = int(np.ceil(np.log2(n)))
    hidden = checks.count(least if hidden is None else hidden, "hidden", least, MAX_EXACT_UNITS - 2 * n)
    eye = np.eye(n, dtype=np.int8)
    total = 2 * n + hidden
    mask = np.ones((total, total), bool)
    mask[:n, n:2 * n] = mask[n:2 * n, :n] = False
    return np.concatenate([eye, eye], axis=1), mask


# ================================================================================================================
# Restricted Boltzmann machine (Bernoulli-Bernoulli), Keras/TF
# ================================================================================================================
def ais_betas(schedule=AIS_SCHEDULE_PAPER):
    """The inverse temperatures 0 = beta_0 < ... < beta_K = 1 of a piecewise-uniform AIS schedule given as
    ((end, count), ...) segments starting at 0."""
    betas, start = [np.zeros(1)], 0.0
    for end, count in schedule:
        betas.append(np.linspace(start, end, int(count) + 1)[1:])
        start = end
    out = np.concatenate(betas)
    if abs(out[-1] - 1.0) > 1e-12 or np.any(np.diff(out) <= 0):
        raise ZooError("an AIS schedule must rise strictly from 0 to 1")
    return out


def scaled_schedule(num_betas):
    """The paper's schedule shape (500 : 4,000 : 10,000 over [0, .5], [.5, .9], [.9, 1]) with num_betas in all."""
    num_betas = checks.count(num_betas, "num_betas", 3, 1_000_000)
    total = sum(c for _, c in AIS_SCHEDULE_PAPER)
    counts = [max(1, round(num_betas * c / total)) for _, c in AIS_SCHEDULE_PAPER]
    counts[-1] = max(1, num_betas - sum(counts[:-1]))
    return tuple((end, c) for (end, _), c in zip(AIS_SCHEDULE_PAPER, counts))


def logmeanexp(a, axis=None):
    a = np.asarray(a, np.float64)
    top = np.max(a, axis=axis, keepdims=True)
    out = top + np.log(np.mean(np.exp(a - top), axis=axis, keepdims=True))
    return np.squeeze(out, axis=axis) if axis is not None else float(out.ravel()[0])


class FreeEnergyGap(keras.callbacks.Callback):
    """Mean free energy of a fixed subset of the training images and of the validation images after every
    epoch, added to the epoch's logs (fe_train, fe_val, fe_gap): a gap that grows is overfitting, visible
    without knowing log Z (Hinton 2010, "A practical guide", section 6)."""

    def __init__(self, train_rows, val_rows):
        super().__init__()
        self.train_rows, self.val_rows = train_rows, val_rows

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        tr = float(np.mean(self.model.free_energy(self.train_rows)))
        va = float(np.mean(self.model.free_energy(self.val_rows)))
        logs.update(fe_train=tr, fe_val=va, fe_gap=va - tr)


@keras.saving.register_keras_serializable(package="zoo")
class RBM(ZooModel):
    """Bernoulli-Bernoulli RBM: E(v, h) = -b^T v - c^T h - v^T W h, v in {0,1}^visible, h in {0,1}^hidden.

    The weights live in a Dense layer (`hidden_layer`: kernel W, bias c, sigmoid), so the hidden-feature map
    sigmoid(W^T v + c) is a plain Keras layer the encoder, the classifier and the exporter reuse; b is the
    model's visible bias. model(x) is the mean-field reconstruction sigmoid(W p(h|x) + b), in x's shape.

    Training (custom train_step): cd_k Gibbs steps; persistent=True keeps `num_chains` fantasy particles
    across updates (PCD, Tieleman 2008), False restarts the chain at the data (CD-k, Hinton 2002). The
    gradient (data statistics minus model statistics, plus weight_decay * W) passes through momentum held in
    the model and then the optimizer fit compiles (SGD for the preset). binarization: "dynamic" draws a
    binary image from the intensities at every step, "none" requires binary training data.
    """

    family = "energy"
    generative = True
    input_kind = "images"
    BINARIZATIONS = ("dynamic", "none")

    def __init__(self, visible=784, hidden=500, cd_k=1, persistent=True, num_chains=100, momentum=0.5,
                 weight_decay=0.0, binarization="dynamic", ais_chains=100, ais_betas=14500, ais_runs=1, seed=0,
                 **kwargs):
        super().__init__(**kwargs)
        checks.one_of(binarization, self.BINARIZATIONS, "binarization")
        self._config = dict(visible=checks.count(visible, "visible", 1, 100_000),
                            hidden=checks.count(hidden, "hidden", 1, 100_000),
                            cd_k=checks.count(cd_k, "cd_k", 1, 1000), persistent=bool(persistent),
                            num_chains=checks.count(num_chains, "num_chains", 1, 100_000),
                            momentum=checks.number(momentum, "momentum", 0.0, 0.999),
                            weight_decay=checks.number(weight_decay, "weight_decay", 0.0, 1.0),
                            binarization=binarization,
                            ais_chains=checks.count(ais_chains, "ais_chains", 2, 100_000),
                            ais_betas=checks.count(ais_betas, "ais_betas", 3, 1_000_000),
                            ais_runs=checks.count(ais_runs, "ais_runs", 1, 100),
                            seed=checks.count(seed, "seed", 0))
        type(self).check_budget(self._config)
        c = self._config
        # AIS runs ais_chains chains side by side: visible states and hidden inputs, (chains, visible + hidden)
        checks.budget(c["ais_chains"] * (c["visible"] + c["hidden"]),
                      f"ais_chains={c['ais_chains']:,} with {c['visible']:,} visible and {c['hidden']:,} hidden units")
        self.input_dim, self.latent_dim = c["visible"], c["hidden"]
        self.hidden_layer = keras.layers.Dense(
            c["hidden"], activation="sigmoid", name="hidden",
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.01, seed=c["seed"]))
        self.hidden_layer.build((None, c["visible"]))
        self.visible_bias = self.add_weight(shape=(c["visible"],), initializer="zeros", name="visible_bias")
        # The AIS base-rate model's visible biases (Salakhutdinov & Murray 2008): set from the training data's
        # pixel means before training; zeros (the uniform base) until then.
        self.base_bias = self.add_weight(shape=(c["visible"],), initializer="zeros", trainable=False,
                                         name="base_bias")
        self.velocities = [self.add_weight(shape=w.shape, initializer="zeros", trainable=False,
                                           name=f"velocity_{i}") for i, w in enumerate(self._params())]
        chain0 = (np.random.default_rng(c["seed"] + 7).random((c["num_chains"], c["visible"])) < 0.5)
        self.chain = self.add_weight(shape=(c["num_chains"], c["visible"]), trainable=False, name="chain",
                                     initializer=keras.initializers.Constant(chain0.astype(np.float32)))
        self.gibbs_seed = keras.random.SeedGenerator(c["seed"] + 1, name="gibbs_seed")
        self.binarize_seed = keras.random.SeedGenerator(c["seed"] + 2, name="binarize_seed")
        x = keras.Input((c["visible"],), name="image")
        self.encoder = keras.Model(x, {"code": self.hidden_layer(x)}, name="encoder")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.fe_tracker = keras.metrics.Mean(name="free_energy")
        self.gap_data = None
        self._log_z_cache = {}
        self.finish(np.zeros((1, c["visible"]), np.float32), optimizer=keras.optimizers.SGD(0.01))

    @classmethod
    def parameter_count(cls, config):
        """Every value the model holds, as the size bound needs: W, c and b, their momentum velocities, the AIS
        base biases and the num_chains persistent chains (num_chains x visible, the largest of them all for a
        large num_chains)."""
        v, h = int(config.get("visible", 784)), int(config.get("hidden", 500))
        return 2 * (v * h + v + h) + v + int(config.get("num_chains", 100)) * v

    def _params(self):
        return [self.hidden_layer.kernel, self.hidden_layer.bias, self.visible_bias]

    @property
    def W(self):
        return self.hidden_layer.kernel

    # -- conditionals and energies (tensors) -----------------------------------------------------------------
    def _p_h(self, v, beta=1.0):
        return tf.sigmoid(beta * (tf.matmul(v, self.W) + self.hidden_layer.bias))

    def _p_v(self, h, beta=1.0):
        return tf.sigmoid(beta * (tf.matmul(h, self.W, transpose_b=True) + self.visible_bias))

    def _free_energy(self, v):
        """F(v) = -b^T v - sum_j softplus(c_j + W_j^T v), so p(v) = exp(-F(v)) / Z."""
        return (-tf.linalg.matvec(v, self.visible_bias)
                - tf.reduce_sum(tf.nn.softplus(tf.matmul(v, self.W) + self.hidden_layer.bias), axis=-1))

    def _bernoulli(self, p):
        return tf.cast(keras.random.uniform(tf.shape(p), seed=self.gibbs_seed) < p, p.dtype)

    def _gibbs(self, v, steps):
        for _ in range(steps):
            v = self._bernoulli(self._p_v(self._bernoulli(self._p_h(v))))
        return v

    # -- Keras-native path ------------------------------------------------------------------------------------
    def call(self, x, training=False):
        rows = image_rows(x)
        return like_input(self._p_v(self.hidden_layer(rows)), x)

    def train_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        v0 = image_rows(x)
        if self._config["binarization"] == "dynamic":
            v0 = tf.cast(keras.random.uniform(tf.shape(v0), seed=self.binarize_seed) < v0, tf.float32)
        else:
            tf.debugging.assert_equal(tf.reduce_all((v0 == 0.0) | (v0 == 1.0)), True,
                                      message="binarization='none' needs binary training data")
        ph0 = self._p_h(v0)
        start = self.chain if self._config["persistent"] else v0
        vk = self._gibbs(start, self._config["cd_k"])
        phk = self._p_h(vk)
        n0, nk = tf.cast(tf.shape(v0)[0], tf.float32), tf.cast(tf.shape(vk)[0], tf.float32)
        # Gradients of the negative log-likelihood: model statistics minus data statistics.
        grads = [tf.matmul(vk, phk, transpose_a=True) / nk - tf.matmul(v0, ph0, transpose_a=True) / n0
                 + self._config["weight_decay"] * self.W,
                 tf.reduce_mean(phk, 0) - tf.reduce_mean(ph0, 0),
                 tf.reduce_mean(vk, 0) - tf.reduce_mean(v0, 0)]
        steps = []
        for vel, g in zip(self.velocities, grads):
            vel.assign(self._config["momentum"] * vel + g)
            steps.append(vel.value)
        self.optimizer.apply_gradients(zip(steps, self._params()))
        if self._config["persistent"]:
            self.chain.assign(vk)
        return self._track(v0)

    def test_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        v = image_rows(x)
        if self._config["binarization"] == "dynamic":
            v = tf.cast(tf.random.stateless_uniform(tf.shape(v), seed=[7, 7]) < v, tf.float32)
        return self._track(v)

    def _track(self, v):
        """loss: the mean-field reconstruction cross-entropy (nats per image), a progress signal only (the
        RBM does not minimise it); free_energy: mean F(v) of the batch."""
        p = tf.clip_by_value(self._p_v(self._p_h(v)), 1e-7, 1 - 1e-7)
        rec = -tf.reduce_sum(v * tf.math.log(p) + (1 - v) * tf.math.log(1 - p), axis=-1)
        self.loss_tracker.update_state(rec)
        self.fe_tracker.update_state(self._free_energy(v))
        return self.metric_logs()

    def metric_logs(self):
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self):
        return [self.loss_tracker, self.fe_tracker]

    def fit(self, *args, callbacks=None, **kwargs):
        callbacks = list(callbacks or [])
        if self.gap_data is not None and not any(isinstance(cb, FreeEnergyGap) for cb in callbacks):
            # first, so the checkpoint callback's history already holds the gap
            callbacks.insert(0, FreeEnergyGap(*self.gap_data))
        return super().fit(*args, callbacks=callbacks, **kwargs)

    # -- NumPy-facing API -------------------------------------------------------------------------------------
    def _binary_rows(self, x, what="x_binary"):
        arr = checks._array(x, what)
        if arr.ndim == 1:
            arr = arr[None]
        if arr.ndim != 2 and arr.shape[1:] in {(28, 28), (28, 28, 1)}:
            arr = arr.reshape(len(arr), -1)
        if arr.ndim != 2 or arr.shape[1] != self.input_dim or len(arr) == 0:
            raise ZooError(f"{what}: expected binary vectors of length {self.input_dim} (N, {self.input_dim}), "
                           f"got shape {np.shape(x)}")
        with np.errstate(invalid="ignore"):
            if not np.all((arr == 0) | (arr == 1)):
                raise ZooError(f"{what}: this RBM models binary vectors, got values other than 0 and 1; binarize "
                               "first (zoo.data.binarize(x, seed) samples each pixel with its intensity)")
        return arr.astype(np.float32)

    def free_energy(self, x_binary):
        """F(v) per binary vector, in nats: log p(v) = -F(v) - log Z."""
        rows = self._binary_rows(x_binary)
        return batched(self._free_energy, rows, 4096).astype(np.float64)

    def encode(self, x):
        """Images (or binary vectors) -> hidden probabilities sigmoid(W^T v + c), (N, hidden)."""
        rows, single = checks.as_images(x, "x") if self.input_dim == 784 else (self._rows_any(x), False)
        h = batched(lambda r: self.encoder(r)["code"], rows, self.predict_batch_size)
        return h[0] if single else h

    def _rows_any(self, x):
        """Rows of an RBM whose visible layer is not an image (a DBN's upper layer): (N, visible) in [0, 1]."""
        arr = checks._array(x, "x")
        if arr.ndim != 2 or arr.shape[1] != self.input_dim or not len(arr):
            raise ZooError(f"x: expected (N, {self.input_dim}) rows, got shape {arr.shape}")
        arr = arr.astype(np.float32)
        if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
            raise ZooError("x: expected finite values in [0, 1]")
        return arr

    def reconstruct(self, x):
        shape = np.shape(x)
        rows, _ = checks.as_images(x, "x")
        return batched(lambda r: self(r), rows, self.predict_batch_size).reshape(shape)

    def _weights64(self):
        return (np.asarray(self.W.numpy(), np.float64), np.asarray(self.visible_bias.numpy(), np.float64),
                np.asarray(self.hidden_layer.bias.numpy(), np.float64))

    def exact_log_partition(self):
        """log Z by enumerating the smaller layer (at most 24 units): sum over h of exp(c^T h) prod_i
        (1 + exp(b_i + W_i h)), in float64."""
        w, b, c = self._weights64()
        if min(w.shape) > MAX_EXACT_UNITS:
            raise ZooError(f"exact log Z enumerates 2^{min(w.shape)} states; at most {MAX_EXACT_UNITS} units in the "
                           "smaller layer (use log_partition(), which anneals)")
        if w.shape[1] > w.shape[0]:                     # enumerate the visible layer instead
            w, b, c = w.T, c, b
        k = w.shape[1]
        parts = []
        for start in range(0, 2 ** k, 65536):
            idx = np.arange(start, min(2 ** k, start + 65536))
            h = ((idx[:, None] >> np.arange(k)[::-1]) & 1).astype(np.float64)
            parts.append(h @ c + np.logaddexp(0.0, h @ w.T + b).sum(axis=1))
        terms = np.concatenate(parts)
        return float(terms.max() + np.log(np.exp(terms - terms.max()).sum()))

    def ais(self, num_chains=None, num_betas=None, runs=None, seed=0, schedule=None, verbose="auto"):
        """Annealed importance sampling for log Z (Salakhutdinov & Murray 2008).

        The base model A has W = 0, hidden biases 0 and the visible biases `base_bias` (the training data's
        pixel log-odds), log Z_A = sum_i log(1 + e^{a_i}) + hidden log 2. Intermediate p_beta(v) is
        proportional to exp((1-beta) a^T v + beta b^T v) prod_j (1 + exp(beta (c_j + W_j^T v))); one Gibbs
        step of p_beta's (v, h) chain moves the particles between betas. Each run has num_chains chains and
        num_betas intermediate distributions (the paper's schedule shape unless `schedule` is given).

        Returns a dict: log_z (from all runs' weights together), per-run estimates, their standard
        deviation, and log(Z_hat +- 3 sigma_hat), the paper's error bars from the weights' spread.
        verbose: progress on stderr, as zoo.progress reads it (0, 1, 2 or "auto")."""
        c = self._config
        num_chains = checks.count(num_chains or c["ais_chains"], "num_chains", 2, 100_000)
        runs = checks.count(runs or c["ais_runs"], "runs", 1, 100)
        betas = ais_betas(schedule if schedule is not None else scaled_schedule(num_betas or c["ais_betas"]))
        what = f"AIS log Z ({runs} run{'s' if runs > 1 else ''} of {num_chains:,} chains)"
        with progress.bar(what, runs * (len(betas) - 1), "temperatures", verbose) as bar:
            log_w = np.concatenate([self._ais_run(betas, num_chains, [seed, r], bar.advance) for r in range(runs)])
        base = np.asarray(self.base_bias.numpy(), np.float64)
        log_za = float(np.logaddexp(0.0, base).sum() + self.latent_dim * np.log(2.0))
        per_run = log_za + logmeanexp(log_w.reshape(runs, num_chains), axis=1)
        log_z = log_za + logmeanexp(log_w)
        # sigma of the mean of the importance weights, in units of their (stabilised) scale
        top = log_w.max()
        w = np.exp(log_w - top)
        mean, sd = w.mean(), w.std(ddof=1) / np.sqrt(len(w))
        # None where Z_hat - 3 sigma_hat <= 0: the weights are too spread for a lower bar (JSON has no -inf)
        lo = float(log_za + top + np.log(mean - 3 * sd)) if mean > 3 * sd else None
        hi = log_za + top + np.log(mean + 3 * sd)
        return {"log_z": float(log_z), "log_z_minus_3sd": lo, "log_z_plus_3sd": float(hi),
                "runs": [float(r) for r in per_run], "run_std": float(np.std(per_run, ddof=1)) if runs > 1 else None,
                "log_z_base": log_za, "num_chains": num_chains, "num_betas": int(len(betas) - 1), "num_runs": runs,
                "seed": seed, "effective_sample_size": float(w.sum() ** 2 / (w ** 2).sum())}

    def _ais_run(self, betas, num_chains, seed, advance=None):
        """One run's (num_chains,) log-weights. The temperatures go AIS_BETAS_PER_CALL to a graph call, the
        chains' states carried from call to call, so `advance(steps)` can move a progress bar in between; each
        step's random numbers are keyed on its index k, so the weights are those of one call over all of them."""
        if not hasattr(self, "_ais_fn"):
            self._ais_start_fn = tf.function(self._ais_start, autograph=False, reduce_retracing=True)
            self._ais_fn = tf.function(self._ais_graph, autograph=False, reduce_retracing=True)
        betas_t, seed_t = tf.constant(betas, tf.float64), tf.constant(seed, tf.int64)
        v = self._ais_start_fn(tf.constant(num_chains, tf.int32), seed_t)
        log_w = tf.zeros([num_chains], tf.float64)
        for k in range(1, len(betas), AIS_BETAS_PER_CALL):
            end = min(k + AIS_BETAS_PER_CALL, len(betas))
            v, log_w = self._ais_fn(betas_t, seed_t, tf.constant(k), tf.constant(end), v, log_w)
            if advance is not None:
                advance(end - k)
        return log_w.numpy()

    def _ais_start(self, num_chains, seed):
        """The chains' first states, drawn from the base model A."""
        a = tf.cast(tf.convert_to_tensor(self.base_bias), tf.float64)
        u = tf.random.stateless_uniform([num_chains, self.input_dim], seed=tf.stack([seed[0], seed[1] * 7 + 1]),
                                        dtype=tf.float64)
        return tf.cast(u < tf.sigmoid(a), tf.float32)

    def _ais_graph(self, betas, seed, k_start, k_end, v0, log_w0):
        """Steps k_start .. k_end - 1 of a run from chain states v0 and log-weights log_w0."""
        w = tf.convert_to_tensor(self.W)
        b = tf.cast(tf.convert_to_tensor(self.visible_bias), tf.float64)
        c = tf.convert_to_tensor(self.hidden_layer.bias)
        a = tf.cast(tf.convert_to_tensor(self.base_bias), tf.float64)

        def log_p(vw, v64, beta):
            # log p*_beta(v) with the input x = c + W^T v computed once per step; float64 from here on, so
            # fifteen thousand small differences do not pile up float32 rounding
            return ((1 - beta) * tf.linalg.matvec(v64, a) + beta * tf.linalg.matvec(v64, b)
                    + tf.reduce_sum(tf.nn.softplus(beta * vw), axis=-1))

        def body(k, v, log_w):
            beta_prev, beta = betas[k - 1], betas[k]
            vw = tf.cast(tf.matmul(v, w) + c, tf.float64)
            v64 = tf.cast(v, tf.float64)
            log_w = log_w + log_p(vw, v64, beta) - log_p(vw, v64, beta_prev)
            # one Gibbs step (h then v) that leaves p_beta invariant
            s = tf.stack([seed[0], seed[1] * 1_000_003 + tf.cast(k, tf.int64)])
            u = tf.random.stateless_uniform(tf.shape(vw), seed=s, dtype=tf.float64)
            h = tf.cast(u < tf.sigmoid(beta * vw), tf.float32)
            field = (1 - beta) * a + beta * (tf.cast(tf.matmul(h, w, transpose_b=True), tf.float64) + b)
            u2 = tf.random.stateless_uniform(tf.shape(field), seed=s + [0, 1], dtype=tf.float64)
            v = tf.cast(u2 < tf.sigmoid(field), tf.float32)
            return k + 1, v, log_w

        _, v, log_w = tf.while_loop(lambda k, v, lw: k < k_end, body, (k_start, v0, log_w0))
        return v, log_w

    def log_partition(self, method="ais", verbose="auto", **ais_settings):
        """log Z: "ais" (the estimate, cached per weights and settings) or "exact" (enumeration, small RBMs)."""
        checks.one_of(method, ("ais", "exact"), "method")
        if method == "exact":
            return self.exact_log_partition()
        return self.ais_estimate(verbose=verbose, **ais_settings)["log_z"]

    def ais_estimate(self, verbose="auto", **ais_settings):
        key = (self._fingerprint(), tuple(sorted(ais_settings.items())))
        if key not in self._log_z_cache:
            self._log_z_cache[key] = self.ais(verbose=verbose, **ais_settings)
        return self._log_z_cache[key]

    def _fingerprint(self):
        h = hashlib.sha256()
        for var in (*self._params(), self.base_bias):
            h.update(np.ascontiguousarray(var.numpy()).tobytes())
        return h.hexdigest()

    def log_likelihood(self, x_binary, log_z=None, verbose="auto", **ais_settings):
        """log p(v) = -F(v) - log Z per binary vector, in nats; log Z from AIS unless given."""
        fe = self.free_energy(x_binary)
        return -fe - (self.log_partition(verbose=verbose, **ais_settings) if log_z is None else float(log_z))

    def sample(self, n, *, labels=None, seed=None, gibbs_steps=1000, start=None):
        """n visible samples, as pixel probabilities p(v|h) of the last step, (n, 28, 28) for MNIST-sized
        RBMs: `gibbs_steps` steps of block Gibbs sampling from the base-rate distribution (or `start`)."""
        n = checks.count(n, "n", 1, checks.MAX_SAMPLES)
        units = self.input_dim + self.latent_dim
        checks.budget(n * units, f"sampling {n:,} chains of {units:,} units")
        gibbs_steps = checks.count(gibbs_steps, "gibbs_steps", 1, 1_000_000)
        if labels is not None:
            raise ZooError(f"{self.name} is not class-conditional; sample it without labels")
        seed = 0 if seed is None else checks.count(seed, "seed", 0)
        probs = self._chain(n, gibbs_steps, seed, start)[1]
        return probs.reshape((n, 28, 28)) if self.input_dim == 784 else probs

    def _chain(self, n, steps, seed, start=None, every=None, advance=None):
        """Block Gibbs from `start` (binary rows) or base-rate draws; returns (v, p(v|h)) after `steps`, and
        with `every` the list of p(v|h) snapshots every that many steps. advance(1) is called after each step
        (a progress bar's)."""
        rng = np.random.default_rng(seed)
        if start is None:
            p0 = 1 / (1 + np.exp(-self.base_bias.numpy()))
            v = (rng.random((n, self.input_dim)) < p0).astype(np.float32)
        else:
            v = self._binary_rows(start, "start")
        step = tf.function(lambda v, s: self._gibbs_step_stateless(v, s), autograph=False, reduce_retracing=True)
        snaps, p = [], None
        for t in range(steps):
            v, p = step(tf.constant(v), tf.constant([seed, t], tf.int64))
            v = v.numpy()
            if every and (t + 1) % every == 0:
                snaps.append(p.numpy())
            if advance is not None:
                advance(1)
        p = p.numpy()
        return (v, p, snaps) if every else (v, p)

    def _gibbs_step_stateless(self, v, seed):
        h = tf.cast(tf.random.stateless_uniform([tf.shape(v)[0], self.latent_dim], seed=seed) < self._p_h(v),
                    tf.float32)
        p = self._p_v(h)
        return tf.cast(tf.random.stateless_uniform(tf.shape(p), seed=seed + [0, 7919]) < p, tf.float32), p

    def inference_encoder(self):
        """rows -> hidden probabilities as a plain functional Keras model (a classifier's encoder)."""
        x = keras.Input((self.input_dim,), name="image")
        clone = keras.layers.Dense.from_config(self.hidden_layer.get_config())
        out = clone(x)
        clone.set_weights(self.hidden_layer.get_weights())
        return keras.Model(x, out, name="encoder")

    def test_metrics(self, x, y=None, seed=0, verbose="auto"):
        """On the fixed binarization zoo.data.binarize(x, seed): the AIS test log-likelihood (nats per image)
        with its error bars from log Z, the mean free energy and the mean-field reconstruction error. verbose:
        AIS's progress on stderr (zoo.progress)."""
        rows, _ = checks.as_images(x, "x") if self.input_dim == 784 else (self._rows_any(x), False)
        xb = zdata.binarize(rows, seed)
        est = self.ais_estimate(verbose=verbose)
        fe = self.free_energy(xb)
        rec = batched(lambda r: self(r), xb, 4096)
        p = np.clip(rec.astype(np.float64), 1e-7, 1 - 1e-7)
        bce = -np.sum(xb * np.log(p) + (1 - xb) * np.log(1 - p), axis=1)
        ll = -fe.mean() - est["log_z"]
        return {"log_likelihood": float(ll),
                "log_likelihood_interval": [float(-fe.mean() - est["log_z_plus_3sd"]),
                                            None if est["log_z_minus_3sd"] is None
                                            else float(-fe.mean() - est["log_z_minus_3sd"])],
                "log_z": est["log_z"], "log_z_runs": est["runs"], "log_z_run_std": est["run_std"],
                "free_energy": float(fe.mean()), "reconstruction_bce": float(bce.mean()),
                "ais": {k: est[k] for k in ("num_chains", "num_betas", "num_runs", "seed", "effective_sample_size",
                                            "log_z_base")},
                "binarization": f"zoo.data.binarize(x, seed={seed})"}


def stacked_encoder(rbms, name="encoder"):
    """The deterministic up-pass of a stack of RBMs (a DBN's recognition weights, Hinton et al. 2006) as one
    plain functional Keras model, rows -> top-layer hidden probabilities."""
    for lower, upper in zip(rbms[:-1], rbms[1:]):
        if lower.latent_dim != upper.input_dim:
            raise ZooError(f"cannot stack an RBM with {lower.latent_dim} hidden units under one with "
                           f"{upper.input_dim} visible units")
    x = keras.Input((rbms[0].input_dim,), name="image")
    h = x
    for i, rbm in enumerate(rbms):
        config = {**rbm.hidden_layer.get_config(), "name": f"hidden_{i}"}
        clone = keras.layers.Dense.from_config(config)
        h = clone(h)
        clone.set_weights(rbm.hidden_layer.get_weights())
    return keras.Model(x, h, name=name)


class DeepBeliefEncoder(keras.Model):
    """A greedily pretrained stack of RBMs seen as an encoder: what zoo.create_model("mnist_classifier",
    encoder=...) fine-tunes (it asks only for a keras.Model with inference_encoder()). Not a saved zoo model:
    the classifier it seeds is."""

    def __init__(self, rbms, name="dbn"):
        super().__init__(name=name)
        self.rbms = list(rbms)
        self.stack = stacked_encoder(self.rbms)

    def call(self, x):
        return self.stack(image_rows(x))

    def inference_encoder(self):
        return stacked_encoder(self.rbms)


# -- family hooks ------------------------------------------------------------------------------------------------
def pixel_log_odds(x, smoothing=0.05):
    """The base-rate visible biases log(p / (1 - p)) of the pixel means, p smoothed away from 0 and 1 as in
    Salakhutdinov & Murray's code (counts + smoothing)."""
    p = (np.asarray(x, np.float64).sum(axis=0) + smoothing) / (len(x) + 2 * smoothing)
    return np.log(p / (1 - p)).astype(np.float32)


def train(model, data, recipe, fit):
    """Sets the visible biases and the AIS base rate to the training pixels' log-odds (Hinton's practical
    guide), then one fit with SGD and the recipe's schedule; fe_train / fe_val / fe_gap are logged each epoch
    on fixed binarizations of 2,000 training and the validation images."""
    x = data["train"][0]
    if model._config["binarization"] == "none" and not np.all((x == 0) | (x == 1)):
        raise ZooError(f"{model.name} has binarization='none' but the training images are not binary; use "
                       "binarization='dynamic' (a fresh binary sample of every image at every step)")
    odds = pixel_log_odds(x)
    model.base_bias.assign(odds)
    model.visible_bias.assign(odds)
    val = data["val"][0]
    model.gap_data = (zdata.binarize(x[:2000], 1), zdata.binarize(val, 2)) if len(val) else None
    history = fit(model, data["train"], data["val"] if len(val) else None, epochs=recipe["epochs"],
                  batch_size=recipe["batch_size"], learning_rate=recipe["learning_rate"], seed=recipe["seed"],
                  optimizer="sgd", lr_schedule=recipe.get("lr_schedule", "cosine"))
    model.gap_data = None
    series = {k: history[k] for k in ("fe_train", "fe_val", "fe_gap") if k in history}
    return history, {"free_energy_history": series,
                     "optimizer_note": "SGD on the momentum-smoothed CD statistics held in the model, with the "
                                       "recipe's learning-rate schedule"}


def pictures(model, data):
    """filters.png (the first 100 hidden units' weights) and samples.png (a long Gibbs chain per column,
    snapshots down the rows); the free-energy gap over training is drawn from the card by
    free_energy_gap_figure (bench/energy_rbm_ais.py)."""
    figs = {"filters.png": figures.filters(model.W.numpy()[:, :100].T if model.input_dim == 784 else model.W.numpy().T,
                                           title=f"{model.name}: weights of the first 100 hidden units")}
    if model.input_dim == 784:
        steps, every = PICTURE_GIBBS_STEPS, PICTURE_GIBBS_STEPS // 10
        with progress.bar(f"{model.name}: 10 Gibbs chains for samples.png", steps, "steps") as bar:
            _, _, snaps = model._chain(10, steps, seed=0, every=every, advance=bar.advance)
        figs["samples.png"] = figures.image_grid(
            np.concatenate(snaps), cols=10, row_labels=[f"step {every * (i + 1):,}" for i in range(len(snaps))],
            title=f"{model.name}: 10 Gibbs chains from the base rate, p(v|h) every {every:,} steps")
    return figs


def free_energy_gap_figure(history, name):
    """The mean free energy of 2,000 training and of the validation images per epoch, and their gap, from a
    card's free_energy_history (or a run's history.json)."""
    epochs = np.arange(1, len(history["fe_gap"]) + 1)
    fig = figures.curves({"validation minus training": (epochs, history["fe_gap"])},
                         title=f"{name}: free-energy gap, held-out minus training",
                         xlabel="epoch", ylabel="mean F(val) - mean F(train), nats (grows with overfitting)")
    return fig


def preview(model, data):
    return figures.filters(model.W.numpy()[:, :100].T if model.input_dim == 784 else model.W.numpy().T,
                           title=f"{model.name}: weights of the first 100 hidden units")


def export_parts(model, data):
    """encoder: images -> hidden probabilities sigmoid(W^T v + c), the feature map a DBN or classifier uses.
    The task figure is the mean-field reconstruction cross-entropy through the exported features."""
    image = keras.Input((model.input_dim,), name="image")
    encoder = keras.Model(image, {"hidden": model.hidden_layer(image)}, name="encoder")

    def inputs(n, seed):
        rng = np.random.default_rng(seed)
        if data is None:
            return [(rng.random((n, model.input_dim)) < 0.2).astype(np.float32)]
        x = data["train"][0]
        return [zdata.binarize(x[np.sort(rng.choice(len(x), min(n, len(x)), replace=False))], seed)]

    def metric(runner):
        if data is None:
            return None
        xb = zdata.binarize(data["test"][0], 0)
        decode = lambda h: batched(lambda a: model._p_v(a), h.astype(np.float32), 4096)  # noqa: E731

        def bce(p):
            p = np.clip(p.astype(np.float64), 1e-7, 1 - 1e-7)
            return float(np.mean(-np.sum(xb * np.log(p) + (1 - xb) * np.log(1 - p), axis=1)))

        exported = bce(decode(runner([xb])[0]))
        keras_value = bce(decode(model.encode(xb)))
        return metric_report("reconstruction_bce", exported, keras_value, digits=4, split="test (binarized, seed 0)",
                             images=int(len(xb)), chain="exported encoder -> keras p(v|h)")

    return {"encoder": ExportPart(encoder, inputs, metric, 0.02)}
