"""Variational autoencoders (Kingma & Welling 2014): an MLP encoder gives a diagonal Gaussian q(z|x), the
decoder a Bernoulli p(x|z) over the 784 pixels, the prior is N(0, I) and training maximises the ELBO with
the reparameterisation trick and the analytic KL. `ConditionalVAE` (Sohn et al. 2015) feeds the digit label
to both networks, so z is left to carry style.

Evaluation follows the literature on binarized MNIST: a fixed, seeded binarization of the test images, the
ELBO, and the importance-weighted bound of Burda et al. (2016) with k=1000 samples as the log-likelihood
estimate. All figures are nats per image.
"""

import numpy as np
import tensorflow as tf
import keras
import tensorflow_probability as tfp

from zoo.data import IMAGE_SHAPE, as_images, as_latents, binarize
from zoo.errors import ZooError
from zoo.models.base import ImageAutoencoder, replica_mean

tfd = tfp.distributions

# Posterior-mean variance across the data above which a latent dimension counts as used (Burda et al.).
ACTIVE_UNIT_THRESHOLD = 0.01
# Rows decoded per call when estimating the likelihood: (images x samples) x 784 logits stay near 100 MB.
IWAE_ROWS_PER_CALL = 32768


def _check_count(value, what, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ZooError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class KLWarmup(keras.callbacks.Callback):
    """Ramps the KL weight beta linearly from 0 to 1 over the first `epochs` epochs of a fit.

    Early on the decoder cannot use z yet, so a full KL term pushes q(z|x) onto the prior for good
    (posterior collapse); starting as a plain autoencoder lets the codes become informative first.
    """

    def __init__(self, epochs):
        super().__init__()
        self.epochs = float(epochs)
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        steps = (self.params or {}).get("steps") or 0
        progress = self._epoch + (batch / steps if steps else 0.0)
        self.model.kl_beta.assign(min(1.0, progress / self.epochs))

    def on_train_end(self, logs=None):
        self.model.kl_beta.assign(1.0)


@keras.saving.register_keras_serializable(package="zoo")
class VAE(ImageAutoencoder):
    """MLP VAE: encoder input_dim -> hidden_units -> (z_mean, z_log_var), decoder latent_dim -> reversed
    hidden_units -> input_dim logits.

    `encoder` maps images to [z_mean, z_log_var]; `decoder_logits` maps z to Bernoulli logits and `decoder`
    to pixel probabilities. `encode(x)` returns posterior means.

    Training options: `kl_warmup_epochs` ramps the KL weight from 0 to 1 (see KLWarmup); `free_bits` is a
    floor, in nats, under each latent dimension's batch-mean KL (Kingma et al. 2016), so the optimiser gains
    nothing by pushing a dimension below it. Both only shape the training objective: the reported "loss"
    is always the true negative ELBO, so runs with different options compare directly.
    """

    family = "vae"
    generative = True

    def __init__(self, input_dim=784, hidden_units=(512,), latent_dim=20, activation="relu",
                 kl_warmup_epochs=0, free_bits=0.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        hidden_units = [int(u) for u in hidden_units]
        if int(latent_dim) < 1:
            raise ZooError(f"latent_dim must be >= 1, got {latent_dim}")
        if kl_warmup_epochs < 0 or free_bits < 0:
            raise ZooError("kl_warmup_epochs and free_bits must be >= 0")
        self._config = dict(input_dim=input_dim, hidden_units=hidden_units, latent_dim=int(latent_dim),
                            activation=activation, kl_warmup_epochs=kl_warmup_epochs,
                            free_bits=float(free_bits), seed=int(seed))
        self.input_dim, self.latent_dim = input_dim, int(latent_dim)
        self.kl_warmup_epochs, self.free_bits = kl_warmup_epochs, float(free_bits)
        self._build_networks(hidden_units, activation)

        self.kl_beta = self.add_weight(shape=(), initializer="ones", trainable=False, name="kl_beta")
        self.seed_generator = keras.random.SeedGenerator(int(seed), name="reparam_seed")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.rec_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self._log_weights_fn = None
        self.built = True

    # -- networks ---------------------------------------------------------------------------------------
    def _condition_inputs(self):
        """Extra inputs the encoder and decoder see besides x and z (the one-hot label in the CVAE)."""
        return []

    def _build_networks(self, hidden_units, activation):
        cond = self._condition_inputs()
        x = keras.Input((self.input_dim,), name="image")
        h = keras.layers.Concatenate(name="enc_concat")([x, *cond]) if cond else x
        for i, units in enumerate(hidden_units):
            h = keras.layers.Dense(units, activation=activation, name=f"enc_{i}")(h)
        z_mean = keras.layers.Dense(self.latent_dim, name="z_mean")(h)
        z_log_var = keras.layers.Dense(self.latent_dim, name="z_log_var")(h)
        self.encoder = keras.Model([x, *cond] if cond else x, [z_mean, z_log_var], name="encoder")

        cond = self._condition_inputs()
        z = keras.Input((self.latent_dim,), name="z")
        h = keras.layers.Concatenate(name="dec_concat")([z, *cond]) if cond else z
        for i, units in enumerate(reversed(hidden_units)):
            h = keras.layers.Dense(units, activation=activation, name=f"dec_{i}")(h)
        logits = keras.layers.Dense(self.input_dim, name="logits")(h)
        inputs = [z, *cond] if cond else z
        self.decoder_logits = keras.Model(inputs, logits, name="decoder_logits")
        pixels = keras.layers.Activation("sigmoid", name="pixels")(logits)
        self.decoder = keras.Model(inputs, pixels, name="decoder")

    # Graph-side helpers; c is the condition tensor (None for the plain VAE).
    def _enc(self, x, c=None, training=False):
        return self.encoder(x if c is None else [x, c], training=training)

    def _dec_logits(self, z, c=None, training=False):
        return self.decoder_logits(z if c is None else [z, c], training=training)

    def _cond(self, y):
        return None

    @staticmethod
    def _posterior(z_mean, z_log_var):
        # Per-dimension Normals: the per-dimension KL is what free bits needs; the sum is the usual KL.
        return tfd.Normal(loc=z_mean, scale=tf.exp(0.5 * z_log_var))

    def _terms(self, x, c=None, training=False):
        """Per-example reconstruction -log p(x|z) (nats) and per-dimension KL(q(z|x) || N(0, I))."""
        z_mean, z_log_var = self._enc(x, c, training)
        q = self._posterior(z_mean, z_log_var)
        eps = keras.random.normal(tf.shape(z_mean), seed=self.seed_generator)
        z = z_mean + tf.exp(0.5 * z_log_var) * eps  # reparameterised, so gradients reach the encoder
        logits = self._dec_logits(z, c, training)
        rec = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), axis=-1)
        kl_dims = tfd.kl_divergence(q, tfd.Normal(0.0, 1.0))
        return rec, kl_dims

    # -- training -----------------------------------------------------------------------------------------
    def _unpack(self, data):
        if isinstance(data, (tuple, list)):
            return data[0], (data[1] if len(data) > 1 else None)
        return data, None

    def train_step(self, data):
        x, y = self._unpack(data)
        c = self._cond(y)
        with tf.GradientTape() as tape:
            rec, kl_dims = self._terms(x, c, training=True)
            loss = replica_mean(rec) + tf.cast(self.kl_beta, rec.dtype) * self._kl_objective(kl_dims)
            if self.losses:
                loss += tf.add_n(self.losses)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return self._track(rec, kl_dims)

    def _kl_objective(self, kl_dims):
        """The KL part of the training loss (before beta), with the free-bits floor when set."""
        if self.free_bits > 0:
            # The floor acts on the batch-mean KL of each dimension; each replica contributes its own
            # floored term divided by the replica count, so the summed gradients average them.
            batch_kl = tf.reduce_mean(kl_dims, axis=0)
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            return tf.reduce_sum(tf.maximum(batch_kl, self.free_bits)) / replicas
        return replica_mean(tf.reduce_sum(kl_dims, axis=-1))

    def test_step(self, data):
        x, y = self._unpack(data)
        rec, kl_dims = self._terms(x, self._cond(y), training=False)
        return self._track(rec, kl_dims)

    def _track(self, rec, kl_dims):
        kl = tf.reduce_sum(kl_dims, axis=-1)
        self.loss_tracker.update_state(rec + kl)
        self.rec_tracker.update_state(rec)
        self.kl_tracker.update_state(kl)
        return self.metric_logs()

    @property
    def metrics(self):
        return [self.loss_tracker, self.rec_tracker, self.kl_tracker]

    def fit(self, *args, callbacks=None, **kwargs):
        callbacks = list(callbacks or [])
        if self.kl_warmup_epochs and not any(isinstance(cb, KLWarmup) for cb in callbacks):
            callbacks.append(KLWarmup(self.kl_warmup_epochs))
        return super().fit(*args, callbacks=callbacks, **kwargs)

    # -- graph-side hooks used by the base class ----------------------------------------------------------
    def encode_rows(self, rows):
        return self.encoder(rows, training=False)[0]

    def call(self, x, training=False):
        return self.decoder(self.encoder(x, training=training)[0], training=training)

    # -- likelihood -----------------------------------------------------------------------------------------
    def _log_weights(self, x, c, seed, k):
        """(B, k) importance log-weights log p(x|z) + log p(z) - log q(z|x), z ~ q, and (B, k) log p(x|z).

        Samples are drawn statelessly from `seed` (a pair of ints), so a figure is reproducible."""
        if self._log_weights_fn is None:
            def fn(x, c, seed, k):
                z_mean, z_log_var = self._enc(x, c)
                q = tfd.Independent(self._posterior(z_mean, z_log_var), reinterpreted_batch_ndims=1)
                prior = tfd.Independent(tfd.Normal(tf.zeros_like(z_mean), 1.0), reinterpreted_batch_ndims=1)
                b = tf.shape(x)[0]
                eps = tf.random.stateless_normal(tf.stack([k, b, self.latent_dim]), seed=seed)
                z = z_mean + tf.exp(0.5 * z_log_var) * eps                       # (k, B, D)
                flat = tf.reshape(z, [-1, self.latent_dim])
                cf = None if c is None else tf.tile(c, [k, 1])
                logits = tf.reshape(self._dec_logits(flat, cf), [k, b, self.input_dim])
                log_px = -tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(
                    labels=tf.broadcast_to(x, tf.shape(logits)), logits=logits), axis=-1)
                lw = log_px + prior.log_prob(z) - q.log_prob(z)
                return tf.transpose(lw), tf.transpose(log_px)

            # Not XLA: on CPU its matmuls ran 3x slower than TensorFlow's oneDNN kernels (bench/).
            self._log_weights_fn = tf.function(fn, jit_compile=False, reduce_retracing=True, autograph=False)
        return self._log_weights_fn(tf.constant(x), c, tf.constant(seed, tf.int64), tf.constant(k, tf.int32))

    def _importance(self, rows, onehot, num_samples, seed):
        """(N, num_samples) log-weights and log p(x|z), batched so that at most ~IWAE_ROWS_PER_CALL
        decoder rows are alive at once."""
        n = len(rows)
        k_chunk = min(num_samples, IWAE_ROWS_PER_CALL)
        b = max(1, IWAE_ROWS_PER_CALL // k_chunk)
        lws, lps = [], []
        for i in range(0, n, b):
            xb = rows[i:i + b]
            cb = None if onehot is None else tf.constant(onehot[i:i + b])
            parts_w, parts_p = [], []
            for j, start in enumerate(range(0, num_samples, k_chunk)):
                kk = min(k_chunk, num_samples - start)
                # One stateless seed per (image batch, sample chunk): reproducible and never reused.
                w, p = self._log_weights(xb, cb, [seed, i * 1_000_003 + j], kk)
                parts_w.append(w.numpy())
                parts_p.append(p.numpy())
            lws.append(np.concatenate(parts_w, axis=1))
            lps.append(np.concatenate(parts_p, axis=1))
        return np.concatenate(lws).astype(np.float64), np.concatenate(lps).astype(np.float64)

    def _kl_rows(self, rows, onehot):
        outs = []
        for i in range(0, len(rows), self.predict_batch_size):
            c = None if onehot is None else tf.constant(onehot[i:i + self.predict_batch_size])
            m, lv = self._enc(tf.constant(rows[i:i + self.predict_batch_size]), c)
            outs.append((np.asarray(m, np.float64), np.asarray(lv, np.float64)))
        m = np.concatenate([o[0] for o in outs])
        lv = np.concatenate([o[1] for o in outs])
        kl = 0.5 * np.sum(np.exp(lv) + m ** 2 - 1.0 - lv, axis=1)
        return kl, m

    @staticmethod
    def _iwae(lw):
        k = lw.shape[1]
        top = lw.max(axis=1, keepdims=True)
        return (top[:, 0] + np.log(np.exp(lw - top).sum(axis=1))) - np.log(k)

    def _elbo(self, rows, onehot, num_samples, seed):
        _, log_px = self._importance(rows, onehot, num_samples, seed)
        kl, _ = self._kl_rows(rows, onehot)
        return log_px.mean(axis=1) - kl

    def elbo(self, x, num_samples=1, seed=0):
        """ELBO per image in nats: E_q[log p(x|z)] from `num_samples` draws minus the analytic KL."""
        rows, _ = as_images(x, "x")
        num_samples = _check_count(num_samples, "num_samples")
        return self._elbo(rows, None, num_samples, seed)

    def log_likelihood(self, x, num_samples=1000, seed=0):
        """Importance-weighted estimate of log p(x) per image in nats (Burda et al. 2016): a lower bound
        that tightens towards log p(x) as num_samples grows; num_samples=1 is a one-sample ELBO."""
        rows, _ = as_images(x, "x")
        num_samples = _check_count(num_samples, "num_samples")
        lw, _ = self._importance(rows, None, num_samples, seed)
        return self._iwae(lw)

    def _figures(self, x, onehot, num_samples, seed):
        rows, _ = as_images(x, "x")
        num_samples = _check_count(num_samples, "num_samples")
        xb = binarize(rows, seed)
        lw, log_px = self._importance(xb, onehot, num_samples, seed)
        kl, means = self._kl_rows(xb, onehot)
        rec = -log_px.mean(axis=1)
        variances = means.var(axis=0)
        return {
            "neg_elbo": float(np.mean(rec + kl)),
            "elbo": float(-np.mean(rec + kl)),
            "nll_iwae": float(-np.mean(self._iwae(lw))),
            "reconstruction_bce": float(rec.mean()),
            "kl": float(kl.mean()),
            "active_units": int(np.sum(variances > ACTIVE_UNIT_THRESHOLD)),
            "latent_dim": self.latent_dim,
            "num_samples": num_samples,
            "binarization": f"zoo.data.binarize(x, seed={seed})",
        }

    def test_metrics(self, x, y=None, num_samples=1000, seed=0):
        """Figures on a fixed, seeded binarization of x, in nats per image: ELBO (as elbo and neg_elbo),
        its reconstruction and KL parts, the k-sample importance-weighted NLL and the active units."""
        return self._figures(x, None, num_samples, seed)

    # -- generation -------------------------------------------------------------------------------------------
    def _prior_z(self, n, seed):
        return np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)

    def sample(self, n, seed=0):
        """n images drawn from the model, as pixel probabilities (n, 28, 28) in [0, 1]."""
        n = _check_count(n, "n")
        return self.decode(self._prior_z(n, seed)).reshape((n,) + IMAGE_SHAPE)

    def interpolate(self, x1, x2, steps=8):
        """Decodes `steps` points on the line between the posterior means of two images: (steps, 28, 28)."""
        steps = _check_count(steps, "steps", 2)
        z = self._line(x1, x2, steps)
        return self.decode(z).reshape((steps,) + IMAGE_SHAPE)

    def _line(self, x1, x2, steps, encode=None):
        encode = encode or self.encode
        ends = []
        for name, x in (("x1", x1), ("x2", x2)):
            rows, single = as_images(x, name)
            if not single and len(rows) != 1:
                raise ZooError(f"{name}: expected one image, got a batch of {len(rows)}")
            ends.append(encode(rows)[0])
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        return (1 - t) * ends[0] + t * ends[1]

    # -- pictures ---------------------------------------------------------------------------------------------
    def preview(self, x, n=10):
        """Originals, reconstructions from the posterior mean, and a row of fixed prior samples."""
        from zoo.images import tile

        x = as_images(x[:n], "x")[0]
        rec = self.reconstruct(x)
        samples = self.sample(len(x), seed=0).reshape(len(x), -1)
        return tile(np.concatenate([x, rec, samples]), cols=len(x))

    def pictures(self, x=None, y=None):
        from zoo.images import class_means, scatter, tile

        pics = {"samples.png": tile(self.sample(100, seed=0), cols=10)}
        if x is not None:
            pics["reconstructions.png"] = self.preview(x)
        if self.latent_dim == 2:
            if x is not None and y is not None:
                pics["latent_map.png"] = scatter(self.encode(x), y, legend_images=class_means(x, y))
            pics["latent_grid.png"] = tile(self.decode(self._grid()), cols=15)
        return pics

    @staticmethod
    def _grid(size=15, extent=3.0):
        # Rows run from high z2 at the top to low at the bottom, so the picture reads like a plot.
        ticks = np.linspace(-extent, extent, size, dtype=np.float32)
        z1, z2 = np.meshgrid(ticks, ticks[::-1])
        return np.stack([z1.ravel(), z2.ravel()], axis=1)


