"""Keras 3 operation nodes (``x + 3.0``, ``keras.ops.multiply(x, c)``): converted exactly, or refused
with the node's name; never an input silently dropped."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

from mcucompress.errors import McuError  # noqa: E402
from mcucompress.importers.keras import load_keras  # noqa: E402
from mcucompress.reference.float import run_float  # noqa: E402

L = keras.layers


def hard_sigmoid_model():
    """The hard-sigmoid of keras.applications' MobileNetV3: ReLU6(x + 3) * (1/6)."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3))
    x = L.Conv2D(6, 3, padding="same")(inp)
    x = L.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, L.Dense(5)(x))


def _assert_matches_keras(model, shape, seed=0):
    graph = load_keras(model)
    x = np.random.default_rng(seed).uniform(-1, 1, (6, *shape)).astype(np.float32)
    np.testing.assert_allclose(run_float(graph, x), model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    return graph


def test_arithmetic_with_constants_is_kept():
    graph = _assert_matches_keras(hard_sigmoid_model(), (8, 8, 3))
    # +3 folds into the conv bias, ReLU6 fuses, *1/6 becomes a 1x1 depthwise conv
    assert [op.kind for op in graph.ops] == ["conv2d", "depthwise_conv2d", "mean", "fully_connected"]


def test_every_constant_form_matches_keras():
    keras.utils.set_random_seed(1)
    inp = keras.Input((5, 5, 4))
    x = L.Conv2D(4, 1)(inp)
    y = keras.ops.add(x, np.array([1, -2, 3, 0.5], np.float32))  # one constant per channel
    y = 2.0 - y
    y = keras.ops.multiply(0.5, y)
    y = y / np.float32(3.0)
    y = keras.ops.subtract(y, 1.0)
    y = -y
    y = L.ReLU()(y)
    y = keras.ops.add(y, x)  # two tensors: a real add
    _assert_matches_keras(keras.Model(inp, y), (5, 5, 4))


def _refused(model, *words):
    with pytest.raises(McuError) as error:
        load_keras(model)
    message = str(error.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_unknown_ops_and_broadcasts_are_refused_by_name():
    inp = keras.Input((4, 4, 2))
    _refused(keras.Model(inp, keras.ops.sin(inp)), "keras.ops.Sin", "not supported")
    spatial = np.ones((4, 4, 1), np.float32)
    _refused(keras.Model(inp, keras.ops.add(inp, spatial)), "keras.ops.Add", "(4, 4, 1)")
    _refused(keras.Model(inp, keras.ops.divide(1.0, inp)), "keras.ops.Divide")


def test_a_layer_never_drops_an_input():
    inp = keras.Input((4, 4, 2))
    _refused(keras.Model(inp, L.Add()([inp])), "Add")
