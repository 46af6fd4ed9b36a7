"""tflite-micro's own example models (shared tier): the ones the exporter supports match
tflite-micro byte for byte on inputs shaped like data; the LSTM ones are refused with one line.
(simple_add, the two-input example, is in test_multi_port.py; the table is
scripts/tflm_examples.py -> docs/benchmarks/tflm_examples.md.)"""

import numpy as np
import pytest

from mcucompress.data import synthetic_inputs
from mcucompress.errors import McuError
from mcucompress.export import export
from mcucompress.verify import verify

pytest.importorskip("tflite_micro")


@pytest.mark.parametrize("name", ["hello_world_int8", "micro_speech_quantized"])
def test_example_matches_tflite_micro(shared_dir, tmp_path, name):
    tree = export(shared_dir / "models" / "tflm-examples" / f"{name}.tflite", tmp_path / "out")
    shape = {"hello_world_int8": (1, 1), "micro_speech_quantized": (1, 1960)}[name]
    np.savez(tmp_path / "x.npz", x=synthetic_inputs(shape, 16, seed=3))
    report = verify(tree, tmp_path / "x.npz")
    assert [c.against for c in report.comparisons] == ["numpy reference", "tflite-micro"]
    assert report.bit_exact, report.comparisons


@pytest.mark.parametrize("name", ["trained_lstm_int8", "dtln_noise_suppression"])
def test_lstm_examples_are_refused_in_one_line(shared_dir, tmp_path, name):
    with pytest.raises(McuError) as refused:
        export(shared_dir / "models" / "tflm-examples" / f"{name}.tflite", tmp_path / "out")
    assert "\n" not in str(refused.value) and "not supported" in str(refused.value)
    assert not (tmp_path / "out").exists()