@keras.saving.register_keras_serializable(package="zoo")
class ConditionalVAE(VAE):
    """A VAE given the digit label: q(z|x, y) and p(x|z, y), with the one-hot label concatenated to the
    input of both networks. `encoder` takes [image, onehot], `decoder` and `decoder_logits` take
    [z, onehot]. Labels enter the NumPy API as ints in 0..num_classes-1.

    Its likelihood figures are conditional: nll_iwae estimates -log p(x | y).
    """

    family = "cvae"
    needs_labels = True

    def __init__(self, num_classes=10, **kwargs):
        self.num_classes = _check_count(num_classes, "num_classes", 2)
        super().__init__(**kwargs)
        self._config["num_classes"] = self.num_classes

    def _condition_inputs(self):
        return [keras.Input((self.num_classes,), name="onehot")]

    def _cond(self, y):
        return tf.one_hot(tf.cast(tf.reshape(y, [-1]), tf.int32), self.num_classes)

    # -- labels ---------------------------------------------------------------------------------------------
    def _labels(self, labels, n, name="labels"):
        """Check labels against n examples; returns float32 one-hot (n, num_classes)."""
        if labels is None:
            raise ZooError(f"{name}: the conditional VAE needs a label (int 0..{self.num_classes - 1}) "
                           f"per example")
        if hasattr(labels, "numpy"):
            labels = labels.numpy()
        arr = np.asarray(labels)
        if arr.dtype == object or arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
            raise ZooError(f"{name}: expected integer labels in 0..{self.num_classes - 1}, got dtype {arr.dtype}")
        if not np.issubdtype(arr.dtype, np.integer):
            if not (np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
                raise ZooError(f"{name}: expected integer labels in 0..{self.num_classes - 1}, "
                               f"got non-integer values")
        if arr.ndim == 0:
            arr = np.full(n, arr)
        if arr.ndim != 1 or len(arr) != n:
            raise ZooError(f"{name}: expected one label per example ({n}), got shape {arr.shape}")
        arr = arr.astype(np.int64)
        if arr.min() < 0 or arr.max() >= self.num_classes:
            raise ZooError(f"{name}: labels must lie in 0..{self.num_classes - 1}, "
                           f"got range [{arr.min()}, {arr.max()}]")
        return np.eye(self.num_classes, dtype=np.float32)[arr]

    def _batched2(self, fn, a, b):
        outs = [np.asarray(fn(tf.constant(a[i:i + self.predict_batch_size]),
                              tf.constant(b[i:i + self.predict_batch_size])))
                for i in range(0, len(a), self.predict_batch_size)]
        return np.concatenate(outs, axis=0)

    # -- NumPy-facing API, with labels ------------------------------------------------------------------------
    def encode(self, x, labels=None):
        """Images and their labels -> posterior means (N, latent_dim)."""
        rows, single = as_images(x, "x")
        onehot = self._labels(labels, len(rows))
        z = self._batched2(lambda r, c: self.encoder([r, c], training=False)[0], rows, onehot)
        return z[0] if single else z

    def decode(self, z, labels=None):
        """Latent codes and labels -> images (N, 28, 28) in [0, 1]."""
        z, single = as_latents(z, self.latent_dim, "z")
        onehot = self._labels(labels, len(z))
        out = self._batched2(lambda a, c: self.decoder([a, c], training=False), z, onehot)
        out = out.reshape((-1,) + IMAGE_SHAPE)
        return out[0] if single else out

    def reconstruct(self, x, labels=None):
        shape = np.shape(x)
        rows, _ = as_images(x, "x")
        onehot = self._labels(labels, len(rows))
        out = self._batched2(
            lambda r, c: self.decoder([self.encoder([r, c], training=False)[0], c], training=False),
            rows, onehot)
        return out.reshape(shape)

    def encode_rows(self, rows):
        raise ZooError("the conditional VAE encodes with labels: use encode(x, labels)")

    def decode_rows(self, z):
        raise ZooError("the conditional VAE decodes with labels: use decode(z, labels)")

    def call(self, inputs, training=False):
        if not isinstance(inputs, (tuple, list)) or len(inputs) != 2:
            raise ZooError("the conditional VAE is called on [images, labels]")
        x, y = inputs
        c = self._cond(y)
        return self.decoder([self.encoder([x, c], training=training)[0], c], training=training)

    def elbo(self, x, labels=None, num_samples=1, seed=0):
        rows, _ = as_images(x, "x")
        onehot = self._labels(labels, len(rows))
        return self._elbo(rows, onehot, _check_count(num_samples, "num_samples"), seed)

    def log_likelihood(self, x, labels=None, num_samples=1000, seed=0):
        """Importance-weighted estimate of log p(x | label) per image, in nats."""
        rows, _ = as_images(x, "x")
        onehot = self._labels(labels, len(rows))
        lw, _ = self._importance(rows, onehot, _check_count(num_samples, "num_samples"), seed)
        return self._iwae(lw)

    def test_metrics(self, x, y=None, num_samples=1000, seed=0):
        rows, _ = as_images(x, "x")
        metrics = self._figures(rows, self._labels(y, len(rows), "y"), num_samples, seed)
        metrics["conditional"] = "figures are for p(x | label)"
        return metrics

    def sample(self, n, labels=None, seed=0):
        """n images of the given labels (one int for all, or one per image; default cycles 0..9)."""
        n = _check_count(n, "n")
        if labels is None:
            labels = np.arange(n) % self.num_classes
        return self.decode(self._prior_z(n, seed), labels).reshape((n,) + IMAGE_SHAPE)

    def interpolate(self, x1, x2, steps=8, labels=None):
        """Interpolates between two labelled images: z moves along the line between the posterior means
        and the one-hot label blends from the first label to the second. labels = (label1, label2)."""
        steps = _check_count(steps, "steps", 2)
        if labels is None or np.ndim(labels) != 1 or len(labels) != 2:
            raise ZooError("labels: the conditional VAE interpolates between labelled images; "
                           "pass labels=(label1, label2)")
        ends = [self._labels([lab], 1, "labels")[0] for lab in labels]
        encs = iter(ends)
        z = self._line(x1, x2, steps, encode=lambda rows: self._encode_onehot(rows, next(encs)))
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        onehot = (1 - t) * ends[0] + t * ends[1]
        return np.asarray(self.decoder([tf.constant(z), tf.constant(onehot)], training=False)).reshape(
            (steps,) + IMAGE_SHAPE)

    def _encode_onehot(self, rows, onehot):
        return np.asarray(self.encoder([tf.constant(rows), tf.constant(onehot[None].repeat(len(rows), 0))],
                                       training=False)[0])

    # -- pictures ---------------------------------------------------------------------------------------------
    def preview(self, x, n=10, y=None):
        """With labels: originals over reconstructions; always: fixed z (rows) decoded as each label."""
        from zoo.images import tile

        z = self._prior_z(3, seed=0)
        labels = np.tile(np.arange(self.num_classes), 3)
        samples = self.decode(np.repeat(z, self.num_classes, axis=0), labels).reshape(len(labels), -1)
        if y is None:
            return tile(samples, cols=self.num_classes)
        x = as_images(x[:self.num_classes], "x")[0]
        rec = self.reconstruct(x, y[:len(x)]).reshape(len(x), -1)
        blank = np.ones((self.num_classes - len(x), x.shape[1]), np.float32)
        return tile(np.concatenate([x, blank, rec, blank, samples]), cols=self.num_classes)

    def pictures(self, x=None, y=None):
        from zoo.images import class_means, scatter, tile

        labels = np.repeat(np.arange(self.num_classes), 10)
        pics = {"samples.png": tile(self.sample(len(labels), labels=labels, seed=0), cols=10)}
        z = self._prior_z(8, seed=1)
        across = np.tile(np.arange(self.num_classes), len(z))
        pics["style_across_labels.png"] = tile(
            self.decode(np.repeat(z, self.num_classes, axis=0), across), cols=self.num_classes)
        if x is not None and y is not None:
            pics["reconstructions.png"] = self.preview(x, y=y)
            if self.latent_dim == 2:
                pics["latent_map.png"] = scatter(self.encode(x, y), y, legend_images=class_means(x, y))
        return pics


# Presets: plain dicts beside the model they configure. `train` holds the seeded recipe that made the weights.
PRESETS = {
    "vae_mnist": {
        "class": VAE,
        "family": "vae",
        "description": "Variational autoencoder 784-512-256-z32-256-512-784, ReLU, diagonal Gaussian "
                       "posterior, N(0, I) prior, Bernoulli pixels; trained on dynamically binarized MNIST "
                       "with KL warm-up.",
        "config": dict(hidden_units=[512, 256], latent_dim=32, activation="relu", kl_warmup_epochs=10,
                       free_bits=0.0, seed=0),
        "train": dict(epochs=100, batch_size=128, learning_rate=1e-3, dynamic_binarization=True),
    },
    "vae2d_mnist": {
        "class": VAE,
        "family": "vae",
        "description": "Variational autoencoder 784-512-256-z2-256-512-784 with a 2-D latent space, for "
                       "latent maps and decoded grids.",
        "config": dict(hidden_units=[512, 256], latent_dim=2, activation="relu", kl_warmup_epochs=0,
                       free_bits=0.0, seed=0),
        "train": dict(epochs=60, batch_size=128, learning_rate=1e-3, dynamic_binarization=True),
    },
    "cvae_mnist": {
        "class": ConditionalVAE,
        "family": "cvae",
        "description": "Conditional VAE 784+10 -> 512-256 -> z16 -> (z16+10) -> 256-512 -> 784: the one-hot "
                       "label feeds encoder and decoder, so z carries style.",
        "config": dict(hidden_units=[512, 256], latent_dim=16, activation="relu", kl_warmup_epochs=5,
                       free_bits=0.0, num_classes=10, seed=0),
        "train": dict(epochs=80, batch_size=128, learning_rate=1e-3, dynamic_binarization=True),
    },
}
