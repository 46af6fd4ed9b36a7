"""Q-format kernels: the numpy reference against plain integer maths, and the host-compiled C
(-std=c99 -Wall -Wextra -Werror -pedantic, from the exported CMakeLists.txt) against the reference
byte for byte: strides, dilation, padding, depth multiplier, per-channel and per-layer shifts
(0 and 1 included, so ties occur), missing biases, saturation and every fused activation."""

import re
import shutil
import subprocess

import numpy as np
import pytest

from mcucompress.memory.arena import plan_memory
from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor
from mcucompress.quantize.params import kernel_params
from mcucompress.reference.int8 import run_int8
from mcucompress.resources import runtime_dir

from codegen_cases import check_c_matches_reference

STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]


def _q(fl) -> QuantParams:
    fl = np.atleast_1d(fl)
    return QuantParams(tuple(2.0 ** -int(f) for f in fl), (0,) * len(fl), 0)


def _act(name, shape, fl) -> Tensor:
    return Tensor(name, tuple(shape), "int8", _q(fl))


def _weights(rng, name, shape, fl, axis) -> Tensor:
    fl = np.atleast_1d(fl)
    quant = QuantParams(tuple(2.0 ** -int(f) for f in fl), (0,) * len(fl), axis)
    return Tensor(name, tuple(shape), "int8", quant, rng.integers(-128, 128, size=shape, dtype=np.int8))


def _bias(rng, name, n) -> Tensor:
    return Tensor(name, (n,), "int32", None, rng.integers(-20000, 20000, size=n).astype(np.int32))


def _out_fl(fl_in: int, fl_w, fan_in: int, in_std: float = 74.0) -> int:
    """Output format that puts about three standard deviations of the accumulator at 127
    (random int8 weights and inputs have a standard deviation of about 74)."""
    std = np.sqrt(fan_in) * in_std * 74.0
    return int(fl_in + np.min(fl_w) - max(0, round(np.log2(3 * std / 128))))


def _graph_a(rng) -> Graph:
    """conv (pad, relu, per-channel shifts 0..) -> depthwise (relu6) -> add (relu) -> max pool ->
    reshape to two rows -> fully connected (per-channel, 2 x 27) -> fully connected (2 x 11, odd
    depth and units)."""
    t = {}
    t["x"] = _act("x", (1, 7, 6, 5), 5)
    fl_w1 = np.array([6, 7, 8, 6, 9, 7])
    t["w1"] = _weights(rng, "w1", (6, 3, 3, 5), fl_w1, 0)
    t["b1"] = _bias(rng, "b1", 6)
    fl_a = _out_fl(5, fl_w1, 45) + 2
    t["a"] = _act("a", (1, 7, 6, 6), fl_a)
    t["w2"] = _weights(rng, "w2", (1, 3, 3, 6), np.array([7, 8, 7, 6, 7, 8]), 3)
    t["b2"] = _bias(rng, "b2", 6)
    t["d"] = _act("d", (1, 7, 6, 6), fl_a + 1)  # relu6 clamps at 6 * 2^FL < 127
    t["s"] = _act("s", (1, 7, 6, 6), fl_a)
    t["p"] = _act("p", (1, 3, 3, 6), fl_a)
    t["f"] = _act("f", (1, 2, 27), fl_a)  # two rows of 27 for the dense layers
    fl_w4 = np.array([7, 8, 9, 7, 8, 7, 9, 8, 7, 7, 8])
    t["w4"] = _weights(rng, "w4", (11, 27), fl_w4, 0)
    t["b4"] = _bias(rng, "b4", 11)
    fl_y = _out_fl(fl_a, fl_w4, 27, in_std=30.0)
    t["y"] = _act("y", (1, 2, 11), fl_y)
    t["w5"] = _weights(rng, "w5", (7, 11), 7, 0)
    t["b5"] = _bias(rng, "b5", 7)
    t["z"] = _act("z", (1, 2, 7), _out_fl(fl_y, [7], 11, in_std=50.0))
    same = (1, 1, 1, 1)
    ops = (Op("conv2d_q7", "conv", ("x", "w1", "b1"), ("a",),
              dict(stride=(1, 1), dilation=(1, 1), padding=same, activation="relu")),
           Op("depthwise_conv2d_q7", "dw", ("a", "w2", "b2"), ("d",),
              dict(stride=(1, 1), dilation=(1, 1), padding=same, depth_multiplier=1, activation="relu6")),
           Op("add_q7", "add", ("a", "d"), ("s",), dict(activation="relu")),
           Op("max_pool2d", "pool", ("s",), ("p",),
              dict(pool=(2, 2), stride=(2, 2), padding=(0, 0, 0, 0), activation="none")),
           Op("reshape", "flat", ("p",), ("f",), {}),
           Op("fully_connected_q7", "fc", ("f", "w4", "b4"), ("y",), dict(activation="none")),
           Op("fully_connected_q7", "fc2", ("y", "w5", "b5"), ("z",), dict(activation="none")))
    return Graph(t, ops, ("x",), ("z",), name="q7_a")


