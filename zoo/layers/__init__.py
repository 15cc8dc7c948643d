"""Reusable, serializable Keras layers: tied (W^T) dense, input noise, activity penalties."""

from zoo.layers.noise import (NOISE_KINDS, GaussianNoise, MaskingNoise, NoiseMixture, SaltAndPepperNoise,
                              make_noise)
from zoo.layers.penalties import (ContractivePenalty, KLSparsityRegularizer, L1ActivityRegularizer,
                                  jacobian_sq_norm, kl_sparsity, sigmoid_jacobian_sq_norm)
from zoo.layers.tied import DenseTranspose

__all__ = ["DenseTranspose", "GaussianNoise", "MaskingNoise", "SaltAndPepperNoise", "NoiseMixture",
           "NOISE_KINDS", "make_noise", "L1ActivityRegularizer", "KLSparsityRegularizer", "ContractivePenalty",
           "kl_sparsity", "sigmoid_jacobian_sq_norm", "jacobian_sq_norm"]
