"""Presets of the classifier family: plain dicts beside the models they configure (keras-hub's *_presets.py), read by
`zoo list`, `zoo info` and `zoo --help` without importing TensorFlow. "class" and "build" name attributes of
zoo.families.classifier, which the registry imports the first time a model of this family is built or loaded."""


def few_label_recipe(n, unlabelled="none"):
    if unlabelled == "vat":
        # Epochs count passes over the unlabelled images, so the recipe is the same for 100 and 1,000 labels.
        # The shifts move the labelled images only: 100 images met 4,500 times each are otherwise learnt by
        # heart, and VAT's own perturbation already smooths the classifier around the unlabelled ones.
        return dict(epochs_head=0, epochs=30, batch_size=128, learning_rate=1e-3, shift=2, vat_epsilon=2.0,
                    vat_weight=1.0, entropy_weight=0.0)
    if n >= 10000:
        return {}
    if n >= 1000:
        return dict(epochs_head=10, epochs=30, batch_size=64, lr_head=1e-2, learning_rate=1e-3, shift=0)
    return dict(epochs_head=30, epochs=60, batch_size=32, lr_head=1e-2, learning_rate=1e-3, shift=0)


PRESETS = {
    "mnist_classifier": {
        "class": "EncoderClassifier", "data": "mnist", "build": "build",
        "requires": {"encoder": "ae_mnist"},
        "description": "Digit classifier: the pretrained ae_mnist encoder (784-1000-500-250-30) plus a 256-unit ReLU "
                       "head with dropout 0.5; head trained first, then everything end to end for 100 epochs, on "
                       "every training label (the validation split held out) with random shifts of up to 2 pixels.",
        "config": dict(num_classes=10, head="mlp", dropout=0.5, freeze="all"),
        "train": dict(epochs_head=2, epochs=100, lr_head=3e-3, learning_rate=2e-3, batch_size=128, shift=2),
    },
    "mnist_classifier_100labels": {
        "class": "EncoderClassifier", "data": "mnist", "build": "build",
        "requires": {"encoder": "ae_mnist_512"},
        "description": "Digit classifier from only 100 labels (10 per class, drawn with the seed): the pretrained "
                       "ae_mnist_512 encoder (784-512-256-30) plus a 256-unit ReLU head, trained end to end by "
                       "virtual adversarial training, which also learns from all the training images "
                       "without their labels; the labelled images are shifted by up to 2 pixels.",
        "config": dict(num_classes=10, head="mlp", dropout=0.0, freeze="none"),
        "train": dict(labels=100, unlabelled="vat", **few_label_recipe(100, "vat")),
    },
}

# The family's own commands (`zoo COMMAND NAME ...`) and their help; their arguments and run are in COMMANDS of
# zoo.families.classifier.
COMMANDS = {
    "neighbours": ("a test image's nearest training images by the classifier's penultimate features "
                   "(--image N --out fig.png)"),
}
