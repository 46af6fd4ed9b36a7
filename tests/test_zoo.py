"""The model zoo tier (``-m zoo``): every zoo model either exports and verifies from .keras -
bit-exact against our reference and within the oracle's bound of the float model - or is refused
with a one-line error; none exports with C output far from its float model. From .tflite, every
model tflite-micro runs either matches it byte for byte or is refused with one line."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("keras")
pytest.importorskip("tflite_micro")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from zoo import evaluate  # noqa: E402
from zoo_models import MODELS  # noqa: E402

pytestmark = pytest.mark.zoo

CLEAN_ENDINGS = ("pass", "refused", "not run", "TFLM cannot run", "converter failed")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_zoo_model_passes_or_is_refused_cleanly(name, tmp_path):
    row = evaluate(name, samples=24, work=tmp_path)
    for path, result in (("keras", row.keras), ("tflite", row.tflite)):
        assert result.status in CLEAN_ENDINGS, f"{name} from .{path}: {result.status}: {result.detail}"
        assert "\n" not in result.detail
    if row.keras.ok and row.keras.tflm_nrmse is not None:
        assert row.keras.ours_nrmse <= max(0.02, 1.5 * row.keras.tflm_nrmse)
