"""A decoder layer that reuses an encoder Dense layer's kernel transposed (tied weights)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class DenseTranspose(keras.layers.Layer):
    """y = activation(x @ W^T + b), where W is the kernel of `dense` and b is this layer's own bias.

    The tie is a reference to `dense`, not a copy: Keras 3 cannot reassign `Dense.kernel`, so the
    owning model creates the encoder Dense and passes it here when it builds its graph from its config.
    A reload rebuilds the graph the same way, so the tie comes back; the kernel is one variable, tracked
    and saved once. `get_config` records the tied layer's config only so that the config round-trips: a
    DenseTranspose rebuilt alone from its config owns a fresh, untied Dense.
    """

    def __init__(self, dense, activation=None, use_bias=True, bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if isinstance(dense, dict):
            dense = keras.saving.deserialize_keras_object(dense)
        if not isinstance(dense, keras.layers.Dense):
            raise TypeError(f"dense must be a keras.layers.Dense, got {type(dense).__name__}")
        self.dense = dense
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        if not self.dense.built:
            raise ValueError(f"{self.name}: the tied layer {self.dense.name!r} must be built (called) first")
        self.units = int(self.dense.kernel.shape[0])
        self.bias = (self.add_weight(name="bias", shape=(self.units,), initializer=self.bias_initializer)
                     if self.use_bias else None)

    @property
    def kernel(self):
        """The tied kernel W^T, shape (dense units, dense inputs): a view, never a stored copy."""
        return ops.transpose(self.dense.kernel)

    def call(self, inputs):
        y = ops.matmul(inputs, ops.transpose(self.dense.kernel))
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (int(self.dense.kernel.shape[0]),)

    def get_config(self):
        return {**super().get_config(),
                "dense": keras.saving.serialize_keras_object(self.dense),
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "bias_initializer": keras.initializers.serialize(self.bias_initializer)}