def _graph_b(rng) -> Graph:
    """conv (stride 2, dilation 2, asymmetric padding, no bias, one shift) -> depthwise (multiplier
    2, stride (1, 2), no bias) -> 1x1 depthwise to a coarser format -> add (left shift 1, shift 1)
    -> relu (stand-alone) -> fc (no bias)."""
    t = {}
    t["x"] = _act("x", (1, 9, 10, 3), 7)
    t["w1"] = _weights(rng, "w1", (5, 3, 3, 3), 7, 0)  # odd: a last unpaired channel
    fl_a = _out_fl(7, [7], 27)
    t["a"] = _act("a", (1, 4, 4, 5), fl_a)
    t["w2"] = _weights(rng, "w2", (1, 2, 3, 10), np.arange(10) % 3 + 6, 3)
    fl_d = _out_fl(fl_a, [6], 6)
    t["d"] = _act("d", (1, 4, 2, 10), fl_d)
    t["e"] = _act("e", (1, 4, 2, 10), fl_d - 1)
    t["w3"] = _weights(rng, "w3", (1, 1, 1, 10), 4, 3)
    t["s"] = _act("s", (1, 4, 2, 10), fl_d - 1)  # shift 1: halves tie often
    t["w4"] = _weights(rng, "w4", (13, 80), 8, 0)
    t["y"] = _act("y", (1, 13), _out_fl(fl_d - 1, [8], 80, in_std=50.0) + 2)
    ops = (Op("conv2d_q7", "conv", ("x", "w1", None), ("a",),
              dict(stride=(2, 2), dilation=(2, 2), padding=(1, 0, 0, 1), activation="none")),
           Op("depthwise_conv2d_q7", "dw", ("a", "w2", None), ("d",),
              dict(stride=(1, 2), dilation=(1, 1), padding=(0, 1, 1, 0), depth_multiplier=2,
                   activation="none")),
           # 1x1 depthwise: a second tensor, in a coarser format, for the add to align.
           Op("depthwise_conv2d_q7", "rescale", ("d", "w3", None), ("e",),
              dict(stride=(1, 1), dilation=(1, 1), padding=(0, 0, 0, 0), depth_multiplier=1,
                   activation="none")),
           Op("add_q7", "add", ("d", "e"), ("s",), dict(activation="none")),
           Op("reshape", "flat", ("s",), ("f",), {}),
           # A relu no producer absorbed: the int8 kernel, input and output in one format.
           Op("relu", "relu", ("f",), ("r",), {}),
           Op("fully_connected_q7", "fc", ("r", "w4", None), ("y",), dict(activation="none")))
    t["f"] = _act("f", (1, 80), fl_d - 1)
    t["r"] = _act("r", (1, 80), fl_d - 1)
    return Graph(t, ops, ("x",), ("y",), name="q7_b")


