"""Minibatch discrimination (Salimans et al. 2016, "Improved Techniques for Training GANs", section 3.2).

A discriminator that looks at one example at a time cannot tell a generator that emits the same image for
every z from one that covers the data. This layer lets it compare each example with the rest of its batch:

    M_i = f(x_i) T                 (B kernels of dimension C; T is a learned A x B x C tensor)
    c_b(x_i, x_j) = exp(-||M_{i,b} - M_{j,b}||_1)
    o(x_i)_b = sum_j c_b(x_i, x_j)          (j over the whole batch, x_i itself included, as in the paper)

and returns [f(x_i), o(x_i)] (width A + B). A collapsed batch makes every o(x_i)_b near the batch size,
a varied one near 1, which D learns to use. Under a distribution strategy "the batch" is each replica's
share of it.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class MinibatchDiscrimination(keras.layers.Layer):
    def __init__(self, num_kernels=32, kernel_dim=8, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_kernels, self.kernel_dim, self.seed = int(num_kernels), int(kernel_dim), seed
        if self.num_kernels < 1 or self.kernel_dim < 1:
            raise ValueError(f"num_kernels and kernel_dim must be positive, got {num_kernels} and {kernel_dim}")

    def build(self, input_shape):
        features = int(input_shape[-1])
        # Small initial projections: a large T makes every ||.||_1 huge, every c_b zero, and the features
        # carry no gradient at the start.
        self.kernel = self.add_weight(
            shape=(features, self.num_kernels * self.kernel_dim), name="kernel",
            initializer=keras.initializers.RandomNormal(stddev=0.02, seed=self.seed))

    def call(self, x):
        m = ops.reshape(ops.matmul(x, self.kernel), (-1, self.num_kernels, self.kernel_dim))    # (N, B, C)
        l1 = ops.sum(ops.abs(ops.expand_dims(m, 0) - ops.expand_dims(m, 1)), axis=-1)           # (N, N, B)
        o = ops.sum(ops.exp(-l1), axis=1)                                                        # (N, B)
        return ops.concatenate([x, o], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], int(input_shape[-1]) + self.num_kernels)

    def get_config(self):
        return {**super().get_config(), "num_kernels": self.num_kernels, "kernel_dim": self.kernel_dim,
                "seed": self.seed}
