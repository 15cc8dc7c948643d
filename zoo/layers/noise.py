"""Input corruptions for denoising autoencoders (Vincent et al. 2008, 2010), active only when training.

Each layer draws from keras.random with its own SeedGenerator, so a run started from the same seed
corrupts the same way. Components are corrupted independently, so the corrupted fraction of n components
is Binomial(n, rate) / n: rate on average, with standard deviation sqrt(rate (1 - rate) / n).
"""

import keras
from keras import ops

from zoo import checks
from zoo.errors import ZooError

NOISE_KINDS = ("gaussian", "masking", "salt_and_pepper")
# Images lie in [0, 1]: Gaussian noise of stddev 10 already buries them, and 1e30 trains to NaN metrics. A rate
# is a fraction of the components.
MAX_STDDEV = 10.0
LEVELS = {"gaussian": ("stddev", MAX_STDDEV), "masking": ("rate", 1.0), "salt_and_pepper": ("rate", 1.0)}


def noise_level(kind, level):
    """The level of one corruption, checked: a known kind, and a finite level in [0, that kind's maximum]."""
    checks.one_of(kind, NOISE_KINDS, "noise kind")
    what, top = LEVELS[kind]
    return checks.number(level, f"{kind} noise {what}", 0.0, top)


def noise_pairs(noises):
    """(kind, level) pairs as a list of [kind, level], each checked by noise_level."""
    if not isinstance(noises, (list, tuple)) \
            or not all(isinstance(pair, (list, tuple)) and len(pair) == 2 for pair in noises):
        raise ZooError(f'noise: expected (kind, level) pairs such as [["gaussian", 0.25]], got {noises!r:.100}')
    return [[kind, noise_level(kind, level)] for kind, level in noises]


class Corruption(keras.layers.Layer):
    """Identity at inference; `corrupt(inputs)` when training. Each draws from its own SeedGenerator."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True

    def call(self, inputs, training=False):
        # LEVEL names the attribute (stddev or rate) whose 0 makes the corruption an identity.
        return self.corrupt(inputs) if training and getattr(self, self.LEVEL) > 0 else inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        # CONFIG names the constructor arguments each kind adds to seed.
        return {**super().get_config(), "seed": self.seed, **{k: getattr(self, k) for k in self.CONFIG}}


@keras.saving.register_keras_serializable(package="zoo")
class GaussianNoise(Corruption):
    """x + z with z ~ N(0, stddev^2), independently per component. Not clipped: the corruption of the paper."""

    LEVEL, CONFIG = "stddev", ("stddev",)

    def __init__(self, stddev, seed=None, **kwargs):
        self.stddev = noise_level("gaussian", stddev)
        super().__init__(seed=seed, **kwargs)

    def corrupt(self, inputs):
        return inputs + keras.random.normal(ops.shape(inputs), stddev=self.stddev, dtype=inputs.dtype,
                                            seed=self.seed_generator)


@keras.saving.register_keras_serializable(package="zoo")
class MaskingNoise(Corruption):
    """Sets each component to 0 with probability `rate` (masking noise); the rest pass unchanged."""

    LEVEL, CONFIG = "rate", ("rate",)

    def __init__(self, rate, seed=None, **kwargs):
        self.rate = noise_level("masking", rate)
        super().__init__(seed=seed, **kwargs)

    def corrupt(self, inputs):
        keep = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator) >= self.rate
        return ops.where(keep, inputs, ops.zeros_like(inputs))


@keras.saving.register_keras_serializable(package="zoo")
class SaltAndPepperNoise(Corruption):
    """Sets each component, with probability `rate`, to `low` or `high` (each equally likely).

    low=0, high=1 suit images in [0, 1]; other ranges pass their own extremes.
    """

    LEVEL, CONFIG = "rate", ("rate", "low", "high")

    def __init__(self, rate, low=0.0, high=1.0, seed=None, **kwargs):
        low, high = checks.number(low, "low"), checks.number(high, "high")
        if low > high:
            raise ZooError(f"low must not exceed high, got low={low}, high={high}")
        self.rate, self.low, self.high = noise_level("salt_and_pepper", rate), low, high
        super().__init__(seed=seed, **kwargs)

    def corrupt(self, inputs):
        shape = ops.shape(inputs)
        hit = keras.random.uniform(shape, seed=self.seed_generator) < self.rate
        salt = keras.random.uniform(shape, seed=self.seed_generator) < 0.5
        value = ops.where(salt, ops.full_like(inputs, self.high), ops.full_like(inputs, self.low))
        return ops.where(hit, value, inputs)


def make_noise(kind, level, seed=None, name=None):
    """A noise layer by kind: "gaussian" (level = stddev), "masking" or "salt_and_pepper" (level = rate)."""
    noise_level(kind, level)
    if kind == "gaussian":
        return GaussianNoise(level, seed=seed, name=name)
    if kind == "masking":
        return MaskingNoise(level, seed=seed, name=name)
    if kind == "salt_and_pepper":
        return SaltAndPepperNoise(level, seed=seed, name=name)
    raise ValueError(f"noise kind must be one of {NOISE_KINDS}, got {kind!r}")


@keras.saving.register_keras_serializable(package="zoo")
class NoiseMixture(keras.layers.Layer):
    """Corrupts each example with one corruption drawn uniformly from several, so a single denoising
    autoencoder learns to undo all of them. `noises` are (kind, level) pairs, as in `make_noise`."""

    def __init__(self, noises, seed=None, **kwargs):
        super().__init__(**kwargs)
        noises = [(kind, level) for kind, level in noise_pairs(noises)]
        if not noises:
            raise ZooError("noises must name at least one (kind, level) pair")
        self.noises, self.seed = noises, seed
        base = 0 if seed is None else int(seed)
        self.corruptions = [make_noise(kind, level, seed=None if seed is None else base + 1 + i,
                                       name=f"{kind}_{i}") for i, (kind, level) in enumerate(noises)]
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = True

    def call(self, inputs, training=False):
        if not training:
            return inputs
        if len(self.corruptions) == 1:
            return self.corruptions[0](inputs, training=True)
        choice = keras.random.randint((ops.shape(inputs)[0], 1), 0, len(self.corruptions),
                                      seed=self.seed_generator)
        out = inputs
        for i, corruption in enumerate(self.corruptions):
            out = ops.where(ops.equal(choice, i), corruption(inputs, training=True), out)
        return out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "noises": [list(n) for n in self.noises], "seed": self.seed}
