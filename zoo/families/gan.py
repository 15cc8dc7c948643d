"""Generative adversarial networks (Goodfellow et al. 2014) in the DCGAN shape (Radford et al. 2016): a
transposed-convolution generator G(z) and a convolutional discriminator D(x), trained as a game. D ascends
log D(x) + log(1 - D(G(z))); G descends the non-saturating -log D(G(z)), which has the same fixed point but
strong gradients while D still wins. Each has its own Adam (beta_1 = 0.5), in a keras-io-style train_step.

Remedies for mode collapse, as options of the same model:
- conditioning (`ConditionalGAN`): the one-hot label goes into both nets, into G beside z and into D as ten
  constant image planes beside the pixels;
- minibatch discrimination (Salimans et al. 2016, zoo.layers.minibatch): D sees how alike a batch is;
- unrolled updates (Metz et al. 2017): G's loss is taken against D after `unroll_steps` differentiable SGD
  steps of D on the current batch, so G's gradient sees how D would answer its move (second order: the
  inner gradients are recorded by the outer tape);
- packing (PacGAN, Lin et al. 2018): with `pack=m`, D judges m samples at once, stacked along the channels,
  all real or all generated. A pack of a generator that over-produces some modes and drops others is
  unlike a pack of data more often than any single sample is, so D can penalise the imbalance itself.

Stacked MNIST (channels=3): three MNIST digits as the R, G and B planes of one image, 1,000 modes (the VEEGAN
and PacGAN benchmark); the training triples are drawn afresh at every step, statelessly from (seed, epoch,
batch). Measures (Fréchet distance in a classifier's features, modes covered, KL to uniform) are the
functions below, with mnist_classifier as the judge (bench/gan_modes.py).

Divergence is watched: a NaN loss stops training at once (zoo.training), and an epoch in which D's loss
falls near 0 while G collapses (D(G(z)) near 0, or the samples near-identical) stops it with a ZooError
naming the epoch, before that epoch is checkpointed.
"""

import math
import os
from pathlib import Path

import numpy as np
import scipy.linalg
import tensorflow as tf
import keras

from zoo import checks, figures, progress
from zoo.base import ExportPart, metric_report, ZooModel, batched
from zoo.errors import ZooError
from zoo.layers.image import UINT8_SCALE
from zoo.layers.minibatch import MinibatchDiscrimination
from zoo.layers.reduction import replica_mean

SIDE = 28
STACKED_MODES = 1000
STACKED_SAMPLES = 26_000          # as in the VEEGAN and PacGAN papers
JUDGE = "mnist_classifier"        # the classifier whose features and labels the measures use
D_BATCH = 64                      # the presets' training batch: D with minibatch features is asked in these


class GANDiverged(ZooError):
    """Training stopped because the game diverged; the message names the epoch."""


# -- callbacks -----------------------------------------------------------------------------------------------
class DivergenceGuard(keras.callbacks.Callback):
    """Raises GANDiverged at the end of an epoch where D's loss fell below `d_loss_floor` while G collapsed:
    D(G(z)) under `d_fake_floor` (D rejects every sample: G's gradient is gone) or the samples' spread
    under `spread_floor` of the data's (G emits near-identical images). NaN losses count too. It runs
    before the epoch's checkpoint, so the last good checkpoint stays."""

    def __init__(self, d_loss_floor=0.02, d_fake_floor=0.01, spread_floor=0.2):
        super().__init__()
        self.d_loss_floor, self.d_fake_floor, self.spread_floor = d_loss_floor, d_fake_floor, spread_floor

    def check(self, epoch, logs):
        logs = logs or {}
        values = {k: float(np.ravel(logs[k])[0]) for k in ("d_loss", "g_loss", "d_fake", "spread") if k in logs}
        bad = [k for k, v in values.items() if not math.isfinite(v)]
        if bad:
            raise GANDiverged(f"the GAN diverged at epoch {epoch + 1}: {', '.join(bad)} became NaN or infinite")
        d_loss = values.get("d_loss")
        if d_loss is None or d_loss >= self.d_loss_floor:
            return
        collapsed = []
        if values.get("d_fake", 1.0) < self.d_fake_floor:
            collapsed.append(f"D(G(z)) = {values['d_fake']:.4f}")
        if values.get("spread", 1.0) < self.spread_floor:
            collapsed.append(f"sample spread = {values['spread']:.3f} of the data's")
        if collapsed:
            raise GANDiverged(f"the GAN diverged at epoch {epoch + 1}: D's loss fell to {d_loss:.4f} while G "
                              f"collapsed ({'; '.join(collapsed)}; G's loss {values.get('g_loss', float('nan')):.2f}); "
                              "the last good checkpoint is kept (try a lower --learning-rate or minibatch "
                              "discrimination)")

    def on_epoch_end(self, epoch, logs=None):
        self.check(epoch, logs)


