"""Reusable, serializable Keras layers: tied (W^T) dense, input noise, activity penalties, minibatch
discrimination, RNN cells, and the in-graph image and loss helpers every family shares."""

from zoo.layers.image import IMAGE_DIM, image_rows, like_input, shift_augmentation, shift_images
from zoo.layers.minibatch import MinibatchDiscrimination
from zoo.layers.noise import (NOISE_KINDS, GaussianNoise, MaskingNoise, NoiseMixture, SaltAndPepperNoise,
                              make_noise, noise_level, noise_pairs)
from zoo.layers.penalties import (ActivityPenalty, ContractivePenalty, KLSparsityRegularizer,
                                  L1ActivityRegularizer, jacobian_sq_norm, kl_sparsity, sigmoid_jacobian_sq_norm)
from zoo.layers.reduction import reconstruction_terms, replica_mean
from zoo.layers.rnn_cells import ElmanCell, GRUCell, LSTMCell, SlidingWindow
from zoo.layers.threshold import Threshold
from zoo.layers.tied import DenseTranspose

__all__ = ["DenseTranspose", "GaussianNoise", "MaskingNoise", "SaltAndPepperNoise", "NoiseMixture",
           "NOISE_KINDS", "make_noise", "noise_level", "noise_pairs", "ActivityPenalty", "L1ActivityRegularizer", "KLSparsityRegularizer",
           "ContractivePenalty", "kl_sparsity", "sigmoid_jacobian_sq_norm", "jacobian_sq_norm", "replica_mean",
           "reconstruction_terms", "image_rows", "like_input", "shift_images", "shift_augmentation", "IMAGE_DIM", "Threshold", "ElmanCell",
           "LSTMCell", "GRUCell", "SlidingWindow", "MinibatchDiscrimination"]
