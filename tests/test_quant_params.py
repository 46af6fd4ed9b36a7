"""Integer kernel parameters derived from real models, checked against TFLite's definitions."""

import math

import numpy as np
import pytest

from mcucompress.errors import McuError
from mcucompress.importers.tflite import load_tflite
from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor
from mcucompress.quantize.fixedpoint import quantize_multiplier
from mcucompress.quantize.params import activation_range, kernel_params


@pytest.fixture(scope="module")
def resnet(mlperf_dir):
    return load_tflite(mlperf_dir / "pretrainedResnet_quant.tflite")


def _first(graph, kind):
    return next(op for op in graph.ops if op.kind == kind)


def test_conv_params_are_per_channel_and_reconstruct_the_scales(resnet):
    op = _first(resnet, "conv2d")
    p = kernel_params(resnet, op)
    x, w, y = (resnet.tensors[n] for n in (op.inputs[0], op.inputs[1], op.outputs[0]))
    assert p.multiplier.dtype == np.int32 and p.multiplier.shape == (w.shape[0],)
    real = float(x.quant.scale[0]) * np.asarray(w.quant.scale, dtype=np.float64) / float(y.quant.scale[0])
    np.testing.assert_allclose(p.multiplier * 2.0 ** (p.shift.astype(np.float64) - 31), real, rtol=2 ** -30)
    assert p.input_offset == -x.quant.zero_point[0] and p.output_offset == y.quant.zero_point[0]
    assert (p.act_min, p.act_max) == (max(-128, y.quant.zero_point[0]), 127)  # fused ReLU
    assert p.rounding == "tflm" and p.float_scale is None
    q = kernel_params(resnet, op, "litert")
    assert q.rounding == "litert" and q.float_scale.dtype == np.float32
    np.testing.assert_allclose(q.float_scale, real, rtol=1e-6)


def test_add_params_follow_the_left_shift_20_scheme(resnet):
    p = kernel_params(resnet, _first(resnet, "add"))
    assert p.left_shift == 20
    for m, s in ((p.input1_multiplier, p.input1_shift), (p.input2_multiplier, p.input2_shift),
                 (p.output_multiplier, p.output_shift)):
        assert (1 << 30) <= m < (1 << 31) and s <= 0
    # The larger input scale maps to exactly one half.
    larger = [(m, s) for m, s in ((p.input1_multiplier, p.input1_shift), (p.input2_multiplier, p.input2_shift))
              if (m, s) == (1 << 30, 0)]
    assert larger


def test_softmax_params(resnet):
    op = _first(resnet, "softmax")
    p = kernel_params(resnet, op)
    scale = float(resnet.tensors[op.inputs[0]].quant.scale[0])
    assert (p.input_multiplier, p.input_left_shift) == quantize_multiplier(scale * 2 ** 26)
    assert p.diff_min == -math.floor(31 * 2 ** 26 / 2 ** p.input_left_shift)
    assert p.method == "fixedpoint" and p.table is None
    t = kernel_params(resnet, op, "litert")
    assert t.method == "table" and t.table.dtype == np.float32 and t.table.shape == (256,)
    assert t.table[255] == 1.0 and np.all(np.diff(t.table) > 0)


def test_mean_multiplier_folds_one_over_count():
    x = Tensor("x", (1, 5, 7, 4), "int8", QuantParams((0.02,), (3,)))
    y = Tensor("y", (1, 4), "int8", QuantParams((0.005,), (-1,)))
    g = Graph({"x": x, "y": y}, (Op("mean", "m", ("x",), ("y",), {"axes": (1, 2), "keepdims": False}),),
              ("x",), ("y",))
    p = kernel_params(g, g.ops[0])
    assert p.count == 35
    assert abs(p.multiplier * 2.0 ** (p.shift - 31) - 0.02 / 0.005 / 35) < 1e-8
    assert kernel_params(g, g.ops[0], "litert").float_scale == pytest.approx(0.02 / 0.005 / 35, rel=1e-6)


def test_activation_ranges():
    t = Tensor("t", (1,), "int8", QuantParams((6.0 / 255,), (-128,)))
    assert activation_range("relu6", t) == (-128, 127)
    assert activation_range("relu", Tensor("u", (1,), "int8", QuantParams((0.1,), (5,)))) == (5, 127)
    assert activation_range("relu6", Tensor("v", (1,), "int8", QuantParams((0.1,), (5,)))) == (5, 65)
    with pytest.raises(McuError, match="tanh"):
        activation_range("tanh", t)


def test_unsupported_kind_and_rounding_are_user_errors(resnet):
    with pytest.raises(McuError, match="'gelu' is not supported"):
        kernel_params(resnet, Op("gelu", "g", (resnet.inputs[0],), (resnet.outputs[0],)))
    with pytest.raises(McuError, match="rounding"):
        kernel_params(resnet, resnet.ops[0], "banker")