class SampleGrid(keras.callbacks.Callback):
    """Writes a grid of samples from the same fixed z after every epoch: folder/epoch_001.png, ..."""

    def __init__(self, folder, n=64, seed=0):
        super().__init__()
        self.folder, self.n, self.seed = Path(folder), n, seed

    def on_epoch_end(self, epoch, logs=None):
        figures.save(sample_figure(self.model, self.n, self.seed, f"{self.model.name}: samples after epoch "
                                                                  f"{epoch + 1} (fixed z)"),
                     self.folder / f"epoch_{epoch + 1:03d}.png")


# -- the model -----------------------------------------------------------------------------------------------
def _bce(logits, target):
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.fill(tf.shape(logits), float(target)), logits=logits)


@keras.saving.register_keras_serializable(package="zoo")
class GAN(ZooModel):
    """DCGAN. generator: z (latent_dim) -> Dense 7x7xg_filters[0] -> BN, ReLU -> ConvT g_filters[1] /2 ->
    BN, ReLU -> ConvT channels /2 -> sigmoid: (28, 28, channels) in [0, 1]. discriminator: images -> Conv
    /2 + LeakyReLU(0.2) per d_filters entry -> flatten -> [minibatch discrimination] -> one logit (no batch
    norm in D, so its unrolled copy is a pure function of its weights).

    model(images) is D's probability that each image is real, shape (N,). sample(n, seed=) draws images.
    """

    family = "gan"
    generative = True
    input_kind = "images"      # D's input; a conditional GAN takes {"image": images, "label": labels}

    def __init__(self, latent_dim=64, channels=1, g_filters=(128, 64), d_filters=(64, 128), minibatch_kernels=0,
                 minibatch_dim=8, unroll_steps=0, unroll_learning_rate=0.05, pack=1, beta_1=0.5,
                 divergence_d_loss=0.02, seed=0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(g_filters, (int, str)) or isinstance(d_filters, (int, str)):
            raise ZooError("g_filters and d_filters must be lists of positive integers")
        if len(g_filters) != 2:
            raise ZooError(f"g_filters must have 2 entries (7x7 -> 14x14 -> 28x28), got {list(g_filters)}")
        if not 1 <= len(d_filters) <= 4:
            raise ZooError(f"d_filters must have 1 to 4 entries, got {list(d_filters)}")
        self._config = dict(latent_dim=checks.count(latent_dim, "latent_dim", 1, 4096),
                            channels=checks.count(channels, "channels", 1, 3),
                            g_filters=[checks.count(f, "g_filters entries", 1, 4096) for f in g_filters],
                            d_filters=[checks.count(f, "d_filters entries", 1, 4096) for f in d_filters],
                            minibatch_kernels=checks.count(minibatch_kernels, "minibatch_kernels", 0, 1024),
                            minibatch_dim=checks.count(minibatch_dim, "minibatch_dim", 1, 256),
                            unroll_steps=checks.count(unroll_steps, "unroll_steps", 0, 20),
                            unroll_learning_rate=checks.number(unroll_learning_rate, "unroll_learning_rate", 0.0, 10.0,
                                                               strict_min=True),
                            pack=checks.count(pack, "pack", 1, 8),
                            beta_1=checks.number(beta_1, "beta_1", 0.0, 0.999),
                            divergence_d_loss=checks.number(divergence_d_loss, "divergence_d_loss", 0.0, 1.0),
                            seed=checks.count(seed, "seed", 0))
        self._config.update(self._extra_config())
        if self._config["pack"] > 1 and self.num_classes:
            raise ZooError("pack > 1 is for unconditional GANs: a pack would mix images of different labels, "
                           "which D's label input cannot describe; use pack=1 with a conditional GAN")
        type(self).check_budget(self._config)
        c = self._config
        self.latent_dim, self.channels, self.pack = c["latent_dim"], c["channels"], c["pack"]
        self.sample_grid_dir = None    # set by the train hook: SampleGrid writes there during fit
        self._build_networks()
        self.noise_seed = keras.random.SeedGenerator(c["seed"], name="noise_seed")
        names = ("loss", "d_loss", "g_loss", "d_real", "d_fake", "d_accuracy", "spread")
        self.trackers = {k: keras.metrics.Mean(name=k) for k in names}
        self.finish(self._example(), optimizer=keras.optimizers.Adam(2e-4))

    # -- config ---------------------------------------------------------------------------------------------
    num_classes = 0
    conditioning = "planes"
    aux_weight = 0.0

    def _extra_config(self):
        return {}

    def _example(self):
        return np.zeros((1, SIDE, SIDE, self.channels), np.float32)

    @classmethod
    def parameter_count(cls, config):
        z, ch = int(config.get("latent_dim", 64)), int(config.get("channels", 1))
        k = int(config.get("num_classes", 0))
        g0, g1 = [int(f) for f in config.get("g_filters", (128, 64))]
        total = (z + k) * 49 * g0 + 4 * g0 + 16 * g0 * g1 + 4 * g1 + 16 * g1 * ch + ch
        projection = config.get("conditioning", "planes") == "projection"
        aux = k if float(config.get("aux_weight", 0.0)) > 0 else 0
        width, side = ch * int(config.get("pack", 1)) + (0 if projection else k), SIDE
        for f in config.get("d_filters", (64, 128)):
            total += 16 * width * int(f) + int(f)
            width, side = int(f), -(-side // 2)
        flat = side * side * width
        b, m = int(config.get("minibatch_kernels", 0)), int(config.get("minibatch_dim", 8))
        return (total + flat * b * m + (flat + b) + 1 + (k * (flat + b) if projection else 0)
                + aux * (flat + b + 1))

    # -- networks -------------------------------------------------------------------------------------------
    def _condition(self, name):
        return [keras.Input((self.num_classes,), name=name)] if self.num_classes else []

    def _build_networks(self):
        c = self._config
        init = keras.initializers.RandomNormal(stddev=0.02)
        g0, g1 = c["g_filters"]
        z = keras.Input((self.latent_dim,), name="code")
        cond = self._condition("label_onehot")
        h = keras.layers.Concatenate(name="g_concat")([z, *cond]) if cond else z
        h = keras.layers.Dense(7 * 7 * g0, use_bias=False, kernel_initializer=init, name="g_dense")(h)
        h = keras.layers.Reshape((7, 7, g0), name="g_reshape")(h)
        h = keras.layers.BatchNormalization(momentum=0.9, name="g_bn0")(h)
        h = keras.layers.ReLU(name="g_relu0")(h)
        h = keras.layers.Conv2DTranspose(g1, 4, strides=2, padding="same", use_bias=False, kernel_initializer=init,
                                         name="g_up1")(h)
        h = keras.layers.BatchNormalization(momentum=0.9, name="g_bn1")(h)
        h = keras.layers.ReLU(name="g_relu1")(h)
        h = keras.layers.Conv2DTranspose(self.channels, 4, strides=2, padding="same", kernel_initializer=init,
                                         name="g_up2")(h)
        out = keras.layers.Activation("sigmoid", name="image")(h)
        self.generator = keras.Model([z, *cond] if cond else z, out, name="generator")

        x = keras.Input((SIDE, SIDE, self.channels * self.pack), name="image")
        planes = self._condition("label_onehot")
        h = x
        if planes and self.conditioning == "planes":
            # the label as constant image planes beside the pixels: D judges "a real 3", not "a real digit"
            tiled = keras.layers.Reshape((1, 1, self.num_classes), name="d_label_reshape")(planes[0])
            tiled = keras.layers.UpSampling2D(SIDE, name="d_label_planes")(tiled)
            h = keras.layers.Concatenate(name="d_concat")([x, tiled])
        for i, f in enumerate(c["d_filters"]):
            h = keras.layers.Conv2D(f, 4, strides=2, padding="same", kernel_initializer=init, name=f"d_conv{i}")(h)
            h = keras.layers.LeakyReLU(0.2, name=f"d_lrelu{i}")(h)
        h = keras.layers.Flatten(name="d_flatten")(h)
        if c["minibatch_kernels"]:
            h = MinibatchDiscrimination(c["minibatch_kernels"], c["minibatch_dim"], name="d_minibatch")(h)
        logit = keras.layers.Dense(1, kernel_initializer=init, name="d_logit")(h)
        if planes and self.conditioning == "projection":
            # Miyato & Koyama (2018): logit = psi(phi(x)) + embed(y) . phi(x); the label meets D's features
            # at the top, where "is this a 3" is decided, rather than as input planes the convolutions may ignore.
            embed = keras.layers.Dense(h.shape[-1], use_bias=False, kernel_initializer=init,
                                       name="d_label_embedding")(planes[0])
            match = keras.layers.Dot(axes=1, name="d_projection")([embed, h])
            logit = keras.layers.Add(name="d_logit_projected")([logit, match])
        outputs = logit
        if self.aux_weight:
            # AC-GAN's auxiliary classifier (Odena et al. 2017) on the same features, which see only the image
            # under projection conditioning: D learns the digit from real images, G is asked to be recognised.
            outputs = [logit, keras.layers.Dense(self.num_classes, kernel_initializer=init, name="d_class")(h)]
        self.discriminator = keras.Model([x, *planes] if planes else x, outputs, name="discriminator")

    # -- inputs ---------------------------------------------------------------------------------------------
    def _images(self, x):
        """Any accepted image layout -> float32 (N, 28, 28, channels) in [0, 1]."""
        if x.dtype == tf.uint8:
            x = tf.gather(tf.constant(UINT8_SCALE), tf.cast(x, tf.int32))
        return tf.reshape(tf.cast(x, tf.float32), (-1, SIDE, SIDE, self.channels))

    def _split(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._images(x), None

    def _d(self, x, c, training=False):
        return self._d_both(x, c, training)[0]

    def _packed(self, x):
        """(N, 28, 28, channels) -> (N // pack, 28, 28, pack * channels): each run of `pack` consecutive
        images becomes one input of D, its images side by side along the channels (a remainder is dropped)."""
        m = self.pack
        if m == 1:
            return x
        x = x[:tf.shape(x)[0] // m * m]
        x = tf.transpose(tf.reshape(x, (-1, m, SIDE, SIDE, self.channels)), (0, 2, 3, 1, 4))
        return tf.reshape(x, (-1, SIDE, SIDE, m * self.channels))

    def _d_per_image(self, x):
        """D's logit for each of the N images: that of the pack it is in, after the batch is filled up to a
        multiple of `pack` by repeating its first images."""
        n = tf.shape(x)[0]
        if self.pack == 1:
            return self._d(x, None)
        filled = tf.concat([x, tf.gather(x, tf.range((-n) % self.pack) % n)], 0)
        return tf.repeat(self._d(filled, None), self.pack)[:n]

    def _d_both(self, x, c, training=False):
        """D's logits (N / pack,) and, with the auxiliary classifier, its class logits (N, classes) (else
        None)."""
        x = self._packed(x)
        out = self.discriminator(x if c is None else [x, c], training=training)
        if self.aux_weight:
            return tf.reshape(out[0], [-1]), out[1]
        return tf.reshape(out, [-1]), None

    def _g(self, z, c, training=False):
        return self.generator(z if c is None else [z, c], training=training)

    def call(self, x, training=False):
        return tf.sigmoid(self._d_per_image(self._images(x)))

    # -- optimizers -----------------------------------------------------------------------------------------
    def compile(self, optimizer=None, loss=None, metrics=None, **kwargs):
        """Two Adams (beta_1 from the config) at the rate of the optimizer given (fit's), one per network; a
        learning-rate schedule (fit's lr_schedule="cosine") is given to each, so both follow it."""
        rate = 2e-4
        if isinstance(optimizer, keras.optimizers.Optimizer):
            lr = optimizer.get_config()["learning_rate"]
            # a schedule is a stateless function of each optimizer's own step count, so both can share it
            rate = keras.optimizers.schedules.deserialize(lr) if isinstance(lr, dict) else float(lr)
        beta_1 = self._config["beta_1"]
        self.g_optimizer = keras.optimizers.Adam(rate, beta_1=beta_1, name="g_adam")
        self.d_optimizer = keras.optimizers.Adam(rate, beta_1=beta_1, name="d_adam")
        super().compile(optimizer=self.g_optimizer, **kwargs)

    def checkpoint_optimizers(self):
        """Both optimizers, built, for zoo.training's checkpoint: their state is restored before the first
        step of a resumed run. (Left unbuilt otherwise, so a saved file holds no Adam moments.)"""
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        return [self.g_optimizer, self.d_optimizer]

    # -- training -------------------------------------------------------------------------------------------
    def _noise(self, n):
        return keras.random.normal((n, self.latent_dim), seed=self.noise_seed)

    def _d_loss(self, real_logits, fake_logits):
        return replica_mean(_bce(real_logits, 1.0) + _bce(fake_logits, 0.0))

    def train_step(self, data):
        x, c = self._split(data)
        n = tf.shape(x)[0]
        # D: one step on real images and on samples from fresh noise.
        z = self._noise(n)
        fake = self._g(z, c, training=True)
        with tf.GradientTape() as tape:
            real_logits, real_classes = self._d_both(x, c, training=True)
            fake_logits = self._d(fake, c, training=True)
            d_loss = self._d_loss(real_logits, fake_logits)
            if self.aux_weight:
                d_loss += self.aux_weight * self._class_loss(real_classes, c)
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))
        # G: the non-saturating loss -log D(G(z)) on new noise, against D or its unrolled copy.
        z2 = self._noise(n)
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            fake2 = self._g(z2, c, training=True)
            if self._config["unroll_steps"]:
                g_logits = self._unrolled_logits(x, fake2, c)
            else:
                g_logits, g_classes = self._d_both(fake2, c, training=True)
            g_loss = replica_mean(_bce(g_logits, 1.0))
            if self.aux_weight:
                if self._config["unroll_steps"]:
                    g_classes = self._d_both(fake2, c, training=True)[1]
                g_loss += self.aux_weight * self._class_loss(g_classes, c)
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))
        return self._track(real_logits, fake_logits, d_loss, g_loss, x, fake)

    def _class_loss(self, class_logits, onehot):
        return replica_mean(tf.nn.softmax_cross_entropy_with_logits(labels=onehot, logits=class_logits))

    def _unrolled_logits(self, x, fake, c):
        """D's logits for `fake` after unroll_steps SGD steps of D on (x, fake), differentiable with respect
        to fake (Metz et al. 2017, with SGD inner steps). D's own weights are not changed."""
        d = self.discriminator
        weights = [tf.convert_to_tensor(v) for v in d.trainable_variables]
        frozen = [tf.convert_to_tensor(v) for v in d.non_trainable_variables]
        rate = self._config["unroll_learning_rate"]

        def both(w, images):
            images = self._packed(images)
            out, _ = d.stateless_call(w, frozen, images if c is None else [images, c], training=True)
            return (tf.reshape(out[0], [-1]), out[1]) if self.aux_weight else (tf.reshape(out, [-1]), None)

        for _ in range(self._config["unroll_steps"]):
            with tf.GradientTape() as inner:
                inner.watch(weights)
                real_logits, real_classes = both(weights, x)
                # the inner steps are D's own update, its auxiliary term included
                loss = self._d_loss(real_logits, both(weights, fake)[0])
                if self.aux_weight:
                    loss += self.aux_weight * self._class_loss(real_classes, c)
            weights = [w - rate * g for w, g in zip(weights, inner.gradient(loss, weights))]
        return both(weights, fake)[0]

    def _track(self, real_logits, fake_logits, d_loss, g_loss, x, fake):
        t = self.trackers
        t["loss"].update_state(d_loss + g_loss)
        t["d_loss"].update_state(d_loss)
        t["g_loss"].update_state(g_loss)
        t["d_real"].update_state(tf.sigmoid(real_logits))
        t["d_fake"].update_state(tf.sigmoid(fake_logits))
        t["d_accuracy"].update_state(tf.concat([tf.cast(real_logits > 0, tf.float32),
                                                tf.cast(fake_logits < 0, tf.float32)], 0))
        t["spread"].update_state(_spread(fake) / tf.maximum(_spread(x), 1e-8))
        return self.metric_logs()

    def metric_logs(self):
        return {k: t.result() for k, t in self.trackers.items()}

    def test_step(self, data):
        x, c = self._split(data)
        n = tf.shape(x)[0]
        # fixed noise, so the validation figures of different epochs compare
        z = tf.random.stateless_normal((n, self.latent_dim), seed=[11, 11])
        fake = self._g(z, c)
        real_logits, fake_logits = self._d(x, c), self._d(fake, c)
        d_loss = self._d_loss(real_logits, fake_logits)
        g_loss = replica_mean(_bce(fake_logits, 1.0))
        return self._track(real_logits, fake_logits, d_loss, g_loss, x, fake)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def fit(self, *args, callbacks=None, **kwargs):
        callbacks = list(callbacks or [])
        if not any(isinstance(cb, DivergenceGuard) for cb in callbacks):
            # first, so a diverged epoch raises before the epoch-end checkpoint is written
            callbacks.insert(0, DivergenceGuard(self._config["divergence_d_loss"]))
        if self.sample_grid_dir and not any(isinstance(cb, SampleGrid) for cb in callbacks):
            # before zoo.training's checkpoint too: a run killed once an epoch is checkpointed has its grid
            callbacks.insert(1, SampleGrid(self.sample_grid_dir))
        return super().fit(*args, callbacks=callbacks, **kwargs)

    # -- NumPy-facing API -----------------------------------------------------------------------------------
    def prior(self, n, seed=None):
        return np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)

    def _onehot_np(self, labels, n, name="labels"):
        return np.eye(self.num_classes, dtype=np.float32)[checks.as_labels(labels, n, self.num_classes, name)]

    def _shape_out(self, images):
        images = np.asarray(images)
        return images[..., 0] if self.channels == 1 else images

    def generate(self, z, labels=None):
        """G(z) for codes z (N, latent_dim): (N, 28, 28) images, (N, 28, 28, 3) for stacked MNIST."""
        z, single = checks.as_latents(z, self.latent_dim, "z")
        if labels is not None:
            raise ZooError(f"{self.name} is not class-conditional; generate without labels")
        out = self._shape_out(batched(lambda a: self.generator(a, training=False), z, self.predict_batch_size))
        return out[0] if single else out

    def sample(self, n, *, labels=None, seed=None):
        """n images from G(z), z ~ N(0, I) drawn with `seed`: (n, 28, 28) in [0, 1] ((n, 28, 28, 3) when
        channels=3)."""
        n = checks.count(n, "n", 1, checks.MAX_SAMPLES)
        if labels is not None:
            raise ZooError(f"{self.name} is not class-conditional; sample it without labels")
        return self.generate(self.prior(n, seed))

    @property
    def d_batch(self):
        """Rows per discriminator call: with minibatch discrimination D's answer depends on the batch, so it
        is asked in batches of the training size, as in training."""
        return D_BATCH if self._config["minibatch_kernels"] else self.predict_batch_size

    def discriminate(self, x, labels=None):
        """D's probability that each image is real, (N,); with pack > 1, that of the pack of consecutive
        images it is in."""
        if labels is not None:
            raise ZooError(f"{self.name} is not class-conditional; discriminate without labels")
        rows = self._rows(x)
        return batched(lambda r: tf.sigmoid(self._d_per_image(self._images(r))), rows, self.d_batch)

    def _rows(self, x):
        if self.channels == 1:
            return checks.as_images(x, "x")[0]
        x = np.asarray(x)
        if x.ndim != 4 or x.shape[1:] != (SIDE, SIDE, self.channels):
            raise ZooError(f"x must be stacked images of shape (N, 28, 28, {self.channels}), got {x.shape}")
        if not np.issubdtype(x.dtype, np.number):
            raise ZooError(f"x must be numeric, got dtype {x.dtype}")
        checks.finite(x, "x")
        return (x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32))

    def test_metrics(self, x, y=None, seed=0, verbose="auto"):
        """D on real test images and on as many samples: mean D(x), mean D(G(z)) and D's accuracy (0.5 at the
        game's equilibrium). verbose: progress on stderr (zoo.progress), over the images judged."""
        rows = self._rows(x) if self.channels == 1 or (x is not None and np.ndim(x) == 4) else None
        if rows is None:
            rows = stacked_images(x, seed)[0]
        n = len(rows)
        labels = checks.as_labels(y, n, self.num_classes, "y") if self.conditional else None
        z = self.prior(n, seed)
        # Chunks of whole G and D batches: every network call sees exactly the rows it sees in one call over all
        # the images, so the figures are those of sample(n) and discriminate(rows) (a D with minibatch features
        # answers per batch).
        step = _chunk_rows(self.d_batch, self.predict_batch_size)
        d_real, d_fake = [], []
        with progress.bar("D on test images and on as many samples", 2 * n, "images", verbose) as bar:
            for i in range(0, n, step):
                d_real.append(self.discriminate(rows[i:i + step], None if labels is None else labels[i:i + step]))
                bar.advance(len(d_real[-1]))
            for i in range(0, n, step):
                part = None if labels is None else labels[i:i + step]
                d_fake.append(self.discriminate(self.generate(z[i:i + step], part), part))
                bar.advance(len(d_fake[-1]))
        d_real, d_fake = np.concatenate(d_real), np.concatenate(d_fake)
        acc = 0.5 * (np.mean(d_real > 0.5) + np.mean(d_fake < 0.5))
        return {"d_real": float(np.mean(d_real)), "d_fake": float(np.mean(d_fake)), "d_accuracy": float(acc)}


