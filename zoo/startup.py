"""TensorFlow's start-up, kept quiet and paid only when a model is touched.

Listing and describing models (`zoo list`, `zoo info`, `zoo --help`, `import zoo`) import no TensorFlow; the first
family module, model class or training function does, through `import_tensorflow_quietly`.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def import_tensorflow_quietly():
    """TensorFlow's C++ start-up writes lines straight to file descriptor 2 (absl's "All log messages before
    absl::InitializeLog()", "Could not find cuda drivers") that no log level reaches, so a one-line error would be
    several. They are hidden for the length of the import only; ZOO_DEBUG=1 or a --debug argument shows them."""
    if "tensorflow" in sys.modules and "keras" in sys.modules:
        return
    if os.environ.get("ZOO_DEBUG") or "--debug" in sys.argv[1:]:
        import tensorflow  # noqa: F401
        import keras  # noqa: F401
        return
    try:
        sys.stderr.flush()
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except (OSError, ValueError):   # no usable stderr: nothing to keep quiet
        saved = None
    if saved is not None:
        os.dup2(devnull, 2)
    try:
        import tensorflow  # noqa: F401
        import keras  # noqa: F401
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
