"""Helpers for the code generation tests: random single-op int8 graphs and a C-vs-reference check.

Quantization parameters are drawn so that outputs use most of the int8 range (some saturate,
which exercises the clamps), zero points are non-zero, and channel counts are odd.
"""

from __future__ import annotations

import re

import numpy as np

from mcucompress.build.host import build_host
from mcucompress.build.runner import run_host
from mcucompress.codegen.specialize import choose_kernels
from mcucompress.memory.arena import plan_memory
from mcucompress.export import export
from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor
from mcucompress.memory.planner import find_overlaps
from mcucompress.reference.int8 import run_int8


# A runtime struct initialized by position instead of by field name (codegen/c_structs.py).
POSITIONAL_STRUCT = re.compile(r"static const (mcc_\w+) \w+ = \{(?!\.)")


def act(name, shape, scale, zp) -> Tensor:
    return Tensor(name, tuple(shape), "int8", QuantParams((float(np.float32(scale)),), (int(zp),)))


def rand_act(rng, name, shape) -> Tensor:
    return act(name, shape, rng.uniform(0.01, 0.05), rng.integers(-30, 30))


def weights(rng, name, shape, axis, channels) -> Tensor:
    scales = tuple(float(np.float32(s)) for s in rng.uniform(0.002, 0.02, channels))
    data = rng.integers(-127, 128, size=shape, dtype=np.int8)
    return Tensor(name, tuple(shape), "int8", QuantParams(scales, (0,) * channels, axis), data)


def bias(rng, name, n) -> Tensor:
    return Tensor(name, (n,), "int32", None, rng.integers(-4000, 4000, size=n).astype(np.int32))


def out_scale(x: Tensor, w: Tensor, fan_in: int) -> float:
    """About three standard deviations of the real output over the int8 range."""
    std = np.sqrt(fan_in) * 74.0 * 74.0 * x.quant.scale[0] * float(np.mean(w.quant.scale))
    return float(3.0 * std / 128.0)


def conv_out(size, k, stride, dilation, before, after) -> int:
    return (size + before + after - dilation * (k - 1) - 1) // stride + 1


def single_op(kind, tensors, inputs, output, **attrs) -> Graph:
    op = Op(kind, f"{kind}0", tuple(inputs), (output,), attrs)
    acts = [n for n in inputs if n is not None and tensors[n].data is None]
    return Graph({t.name: t for t in tensors.values()}, (op,), (acts[0],), (output,), name=kind)


def conv_graph(rng, hw, c_in, c_out, k, stride=(1, 1), dilation=(1, 1), padding=(0, 0, 0, 0),
               activation="none", depthwise=False, multiplier=1, with_bias=True) -> Graph:
    x = rand_act(rng, "x", (1, hw[0], hw[1], c_in))
    if depthwise:
        c_out = c_in * multiplier
        w = weights(rng, "w", (1, k[0], k[1], c_out), 3, c_out)
        fan_in = k[0] * k[1]
    else:
        w = weights(rng, "w", (c_out, k[0], k[1], c_in), 0, c_out)
        fan_in = k[0] * k[1] * c_in
    oh = conv_out(hw[0], k[0], stride[0], dilation[0], padding[0], padding[1])
    ow = conv_out(hw[1], k[1], stride[1], dilation[1], padding[2], padding[3])
    y = act("y", (1, oh, ow, c_out), out_scale(x, w, fan_in), rng.integers(-20, 20))
    b = bias(rng, "b", c_out) if with_bias else None
    tensors = {t.name: t for t in (x, w, b, y) if t is not None}
    attrs = dict(stride=stride, dilation=dilation, padding=padding, activation=activation)
    if depthwise:
        attrs["depth_multiplier"] = multiplier
    return single_op("depthwise_conv2d" if depthwise else "conv2d", tensors,
                     ("x", "w", "b" if with_bias else None), "y", **attrs)


def check_c_matches_reference(tmp_path, graph: Graph, rounding: str, samples: int = 3,
                              seed: int = 0) -> np.ndarray:
    """Export, build with strict warnings, run `samples` random inputs; assert C == run_int8."""
    assert find_overlaps(plan_memory(graph, choose_kernels(graph))[0]) == []
    tree = export(graph, tmp_path / f"{graph.name}_{rounding}", rounding=rounding)
    positional = POSITIONAL_STRUCT.findall((tree / "model.c").read_text())
    assert positional == [], f"struct initializers without field names: {positional}"
    exe = build_host(tree)
    shape = graph.tensor(graph.inputs[0]).shape
    x = np.random.default_rng(seed).integers(-128, 128, size=(samples,) + shape, dtype=np.int8)
    out_bytes = graph.tensor(graph.outputs[0]).nbytes
    c_out = run_host(exe, x, out_bytes)
    ref = np.stack([np.asarray(run_int8(graph, xi, rounding=rounding), dtype=np.int8).ravel() for xi in x])
    mismatch = np.argwhere(c_out != ref)
    assert mismatch.size == 0, (f"{graph.name} ({rounding}): {len(mismatch)} bytes differ, first at "
                                f"{mismatch[0].tolist()}: C {c_out[tuple(mismatch[0])]} vs "
                                f"reference {ref[tuple(mismatch[0])]}")
    # A kernel that writes nothing, or a constant, must not pass by accident.
    assert len(np.unique(ref)) > 1 or ref.size == 1
    return c_out