def _chunk_rows(*batch_sizes):
    """Rows per progress step: a whole number of every batch size the work's network calls use."""
    return math.lcm(*batch_sizes)


@keras.saving.register_keras_serializable(package="zoo")
class ConditionalGAN(GAN):
    """A DCGAN given the digit label (Mirza & Osindero 2014): G(z, y) and D(x, y). model({"image": x,
    "label": y}) is D's probability that x is a real y; sample(n, labels=...) draws the requested digits."""

    conditional = True

    def __init__(self, num_classes=10, conditioning="planes", aux_weight=0.0, **kwargs):
        self.num_classes = checks.count(num_classes, "num_classes", 2, 1000)
        self.conditioning = checks.one_of(conditioning, ("planes", "projection"), "conditioning")
        self.aux_weight = checks.number(aux_weight, "aux_weight", 0.0, 100.0)
        if self.aux_weight and self.conditioning != "projection":
            # with label planes D's features already hold the label: its classifier would read it, not the image
            raise ZooError("aux_weight > 0 needs conditioning='projection' (under 'planes' D's features contain "
                           "the label); pass aux_weight=0 with planes")
        super().__init__(**kwargs)

    def _extra_config(self):
        return {"num_classes": self.num_classes, "conditioning": self.conditioning, "aux_weight": self.aux_weight}

    def _example(self):
        return {"image": np.zeros((1, SIDE, SIDE, self.channels), np.float32), "label": np.zeros((1,), np.int32)}

    def _inputs(self, inputs):
        if not isinstance(inputs, dict) or set(inputs) != {"image", "label"}:
            raise ZooError(f"{self.name} takes a dict {{'image': images, 'label': labels}}")
        return inputs["image"], inputs["label"]

    def __call__(self, inputs, *args, **kwargs):
        self._inputs(inputs)     # checked before Keras wraps the message in a multi-line report
        return super().__call__(inputs, *args, **kwargs)

    def _onehot(self, y):
        return tf.one_hot(tf.cast(tf.reshape(y, [-1]), tf.int32), self.num_classes)

    def call(self, inputs, training=False):
        x, y = self._inputs(inputs)
        return tf.sigmoid(self._d(self._images(x), self._onehot(y), training))

    def _split(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, dict):
            x, y = self._inputs(x)
        if y is None:
            raise ZooError(f"{self.name} trains on images with labels: fit((x, y))")
        return self._images(x), self._onehot(y)

    def generate(self, z, labels=None):
        z, single = checks.as_latents(z, self.latent_dim, "z")
        c = self._onehot_np(labels, len(z))
        out = self._shape_out(batched(lambda a, b: self.generator([a, b], training=False), [z, c],
                                      self.predict_batch_size))
        return out[0] if single else out

    def sample(self, n, *, labels=None, seed=None):
        """n images of the given labels (one int for all, or one per image; default 0, 1, ..., 9 cycling)."""
        n = checks.count(n, "n", 1, checks.MAX_SAMPLES)
        if labels is None:
            labels = np.arange(n) % self.num_classes
        return self.generate(self.prior(n, seed), labels)

    def discriminate(self, x, labels=None):
        rows = self._rows(x)
        c = self._onehot_np(labels, len(rows))
        return batched(lambda r, b: tf.sigmoid(self._d(self._images(r), b)), [rows, c], self.d_batch)


