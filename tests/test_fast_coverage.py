"""No int8 layer on a portable kernel: every conv, depthwise, fully connected, add and pooling layer
over a grid of shapes, odd channel counts, dead channels and extreme quantization parameters gets
a fast kernel (DSP on M4/M7/M33, MVE on M55: the kernel choice does not depend on the core, the
compiled paths do), with the channels the fast kernel cannot requantize exactly stored as
constants or finished by mcc_conv2d_channels_s8 - and the host build stays byte-identical to the
numpy reference. The QEMU runs of these layers are in test_fast_kernels_qemu.py (the
``dead_channels`` graph of test_fast_graphs.py)."""

from dataclasses import replace

import numpy as np
import pytest

from codegen_cases import act, check_c_matches_reference, conv_graph, rand_act, single_op, weights
from mcucompress.codegen import specialize
from mcucompress.codegen.lower import lower
from mcucompress.encode.choose import LAYOUT_ATTR
from mcucompress.ir.graph import Graph, QuantParams, Tensor
from test_fast_graphs import _Chain, with_dead_channels

PORTABLE = {"mcc_conv2d_s8", "mcc_depthwise_conv2d_s8", "mcc_fully_connected_s8"}


def fc_graph(rng, depth, units, int8_layout=False) -> Graph:
    x = rand_act(rng, "x", (1, depth))
    w = weights(rng, "w", (units, depth), 0, units)
    b = Tensor("b", (units,), "int32", None, rng.integers(-4000, 4000, size=units).astype(np.int32))
    std = np.sqrt(depth) * 74.0 * 74.0 * x.quant.scale[0] * float(np.mean(w.quant.scale))
    y = act("y", (1, units), 3.0 * std / 128.0, rng.integers(-20, 20))
    attrs = {"activation": "none"}
    if int8_layout:
        attrs[LAYOUT_ATTR] = "int8"
    return single_op("fully_connected", {t.name: t for t in (x, w, b, y)}, ("x", "w", "b"), "y", **attrs)


def extreme_zero_points(graph: Graph) -> Graph:
    """Input zero point -128 and output zero point 127 (-128 under a ReLU, which would otherwise
    leave one output value): the widest folded offsets."""
    tensors = dict(graph.tensors)
    out_zp = -128 if graph.ops[0].attrs.get("activation", "none") != "none" else 127
    for name, zp in ((graph.inputs[0], -128), (graph.outputs[0], out_zp)):
        t = tensors[name]
        tensors[name] = replace(t, quant=QuantParams(t.quant.scale, (zp,)))
    return replace(graph, tensors=tensors)


def _conv(seed, hw, c_in, c_out, k, stride=(1, 1), padding=(0, 0, 0, 0), depthwise=False, activation="none",
          multiplier=1):
    return conv_graph(np.random.default_rng(seed), hw, c_in, c_out, k, stride=stride, padding=padding,
                      depthwise=depthwise, activation=activation, multiplier=multiplier)


# (name, graph builder, dead, saturated, boosted): channel indices of the weighted op
CASES = [
    ("conv1x1_odd", lambda: _conv(1, (5, 4), 13, 9, (1, 1)), (0, 4), (7,), (2,)),
    ("conv1x1_16", lambda: _conv(2, (6, 6), 16, 16, (1, 1), activation="relu"), (3, 8, 15), (), ()),
    ("conv3x3_s1", lambda: _conv(3, (7, 6), 8, 5, (3, 3), padding=(1, 1, 1, 1)), (1,), (), (4,)),
    ("conv3x3_s2_cin1", lambda: _conv(4, (9, 9), 1, 6, (3, 3), (2, 2), (0, 1, 0, 1)), (5,), (0,), ()),
    ("conv5x5_s2", lambda: _conv(5, (11, 10), 3, 7, (5, 5), (2, 2), (2, 2, 2, 2)), (), (3,), (0, 6)),
    ("conv_one_channel", lambda: _conv(6, (5, 5), 4, 1, (3, 3)), (), (), (0,)),
    ("dw3x3_s1_c16", lambda: _conv(7, (6, 6), 16, 0, (3, 3), padding=(1, 1, 1, 1), depthwise=True),
     (2, 9), (12,), (5,)),
    ("dw3x3_s2_c7", lambda: _conv(8, (9, 8), 7, 0, (3, 3), (2, 2), (1, 1, 1, 1), depthwise=True), (1,), (), (6,)),
    ("dw5x5_s1_c9", lambda: _conv(9, (8, 8), 9, 0, (5, 5), padding=(2, 2, 2, 2), depthwise=True), (5,), (), ()),
    ("dw5x5_s2_c4", lambda: _conv(10, (9, 9), 4, 0, (5, 5), (2, 2), (2, 2, 2, 2), depthwise=True), (), (1,), ()),
    ("dw3x3_c3", lambda: _conv(11, (5, 5), 3, 0, (3, 3), padding=(1, 1, 1, 1), depthwise=True), (), (), ()),
    ("dw7x7_c12", lambda: _conv(12, (8, 8), 12, 0, (7, 7), padding=(3, 3, 3, 3), depthwise=True), (0,), (), ()),
    ("dw3x3_m2_c5", lambda: _conv(16, (7, 6), 5, 0, (3, 3), (2, 1), (1, 1, 1, 1), depthwise=True, multiplier=2),
     (3,), (), (8,)),
    ("fc_odd", lambda: fc_graph(np.random.default_rng(13), 37, 11), (0, 10), (5,), (3,)),
    ("fc_int8_layout", lambda: fc_graph(np.random.default_rng(14), 64, 7, int8_layout=True), (6,), (), (2,)),
    ("fc_two_units", lambda: fc_graph(np.random.default_rng(15), 9, 2), (), (), (0,)),
]


