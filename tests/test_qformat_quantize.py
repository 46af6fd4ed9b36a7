"""Q-format quantizer and parameters: power-of-two formats chosen from data, biases at the product
format, shifts in 0..31, tied formats through pooling/reshape, the rounding shift against exact
rational arithmetic, and one-line errors for graphs the shift-only kernels cannot run."""

from fractions import Fraction

import numpy as np
import pytest

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor
from mcucompress.quantize.params import dequantize_output, kernel_params, quantize_input
from mcucompress.quantize.qformat import (
    choose_fraction_bits, quantize_qformat, quantize_values, squared_error, unclipped_fraction_bits)
from mcucompress.ir.ops import graph_scheme
from mcucompress.quantize.qformat_params import fraction_bits
from mcucompress.reference.float import run_float
from mcucompress.reference.int8 import run_int8
from mcucompress.reference.qformat import rshift_round


def _float_graph(rng) -> Graph:
    """x -> conv(relu, same) -> depthwise(x2, relu6) -> maxpool; conv2 -> add(conv, conv2) ->
    reshape -> dense -> softmax: every Q-format kind and every tie."""
    t = {}

    def const(name, shape, scale):
        t[name] = Tensor(name, shape, "float32", None, (rng.standard_normal(shape) * scale).astype(np.float32))

    def act(name, shape):
        t[name] = Tensor(name, shape, "float32")

    act("x", (1, 6, 6, 3))
    const("w1", (8, 3, 3, 3), 0.3)
    const("b1", (8,), 0.1)
    act("c1", (1, 6, 6, 8))
    const("w2", (1, 3, 3, 8), 0.4)
    const("b2", (8,), 0.05)
    act("d", (1, 6, 6, 8))
    const("w3", (8, 1, 1, 8), 0.5)
    act("c2", (1, 6, 6, 8))
    act("s", (1, 6, 6, 8))
    act("p", (1, 3, 3, 8))
    act("f", (1, 72))
    const("w4", (5, 72), 0.2)
    const("b4", (5,), 0.3)
    act("logits", (1, 5))
    act("y", (1, 5))
    same = (1, 1, 1, 1)
    ops = (Op("conv2d", "conv", ("x", "w1", "b1"), ("c1",),
              dict(stride=(1, 1), dilation=(1, 1), padding=same, activation="relu")),
           Op("depthwise_conv2d", "dw", ("c1", "w2", "b2"), ("d",),
              dict(stride=(1, 1), dilation=(1, 1), padding=same, depth_multiplier=1, activation="relu6")),
           Op("conv2d", "pointwise", ("d", "w3", None), ("c2",),
              dict(stride=(1, 1), dilation=(1, 1), padding=(0, 0, 0, 0), activation="none")),
           Op("add", "add", ("c1", "c2"), ("s",), dict(activation="relu")),
           Op("max_pool2d", "pool", ("s",), ("p",),
              dict(pool=(2, 2), stride=(2, 2), padding=(0, 0, 0, 0), activation="none")),
           Op("reshape", "flat", ("p",), ("f",), {}),
           Op("fully_connected", "dense", ("f", "w4", "b4"), ("logits",), dict(activation="none")),
           Op("softmax", "softmax", ("logits",), ("y",), dict(beta=1.0)))
    return Graph(t, ops, ("x",), ("y",), name="qformat_unit")


@pytest.fixture(scope="module")
def graphs():
    rng = np.random.default_rng(0)
    g = _float_graph(rng)
    calib = rng.uniform(-1, 1, (64, 6, 6, 3)).astype(np.float32)
    return g, calib, quantize_qformat(g, calib), quantize_qformat(g, calib, per_channel=False)


def test_fraction_bits_reads_powers_of_two_only():
    assert [fraction_bits(s) for s in (1.0, 0.5, 2.0 ** -7, 8.0, 2.0 ** -20)] == [0, 1, 7, -3, 20]
    with pytest.raises(McuError, match="not a power of two"):
        fraction_bits(0.3)


def test_chosen_format_never_clips_unless_that_lowers_the_error():
    rng = np.random.default_rng(1)
    for values in (rng.uniform(-1, 1, 1000), rng.standard_normal(1000) * 3, np.array([0.7, -0.01]),
                   rng.uniform(0, 100, 50)):
        f0 = unclipped_fraction_bits(float(np.max(np.abs(values))))
        assert np.max(np.abs(values)) * 2.0 ** f0 <= 127 < np.max(np.abs(values)) * 2.0 ** (f0 + 1)
        chosen = choose_fraction_bits(values)
        assert chosen in (f0, f0 + 1)
        assert squared_error(values, chosen) == min(squared_error(values, f0), squared_error(values, f0 + 1))
    # Uniform in [-1, 1]: saturating the few values above 127/128 buys a step twice as fine for
    # all others (f0 = 6 -> 7); a lone large value must not be clipped.
    assert choose_fraction_bits(rng.uniform(-1, 1, 10000)) == 7
    assert choose_fraction_bits(np.array([0.7, -0.01])) == 7
    assert quantize_values(np.array([1.0, -1.0, 0.3]), 7).tolist() == [127, -128, 38]


def test_rounding_shift_is_round_half_up_of_the_exact_quotient():
    rng = np.random.default_rng(2)
    acc = np.concatenate([rng.integers(-(1 << 31), 1 << 31, 4000), np.arange(-40, 41),
                          [-(1 << 31), (1 << 31) - 1]]).astype(np.int64)
    for shift in (0, 1, 2, 7, 16, 31):
        got = rshift_round(acc, shift)
        exact = [int((Fraction(int(a), 1 << shift) + Fraction(1, 2)).__floor__()) for a in acc]
        assert got.tolist() == exact, shift