def _spread(images):
    """Mean absolute difference between each image and the next in the batch: near 0 for a collapsed G."""
    flat = tf.reshape(images, (tf.shape(images)[0], -1))
    return tf.reduce_mean(tf.abs(flat - tf.roll(flat, 1, axis=0)))


# -- Stacked MNIST -----------------------------------------------------------------------------------------------
def stacked_images(rows, seed=0, n=None):
    """n stacked images (n, 28, 28, 3) from MNIST rows: three digits drawn at random with `seed` as the R, G
    and B planes; with their indices (n, 3)."""
    rows = np.asarray(rows, np.float32)
    n = len(rows) if n is None else n
    idx = np.random.default_rng(seed).integers(0, len(rows), (n, 3))
    return np.stack([rows[idx[:, k]].reshape(-1, SIDE, SIDE) for k in range(3)], axis=-1), idx


def stack_augment(rows):
    """The pipeline's augment for stacked training: each batch of MNIST rows (the R planes, in the seeded
    epoch order) gets G and B planes drawn from all of `rows` by a stateless function of (seed, epoch,
    batch), so every step sees new triples and a resumed run sees the same ones."""
    pool = tf.constant(np.asarray(rows, np.float32))

    def augment(batch, seed):
        n = tf.shape(batch)[0]
        idx = tf.random.stateless_uniform((n, 2), seed=seed, minval=0, maxval=len(rows), dtype=tf.int32)
        planes = [batch, tf.gather(pool, idx[:, 0]), tf.gather(pool, idx[:, 1])]
        return tf.reshape(tf.stack([tf.reshape(p, (-1, SIDE, SIDE)) for p in planes], -1), (-1, SIDE * SIDE * 3))
    return augment


