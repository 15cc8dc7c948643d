"""Variational autoencoders (Kingma & Welling 2014): an MLP encoder gives a diagonal Gaussian q(z|x), the
decoder a Bernoulli p(x|z) over the 784 pixels, the prior is N(0, I), and training maximises the ELBO with the
reparameterisation trick and the analytic KL (tfp.distributions). `ConditionalVAE` (Sohn et al. 2015) feeds
the digit label to both networks, so z is left to carry style; it takes {"image": ..., "label": ...}.

Evaluation follows the literature on binarized MNIST: a fixed, seeded binarization of the test images, the
ELBO, and the importance-weighted bound of Burda et al. (2016) with k=1000 samples as the log-likelihood
estimate. All figures are nats per image.
"""

import numpy as np
import tensorflow as tf
import keras

from zoo import checks, data as zdata, figures, progress, retrieval
from zoo.base import ExportPart, metric_report, batched
from zoo.errors import ZooError
from zoo.families.autoencoder import ImageAutoencoder, bce_per_image
from zoo.layers import image_rows, like_input, replica_mean


def _tfd():
    """tfp.distributions, imported on first use: TFP's package import loads all of TFP (about 2.5 s), which
    every `zoo` command would otherwise pay when the registry imports this family, VAE or not."""
    import tensorflow_probability as tfp
    return tfp.distributions

# Posterior-mean variance across the data above which a latent dimension counts as used (Burda et al.).
ACTIVE_UNIT_THRESHOLD = 0.01
# Decoder rows per call when estimating the likelihood: (images x samples) x 784 logits stay near 100 MB.
IWAE_ROWS_PER_CALL = 32768


class KLWarmup(keras.callbacks.Callback):
    """Ramps the KL weight beta linearly from 0 to 1 over the first `epochs` epochs of a fit.

    Early on the decoder cannot use z yet, so a full KL term pushes q(z|x) onto the prior for good
    (posterior collapse); starting as a plain autoencoder lets the codes become informative first. beta is
    a function of (epoch, step), so a resumed run sets the same values.
    """

    def __init__(self, epochs):
        super().__init__()
        self.epochs = float(epochs)
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        steps = (self.params or {}).get("steps") or 0
        self.model.kl_beta.assign(min(1.0, (self._epoch + (batch / steps if steps else 0.0)) / self.epochs))

    def on_train_end(self, logs=None):
        self.model.kl_beta.assign(1.0)


