"""ResNet-8 and DS-CNN (.tflite, MLPerf Tiny): export, host build, and byte-for-byte agreement
with the numpy reference and TFLM (tflm rounding) or LiteRT (litert rounding)."""

import numpy as np
import pytest

from realistic_inputs import assert_exercises, realistic_inputs
from mcucompress.export import export
from mcucompress.importers.tflite import load_tflite
from mcucompress.verify import verify

MODELS = {"resnet8": "pretrainedResnet_quant.tflite", "dscnn": "kws_ref_model.tflite"}


def _samples(path, model_path, count, seed):
    """int8 inputs that exercise the model (the verify NPZ format; int8 is taken as is)."""
    graph = load_tflite(model_path)
    x = realistic_inputs(graph, count, seed)
    assert_exercises(graph, x)
    np.savez(path, x=x, y=np.random.default_rng(seed).integers(0, 10, count))
    return path


@pytest.mark.parametrize("rounding", ["tflm", "litert"])
@pytest.mark.parametrize("model", sorted(MODELS))
def test_host_c_is_bit_exact(mlperf_dir, tmp_path, model, rounding):
    tree = export(mlperf_dir / MODELS[model], tmp_path / "tree", rounding=rounding)
    report = verify(tree, _samples(tmp_path / "x.npz", mlperf_dir / MODELS[model], 12, seed=len(model)))
    assert [c.against for c in report.comparisons] == [
        "numpy reference", "tflite-micro" if rounding == "tflm" else "LiteRT"]
    for c in report.comparisons:
        assert c.mismatched_bytes == 0, c
    assert report.ok and report.samples == 12
    assert report.accuracy is not None
