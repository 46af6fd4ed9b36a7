"""Element-wise table ops (logistic, tanh, leaky_relu, elu, hard_swish): the int8 .tflite that
TensorFlow's converter writes, on random shapes, exports and matches tflite-micro byte for byte;
the same layers from Keras export and verify against the float model."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytest.importorskip("tflite_micro")
tf_keras = pytest.importorskip("tf_keras")

from oracle_models import append_requantize  # noqa: E402
from tflite_builders import _convert, _seed  # noqa: E402

from mcucompress.export import export  # noqa: E402
from mcucompress.importers.tflite import load_tflite  # noqa: E402
from mcucompress.verify import verify  # noqa: E402

K = tf_keras.layers


def _activation(kind):
    if kind == "logistic":
        return K.Activation("sigmoid")
    if kind == "tanh":
        return K.Activation("tanh")
    if kind == "elu":
        return K.ELU()
    if kind == "leaky_relu":
        return K.LeakyReLU(0.15)
    return K.Lambda(lambda x: x * tf_keras.backend.relu(x + 3.0, max_value=6.0) / 6.0)  # hard_swish


# ELU is left out: TensorFlow's converter keeps it in float (DEQUANTIZE, ELU, QUANTIZE), so
# there is no int8 ELU file to hold tflite-micro against; the Keras test below covers it.
@pytest.mark.parametrize("kind", ["logistic", "tanh", "leaky_relu", "hard_swish"])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_tflite_micro_on_random_shapes(kind, seed, tmp_path):
    rng = np.random.default_rng(seed * 10 + len(kind))
    _seed(seed)
    if seed == 0:
        shape = (int(rng.integers(3, 9)), int(rng.integers(3, 9)), int(rng.integers(1, 5)))
        inp = K.Input(shape)
        body = K.Conv2D(int(rng.integers(2, 9)), 3, padding="same")(inp)
    else:
        shape = (int(rng.integers(4, 40)),)
        inp = K.Input(shape)
        body = K.Dense(int(rng.integers(2, 30)))(inp)
    model = tf_keras.Model(inp, _activation(kind)(body))
    path = _convert(model, shape, tmp_path / f"{kind}.tflite", seed=seed)
    assert kind in [op.kind for op in load_tflite(path).ops]
    tree = export(path, tmp_path / "out")
    x = rng.uniform(-1.5, 1.5, (24, *shape)).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=x)
    report = verify(tree, tmp_path / "x.npz")
    assert [c.against for c in report.comparisons] == ["numpy reference", "tflite-micro"]
    assert report.ok, report.comparisons


def test_keras_activations_export_and_stay_close_to_the_float_model(tmp_path):
    keras = pytest.importorskip("keras")
    L = keras.layers
    keras.utils.set_random_seed(2)
    inp = keras.Input((10, 10, 3))
    x = L.Conv2D(8, 3, padding="same", activation="hard_swish")(inp)
    x = L.LeakyReLU(0.1)(x)
    x = L.Conv2D(8, 3, padding="same", activation="elu")(x)
    x = L.DepthwiseConv2D(3, padding="same", activation="tanh")(x)
    x = L.Activation("hard_sigmoid")(x)
    x = L.Conv2D(8, 1)(x)
    x = keras.ops.sigmoid(x)
    x = L.GlobalAveragePooling2D()(x)
    out = L.Dense(4, activation="sigmoid")(x)
    keras.Model(inp, out).save(tmp_path / "acts.keras")
    rng = np.random.default_rng(3)
    for name, n in (("calib", 64), ("test", 16)):
        np.savez(tmp_path / f"{name}.npz", x=rng.uniform(-1, 1, (n, 10, 10, 3)).astype(np.float32))
    tree = export(tmp_path / "acts.keras", tmp_path / "out", calib=tmp_path / "calib.npz")
    report = verify(tree, tmp_path / "test.npz")
    assert report.bit_exact
    assert report.oracle is not None and report.ok, report.oracle


@pytest.mark.parametrize("scale_factor, zero_shift", [(0.37, 5), (2.9, -20)])
def test_int8_requantize_matches_tflite_micro(scale_factor, zero_shift, tmp_path):
    """TFLite's int8 -> int8 QUANTIZE (the converter writes it where scales must change; here it is
    appended to a converted model's output by editing the file)."""
    _seed(2)
    inp = K.Input((5, 6, 3))
    path = _convert(tf_keras.Model(inp, K.Conv2D(4, 3)(inp)), (5, 6, 3), tmp_path / "conv.tflite")
    edited = append_requantize(path, tmp_path / "requantize.tflite", scale_factor, zero_shift)
    assert "requantize" in [o.kind for o in load_tflite(edited).ops]
    np.savez(tmp_path / "x.npz", x=np.random.default_rng(1).uniform(-1, 1, (16, 5, 6, 3)).astype(np.float32))
    report = verify(export(edited, tmp_path / "out"), tmp_path / "x.npz")
    assert report.comparisons[-1].against == "tflite-micro" and report.ok, report.comparisons
