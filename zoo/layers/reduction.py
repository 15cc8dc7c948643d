"""Losses that are correct inside any tf.distribute strategy."""

import tensorflow as tf
import keras


def replica_mean(per_example):
    """Mean over the global batch: each replica divides its sum by the global batch size, because Keras
    sums the replicas' gradients."""
    per_example = tf.convert_to_tensor(per_example)
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return tf.reduce_sum(per_example) / tf.cast(tf.shape(per_example)[0] * replicas, per_example.dtype)


def reconstruction_terms(x, logits, loss_kind, output_activation):
    """Per-example reconstruction loss (cross-entropy from logits, or squared error) and squared error.

    The one reconstruction loss of every autoencoder. Under mixed precision the network computes in
    float16; the losses stay float32.
    """
    logits, x = tf.cast(logits, tf.float32), tf.cast(x, tf.float32)
    pixels = keras.activations.get(output_activation or "linear")(logits)
    se = tf.reduce_sum(tf.square(pixels - x), axis=-1)
    if loss_kind == "bce":
        return tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), axis=-1), se
    return se, se
