"""Two-input element-wise ops with TFLite's broadcasting (mul, maximum, minimum, add, sub): the int8
.tflite TensorFlow's converter writes, on random shapes, matches tflite-micro byte for byte; the
same Keras models export and verify against their float model."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytest.importorskip("tflite_micro")
tf_keras = pytest.importorskip("tf_keras")

from tflite_builders import _convert, _seed  # noqa: E402

from mcucompress.export import export  # noqa: E402
from mcucompress.importers.tflite import load_tflite  # noqa: E402
from mcucompress.verify import verify  # noqa: E402


def _model(layers, kind, rng):
    """conv features (1, H, W, C) combined with a per-channel gate (1, 1, 1, C) or a same-shape
    branch, by ``kind``."""
    h, w, c = (int(rng.integers(2, 8)), int(rng.integers(2, 8)), int(rng.integers(1, 9)))
    inp = layers.Input((h, w, 3))
    x = layers.Conv2D(c, 3, padding="same")(inp)
    gate = layers.GlobalAveragePooling2D(keepdims=True)(x)
    gate = layers.Conv2D(c, 1, activation="sigmoid")(gate)
    other = layers.Conv2D(c, 1)(x)
    merge = {"mul": layers.Multiply(), "maximum": layers.Maximum(), "minimum": layers.Minimum(),
             "add": layers.Add(), "sub": layers.Subtract()}[kind]
    y = merge([x, gate]) if kind in ("mul", "add", "sub") else merge([x, other])
    y = layers.Multiply()([y, other]) if kind == "mul" else y  # and a same-shape product
    return inp, y, (h, w, 3)


@pytest.mark.parametrize("kind", ["mul", "maximum", "minimum", "add", "sub"])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_tflite_micro_on_random_shapes(kind, seed, tmp_path):
    rng = np.random.default_rng(seed * 7 + len(kind))
    _seed(seed)
    inp, out, shape = _model(tf_keras.layers, kind, rng)
    path = _convert(tf_keras.Model(inp, out), shape, tmp_path / f"{kind}.tflite", seed=seed)
    assert kind in [op.kind for op in load_tflite(path).ops]
    tree = export(path, tmp_path / "out")
    np.savez(tmp_path / "x.npz", x=rng.uniform(-1, 1, (16, *shape)).astype(np.float32))
    report = verify(tree, tmp_path / "x.npz")
    assert [c.against for c in report.comparisons] == ["numpy reference", "tflite-micro"]
    assert report.ok, report.comparisons


@pytest.mark.parametrize("kind", ["mul", "maximum", "add", "sub"])
def test_keras_models_verify_against_the_float_model(kind, tmp_path):
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(5)
    inp, out, shape = _model(keras.layers, kind, np.random.default_rng(9))
    keras.Model(inp, out).save(tmp_path / "m.keras")
    rng = np.random.default_rng(4)
    for name, n in (("calib", 48), ("test", 12)):
        np.savez(tmp_path / f"{name}.npz", x=rng.uniform(-1, 1, (n, *shape)).astype(np.float32))
    tree = export(tmp_path / "m.keras", tmp_path / "out", calib=tmp_path / "calib.npz")
    report = verify(tree, tmp_path / "test.npz")
    assert report.bit_exact and report.oracle is not None and report.ok, report.oracle


def _tflite_matches_tflite_micro(model, shape, kind, tmp_path, rng):
    path = _convert(model, shape, tmp_path / f"{kind}.tflite")
    assert kind in [op.kind for op in load_tflite(path).ops]
    np.savez(tmp_path / "x.npz", x=rng.uniform(-1, 1, (12, *shape)).astype(np.float32))
    report = verify(export(path, tmp_path / "out"), tmp_path / "x.npz")
    assert report.ok and report.comparisons[-1].against == "tflite-micro", report.comparisons


def _keras_close_to_float(model, shape, tmp_path, rng):
    model.save(tmp_path / "m.keras")
    np.savez(tmp_path / "calib.npz", x=rng.uniform(-1, 1, (48, *shape)).astype(np.float32))
    report = verify(export(tmp_path / "m.keras", tmp_path / "kout", calib=tmp_path / "calib.npz"),
                    tmp_path / "x.npz")
    assert report.bit_exact and report.oracle is not None and report.ok, report.oracle


def _prelu_model(layers, shape, shared, rng):
    inp = layers.Input(shape)
    prelu = layers.PReLU(shared_axes=[1, 2] if shared else None)
    out = prelu(layers.Conv2D(int(rng.integers(2, 9)), 3, padding="same")(inp))
    prelu.set_weights([rng.uniform(0.05, 0.5, prelu.get_weights()[0].shape).astype(np.float32)])
    return inp, out


@pytest.mark.parametrize("shared", [True, False])
def test_prelu_matches_tflite_micro_and_the_float_model(shared, tmp_path):
    rng = np.random.default_rng(11 + shared)
    shape = (int(rng.integers(3, 8)), int(rng.integers(3, 8)), 3)
    _seed(3)
    _tflite_matches_tflite_micro(tf_keras.Model(*_prelu_model(tf_keras.layers, shape, shared, rng)), shape,
                                 "prelu", tmp_path, rng)
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(3)
    _keras_close_to_float(keras.Model(*_prelu_model(keras.layers, shape, shared, rng)), shape, tmp_path, rng)


def _upsampling_model(layers, shape, size):
    inp = layers.Input(shape)
    x = layers.UpSampling2D(size)(layers.Conv2D(3, 3, padding="same")(inp))
    return inp, layers.Conv2D(2, 1)(x)


@pytest.mark.parametrize("size", [(2, 2), (3, 2)])
def test_upsampling_matches_tflite_micro_and_the_float_model(size, tmp_path):
    _seed(1)
    rng = np.random.default_rng(sum(size))
    shape = (int(rng.integers(2, 6)), int(rng.integers(2, 6)), 2)
    _tflite_matches_tflite_micro(tf_keras.Model(*_upsampling_model(tf_keras.layers, shape, size)), shape,
                                 "resize_nearest", tmp_path, rng)
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(1)
    _keras_close_to_float(keras.Model(*_upsampling_model(keras.layers, shape, size)), shape, tmp_path, rng)
