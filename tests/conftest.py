"""Shared fixtures: where the reference models and data sets are, and a scratch folder."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MCUCOMPRESS_SHARED", REPO.parent / "shared"))


# Tests that read files from outside the project (../shared: MLPerf Tiny and TFLM example models,
# the MNIST subset) form their own tier, selected with `-m shared`; the default run needs none.
SHARED_FIXTURES = frozenset({"shared_dir", "mlperf_dir", "mnist_path"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SHARED_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.shared)


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