# -- measures ---------------------------------------------------------------------------------------------------
def frechet_distance(a, b):
    """Fréchet distance between Gaussians fitted to two feature sets (N, d) (the FID formula, float64)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if not np.all(np.isfinite(covmean)):
        eps = 1e-6 * np.eye(len(s1))
        covmean = scipy.linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = np.real(covmean)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def mode_statistics(modes, num_modes=STACKED_MODES):
    """Modes covered and KL(generated mode histogram || uniform over num_modes), in nats, from one mode index
    per sample; with the histogram."""
    modes = np.asarray(modes, np.int64).ravel()
    if modes.size == 0 or modes.min() < 0 or modes.max() >= num_modes:
        raise ZooError(f"modes must be integers in [0, {num_modes}), got {modes.size} values")
    counts = np.bincount(modes, minlength=num_modes)
    p = counts[counts > 0] / counts.sum()
    return {"modes_covered": int(np.count_nonzero(counts)), "kl_to_uniform": float(np.sum(p * np.log(p * num_modes))),
            "samples": int(modes.size)}, counts


def judge():
    """The shipped mnist_classifier, or None when it is not available."""
    try:
        return ZooModel.from_preset(JUDGE)
    except (ZooError, OSError):
        return None


def features(classifier, images):
    """mnist_classifier's penultimate features (the input of its softmax layer) of (N, 28, 28) images."""
    dense = [layer for layer in classifier.head.layers if isinstance(layer, keras.layers.Dense)]
    sub = keras.Model(classifier.head.inputs, dense[-1].input)
    rows = checks.as_images(images, "images")[0]
    return batched(lambda r: sub(classifier.encoder(r, training=False), training=False), rows)