@keras.saving.register_keras_serializable(package="zoo")
class VAE(ImageAutoencoder):
    """MLP VAE: encoder input_dim -> hidden_units -> {"code": z_mean, "z_log_var"}, decoder latent_dim ->
    reversed hidden_units -> input_dim pixel probabilities (`decoder_logits` gives the logits).

    kl_warmup_epochs ramps the KL weight from 0 to 1; free_bits is a floor, in nats, under each latent
    dimension's batch-mean KL (Kingma et al. 2016). importance_samples=k > 1 trains on the k-sample
    importance-weighted bound of Burda et al. (2016) instead of the ELBO (the IWAE; tighter as k grows). All
    three shape only the training objective: the reported "loss" is always the true negative ELBO.
    dynamic_binarization draws a fresh binary image from the pixel intensities at every training step, from a
    seed generator that is part of the model's state.
    """

    family = "vae"
    generative = True
    target_kind = None     # the ELBO reconstructs x itself: evaluate's y is not read

    def __init__(self, input_dim=784, hidden_units=(512,), latent_dim=20, activation="relu", kl_warmup_epochs=0,
                 free_bits=0.0, dynamic_binarization=True, importance_samples=1, seed=0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(hidden_units, (int, str)):
            raise ZooError(f"hidden_units must be a list of positive integers, got {hidden_units!r}")
        self._config = dict(input_dim=checks.count(input_dim, "input_dim"),
                            hidden_units=[checks.count(u, "hidden_units entries") for u in hidden_units],
                            latent_dim=checks.count(latent_dim, "latent_dim"), activation=activation,
                            kl_warmup_epochs=checks.count(kl_warmup_epochs, "kl_warmup_epochs", 0, checks.MAX_EPOCHS),
                            free_bits=checks.number(free_bits, "free_bits", 0.0, 100.0),
                            dynamic_binarization=bool(dynamic_binarization),
                            importance_samples=checks.count(importance_samples, "importance_samples", 1, 1000),
                            seed=checks.count(seed, "seed", 0))
        if self._config["importance_samples"] > 1 and self._config["free_bits"] > 0:
            raise ZooError("free_bits floors the ELBO's analytic KL, which the importance-weighted bound "
                           "(importance_samples > 1) does not have; use one or the other (importance_samples=1 "
                           "for free bits)")
        self._config.update(self._extra_config())
        type(self).check_budget(self._config)
        c = self._config
        self.input_dim, self.latent_dim = c["input_dim"], c["latent_dim"]
        self.kl_warmup_epochs, self.free_bits = c["kl_warmup_epochs"], c["free_bits"]
        self._build_networks(c["hidden_units"], activation)
        self.kl_beta = self.add_weight(shape=(), initializer="ones", trainable=False, name="kl_beta")
        self.reparam_seed = keras.random.SeedGenerator(c["seed"], name="reparam_seed")
        self.binarize_seed = keras.random.SeedGenerator(c["seed"] + 1, name="binarize_seed")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.rec_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self._log_weights_fn = None
        self.finish(self._example(), optimizer=keras.optimizers.Adam(1e-3))

    def _extra_config(self):
        return {}

    def _example(self):
        return np.zeros((1, self.input_dim), np.float32)

    @classmethod
    def parameter_count(cls, config):
        dims = [int(config.get("input_dim", 784)), *[int(u) for u in config.get("hidden_units", (512,))]]
        z, extra = int(config.get("latent_dim", 20)), int(config.get("num_classes", 0))
        enc = sum((a + (extra if i == 0 else 0)) * b + b for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])))
        enc += 2 * (dims[-1] * z + z)
        rev = [z + extra, *dims[:0:-1], dims[0]]
        return enc + sum(a * b + b for a, b in zip(rev[:-1], rev[1:]))

    # -- networks -------------------------------------------------------------------------------------------
    def _condition_inputs(self):
        """Extra inputs beside x and z (the one-hot label in the CVAE)."""
        return []

    def _build_networks(self, hidden_units, activation):
        cond = self._condition_inputs()
        x = keras.Input((self.input_dim,), name="image")
        h = keras.layers.Concatenate(name="enc_concat")([x, *cond]) if cond else x
        for i, units in enumerate(hidden_units):
            h = keras.layers.Dense(units, activation=activation, name=f"enc_{i}")(h)
        z_mean = keras.layers.Dense(self.latent_dim, name="z_mean")(h)
        z_log_var = keras.layers.Dense(self.latent_dim, name="z_log_var")(h)
        self.encoder = keras.Model([x, *cond] if cond else x, {"code": z_mean, "z_log_var": z_log_var},
                                   name="encoder")
        cond = self._condition_inputs()
        z = keras.Input((self.latent_dim,), name="code")
        h = keras.layers.Concatenate(name="dec_concat")([z, *cond]) if cond else z
        for i, units in enumerate(reversed(hidden_units)):
            h = keras.layers.Dense(units, activation=activation, name=f"dec_{i}")(h)
        logits = keras.layers.Dense(self.input_dim, name="logits")(h)
        inputs = [z, *cond] if cond else z
        self.decoder_logits = keras.Model(inputs, logits, name="decoder_logits")
        self.decoder = keras.Model(inputs, keras.layers.Activation("sigmoid", name="image")(logits), name="decoder")

    def _enc(self, x, c=None, training=False):
        out = self.encoder(x if c is None else [x, c], training=training)
        return out["code"], out["z_log_var"]

    def _dec_logits(self, z, c=None, training=False):
        return self.decoder_logits(z if c is None else [z, c], training=training)

    def _split(self, data):
        """(image rows, condition or None) from what fit/evaluate hand a train or test step."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return image_rows(x), None

    @staticmethod
    def _posterior(z_mean, z_log_var):
        return _tfd().Normal(loc=z_mean, scale=tf.exp(0.5 * z_log_var))

    def _kl_dims(self, z_mean, z_log_var):
        """Per-dimension analytic KL(q(z|x) || N(0, I))."""
        return _tfd().kl_divergence(self._posterior(z_mean, z_log_var), _tfd().Normal(0.0, 1.0))

    def _terms(self, x, c=None, training=False):
        """Per-example reconstruction -log p(x|z) (nats) and per-dimension KL(q(z|x) || N(0, I))."""
        z_mean, z_log_var = self._enc(x, c, training)
        eps = keras.random.normal(tf.shape(z_mean), seed=self.reparam_seed)
        z = z_mean + tf.exp(0.5 * z_log_var) * eps  # reparameterised, so gradients reach the encoder
        logits = self._dec_logits(z, c, training)
        rec = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), axis=-1)
        return rec, self._kl_dims(z_mean, z_log_var)

    # -- training -------------------------------------------------------------------------------------------
    def train_step(self, data):
        x, c = self._split(data)
        if self._config["dynamic_binarization"]:
            x = tf.cast(keras.random.uniform(tf.shape(x), seed=self.binarize_seed) < x, tf.float32)
        k = self._config["importance_samples"]
        with tf.GradientTape() as tape:
            if k > 1:
                z_mean, z_log_var = self._enc(x, c, training=True)
                eps = keras.random.normal(tf.stack([k, tf.shape(x)[0], self.latent_dim]), seed=self.reparam_seed)
                lw, log_px = self._weights_given_noise(x, c, z_mean, z_log_var, eps, beta=self.kl_beta,
                                                       training=True)
                loss = -replica_mean(tf.reduce_logsumexp(lw, axis=0) - tf.math.log(tf.cast(k, lw.dtype)))
                # reported as the ELBO's parts: E_q[-log p(x|z)] over the k draws and the analytic KL
                rec = -tf.reduce_mean(log_px, axis=0)
                kl_dims = self._kl_dims(z_mean, z_log_var)
            else:
                rec, kl_dims = self._terms(x, c, training=True)
                loss = replica_mean(rec) + tf.cast(self.kl_beta, rec.dtype) * self._kl_objective(kl_dims)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return self._track(rec, kl_dims)

    def _kl_objective(self, kl_dims):
        """The KL part of the training loss (before beta), with the free-bits floor when set."""
        if self.free_bits > 0:
            # The floor acts on each dimension's batch-mean KL; each replica contributes its floored term
            # divided by the replica count, so the summed gradients average them.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            return tf.reduce_sum(tf.maximum(tf.reduce_mean(kl_dims, axis=0), self.free_bits)) / replicas
        return replica_mean(tf.reduce_sum(kl_dims, axis=-1))

    def test_step(self, data):
        x, c = self._split(data)
        if self._config["dynamic_binarization"]:
            # a fixed binarization, so validation losses of different epochs compare
            x = tf.cast(tf.random.stateless_uniform(tf.shape(x), seed=[7, 7]) < x, tf.float32)
        return self._track(*self._terms(x, c, training=False))

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

    # -- likelihood -----------------------------------------------------------------------------------------
    def _weights_given_noise(self, x, c, z_mean, z_log_var, eps, beta=None, training=False):
        """(k, B) importance log-weights log p(x|z) + log p(z) - log q(z|x) at z = mean + sd * eps for (k, B, D)
        noise eps, and (k, B) log p(x|z). beta, when given, weights the log-density ratio (KL warm-up)."""
        q = _tfd().Independent(self._posterior(z_mean, z_log_var), reinterpreted_batch_ndims=1)
        prior = _tfd().Independent(_tfd().Normal(tf.zeros_like(z_mean), 1.0), reinterpreted_batch_ndims=1)
        k, b = tf.shape(eps)[0], tf.shape(eps)[1]
        z = z_mean + tf.exp(0.5 * z_log_var) * eps                       # (k, B, D)
        flat = tf.reshape(z, [-1, self.latent_dim])
        cf = None if c is None else tf.tile(c, [k, 1])
        logits = tf.reshape(self._dec_logits(flat, cf, training), [k, b, self.input_dim])
        log_px = -tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.broadcast_to(x, tf.shape(logits)), logits=logits), axis=-1)
        if beta is None:
            return log_px + prior.log_prob(z) - q.log_prob(z), log_px
        return log_px + tf.cast(beta, log_px.dtype) * (prior.log_prob(z) - q.log_prob(z)), log_px

    def _log_weights(self, x, c, seed, k):
        """(B, k) importance log-weights log p(x|z) + log p(z) - log q(z|x), z ~ q, and (B, k) log p(x|z);
        samples drawn statelessly from `seed`, so a figure is reproducible."""
        if self._log_weights_fn is None:
            def fn(x, c, seed, k):
                z_mean, z_log_var = self._enc(x, c)
                eps = tf.random.stateless_normal(tf.stack([k, tf.shape(x)[0], self.latent_dim]), seed=seed)
                lw, log_px = self._weights_given_noise(x, c, z_mean, z_log_var, eps)
                return tf.transpose(lw), tf.transpose(log_px)

            # Not XLA: on this CPU its matmuls ran 3x slower than TensorFlow's oneDNN kernels (bench/).
            self._log_weights_fn = tf.function(fn, jit_compile=False, reduce_retracing=True, autograph=False)
        return self._log_weights_fn(tf.constant(x), c, tf.constant(seed, tf.int64), tf.constant(k, tf.int32))

    def _importance(self, rows, onehot, num_samples, seed, verbose="auto", what="importance samples"):
        """(N, num_samples) log-weights and log p(x|z), with at most ~IWAE_ROWS_PER_CALL decoder rows alive;
        a progress bar over the images (zoo.progress reads verbose)."""
        k_chunk = min(num_samples, IWAE_ROWS_PER_CALL)
        b = max(1, IWAE_ROWS_PER_CALL // k_chunk)
        lws, lps = [], []
        with progress.bar(f"{what} (k={num_samples:,})", len(rows), "images", verbose) as bar:
            for i in range(0, len(rows), b):
                cb = None if onehot is None else tf.constant(onehot[i:i + b])
                parts_w, parts_p = [], []
                for j, start in enumerate(range(0, num_samples, k_chunk)):
                    # One stateless seed per (image batch, sample chunk): reproducible and never reused.
                    w, p = self._log_weights(rows[i:i + b], cb, [seed, i * 1_000_003 + j],
                                             min(k_chunk, num_samples - start))
                    parts_w.append(w.numpy())
                    parts_p.append(p.numpy())
                lws.append(np.concatenate(parts_w, axis=1))
                lps.append(np.concatenate(parts_p, axis=1))
                bar.advance(len(lws[-1]))
        return np.concatenate(lws).astype(np.float64), np.concatenate(lps).astype(np.float64)

    def _kl_rows(self, rows, onehot):
        args = [rows] if onehot is None else [rows, onehot]
        out = batched(lambda *a: self._enc(*a), args, self.predict_batch_size)
        m, lv = out[0].astype(np.float64), out[1].astype(np.float64)
        return 0.5 * np.sum(np.exp(lv) + m ** 2 - 1.0 - lv, axis=1), m

    @staticmethod
    def _iwae(lw):
        top = lw.max(axis=1, keepdims=True)
        return (top[:, 0] + np.log(np.exp(lw - top).sum(axis=1))) - np.log(lw.shape[1])

    def _elbo(self, rows, onehot, num_samples, seed, verbose="auto"):
        _, log_px = self._importance(rows, onehot, num_samples, seed, verbose, "ELBO")
        return log_px.mean(axis=1) - self._kl_rows(rows, onehot)[0]

    def _num_samples(self, k):
        return checks.count(k, "num_samples", 1, checks.MAX_IMPORTANCE_SAMPLES)

    def elbo(self, x, num_samples=1, seed=0, verbose="auto"):
        """ELBO per image in nats: E_q[log p(x|z)] from `num_samples` draws minus the analytic KL."""
        return self._elbo(checks.as_images(x, "x")[0], None, self._num_samples(num_samples), seed, verbose)

    def log_likelihood(self, x, num_samples=1000, seed=0, verbose="auto"):
        """Importance-weighted estimate of log p(x) per image in nats (Burda et al. 2016): a lower bound that
        tightens towards log p(x) as num_samples grows. verbose: progress on stderr (zoo.progress)."""
        lw, _ = self._importance(checks.as_images(x, "x")[0], None, self._num_samples(num_samples), seed, verbose,
                                 "IWAE log-likelihood")
        return self._iwae(lw)

    def _figures(self, rows, onehot, num_samples, seed, verbose="auto"):
        num_samples = self._num_samples(num_samples)
        xb = zdata.binarize(rows, seed)
        lw, log_px = self._importance(xb, onehot, num_samples, seed, verbose, "IWAE log-likelihood")
        kl, means = self._kl_rows(xb, onehot)
        rec = -log_px.mean(axis=1)
        return {"neg_elbo": float(np.mean(rec + kl)), "elbo": float(-np.mean(rec + kl)),
                "nll_iwae": float(-np.mean(self._iwae(lw))), "reconstruction_bce": float(rec.mean()),
                "kl": float(kl.mean()), "active_units": int(np.sum(means.var(axis=0) > ACTIVE_UNIT_THRESHOLD)),
                "latent_dim": self.latent_dim, "num_samples": num_samples,
                "binarization": f"zoo.data.binarize(x, seed={seed})"}

    def test_metrics(self, x, y=None, num_samples=1000, seed=0, verbose="auto"):
        """On a fixed, seeded binarization of x, nats per image: ELBO, its reconstruction and KL parts, the
        k-sample importance-weighted NLL, and the active units. verbose: progress on stderr (zoo.progress)."""
        return self._figures(checks.as_images(x, "x")[0], None, num_samples, seed, verbose)

    # -- generation -----------------------------------------------------------------------------------------
    def _prior_z(self, n, seed):
        return np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)

    def sample(self, n, *, labels=None, seed=None):
        """n images drawn from the model, as pixel probabilities (n, 28, 28) in [0, 1]."""
        n = checks.count(n, "n", 1, checks.MAX_SAMPLES)
        if labels is not None:
            raise ZooError(f"{self.name} is not class-conditional; sample it without labels")
        return self.decode(self._prior_z(n, seed)).reshape((n,) + checks.IMAGE_SHAPE)

    def interpolate(self, x1, x2, steps=8):
        """Decodes `steps` points on the line between the posterior means of two images: (steps, 28, 28)."""
        steps = checks.count(steps, "steps", 2, checks.MAX_STEPS)
        return self.decode(self._line(x1, x2, steps)).reshape((steps,) + checks.IMAGE_SHAPE)

    def _line(self, x1, x2, steps, encode=None):
        encode = encode or self.encode
        ends = []
        for name, x in (("x1", x1), ("x2", x2)):
            rows, single = checks.as_images(x, name)
            if not single and len(rows) != 1:
                raise ZooError(f"{name}: expected one image, got a batch of {len(rows)}")
            ends.append(encode(rows)[0])
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        return (1 - t) * ends[0] + t * ends[1]

    def inference_encoder(self):
        x = keras.Input((self.input_dim,), name="image")
        h = x
        for layer in self.encoder.layers:
            if isinstance(layer, keras.layers.Dense) and layer.name != "z_log_var":
                clone = keras.layers.Dense.from_config(layer.get_config())
                h = clone(h)
                clone.set_weights(layer.get_weights())
        return keras.Model(x, h, name="encoder")


@keras.saving.register_keras_serializable(package="zoo")
class ConditionalVAE(VAE):
    """A VAE given the digit label: q(z|x, y) and p(x|z, y), the one-hot label concatenated to the input of
    both networks. `model({"image": x, "label": y})` reconstructs; `encoder` takes [image, onehot] and
    `decoder` [code, onehot]. Its likelihood figures are conditional: nll_iwae estimates -log p(x | y)."""

    family = "vae"
    conditional = True

    def __init__(self, num_classes=10, **kwargs):
        self.num_classes = checks.count(num_classes, "num_classes", 2, 1000)
        super().__init__(**kwargs)

    def _extra_config(self):
        return {"num_classes": self.num_classes}

    def _example(self):
        return {"image": np.zeros((1, self.input_dim), np.float32), "label": np.zeros((1,), np.int32)}

    def _condition_inputs(self):
        return [keras.Input((self.num_classes,), name="label_onehot")]

    def _onehot(self, y):
        return tf.one_hot(tf.cast(tf.reshape(y, [-1]), tf.int32), self.num_classes)

    def _inputs(self, inputs):
        if not isinstance(inputs, dict) or set(inputs) != {"image", "label"}:
            raise ZooError(f"{self.name} takes a dict {{'image': images, 'label': labels}}")
        return inputs["image"], inputs["label"]

    def __call__(self, inputs, *args, **kwargs):
        # Checked before Keras' own __call__, which would wrap the message in a multi-line report.
        self._inputs(inputs)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs, training=False):
        x, y = self._inputs(inputs)
        c = self._onehot(y)
        z_mean, _ = self._enc(image_rows(x), c, training)
        return like_input(self.decoder([z_mean, c], training=training), x)

    def _split(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, dict):
            x, y = self._inputs(x)
        if y is None:
            raise ZooError(f"{self.name} trains on images with labels: fit({{'image': x, 'label': y}})")
        return image_rows(x), self._onehot(y)

    def _onehot_np(self, labels, n, name="labels"):
        return np.eye(self.num_classes, dtype=np.float32)[checks.as_labels(labels, n, self.num_classes, name)]

    # -- NumPy-facing API, with labels ----------------------------------------------------------------------
    def encode(self, x, labels=None):
        rows, single = checks.as_images(x, "x")
        z = batched(lambda r, c: self.encoder([r, c])["code"], [rows, self._onehot_np(labels, len(rows))])
        return z[0] if single else z

    def decode(self, z, labels=None):
        z, single = checks.as_latents(z, self.latent_dim, "z")
        out = batched(lambda a, c: self.decoder([a, c]), [z, self._onehot_np(labels, len(z))])
        out = out.reshape((-1,) + checks.IMAGE_SHAPE)
        return out[0] if single else out

    def reconstruct(self, x, labels=None):
        shape = np.shape(x)
        rows, _ = checks.as_images(x, "x")
        labels = checks.as_labels(labels, len(rows), self.num_classes)
        return batched(lambda r, y: self({"image": r, "label": y}), [rows, labels]).reshape(shape)

    def elbo(self, x, labels=None, num_samples=1, seed=0, verbose="auto"):
        rows, _ = checks.as_images(x, "x")
        return self._elbo(rows, self._onehot_np(labels, len(rows)), self._num_samples(num_samples), seed, verbose)

    def log_likelihood(self, x, labels=None, num_samples=1000, seed=0, verbose="auto"):
        """Importance-weighted estimate of log p(x | label) per image, in nats."""
        rows, _ = checks.as_images(x, "x")
        lw, _ = self._importance(rows, self._onehot_np(labels, len(rows)), self._num_samples(num_samples), seed,
                                 verbose, "IWAE log-likelihood")
        return self._iwae(lw)

    def test_metrics(self, x, y=None, num_samples=1000, seed=0, verbose="auto"):
        rows, _ = checks.as_images(x, "x")
        metrics = self._figures(rows, self._onehot_np(y, len(rows), "y"), num_samples, seed, verbose)
        metrics["conditional"] = "figures are for p(x | label)"
        return metrics

    def sample(self, n, *, labels=None, seed=None):
        """n images of the given labels (one int for all, or one per image; default cycles 0..9)."""
        n = checks.count(n, "n", 1, checks.MAX_SAMPLES)
        if labels is None:
            labels = np.arange(n) % self.num_classes
        return self.decode(self._prior_z(n, seed), labels).reshape((n,) + checks.IMAGE_SHAPE)

    def interpolate(self, x1, x2, steps=8, labels=None):
        """z moves along the line between the posterior means and the one-hot label blends from the first
        label to the second. labels = (label1, label2)."""
        steps = checks.count(steps, "steps", 2, checks.MAX_STEPS)
        if labels is None or np.ndim(labels) != 1 or len(labels) != 2:
            raise ZooError("labels: the conditional VAE interpolates between labelled images; pass "
                           "labels=(label1, label2)")
        ends = [self._onehot_np([lab], 1)[0] for lab in labels]
        encs = iter(ends)
        z = self._line(x1, x2, steps, encode=lambda rows: np.asarray(
            self.encoder([rows, np.repeat(next(encs)[None], len(rows), 0)])["code"]))
        t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
        return np.asarray(self.decoder([z, (1 - t) * ends[0] + t * ends[1]])).reshape((steps,) + checks.IMAGE_SHAPE)

    def inference_encoder(self):
        raise ZooError("the conditional VAE needs the label to encode, so it cannot serve as a classifier's encoder")


# -- family hooks ------------------------------------------------------------------------------------------------
def card_metrics(model, data):
    return {}


def pictures(model, data):
    figs = {}
    if model.conditional:
        figs["samples.png"] = figures.per_label_grid(lambda labels: model.sample(len(labels), labels=labels, seed=0),
                                                     model.num_classes, title=f"{model.name}: samples per label")
        z = model._prior_z(8, seed=1)
        across = np.tile(np.arange(model.num_classes), len(z))
        figs["style_across_labels.png"] = figures.image_grid(
            model.decode(np.repeat(z, model.num_classes, axis=0), across), cols=model.num_classes,
            row_labels=[f"style {i + 1}" for i in range(len(z))], col_labels=[str(k) for k in range(model.num_classes)],
            title=f"{model.name}: one z per row, decoded as each label")
    else:
        figs["samples.png"] = figures.image_grid(model.sample(100, seed=0), cols=10,
                                                 title=f"{model.name}: 100 samples from the prior")
    if data is not None:
        x, y = data["test"][0][:10], data["test"][1][:10]
        rec = model.reconstruct(x, y) if model.conditional else model.reconstruct(x)
        figs["reconstructions.png"] = figures.image_grid(
            np.concatenate([x, rec.reshape(len(x), -1)]), cols=10, row_labels=["test image", "reconstruction"],
            title=f"{model.name}: test images and reconstructions from the posterior mean")
    if model.latent_dim == 2 and not model.conditional:
        if data is not None:
            x, y = data["test"]
            figs["latent_map.png"] = figures.latent_map(model.encode(x), y, title=f"{model.name}: posterior means "
                                                        "of the test images", class_names=[str(k) for k in range(10)])
        ticks = np.linspace(-3, 3, 15, dtype=np.float32)
        z1, z2 = np.meshgrid(ticks, ticks[::-1])
        figs["latent_grid.png"] = figures.decoded_grid(
            model.decode(np.stack([z1.ravel(), z2.ravel()], axis=1)), ticks,
            title=f"{model.name}: decoded images over the latent plane")
    return figs


def preview(model, data):
    figs = pictures(model, data)
    return figs.get("reconstructions.png") or figs["samples.png"]


def export_parts(model, data):
    """encoder (image -> z_mean, z_log_var) and decoder (code -> image); sampling z stays with the caller,
    because RandomStandardNormal is not a LiteRT builtin."""
    cond = model.conditional
    image = keras.Input((model.input_dim,), name="image")
    code = keras.Input((model.latent_dim,), name="code")
    onehot = [keras.Input((model.num_classes,), name="label_onehot")] if cond else []
    out = model.encoder([image, *onehot] if cond else image)
    encoder = keras.Model([image, *onehot] if cond else image, {"z_mean": out["code"], "z_log_var": out["z_log_var"]},
                          name="encoder")
    onehot2 = [keras.Input((model.num_classes,), name="label_onehot")] if cond else []
    decoder = keras.Model([code, *onehot2] if cond else code,
                          {"image": model.decoder([code, *onehot2] if cond else code)}, name="decoder")

    def real(n, seed):
        rng = np.random.default_rng(seed)
        if data is None:
            return rng.random((n, model.input_dim), dtype=np.float32), rng.integers(0, 10, n)
        x, y = data["train"]
        idx = np.sort(rng.choice(len(x), min(n, len(x)), replace=False))
        return x[idx], y[idx]

    def onehots(y):
        return [np.eye(model.num_classes, dtype=np.float32)[y]] if cond else []

    def encoder_inputs(n, seed):
        x, y = real(n, seed)
        return [x, *onehots(y)]

    def decoder_inputs(n, seed):
        """Posterior samples and means of real images, plus prior draws: the codes a decoder meets."""
        x, y = real(n, seed)
        mean, log_var = batched(lambda *a: model._enc(*a), [x, *onehots(y)])
        eps = np.random.default_rng(seed + 1).standard_normal(mean.shape).astype(np.float32)
        third = len(x) // 3
        z = np.concatenate([mean[:third], (mean + np.exp(0.5 * log_var) * eps)[third:2 * third],
                            eps[2 * third:]]).astype(np.float32)
        return [z, *onehots(y)]

    def decoder_metric(runner):
        if data is None:
            return None
        x, y = data["test"]
        z = batched(lambda *a: model._enc(*a)[0], [x, *onehots(y)])
        exported = bce_per_image(x, runner([z, *onehots(y)])[0])
        keras_value = bce_per_image(x, batched(lambda *a: model.decoder(list(a) if cond else a[0]), [z, *onehots(y)]))
        return metric_report("bce_per_image", exported, keras_value, digits=4, split="test", images=int(len(x)),
                             chain="keras encoder mean -> exported decoder")

    def encoder_metric(runner):
        if data is None:
            return None
        x, y = data["test"]
        dec = lambda z: batched(lambda *a: model.decoder(list(a) if cond else a[0]), [z, *onehots(y)])  # noqa: E731
        exported = bce_per_image(x, dec(runner([x, *onehots(y)])[0]))
        keras_value = bce_per_image(x, dec(batched(lambda *a: model._enc(*a)[0], [x, *onehots(y)])))
        return metric_report("bce_per_image", exported, keras_value, digits=4, split="test", images=int(len(x)),
                             chain="exported encoder mean -> keras decoder")

    return {"encoder": ExportPart(encoder, encoder_inputs, encoder_metric, 0.02),
            "decoder": ExportPart(decoder, decoder_inputs, decoder_metric, 0.02)}




# `zoo neighbours NAME --image N --out fig.png`: nearest training images by the code (zoo.retrieval)
COMMANDS = {"neighbours": retrieval.neighbours_command()}
