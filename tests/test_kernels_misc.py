"""fully connected, pooling, add, softmax, mean, relu, pad, concat and reshape kernels vs the
numpy reference, randomized shapes, both roundings."""

import numpy as np
import pytest

from mcucompress.ir.graph import Graph, Op

from codegen_cases import act, bias, check_c_matches_reference, out_scale, rand_act, single_op, weights

ROUNDINGS = ["tflm", "litert"]


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("units,depth,activation,x_shape", [
    (7, 33, "none", (1, 33)),
    (12, 60, "relu", (1, 3, 4, 5)),   # input flattened from NHWC
])
def test_fully_connected(tmp_path, rounding, units, depth, activation, x_shape):
    rng = np.random.default_rng(units)
    x = rand_act(rng, "x", x_shape)
    w = weights(rng, "w", (units, depth), 0, 1)  # per-tensor scale, as the converter emits
    y = act("y", (1, units), out_scale(x, w, depth), rng.integers(-10, 10))
    graph = single_op("fully_connected", {t.name: t for t in (x, w, bias(rng, "b", units), y)},
                      ("x", "w", "b"), "y", activation=activation)
    check_c_matches_reference(tmp_path, graph, rounding)


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("kind,pool,stride,padding", [
    ("avg_pool2d", (3, 3), (2, 2), (1, 1, 1, 1)),
    ("avg_pool2d", (5, 2), (5, 2), (0, 0, 0, 0)),
    ("max_pool2d", (2, 2), (2, 2), (0, 1, 0, 1)),
    ("max_pool2d", (3, 3), (1, 1), (1, 1, 1, 1)),
])
def test_pooling(tmp_path, rounding, kind, pool, stride, padding):
    rng = np.random.default_rng(pool[0] * 10 + stride[0])
    h, w, c = 10, 9, 5
    oh = (h + padding[0] + padding[1] - pool[0]) // stride[0] + 1
    ow = (w + padding[2] + padding[3] - pool[1]) // stride[1] + 1
    x = act("x", (1, h, w, c), 0.03, -7)
    y = act("y", (1, oh, ow, c), 0.03, -7)
    graph = single_op(kind, {"x": x, "y": y}, ("x",), "y", pool=pool, stride=stride, padding=padding,
                      activation="relu" if kind == "max_pool2d" else "none")
    check_c_matches_reference(tmp_path, graph, rounding)


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("activation", ["none", "relu"])
def test_add(tmp_path, rounding, activation):
    """add of two differently quantized operands; the generator takes one graph input, so both
    operands are derived from it (relu6 keeps its quantization, relu rescales)."""
    shape = (1, 6, 5, 7)
    x = act("x", shape, 0.02, -9)
    a, b = act("a", shape, 0.02, -9), act("b", shape, 0.035, -128)
    y = act("y", shape, 0.06, -5)
    ops = (Op("relu6", "r0", ("x",), ("a",)), Op("relu", "r1", ("x",), ("b",)),
           Op("add", "add0", ("a", "b"), ("y",), {"activation": activation}))
    graph = Graph({t.name: t for t in (x, a, b, y)}, ops, ("x",), ("y",), name=f"add_{activation}")
    check_c_matches_reference(tmp_path, graph, rounding)


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("shape,scale", [((1, 10), 0.1), ((1, 37), 0.02), ((1, 4, 5), 0.4)])
def test_softmax(tmp_path, rounding, shape, scale):
    x = act("x", shape, scale, 3)
    y = act("y", shape, 1.0 / 256, -128)
    graph = single_op("softmax", {"x": x, "y": y}, ("x",), "y", beta=1.0)
    check_c_matches_reference(tmp_path, graph, rounding, samples=8)


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("same_quant", [True, False])
def test_mean(tmp_path, rounding, same_quant):
    x = act("x", (1, 7, 5, 11), 0.05, 4)
    y = act("y", (1, 1, 1, 11), 0.05 if same_quant else 0.011, 4 if same_quant else -3)
    graph = single_op("mean", {"x": x, "y": y}, ("x",), "y", axes=(1, 2), keepdims=True)
    check_c_matches_reference(tmp_path, graph, rounding)


@pytest.mark.parametrize("rounding", ROUNDINGS)
def test_relu_requantizes(tmp_path, rounding):
    x, y = act("x", (1, 4, 4, 3), 0.05, 10), act("y", (1, 4, 4, 3), 0.03, -128)
    graph = single_op("relu", {"x": x, "y": y}, ("x",), "y")
    check_c_matches_reference(tmp_path, graph, rounding)


def test_pad_concat_reshape(tmp_path):
    """concat -> reshape, and pad: the data movement kernels."""
    x = act("x", (1, 4, 3, 2), 0.05, 7)
    p = act("p", (1, 4, 3, 2), 0.05, 7)
    px = act("px", (1, 6, 6, 2), 0.05, 7)
    c = act("c", (1, 4, 3, 4), 0.05, 7)
    r = act("r", (1, 48), 0.05, 7)
    ops = (Op("relu6", "id0", ("x",), ("p",)),
           Op("concat", "cat0", ("x", "p"), ("c",), {"axis": 3}),
           Op("reshape", "flat0", ("c",), ("r",)))
    graph = Graph({t.name: t for t in (x, p, c, r)}, ops, ("x",), ("r",), name="movement")
    check_c_matches_reference(tmp_path, graph, "tflm")
    pad = Op("pad", "pad0", ("x",), ("px",), {"paddings": ((0, 0), (1, 1), (2, 1), (0, 0))})
    pad_only = Graph({"x": x, "px": px}, (pad,), ("x",), ("px",), name="pad")
    check_c_matches_reference(tmp_path, pad_only, "tflm")