def test_reference_equals_plain_integer_maths():
    rng = np.random.default_rng(5)
    g = _graph_a(rng)
    x = rng.integers(-128, 128, size=(1, 7, 6, 5), dtype=np.int8)
    values = run_int8(g, x, intermediates=True)
    w1, b1 = g.tensor("w1").data.astype(np.int64), g.tensor("b1").data.astype(np.int64)
    p = kernel_params(g, g.ops[0])
    padded = np.zeros((9, 8, 5), np.int64)
    padded[1:8, 1:7] = x[0]
    want = np.zeros((7, 6, 6), np.int64)
    for oy in range(7):
        for ox in range(6):
            acc = np.einsum("ykc,oykc->o", padded[oy:oy + 3, ox:ox + 3], w1) + b1
            # round half up of acc / 2^shift, by floor division
            want[oy, ox] = np.floor_divide(acc + np.where(p.shift > 0, 1 << np.maximum(p.shift - 1, 0), 0),
                                           1 << p.shift)
    assert np.array_equal(values["a"][0], np.clip(want, 0, 127))
    pa = kernel_params(g, g.ops[2])
    total = (values["a"].astype(np.int64) << pa.input1_left_shift) + (values["d"].astype(np.int64) << pa.input2_left_shift)
    add = np.floor_divide(total + (1 << pa.shift >> 1), 1 << pa.shift) if pa.shift else total
    assert np.array_equal(values["s"], np.clip(add, 0, 127))
    # The formats were chosen so that outputs spread, some saturate and relu6 clamps below 127.
    assert len(np.unique(values["y"])) > 8 and (np.abs(values["a"].astype(int)) >= 127).any()
    assert values["d"].max() == kernel_params(g, g.ops[1]).act_max < 127


@pytest.mark.parametrize("make", [_graph_a, _graph_b])
def test_c_kernels_match_the_reference_byte_for_byte(tmp_path, make):
    graph = make(np.random.default_rng(6))
    out = check_c_matches_reference(tmp_path, graph, "tflm", samples=6)
    assert len({row.tobytes() for row in out}) == len(out)
    model_c = (tmp_path / f"{graph.name}_tflm" / "model.c").read_text()
    assert "mcc_conv2d_q7(" in model_c and "mcc_fully_connected_q7(" in model_c
    assert "_s8(" not in model_c.replace("mcc_maxpool_s8(", "").replace("mcc_requantize_s8(", "")
    if graph.name == "q7_a":  # the add writes in place over one of its inputs (both die there)
        offsets = plan_memory(graph)[1]
        assert offsets["s"] in (offsets["a"], offsets["d"])


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")
@pytest.mark.parametrize("cpu", ["cortex-m0plus", "cortex-m3"])
def test_q7_kernels_need_no_runtime_helpers_on_cores_without_dsp(tmp_path, cpu):
    """Cortex-M0+ has no divide and neither core a 64-bit multiply in every form: the q7 kernels
    compile (strict warnings) to code that calls no __aeabi_* routine and has no SMULL/UMULL."""
    runtime = runtime_dir()
    for source in sorted((runtime / "qformat").glob("*.c")):
        obj = tmp_path / f"{source.stem}.o"
        subprocess.run(["arm-none-eabi-gcc", "-O2", f"-mcpu={cpu}", "-mthumb", *STRICT,
                        f"-I{runtime / 'include'}", f"-I{runtime / 'qformat'}", "-c", str(source),
                        "-o", str(obj)], check=True, capture_output=True)
        listing = subprocess.run(["arm-none-eabi-objdump", "-dr", str(obj)], check=True,
                                 capture_output=True, text=True).stdout
        assert "mcc_" in listing and not re.search(r"__aeabi|\b(smull|umull|smlal|umlal)\b", listing), source.name
