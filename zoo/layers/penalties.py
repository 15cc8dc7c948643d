"""Activity penalties as identity layers: each passes its input through and, when training, adds its
penalty with `add_loss`, so any training step that sums `model.losses` optimises it.

`penalty(...)` is the pure value (a scalar tensor), usable outside training to report or test it.
Batch statistics (the KL sparsity's mean activation) are per replica under a distribution strategy.
"""

import tensorflow as tf
import keras
from keras import ops

from zoo.layers.reduction import replica_mean


class ActivityPenalty(keras.layers.Layer):
    """Adds weight * penalty(h) to the model's losses while training and passes h through unchanged."""

    def call(self, inputs, training=False):
        if training and self.weight:
            self.add_loss(self.penalty(inputs))
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="zoo")
class L1ActivityRegularizer(ActivityPenalty):
    """weight * sum_i |h_i|, averaged over the examples of the batch."""

    def __init__(self, weight=1e-4, **kwargs):
        super().__init__(**kwargs)
        self.weight = float(weight)
        self.built = True

    def penalty(self, h):
        return self.weight * replica_mean(ops.sum(ops.abs(h), axis=-1))

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


def kl_sparsity(h, target):
    """sum_j KL(target || rho_j), rho_j = unit j's mean activation over the batch (activations in (0, 1))."""
    rho = ops.clip(ops.mean(h, axis=0), 1e-6, 1.0 - 1e-6)
    return ops.sum(target * ops.log(target / rho) + (1.0 - target) * ops.log((1.0 - target) / (1.0 - rho)))


@keras.saving.register_keras_serializable(package="zoo")
class KLSparsityRegularizer(ActivityPenalty):
    """weight * sum_j KL(target || mean activation of unit j over the mini-batch) (Ng's sparse autoencoder).

    Meant for sigmoid units, whose activations are Bernoulli means in (0, 1).
    """

    def __init__(self, target=0.05, weight=0.1, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 < float(target) < 1.0:
            raise ValueError(f"target must lie in (0, 1), got {target}")
        self.target, self.weight = float(target), float(weight)
        self.built = True

    def penalty(self, h):
        return self.weight * kl_sparsity(h, self.target)

    def get_config(self):
        return {**super().get_config(), "target": self.target, "weight": self.weight}


def sigmoid_jacobian_sq_norm(h, kernel):
    """||dh/dx||_F^2 per example for h = sigmoid(x W + b): sum_j (h_j (1 - h_j))^2 sum_i W_ij^2."""
    return ops.sum(ops.square(h * (1.0 - h)) * ops.sum(ops.square(kernel), axis=0), axis=-1)


def jacobian_sq_norm(fn, x):
    """||d fn(x) / dx||_F^2 per example, from the exact batch Jacobian (fn maps each row independently)."""
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        h = fn(x)
    jac = tape.batch_jacobian(h, x)
    return tf.reduce_sum(tf.square(jac), axis=tf.range(1, tf.rank(jac)))


@keras.saving.register_keras_serializable(package="zoo")
class ContractivePenalty(keras.layers.Layer):
    """weight * ||dh/dx||_F^2 averaged over the batch (Rifai et al. 2011), exact.

    Called on [x, h] where h = layer(x); returns h. For a sigmoid Dense the closed form is used; for any
    other layer the batch Jacobian is computed with tf.GradientTape (TensorFlow backend).
    """

    def __init__(self, layer, weight=0.1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(layer, dict):
            layer = keras.saving.deserialize_keras_object(layer)
        self.layer, self.weight = layer, float(weight)

    def build(self, input_shape):
        self.built = True

    @property
    def closed_form(self):
        return (isinstance(self.layer, keras.layers.Dense)
                and self.layer.activation is keras.activations.sigmoid)

    def per_example(self, x, h):
        if self.closed_form:
            return sigmoid_jacobian_sq_norm(h, self.layer.kernel)
        return jacobian_sq_norm(self.layer, x)

    def penalty(self, x, h):
        return self.weight * replica_mean(self.per_example(x, h))

    def call(self, inputs, training=False):
        x, h = inputs
        if training and self.weight:
            self.add_loss(self.penalty(x, h))
        return h

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self):
        return {**super().get_config(), "layer": keras.saving.serialize_keras_object(self.layer),
                "weight": self.weight}