def stacked_modes(classifier, images):
    """Each stacked image's mode 100 * digit(R) + 10 * digit(G) + digit(B), each plane classified."""
    images = np.asarray(images)
    digits = [classifier.classify(images[..., k]) for k in range(3)]
    return 100 * digits[0] + 10 * digits[1] + digits[2]


def sampled_modes(model, classifier, n, seed=0, verbose="auto"):
    """stacked_modes of model.sample(n, seed=seed), drawn and classified a chunk at a time with progress on stderr
    (zoo.progress); each chunk holds whole batches of G's and the classifier's, so the modes are those of one
    call over all n samples."""
    z = model.prior(n, seed)
    step = _chunk_rows(model.predict_batch_size, classifier.predict_batch_size)
    modes = []
    with progress.bar(f"{model.name}: Stacked MNIST modes", n, "samples", verbose) as bar:
        for i in range(0, n, step):
            modes.append(stacked_modes(classifier, model.generate(z[i:i + step])))
            bar.advance(len(modes[-1]))
    return np.concatenate(modes)


# -- family hooks ------------------------------------------------------------------------------------------------
def grid_dir(name, out=None):
    """Where the sample-grid callback writes: OUT.grids beside the run's folder, so two runs of one preset
    into different folders keep their own grids; without one, NAME.grids in the runs folder ($ZOO_RUNS_DIR,
    else runs/ beside saved_models/, as zoo.registry.runs_dir says; a family cannot import the registry)."""
    if out is not None:
        return Path(out).parent / f"{Path(out).name}.grids"
    env = os.environ.get("ZOO_RUNS_DIR")
    return (Path(env) if env else Path(__file__).resolve().parents[2] / "runs") / f"{name}.grids"


