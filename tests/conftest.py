import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

# Tests read the offline copy of the data when it sits beside the checkout (as in CI).
if "ZOO_DATA_DIR" not in os.environ and (SHARED_DATA / "mnist.npz").is_file():
    os.environ["ZOO_DATA_DIR"] = str(SHARED_DATA)


def has_mnist():
    d = os.environ.get("ZOO_DATA_DIR")
    return bool(d) and (Path(d) / "mnist.npz").is_file()


needs_mnist = pytest.mark.skipif(not has_mnist(), reason="needs $ZOO_DATA_DIR/mnist.npz")


@pytest.fixture(scope="session")
def mnist_small():
    """500 train and 200 test MNIST images as float rows in [0, 1], with labels."""
    if not has_mnist():
        pytest.skip("needs $ZOO_DATA_DIR/mnist.npz")
    from zoo import data

    (xtr, ytr), (xte, yte) = data.load("mnist")
    xtr, _ = data.as_images(xtr[:500])
    xte, _ = data.as_images(xte[:200])
    return (xtr, ytr[:500].astype(np.int64)), (xte, yte[:200].astype(np.int64))


@pytest.fixture
def rng():
    return np.random.default_rng(0)
