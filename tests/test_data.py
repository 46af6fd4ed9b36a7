"""NPZ sample loading: shapes checked against the model input, optional int8 quantization."""

import numpy as np
import pytest

from mcucompress.data import load_samples, quantize_input
from mcucompress.errors import McuError
from mcucompress.ir.graph import QuantParams


def _one_line(error) -> str:
    text = str(error.value)
    assert text and "\n" not in text
    return text


def test_loads_x_and_y(tmp_path):
    x = np.random.default_rng(0).uniform(0, 1, (5, 8, 8, 1)).astype(np.float32)
    np.savez(tmp_path / "s.npz", x=x, y=np.arange(5))
    got_x, got_y = load_samples(tmp_path / "s.npz", (1, 8, 8, 1))
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, np.arange(5))
    # the shape may also be given without the batch dimension
    assert load_samples(tmp_path / "s.npz", (8, 8, 1))[0].shape == (5, 8, 8, 1)


def test_y_is_optional_and_integers_become_float(tmp_path):
    np.savez(tmp_path / "s.npz", x=np.arange(12, dtype=np.uint8).reshape(3, 4))
    x, y = load_samples(tmp_path / "s.npz", (1, 4))
    assert y is None and x.dtype == np.float32 and x[2, 3] == 11.0


def test_quantizes_like_tflite():
    quant = QuantParams((0.5,), (-3,))
    x = np.array([[0.0, 0.25, -0.25, 0.75, 100.0, -100.0, 1.2]], np.float32)
    # round(x / 0.5) with halves away from zero, plus -3, saturated to int8
    np.testing.assert_array_equal(quantize_input(x, quant), [[-3, -2, -4, -1, 127, -128, -1]])
    already = np.array([[1, 2]], np.int8)
    assert quantize_input(already, quant) is already


def test_quantized_loading(tmp_path):
    np.savez(tmp_path / "s.npz", x=np.full((2, 3), 1.0, np.float32))
    x, _ = load_samples(tmp_path / "s.npz", (1, 3), QuantParams((1 / 64,), (-128,)))
    assert x.dtype == np.int8 and np.all(x == -64)


@pytest.mark.parametrize("arrays,shape,message", [
    ({"x": np.zeros((4, 8, 8, 3))}, (1, 8, 8, 1), "(N, 8, 8, 1)"),
    ({"x": np.zeros((8, 8, 1))}, (1, 8, 8, 1), "(N, 8, 8, 1)"),
    ({"images": np.zeros((4, 3))}, (1, 3), "no array named 'x' (found images)"),
    ({"x": np.zeros((4, 3)), "y": np.zeros(5)}, (1, 3), "'y' has 5 entries"),
    ({"x": np.zeros((0, 3))}, (1, 3), "no samples"),
])
def test_bad_sample_files(tmp_path, arrays, shape, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(McuError) as error:
        load_samples(tmp_path / "bad.npz", shape)
    assert message in _one_line(error)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(McuError) as error:
        load_samples(tmp_path / "none.npz", (1, 3))
    assert "not found" in _one_line(error)
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(McuError) as error:
        load_samples(tmp_path / "junk.npz", (1, 3))
    assert "junk.npz" in _one_line(error)
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(McuError) as error:
        load_samples(tmp_path / "text.npz", (1, 3))
    assert "text.npz" in _one_line(error)