def train(model, data, recipe, fit):
    """One fit on the training split (stacked MNIST: triples drawn afresh every step); the per-epoch losses
    and D(x), D(G(z)) go into the card, for the training curves."""
    if recipe.get("sample_grids", True):
        model.sample_grid_dir = grid_dir(model.name, getattr(fit, "out", None))
    x, y = data["train"]
    kwargs = dict(epochs=recipe["epochs"], batch_size=recipe["batch_size"], learning_rate=recipe["learning_rate"],
                  seed=recipe["seed"], lr_schedule=recipe.get("lr_schedule", "constant"),
                  early_stopping=recipe.get("early_stopping"))
    if model.channels == 3:
        history = fit(model, (x,), None, augment=stack_augment(x), **kwargs)
    elif model.conditional:
        history = fit(model, (x, y), None, **kwargs)
    else:
        history = fit(model, (x,), None, **kwargs)
    return history, {"history": {k: v for k, v in history.items()},
                     "sample_grids": str(model.sample_grid_dir) if model.sample_grid_dir else None}


def card_metrics(model, data):
    return {}


def sample_figure(model, n, seed, title):
    """n samples (a conditional model's cycle through the labels) as a square-ish grid."""
    return figures.image_grid(model.sample(n, seed=seed), cols=int(math.ceil(math.sqrt(n))), title=title)


