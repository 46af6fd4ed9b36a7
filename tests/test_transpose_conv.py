"""transpose_conv2d (TFLite TRANSPOSE_CONV, Keras Conv2DTranspose): the int8 .tflite TensorFlow's
converter writes matches tflite-micro byte for byte on random shapes, strides, kernels and both
paddings; the float reference matches Keras; a Keras decoder exports and verifies against its
float model."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytest.importorskip("tflite_micro")
tf_keras = pytest.importorskip("tf_keras")

from tflite_builders import _convert, _seed  # noqa: E402

from mcucompress.data import synthetic_inputs  # noqa: E402
from mcucompress.export import export  # noqa: E402
from mcucompress.importers.tflite import load_tflite  # noqa: E402
from mcucompress.verify import verify  # noqa: E402


def _realistic(shape, n, seed):
    """Smooth fields over most of the range (uniform noise would leave most taps cancelling)."""
    return synthetic_inputs((1, *shape), n, seed).astype(np.float32) / 80.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_tflite_micro_on_random_shapes(seed, tmp_path):
    rng = np.random.default_rng(seed + 11)
    _seed(seed)
    h, w, c = (int(rng.integers(2, 7)), int(rng.integers(2, 7)), int(rng.integers(1, 6)))
    kernel = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    padding = ("same", "valid")[seed % 2]
    L = tf_keras.layers
    inp = L.Input((h, w, 3), batch_size=1)  # batch 1: the converter writes a constant output shape
    x = L.Conv2D(c, 3, padding="same")(inp)
    y = L.Conv2DTranspose(int(rng.integers(1, 7)), kernel, strides=stride, padding=padding,
                          activation="relu" if seed == 2 else None)(x)
    shape = (h, w, 3)
    path = _convert(tf_keras.Model(inp, y), shape, tmp_path / "tc.tflite", seed=seed,
                    calibration=_realistic(shape, 32, seed))
    assert "transpose_conv2d" in [op.kind for op in load_tflite(path).ops]
    np.savez(tmp_path / "x.npz", x=_realistic(shape, 16, seed + 100))
    report = verify(export(path, tmp_path / "out"), tmp_path / "x.npz")
    assert [c.against for c in report.comparisons] == ["numpy reference", "tflite-micro"]
    assert report.ok, (kernel, stride, padding, report.comparisons)


def test_keras_decoder_verifies_against_the_float_model(tmp_path):
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(2)
    L = keras.layers
    inp = keras.Input((8, 8, 1))
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inp)
    x = L.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(x)
    keras.Model(inp, L.Conv2DTranspose(1, 4, strides=1, padding="valid")(x)).save(tmp_path / "ae.keras")
    np.savez(tmp_path / "calib.npz", x=_realistic((8, 8, 1), 48, 0))
    np.savez(tmp_path / "test.npz", x=_realistic((8, 8, 1), 12, 1))
    tree = export(tmp_path / "ae.keras", tmp_path / "out", calib=tmp_path / "calib.npz")
    report = verify(tree, tmp_path / "test.npz")
    assert report.bit_exact and report.oracle is not None and report.ok, report.oracle
    assert report.oracle.ours_nrmse < 0.02
