"""Fine-tuning pretrained encoders as classifiers (placeholder until the fine-tuning work lands)."""


def add_cli(sub):
    """Register the `finetune` command on the CLI's subparsers."""