def case_graph(name, build, dead, saturated, boosted, zero_points=False) -> Graph:
    graph = with_dead_channels(build(), dead, saturated, boosted)
    graph = extreme_zero_points(graph) if zero_points else graph
    return replace(graph, name=name + ("_zp" if zero_points else ""))


def pool_and_add_graphs():
    """Small (per-element) and large (lookup-table) residual adds, max and average pools."""
    rng = np.random.default_rng(20)
    return [_Chain(rng, (1, 3, 3, 5)).residual().max_pool((3, 3), (2, 2), (1, 1, 1, 1)).graph("small"),
            _Chain(rng, (1, 16, 16, 9)).residual().avg_pool((2, 2), (1, 1), (0, 0, 0, 0)).graph("large")]


def kernels_of(graph: Graph) -> list[str]:
    return [call.function for call in lower(graph, "m", "tflm").calls]


@pytest.mark.parametrize("zero_points", [False, True], ids=["zp", "zp_extreme"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_no_layer_on_a_portable_kernel(case, zero_points):
    name, build, dead, saturated, boosted = case
    graph = case_graph(name, build, dead, saturated, boosted, zero_points)
    kernels = kernels_of(graph)
    assert not PORTABLE & set(kernels), f"{graph.name}: {kernels}"
    layer = specialize.choose(graph, graph.ops[0], "tflm")
    # dead and saturated channels become constants, never patched; boosted ones are patched
    patched = set() if layer.patch is None else set(layer.patch.index.tolist())
    assert not patched & (set(dead) | set(saturated))
    assert set(boosted) <= patched
    assert layer.constant_channels >= len(dead)


def test_pool_and_add_keep_their_dsp_kernels():
    for graph in pool_and_add_graphs():
        kernels = kernels_of(graph)
        assert not PORTABLE & set(kernels) and {"mcc_add_s8", "mcc_add_fast_s8"} & set(kernels)


def test_a_layer_is_never_dropped_for_one_bad_channel():
    """The motivating case: one dead channel in a 1x1 conv used to send the whole layer to the
    portable kernel; now it is one constant channel of the fast kernel."""
    graph = case_graph(*CASES[1])
    assert kernels_of(graph) == ["mcc_conv2d_fast_s8"]
    assert specialize.choose(graph, graph.ops[0], "tflm").constant_channels == 3


@pytest.mark.parametrize("zero_points", [False, True], ids=["zp", "zp_extreme"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_split_layers_byte_identical_to_reference_on_host(tmp_path, case, zero_points):
    check_c_matches_reference(tmp_path, case_graph(*case, zero_points=zero_points), "tflm", samples=3)


def test_info_names_each_layers_kernels_and_split_channels(tmp_path, capsys):
    from mcucompress.cli import main
    from mcucompress.codegen.kernel_report import kernel_rows
    from mcucompress.export import export
    from test_fast_graphs import dead_channels

    graph = dead_channels()
    rows = {name: (kernel, layout, constant, patched) for name, kernel, layout, constant, patched
            in kernel_rows(graph, "m", "tflm")}
    assert rows["depthwise_conv2d2"] == ("mcc_depthwise_conv2d_fast_s8+mcc_conv2d_channels_s8", "int8", 2, 4)
    assert rows["conv2d0"] == ("mcc_conv2d_fast_s8+mcc_conv2d_channels_s8", "int16 (widened)", 3, 1)
    tree = export(graph, tmp_path / "dead", prefix="dead")
    assert main(["info", str(tree)]) == 0
    out = capsys.readouterr().out
    assert "mcc_depthwise_conv2d_fast_s8+mcc_conv2d_channels_s8" in out and "constant" in out
    assert "int16 (widened)" in out


def test_info_shows_the_int8_conv_layout_the_m55_takes(tmp_path, capsys):
    """Exported for the M55, dense conv weights stay one byte each (mcc_conv2d_fast_w8_s8): the
    manifest's layers and `info` say so; for the M4 they are widened."""
    import json

    from mcucompress.cli import main
    from mcucompress.export import export
    from test_fast_graphs import dead_channels

    graph = dead_channels()
    m55 = export(graph, tmp_path / "m55", prefix="m", core="cortex-m55", optimize="none")
    m4 = export(graph, tmp_path / "m4", prefix="m", optimize="none")
    layers = {t: {d["op"]: d for d in json.loads((tree / "manifest.json").read_text())["layers"]}
              for t, tree in (("m55", m55), ("m4", m4))}
    assert layers["m55"]["conv2d0"]["weight_layout"] == "int8"
    assert layers["m55"]["conv2d0"]["kernel"].startswith("mcc_conv2d_fast_w8_s8")
    assert layers["m4"]["conv2d0"]["weight_layout"] == "widened"
    assert layers["m4"]["conv2d0"]["kernel"].startswith("mcc_conv2d_fast_s8")
    assert main(["info", str(m55)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.split("kernels (")[1].splitlines() if " conv2d0 " in line)
    assert "mcc_conv2d_fast_w8_s8" in row and "int8" in row
