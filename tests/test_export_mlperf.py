"""ResNet-8 and DS-CNN (.tflite, MLPerf Tiny): export, host build, and byte-for-byte agreement
with the numpy reference and TFLM (tflm rounding) or LiteRT (litert rounding)."""

import numpy as np
import pytest

from mcucompress.export import export
from mcucompress.verify import verify

MODELS = {"resnet8": "pretrainedResnet_quant.tflite", "dscnn": "kws_ref_model.tflite"}


def _samples(path, shape, count, seed):
    """Float inputs spread over the model's input range (the verify NPZ format)."""
    rng = np.random.default_rng(seed)
    np.savez(path, x=rng.uniform(-1.0, 1.0, (count,) + shape).astype(np.float32) * 200.0,
             y=rng.integers(0, 10, count))
    return path


@pytest.mark.parametrize("rounding", ["tflm", "litert"])
@pytest.mark.parametrize("model", sorted(MODELS))
def test_host_c_is_bit_exact(mlperf_dir, tmp_path, model, rounding):
    tree = export(mlperf_dir / MODELS[model], tmp_path / "tree", rounding=rounding)
    shape = (32, 32, 3) if model == "resnet8" else (49, 10, 1)
    report = verify(tree, _samples(tmp_path / "x.npz", shape, 12, seed=len(model)))
    assert [c.against for c in report.comparisons] == [
        "numpy reference", "tflite-micro" if rounding == "tflm" else "LiteRT"]
    for c in report.comparisons:
        assert c.mismatched_bytes == 0, c
    assert report.ok and report.samples == 12
    assert report.accuracy is not None
