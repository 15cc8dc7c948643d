"""Presets of the classifier family: plain dicts beside the models they configure (keras-hub's *_presets.py), read by
`zoo list`, `zoo info` and `zoo --help` without importing TensorFlow. "class" and "build" name attributes of
zoo.families.classifier, which the registry imports the first time a model of this family is built or loaded.

The few-label recipes and configs live here, once: `zoo finetune`, the family's train hook, bench/semisupervised.py
(which made docs/classifier.md's tables) and the docs' Python example all read them, so a documented figure and the
command said to make it cannot drift apart."""

# Below this many labels, `zoo finetune` and the train hook use the few-label recipes; from it on, the preset's own.
MANY_LABELS = 10000


def few_label_recipe(n, unlabelled="none"):
    """The fine-tuning recipe for n labelled images: the head with the encoder frozen (epochs_head at lr_head,
    constant), then everything (epochs at learning_rate, cosine decay); {} from MANY_LABELS on (the preset's)."""
    if unlabelled == "vat":
        # Epochs count passes over the unlabelled images, so the recipe is the same for 100 and 1,000 labels.
        # The shifts move the labelled images only: 100 images met 4,500 times each are otherwise learnt by
        # heart, and VAT's own perturbation already smooths the classifier around the unlabelled ones.
        return dict(epochs_head=0, epochs=30, batch_size=128, learning_rate=1e-3, shift=2, vat_epsilon=2.0,
                    vat_weight=1.0, entropy_weight=0.0)
    if n >= MANY_LABELS:
        return {}
    if n >= 1000:
        return dict(epochs_head=10, epochs=30, batch_size=64, lr_head=1e-2, learning_rate=1e-3, shift=0)
    return dict(epochs_head=30, epochs=60, batch_size=32, lr_head=1e-2, learning_rate=1e-3, shift=0)


def few_label_config(n, unlabelled="none"):
    """The classifier config `zoo finetune ENCODER --labels n` builds (unless --preset or --set say otherwise):
    with few labels and nothing else, a linear softmax head on the batch-normalised code, no dropout (the table
    in docs/classifier.md); with VAT, mnist_classifier_100labels' 256-unit head; {} with many labels (the
    preset's)."""
    if unlabelled == "vat":
        return {k: VAT_CONFIG[k] for k in ("head", "dropout")}
    if n is not None and n < MANY_LABELS:
        return dict(head="linear", dropout=0.0)
    return {}


def probe_recipe(n):
    """A frozen encoder's linear probe on n labelled images: the head alone (epochs_head at lr_head, constant
    rate), no end-to-end phase. bench/semisupervised.py --mode probe and the Python example in
    docs/classifier.md."""
    if n >= MANY_LABELS:
        return dict(epochs_head=10, epochs=0, batch_size=128, lr_head=1e-2, learning_rate=1e-3, shift=0)
    if n >= 1000:
        return dict(epochs_head=30, epochs=0, batch_size=64, lr_head=1e-2, learning_rate=1e-3, shift=0)
    return dict(epochs_head=100, epochs=0, batch_size=32, lr_head=1e-2, learning_rate=1e-3, shift=0)


VAT_CONFIG = dict(num_classes=10, head="mlp", dropout=0.0, freeze="none")


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
        "config": dict(VAT_CONFIG),
        "train": dict(labels=100, unlabelled="vat", **few_label_recipe(100, "vat")),
    },
}

# The family's own commands (`zoo COMMAND NAME ...`) and their help; their arguments and run are in COMMANDS of
# zoo.families.classifier.
COMMANDS = {
    "neighbours": ("a test image's nearest training images by the classifier's penultimate features "
                   "(--image N --out fig.png)"),
}