def pictures(model, data):
    figs = {}
    if model.conditional:
        figs["samples.png"] = figures.per_label_grid(lambda labels: model.sample(len(labels), labels=labels, seed=0),
                                                     model.num_classes, title=f"{model.name}: samples per label")
        return figs
    figs["samples.png"] = sample_figure(model, 100, 0, f"{model.name}: 100 samples")
    clf = judge()
    if clf is None:
        return figs
    if model.channels == 1:
        # A grid per class: samples sorted by the digit mnist_classifier sees in them.
        images = model.sample(2000, seed=0)
        seen = clf.classify(images)
        rows = [images[seen == k][:10] for k in range(10)]
        if all(len(r) == 10 for r in rows):
            figs["samples_by_class.png"] = figures.image_grid(
                np.concatenate(rows), cols=10, row_labels=[f"seen as {k}" for k in range(10)],
                title=f"{model.name}: samples, one row per digit mnist_classifier sees")
    else:
        stats, counts = mode_statistics(sampled_modes(model, clf, STACKED_SAMPLES, seed=0))
        figs["mode_histogram.png"] = figures.bar_histogram(
            np.sort(counts)[::-1], labels=[""] * STACKED_MODES, xlabel="mode (sorted by count)",
            ylabel="samples", title=f"{model.name}: {stats['modes_covered']} of 1,000 modes in "
                                    f"{STACKED_SAMPLES:,} samples, KL {stats['kl_to_uniform']:.3f}")
    return figs


def preview(model, data):
    if model.conditional:
        return pictures(model, None)["samples.png"]
    return sample_figure(model, 64, 0, f"{model.name}: 64 samples")


def export_parts(model, data):
    """generator: code (N, latent_dim) [+ label_onehot (N, classes)] -> image (N, 784 * channels) in [0, 1].
    z is drawn by the caller (RandomStandardNormal is not a LiteRT builtin). The metric is the judge's:
    label agreement for the conditional generator, else the Fréchet distance to the test split (of every plane,
    for Stacked MNIST)."""
    cond = model.conditional
    code = keras.Input((model.latent_dim,), name="code")
    onehot = [keras.Input((model.num_classes,), name="label_onehot")] if cond else []
    image = model.generator([code, *onehot] if cond else code)
    rows = keras.layers.Reshape((SIDE * SIDE * model.channels,), name="image")(image)
    part = keras.Model([code, *onehot] if cond else code, {"image": rows}, name="generator")

    def inputs(n, seed):
        z = model.prior(n, seed)
        if cond:
            return [z, np.eye(model.num_classes, dtype=np.float32)[np.arange(n) % model.num_classes]]
        return [z]

    def metric(runner):
        clf = judge()
        if clf is None or data is None:
            return None
        n = 5000 if model.channels == 1 else 2000
        feed = inputs(n, 12345)
        shape = (n, SIDE, SIDE, model.channels)
        exported = np.asarray(runner(feed)[0]).reshape(shape)
        keras_images = batched(lambda *a: part(list(a) if cond else a[0])["image"], feed).reshape(shape)
        details = dict(split="test", samples=n)
        if cond:
            want = np.arange(n) % model.num_classes
            values = [float(np.mean(clf.classify(im) == want)) for im in (exported, keras_images)]
            name = "label_agreement"
        else:
            # Every plane is a digit (Stacked MNIST's three, MNIST's one), so the distance is that of all planes
            # to the test digits, plane after plane.
            test = features(clf, data["test"][0])
            values = [frechet_distance(features(clf, np.moveaxis(im, -1, 0).reshape(-1, SIDE, SIDE)), test)
                      for im in (exported, keras_images)]
            name = "frechet_distance_test" if model.channels == 1 else "frechet_distance_test_planes"
            if model.channels > 1:
                details["planes"] = n * model.channels
        return metric_report(name, values[0], values[1], digits=4, **details, judge=JUDGE)

    return {"generator": ExportPart(part, inputs, metric, 0.02, "z (+ one-hot label) -> image")}
