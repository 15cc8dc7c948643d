"""Presets of the gan family: plain dicts beside the models they configure (keras-hub's *_presets.py), read by
`zoo list`, `zoo info` and `zoo --help` without importing TensorFlow. "class" and "build" name attributes of
zoo.families.gan, which the registry imports the first time a model of this family is built or loaded."""

PRESETS = {
    "dcgan_mnist": {
        "class": "GAN", "data": "mnist",
        "description": "DCGAN: z64 -> 7x7x64 -> ConvT 32 -> ConvT 1 (BN, ReLU, sigmoid) against a discriminator "
                       "Conv 32 -> Conv 64 (LeakyReLU) -> logit; non-saturating G loss, two Adams (2e-4, beta_1 0.5).",
        "config": dict(latent_dim=64, g_filters=[64, 32], d_filters=[32, 64]),
        "train": dict(epochs=40, batch_size=64, learning_rate=2e-4),
    },
    "cgan_mnist": {
        "class": "ConditionalGAN", "data": "mnist",
        "description": "Conditional DCGAN: the one-hot label beside z in G and projected onto D's features "
                       "(Miyato & Koyama 2018), with AC-GAN's auxiliary classifier on D's features (weight 1); "
                       "otherwise dcgan_mnist's nets and recipe.",
        "config": dict(latent_dim=64, g_filters=[64, 32], d_filters=[32, 64], num_classes=10,
                       conditioning="projection", aux_weight=1.0),
        "train": dict(epochs=40, batch_size=64, learning_rate=2e-4),
    },
    "dcgan_stacked_mnist": {
        "class": "GAN", "data": "mnist",
        "description": "DCGAN on Stacked MNIST (three digits as RGB planes, 1,000 modes) with minibatch "
                       "discrimination (16 kernels of dimension 8) in D and a wider G (7x7x128 -> ConvT 64 -> ConvT 3); "
                       "D as dcgan_mnist's; 96 epochs, both rates decayed to 0 on a cosine.",
        # The divergence guard is off here: on Stacked MNIST D wins the first epochs outright in several runs
        # (D(G(z)) < 0.01) and G then recovers (docs/gan.md). A NaN still stops the run.
        "config": dict(latent_dim=64, channels=3, g_filters=[128, 64], d_filters=[32, 64], minibatch_kernels=16,
                       minibatch_dim=8, divergence_d_loss=0.0),
        "train": dict(epochs=96, batch_size=64, learning_rate=2e-4, lr_schedule="cosine"),
    },
}
