"""Shared fixtures: where the reference models and data sets are, and a scratch folder."""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from compiler_cache import route_compilers_through_ccache
from cost_schedule import make_scheduler

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MCUCOMPRESS_SHARED", REPO.parent / "shared"))

# The serving converter children (one per worker) stay up for the whole run: with the default
# two idle minutes a busy machine's gaps between conversions cost a new TensorFlow import each.
os.environ.setdefault("MCUCOMPRESS_CONVERTER_IDLE_S", "1800")


# Tests that read files from outside the project (../shared: MLPerf Tiny and TFLM example models,
# the MNIST subset) form their own tier, selected with `-m shared`; the default run needs none.
SHARED_FIXTURES = frozenset({"shared_dir", "mlperf_dir", "mnist_path"})


# Tests that re-run the scripts behind docs/BENCHMARKS.md (training, QEMU; hours in all) run only
# when asked for by name, `-m benchdoc`: not in the default tier, and not in `-m shared` either.
ON_REQUEST = "benchdoc"


def pytest_configure(config):
    # once, in the controlling process: pytest-xdist's workers inherit the environment
    if not hasattr(config, "workerinput"):
        folder = Path(tempfile.mkdtemp(prefix="mcucompress-compilers-"))
        if route_compilers_through_ccache(folder):
            config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
        else:
            folder.rmdir()


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    # run.sh's `--dist loadfile`, with the dearest files first and the zoo spread (cost_schedule.py)
    return make_scheduler(config, log)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SHARED_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.shared)
    if ON_REQUEST not in (config.getoption("markexpr", "") or ""):
        skipped = [item for item in items if item.get_closest_marker(ON_REQUEST)]
        if skipped:
            config.hook.pytest_deselected(items=skipped)
            items[:] = [item for item in items if not item.get_closest_marker(ON_REQUEST)]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared models and data sets not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def mlperf_dir(shared_dir) -> Path:
    return shared_dir / "models" / "mlperf-tiny"


@pytest.fixture(scope="session")
def mnist_path(shared_dir) -> Path:
    return shared_dir / "datasets" / "mnist10k.npz"


@pytest.fixture(scope="session")
def digits_data():
    """scikit-learn's 8x8 digits as rows of 64 values in [0, 1]: the first 1,400 to train on, the
    other 397 to validate with (TrainData)."""
    import numpy as np
    from sklearn.datasets import load_digits

    from mcucompress.compression.training_data import from_arrays

    d = load_digits()
    x, y = d.data.astype(np.float32) / 16.0, d.target
    return from_arrays(x[:1400], y[:1400], x[1400:], y[1400:], (64,))


@pytest.fixture(scope="session")
def digits_mlp(digits_data):
    """A 64-64-32-10 MLP (layers fc1, fc2, out) trained 12 epochs on digits_data, once per process
    for the pruning and the second-order pruning tests (the passes train copies: never changed)."""
    import keras

    from mcucompress.compression import fine_tune

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu", name="fc1"),
                              keras.layers.Dense(32, activation="relu", name="fc2"),
                              keras.layers.Dense(10, activation="softmax", name="out")])
    return fine_tune(model, digits_data, epochs=12, batch_size=32, verbose=0)
