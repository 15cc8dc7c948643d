"""What every autoencoder-style model in the zoo offers: `encoder`, `decoder`, `encode`, `decode`, `reconstruct`.

Subclasses build `self.encoder` and `self.decoder` (functional Keras models, usable on their own) in
`__init__` from plain config values, so `get_config` is just those values and a reload rebuilds the same
graph before the weights are restored. The NumPy-facing methods check their input first, so a wrong shape,
dtype or range fails with a message instead of deep inside TensorFlow.
"""

import numpy as np
import tensorflow as tf
import keras

from zoo.data import IMAGE_SHAPE, as_images, as_latents


def replica_mean(per_example):
    """Mean over the global batch, correct inside any tf.distribute strategy.

    Under a strategy each replica sees batch/num_replicas examples and Keras sums the replicas' gradients,
    so each replica divides its sum by the global batch size.
    """
    per_example = tf.convert_to_tensor(per_example)
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    global_batch = tf.cast(tf.shape(per_example)[0] * replicas, per_example.dtype)
    return tf.reduce_sum(per_example) / global_batch


class ImageAutoencoder(keras.Model):
    """Base class: subclasses set self.encoder, self.decoder and self.latent_dim, and define the losses."""

    family = "autoencoder"
    generative = False      # True when the model has sample(n, seed)
    needs_labels = False    # True when training and test_metrics take labels (class-conditional models)
    predict_batch_size = 1024

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._config = {}

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras 3.15 builds by reducing one distributed batch eagerly with MEAN, which
        # MultiWorkerMirroredStrategy cannot do (keras-team/keras#20585). The build needs only shapes and
        # dtypes, so one replica's local share of the batch serves as well.
        strategy = self.distribute_strategy
        if iterator is not None and isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            for _, _, it in iterator:
                batch = next(it)
                data_batch = tf.nest.map_structure(lambda v: strategy.experimental_local_results(v)[0], batch)
                break
            iterator = None
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def metric_logs(self):
        """What train_step and test_step return: each tracker's result."""
        logs = {m.name: m.result() for m in self.metrics}
        if isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            # Keras 3.15 reduces multi-worker logs with MEAN over axis 0, which a scalar lacks.
            logs = {k: tf.reshape(v, [1]) for k, v in logs.items()}
        return logs

    # -- config ---------------------------------------------------------------------------------------
    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, **self._config}

    # -- NumPy-facing API -------------------------------------------------------------------------------
    def _batched(self, fn, rows):
        outs = [np.asarray(fn(tf.constant(rows[i:i + self.predict_batch_size])))
                for i in range(0, len(rows), self.predict_batch_size)]
        return np.concatenate(outs, axis=0)

    def encode(self, x):
        """Images -> latent codes (N, latent_dim); one image in, one code out."""
        rows, single = as_images(x, "x")
        z = self._batched(self.encode_rows, rows)
        return z[0] if single else z

    def decode(self, z):
        """Latent codes -> images (N, 28, 28) as float in [0, 1]."""
        z, single = as_latents(z, self.latent_dim, "z")
        out = self._batched(self.decode_rows, z).reshape((-1,) + IMAGE_SHAPE)
        return out[0] if single else out

    def reconstruct(self, x):
        """Images -> reconstructions, float in [0, 1], in the shape the images came in."""
        shape = np.shape(x)
        rows, _ = as_images(x, "x")
        out = self._batched(lambda r: self.decode_rows(self.encode_rows(r)), rows)
        return out.reshape(shape)

    # -- graph-side hooks (tensors in, tensors out) -------------------------------------------------------
    def encode_rows(self, rows):
        return self.encoder(rows, training=False)

    def decode_rows(self, z):
        return self.decoder(z, training=False)

    def call(self, x, training=False):
        return self.decoder(self.encoder(x, training=training), training=training)

    # -- evaluation ----------------------------------------------------------------------------------------
    def test_metrics(self, x, y=None):
        """Reconstruction figures per image on float rows x: squared error and cross-entropy (nats)."""
        # Squared error on the raw output (as PCA is scored); cross-entropy needs it clipped into (0, 1).
        raw = self._batched(lambda r: self.call(r), x).astype(np.float64)
        xd = x.astype(np.float64)
        se = np.sum((raw - xd) ** 2, axis=1)
        rec = np.clip(raw, 1e-7, 1 - 1e-7)
        bce = -np.sum(xd * np.log(rec) + (1 - xd) * np.log(1 - rec), axis=1)
        return {"squared_error_per_image": float(se.mean()), "bce_per_image": float(bce.mean())}

    def preview(self, x, n=10):
        """Top row originals, bottom row reconstructions: a (2*28+pad, n*28+pad) picture."""
        from zoo.images import tile

        x = x[:n]
        rec = self._batched(lambda r: self.call(r), x)
        return tile(np.concatenate([x, rec]), cols=len(x))

    def pictures(self, x=None, y=None):
        """Pictures worth looking at, as {file name: image array}; x, y are float test rows and labels or
        None when no data set is reachable. Families add theirs (samples, latent maps) on top."""
        return {} if x is None else {"reconstructions.png": self.preview(x)}

    def count_params_unique(self):
        """Parameters counted once even when shared (tied weights)."""
        seen = {}
        for w in self.weights:
            seen[id(w)] = int(np.prod(w.shape))
        return int(sum(seen.values()))