def test_formats_are_powers_of_two_and_shifts_are_in_range(graphs):
    _, _, q, _ = graphs
    assert graph_scheme(q) == "qformat"
    assert [op.kind for op in q.ops] == ["conv2d_q7", "depthwise_conv2d_q7", "conv2d_q7", "add_q7",
                                         "max_pool2d", "reshape", "fully_connected_q7", "softmax"]
    for name, t in q.tensors.items():
        if t.dtype == "int8" and name != "y":
            assert all(z == 0 for z in t.quant.zero_point), name
            [fraction_bits(s) for s in t.quant.scale]
    assert q.tensor("y").quant == QuantParams((1.0 / 256.0,), (-128,))
    # Tied through pooling and reshape: one format, no requantization.
    assert q.tensor("s").quant == q.tensor("p").quant == q.tensor("f").quant
    for op in q.ops:
        if op.kind.endswith("_q7") and op.kind != "add_q7":
            p = kernel_params(q, op)
            assert p.shift.min() >= 0 and p.shift.max() <= 31
            x, w = q.tensor(op.inputs[0]), q.tensor(op.inputs[1])
            fl_w = np.array([fraction_bits(s) for s in w.quant.scale])
            expected = fraction_bits(x.quant.scale[0]) + fl_w - fraction_bits(q.output_tensor(op).quant.scale[0])
            assert np.array_equal(p.shift, expected)
            if op.inputs[2] is not None:  # biases at the product format, rounded
                b = q.tensor(op.inputs[2])
                assert [fraction_bits(s) for s in b.quant.scale] == (fraction_bits(x.quant.scale[0]) + fl_w).tolist()
    add = kernel_params(q, q.ops[3])
    fl = {n: fraction_bits(q.tensor(n).quant.scale[0]) for n in ("c1", "c2", "s")}
    assert add.input1_left_shift == max(fl["c1"], fl["c2"]) - fl["c1"]
    assert add.shift == max(fl["c1"], fl["c2"]) - fl["s"] >= 0


def test_per_channel_and_per_layer_weight_formats(graphs):
    g, _, q, layer = graphs
    w = g.tensor("w1").data
    per_channel = [fraction_bits(s) for s in q.tensor("w1").quant.scale]
    assert per_channel == [choose_fraction_bits(c) for c in w.reshape(8, -1)]
    assert len(set(fraction_bits(s) for s in layer.tensor("w1").quant.scale)) == 1
    assert layer.tensor("w1").quant.scale[0] == 2.0 ** -choose_fraction_bits(w)


def test_quantized_graph_tracks_the_float_graph(graphs):
    g, calib, q, layer = graphs
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (40, 6, 6, 3)).astype(np.float32)
    want = run_float(g, x)
    for graph in (q, layer):
        inq = graph.tensor("x").quant
        got = np.stack([dequantize_output(run_int8(graph, quantize_input(xi[None], inq)), graph.tensor("y").quant)[0]
                        for xi in x])
        assert np.abs(got - want).max() < 0.08
        assert np.mean(got.argmax(1) == want.argmax(1)) >= 0.9


def test_refuses_what_shift_only_kernels_cannot_run(graphs):
    g, calib, q, _ = graphs
    with pytest.raises(McuError, match="already quantized"):
        quantize_qformat(q, calib)
    with pytest.raises(McuError, match="calibration data has shape"):
        quantize_qformat(g, calib[:, :5])
    # A non power-of-two scale has no Q format.
    bad = dict(q.tensors)
    bad["c2"] = Tensor("c2", bad["c2"].shape, "int8", QuantParams((0.3,), (0,)))
    with pytest.raises(McuError, match="pointwise.*not a power of two"):
        kernel_params(q.replace(tensors=bad), q.ops[2])
    # A bias that could overflow the int32 accumulator.
    big = dict(q.tensors)
    b = big["b1"]
    big["b1"] = Tensor("b1", b.shape, "int32", b.quant, np.full(b.shape, (1 << 31) - 100, np.int32))
    with pytest.raises(McuError, match="accumulator could overflow"):
        kernel_params(q.replace(tensors=big), q.ops[0])
    # An output format finer than the products': a negative shift.
    fine = dict(q.tensors)
    fine["c1"] = Tensor("c1", fine["c1"].shape, "int8", QuantParams((2.0 ** -40,), (0,)))
    with pytest.raises(McuError, match="shifts .* outside 0..31"):
        kernel_params(q.replace(tensors=fine), q.ops[0])


def test_export_options_refuse_bad_input_in_one_line(graphs, tmp_path):
    from mcucompress.export import export

    g, calib, q, _ = graphs
    with pytest.raises(McuError, match="unknown quantization 'q15'"):
        export(g, tmp_path / "a", calib=calib, quantize="q15")
    with pytest.raises(McuError, match="needs calibration data"):
        export(g, tmp_path / "b", quantize="qformat")
    with pytest.raises(McuError, match="already quantized"):
        export(q, tmp_path / "c", quantize="qformat")
    assert not any(tmp_path.iterdir())


def test_qformat_export_is_deterministic(graphs, tmp_path):
    from mcucompress.export import export

    g, calib, _, _ = graphs
    trees = [export(g, tmp_path / name, calib=calib, quantize="qformat") for name in ("a", "b")]
    files = [{p.relative_to(t).as_posix(): p.read_bytes() for p in sorted(t.rglob("*")) if p.is_file()}
             for t in trees]
    assert files[0] == files[1] and "runtime/qformat/mcc_add_q7.c" in files[0]
