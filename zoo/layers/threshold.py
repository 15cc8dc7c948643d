"""The threshold unit's output: Y = [z >= 0], as a layer so a model file and an export carry it."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class Threshold(keras.layers.Layer):
    """1.0 where the net input z >= 0, else 0.0 (Rosenblatt's threshold unit; the Heaviside step with
    H(0) = 1). Not differentiable: a threshold unit learns by the perceptron rule, not by gradients."""

    def call(self, z):
        return ops.cast(ops.greater_equal(z, 0.0), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape
