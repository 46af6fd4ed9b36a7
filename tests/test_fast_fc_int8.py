"""Fully connected on int8 weights kept one byte each (runtime_c/fully_connected/
mcc_fully_connected_fast_s8.c): the export-time layout, the per-mode choice (every mode uses it;
size keeps the widened two-byte layout only beside widened convolutions when int8 would save less
than its own code; hot layers on DSP cores take int16 weights, mcc_fully_connected_fast_w16_s8),
the portable path on odd shapes on the host and the DSP path on the M4, byte-identical to the
numpy reference."""

import json
import shutil

import numpy as np
import pytest

from codegen_cases import act, bias, check_c_matches_reference, out_scale, weights
from mcucompress.codegen import specialize
from mcucompress.codegen.lower import lower
from mcucompress.encode import choose
from mcucompress.encode.choose import choose_encodings, encoding_rows
from mcucompress.ir.graph import Graph, Op
from mcucompress.targets.manifest import manifest_json

FC_INT8 = "mcc_fully_connected_fast_s8"
FC_INT16 = "mcc_fully_connected_fast_w16_s8"
WIDENED = "mcc_conv2d_fast_s8"
CONV_INT8 = "mcc_conv2d_fast_w8_s8"
HAVE_ARM = bool(shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm"))


def dense_chain(seed, in_shape, layers, in_zp=0):
    """Fully connected layers [(units, activation, per_channel, out_zp)] on an int8 input."""
    rng = np.random.default_rng(seed)
    tensors = {"x": act("x", in_shape, rng.uniform(0.01, 0.05), in_zp)}
    ops, last = [], "x"
    for i, (units, activation, per_channel, zp) in enumerate(layers):
        x = tensors[last]
        depth = x.shape[-1]
        w = weights(rng, f"w{i}", (units, depth), 0, units if per_channel else 1)
        b = bias(rng, f"b{i}", units)
        out = f"t{i}"
        tensors.update({w.name: w, b.name: b, out: act(out, x.shape[:-1] + (units,), out_scale(x, w, depth), zp)})
        ops.append(Op("fully_connected", f"fc{i}", (last, w.name, b.name), (out,), {"activation": activation}))
        last = out
    return Graph(tensors, tuple(ops), ("x",), (last,), name=f"dense{seed}")


def kernels(graph, optimize, cpu=None, save_bytes=0):
    return [c.function for c in lower(choose_encodings(graph, optimize, cpu, save_bytes), "m").calls]


def pinned(graph, layout):
    """graph with every fully connected layer dense in `layout`."""
    return graph.replace(ops=tuple(op.with_attrs(**{choose.ATTR: "dense", choose.LAYOUT_ATTR: layout})
                                   if op.kind == "fully_connected" else op for op in graph.ops))


def test_int16_layout_pairs_weights_as_sxtb16_pairs_inputs():
    w = (np.arange(6 * 7).reshape(6, 7) - 20).astype(np.int8)
    words, k_padded = specialize.fc_int16_layout(w)
    assert k_padded == 8 and words.nbytes == 6 * 8 * 2  # 2 bytes each
    h = words.view(np.int16)
    # Block of rows 0-3: per group of 4 inputs, per row (w0, w2) then (w1, w3).
    assert list(h[:16]) == [v for r in range(4) for v in w[r, [0, 2, 1, 3]]]
    assert list(h[16:32]) == [v for r in range(4) for v in (w[r, 4], w[r, 6], w[r, 5], 0)]
    # The last block holds the 2 rows left.
    assert list(h[32:40]) == [v for r in (4, 5) for v in w[r, [0, 2, 1, 3]]]


def test_hot_layers_take_int16_on_dsp_cores():
    g = dense_chain(3, (1, 200), [(64, "relu", True, -10), (10, "none", False, 3)])  # 12,800 and 640 weights
    for mode in ("none", "speed", "fit"):
        assert kernels(g, mode) == kernels(g, mode, "cortex-m7") == [FC_INT16, FC_INT8]
        assert kernels(g, mode, "cortex-m55") == kernels(g, mode, "cortex-m3") == [FC_INT8, FC_INT8]
    # Not when flash must be saved, nor for size.
    assert kernels(g, "fit", save_bytes=1) == kernels(g, "size") == [FC_INT8, FC_INT8]
    rows = encoding_rows(choose_encodings(g, "none"))
    assert [r.dense_layout for r in rows] == ["int16", "int8"]
    assert [r.bytes for r in rows] == [2 * 64 * 200, 640]


def test_layout_keeps_one_byte_per_weight_in_sxtb16_order():
    w = (np.arange(6 * 7).reshape(6, 7) - 20).astype(np.int8)
    words, k_padded = specialize.fc_int8_layout(w)
    assert k_padded == 8 and words.dtype == np.int32 and words.nbytes == 6 * 8  # 1 byte each
    b = words.view(np.int8)
    # Block of rows 0-3: per group of 4 inputs one word per row, inputs in order.
    assert list(b[:16]) == [*w[0, :4], *w[1, :4], *w[2, :4], *w[3, :4]]
    assert list(b[16:32]) == [*w[0, 4:], 0, *w[1, 4:], 0, *w[2, 4:], 0, *w[3, 4:], 0]
    # The last block holds the 2 rows left.
    assert list(b[32:40]) == [*w[4, :4], *w[5, :4]]
    assert list(b[40:48]) == [*w[4, 4:], 0, *w[5, 4:], 0]


def test_choice_per_optimize_mode():
    g = dense_chain(1, (1, 30), [(20, "relu", True, -10), (9, "none", False, 3)])
    assert kernels(g, "size") == kernels(g, "none") == [FC_INT8, FC_INT8]
    # Faster than the widened layout on one input row, so speed takes it too.
    assert kernels(g, "speed") == [FC_INT8, FC_INT8]
    # The choice is recorded per layer (manifest.json's weight_encodings).
    for mode, layout in (("size", "int8"), ("none", "int8"), ("speed", "int8")):
        assert [r.as_dict()["dense_layout"] for r in encoding_rows(choose_encodings(g, mode))] == [layout] * 2
    # Half the weight bytes of the widened layout.
    small = {a.name: a.length for a in lower(choose_encodings(g, "size"), "m").arrays if "fast_weights" in a.name}
    widened = choose_encodings(g, "none")
    widened = widened.replace(ops=tuple(op.with_attrs(**{choose.LAYOUT_ATTR: "widened"}) if op.kind == "fully_connected"
                                        else op for op in widened.ops))
    wide = {a.name: a.length for a in lower(widened, "m").arrays if "fast_weights" in a.name}
    # Weight words: one byte per weight (K padded to 4) vs two (K padded to 8).
    assert list(small.values()) == [20 * 32 // 4, 9 * 20 // 4]
    assert list(wide.values()) == [2 * 20 * 32 // 4, 2 * 9 * 24 // 4]
    # Size stores convolutions one byte a weight too (mcc_conv2d_fast_w8_s8); none and speed keep
    # the M4's widened layout. Next to widened convolutions (their kernel is linked anyway) a fully
    # connected layer saving less than the int8 kernel's code stays widened in size mode, like
    # the MLPerf models' last layer.
    from test_fast_graphs import layer_zoo
    zoo = layer_zoo()
    convs = [WIDENED, WIDENED, "mcc_maxpool_s8", "mcc_depthwise_conv2d_fast_s8",
             "mcc_depthwise_conv2d_fast_s8", WIDENED, "mcc_depthwise_conv2d_fast_s8", "mcc_conv2d_channels_s8"]
    fc = zoo.tensor(zoo.ops[-1].inputs[1])
    assert fc.size < choose.FC_INT8_CODE_BYTES
    assert kernels(zoo, "size") == [CONV_INT8 if k == WIDENED else k for k in convs] + [FC_INT8]
    assert kernels(zoo, "none") == kernels(zoo, "speed") == convs + [FC_INT8]
    widened_convs = zoo.replace(ops=tuple(op.with_attrs(**{choose.LAYOUT_ATTR: "widened"}) if op.kind == "conv2d"
                                          else op for op in zoo.ops))
    assert kernels(widened_convs, "size") == convs + [WIDENED]
    # A large one saves more: int8.
    from test_fast_graphs import _Chain
    big = _Chain(np.random.default_rng(2), (1, 8, 8, 4)).conv(8, (3, 3)).dense(40).graph("big")
    assert kernels(big, "size") == [CONV_INT8, FC_INT8]
    big = big.replace(ops=(big.ops[0].with_attrs(**{choose.LAYOUT_ATTR: "widened"}), *big.ops[1:]))
    assert kernels(big, "size") == [WIDENED, FC_INT8]


ODD = {
    # in features not a multiple of 4, odd out features, input zero point -128, per-channel scales
    "low_zp": ((1, 13), [(7, "relu", True, -128), (5, "relu6", True, 20), (3, "none", False, 0)], -128),
    # input zero point 127, a single output
    "high_zp": ((1, 10), [(1, "none", True, 5)], 127),
    # 4-row blocks plus a 1-row tail over 1 input feature and 6 inputs (padding only)
    "thin": ((1, 6), [(9, "relu", False, -30), (1, "none", True, 0)], 0),
}


@pytest.mark.parametrize("name", sorted(ODD))
def test_portable_path_matches_reference(tmp_path, name):
    shape, layers, zp = ODD[name]
    g = dense_chain(len(name), shape, layers, zp)
    assert set(kernels(g, "size")) == {FC_INT8}
    check_c_matches_reference(tmp_path, g, "tflm", samples=4)
    assert FC_INT8 in (tmp_path / f"{g.name}_tflm" / "model.c").read_text()


def test_int16_portable_path_matches_reference(tmp_path):
    """The odd shapes of all three cases in one chain, int16 weights."""
    g = pinned(dense_chain(5, (1, 13), [(7, "relu", True, -128), (9, "relu6", True, 20), (1, "none", True, 0),
                                        (6, "none", False, 3)], -128), "int16")
    assert set(kernels(g, "none")) == {FC_INT16}
    check_c_matches_reference(tmp_path, g, "tflm", samples=4)
    assert FC_INT16 in (tmp_path / f"{g.name}_tflm" / "model.c").read_text()


def _variant(tree, root, **defines):
    copy = root / tree.name
    shutil.copytree(tree, copy, ignore=shutil.ignore_patterns("firmware"))
    manifest = manifest_json(copy)
    manifest["defines"].update(defines)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


@pytest.mark.qemu
@pytest.mark.skipif(not HAVE_ARM, reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("board, layout", [("mps2-an386", "int8"), ("mps3-an547", "int8"),  # DSP, MVE
                                           ("mps2-an386", "int16")])
def test_fast_path_on_cortex_m_matches_portable_path_and_reference(tmp_path, board, layout):
    """784 inputs (whole 16-input chunks; int16: an even number of groups), 300 (a partial chunk
    of 4-input groups; int16: an odd number of groups), 101 (a partial group); 101 and 10
    outputs end in 1- and 2-row blocks."""
    from mcucompress.export import export
    from mcucompress.targets.runner import run_model
    g = dense_chain(7, (1, 784), [(300, "relu", True, -128), (101, "relu", False, -128), (10, "none", True, 4)], -7)
    tree = export(pinned(g, layout), tmp_path / "lenet", prefix="lenet")
    assert (tree / "model.c").read_text().count({"int8": FC_INT8, "int16": FC_INT16}[layout] + "(") == 3
    fast = run_model(tree, board, samples=3)
    assert fast.checks == {"host": True, "reference": True}
    (tmp_path / "ref").mkdir()
    portable = run_model(_variant(tree, tmp_path / "ref", MCC_FORCE_REFERENCE=1), board, samples=3)
    assert portable.checks == {"host": True, "reference": True}
    assert np.array_equal(fast.inputs, portable.inputs) and np.array_equal(fast.outputs, portable.outputs)
    assert len(np.unique(fast.outputs)) > 1
    assert max(fast.instructions) < min(portable.instructions)
