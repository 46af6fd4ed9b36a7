"""Kernel parameters of the binary op kinds, and the exact arithmetic each one performs.

Named by the op catalogue (``ir/ops.py``): ``quantize.params.kernel_params`` derives them, and
the numpy reference (``binary/reference.py``) and the C lowering (``codegen/lower_binary.py``)
read the same numbers. Packed layout: see
``binary/packing.py``. Notation: ``pc(v)`` = number of 1 bits of a uint32 word.

binarize          int8 (1, ..., C) -> bits:  bit[c] = x[c] >= threshold
unpack_bits       bits -> int8 (1, ..., C):  out[c] = +1 if bit[c] else -1  (scale 1, zero point 0)
binary_fully_connected  bits (n valid bits in ``words`` words) -> bits (units):
    binary weights w[u] (words):              dot = n - 2 * sum_k pc(a[k] ^ w[u, k])
    k-bit weights (DoReFa), planes P_0..P_{k-1} (words each), level = sum_b 2^b (2 bit_b - 1):
                                              dot = sum_b 2^b * (n - 2 * sum_k pc(a[k] ^ P_b[u, k]))
    ternary weights sign[u], mask[u] (words): dot = sum_k pc(mask[u,k]) - 2 * pc(mask[u,k] & (a[k] ^ sign[u,k]))
    out bit[u] = dot >= threshold[u]
binary_conv2d     bits NHWC (C channels) -> bits NHWC (out channels): the same dot product summed over
    the kernel taps that fall inside the input (taps in the padding contribute 0, as zero padding
    of a +-1 tensor does in training), per tap with n = C.
Padding bits of packed words are 0 in activations and weights, so they never count.
A channel whose batch-norm slope is negative has its weight bits inverted by the converter, so
every threshold compares ``dot >= threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcucompress.binary.packing import words_for
from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op
from mcucompress.quantize.params import c_tile

# How the kernels count bits: per-row popcount routines (the M55 build uses MVE for these), or
# "vertical": 32 rows at once in bit-sliced carry-save counters (binary fully connected layers of
# at most VERTICAL_MAX_BITS inputs; other ops given "vertical" use "csa").
POPCOUNTS = ("swar", "table", "csa", "vertical")
# The mcc.h constant each routine is selected by in the params structs.
POPCOUNT_MACROS = {"swar": "MCC_POPCOUNT_SWAR", "table": "MCC_POPCOUNT_TABLE", "csa": "MCC_POPCOUNT_CSA",
                   "vertical": "MCC_POPCOUNT_CSA"}  # per-row fallback where vertical does not apply
DEFAULT_POPCOUNT = "vertical"


def popcount_for(board: str | None) -> str:
    """How binary kernels count bits on a board's core, from the instruction counts in
    docs/benchmarks/binary.md. Binary fully connected layers: 32 rows at once in bit-sliced
    carry-save counters ("vertical") is the fewest instructions on every core measured (M3, M4,
    and the M55, where it edges out the MVE row count). Other binary ops then use the carry-save
    row routine, which M55 builds replace with MVE. The Cortex-M0+ (no QEMU machine) is not
    measured and gets the same choice, so today the board does not change it."""
    return DEFAULT_POPCOUNT
VERTICAL_MAX_BITS = 1024  # MCC_B1_VERTICAL_MAX_BITS in mcc.h
WEIGHT_KINDS = ("binary", "ternary", "planes")


@dataclass(frozen=True)
class BinarizeParams:
    threshold: int
    channels: int
    pixels: int


@dataclass(frozen=True)
class UnpackParams:
    channels: int
    pixels: int


@dataclass(frozen=True)
class BinaryFcParams:
    in_bits: int
    words: int
    units: int
    ternary: bool
    popcount: str
    planes: int = 1          # weight bit planes (k-bit weights); ternary uses 2 of another kind

    def c_fields(self) -> dict:
        """mcc_fc_b1_params."""
        return {"in_bits": self.in_bits, "words": self.words, "ternary": self.ternary,
                "popcount": POPCOUNT_MACROS[self.popcount], "planes": self.planes}


@dataclass(frozen=True)
class BinaryConvParams:
    in_channels: int
    in_words: int
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]
    ternary: bool
    popcount: str
    planes: int = 1

    def c_fields(self) -> dict:
        """mcc_conv_b1_params."""
        return {"ternary": self.ternary, "popcount": POPCOUNT_MACROS[self.popcount], "planes": self.planes,
                "stride": c_tile(self.stride), "padding": c_tile(self.padding[0::2])}

def _fail(op: Op, message: str):
    raise McuError(f"op '{op.name}' ({op.kind}): {message}")


def _popcount(op: Op) -> str:
    method = op.attrs.get("popcount", DEFAULT_POPCOUNT)
    if method not in POPCOUNTS:
        _fail(op, f"unknown popcount '{method}'; expected one of {', '.join(POPCOUNTS)}")
    return method


def _ternary(op: Op) -> bool:
    kind = op.attrs.get("weights", "binary")
    if kind not in WEIGHT_KINDS:
        _fail(op, f"unknown weight kind '{kind}'; expected one of {', '.join(WEIGHT_KINDS)}")
    return kind == "ternary"


def _planes(op: Op) -> int:
    """Bit planes of k-bit weights (1 for binary and ternary)."""
    if op.attrs.get("weights", "binary") != "planes":
        return 1
    planes = int(op.attrs.get("planes", 0))
    if not 1 <= planes <= 8:
        _fail(op, f"k-bit weights need 1 to 8 planes, got {planes}")
    return planes


def _packed_bytes(graph: Graph, op: Op, name: str, channels: int) -> int:
    """Pixels of a packed tensor whose last axis must hold ``channels`` bits."""
    t = graph.tensor(name)
    if t.dtype != "int8" or t.shape[-1] != 4 * words_for(channels):
        _fail(op, f"packed tensor '{name}' must be int8 with {4 * words_for(channels)} bytes per pixel, "
                  f"got {t.dtype} {t.shape}")
    return t.size // t.shape[-1]


def _weights(graph: Graph, op: Op, shape: tuple[int, ...]) -> None:
    w = graph.tensor(op.inputs[1])
    if w.data is None or w.data.dtype != np.uint32 or tuple(w.shape) != shape:
        _fail(op, f"weights must be constant uint32 of shape {shape}, got {w.data.dtype if w.data is not None else None} {w.shape}")
    thr = graph.tensor(op.inputs[2])
    if thr.data is None or thr.data.dtype != np.int32 or thr.shape != (shape[0],):
        _fail(op, f"thresholds must be constant int32 of shape ({shape[0]},)")


def binarize(graph: Graph, op: Op, rounding: str) -> BinarizeParams:
    x = graph.tensor(op.inputs[0])
    if x.dtype != "int8":
        _fail(op, f"input must be int8, got {x.dtype}")
    channels = int(x.shape[-1])
    pixels = _packed_bytes(graph, op, op.outputs[0], channels)
    threshold = int(op.attrs.get("threshold", 0))
    if not -128 <= threshold <= 128:
        _fail(op, f"threshold {threshold} is outside the int8 range")
    return BinarizeParams(threshold, channels, pixels)


def unpack(graph: Graph, op: Op, rounding: str) -> UnpackParams:
    out = graph.tensor(op.outputs[0])
    channels = int(out.shape[-1])
    pixels = _packed_bytes(graph, op, op.inputs[0], channels)
    if pixels * channels != out.size:
        _fail(op, f"output shape {out.shape} does not match the packed input")
    return UnpackParams(channels, pixels)


def binary_fully_connected(graph: Graph, op: Op, rounding: str) -> BinaryFcParams:
    x = graph.tensor(op.inputs[0])
    in_bits = int(op.attrs["in_features"])
    words = x.size // 4
    if x.dtype != "int8" or x.size % 4 or words < words_for(in_bits):
        _fail(op, f"input '{x.name}' does not hold {in_bits} packed bits")
    ternary, planes = _ternary(op), _planes(op)
    thr = graph.tensor(op.inputs[2])
    units = int(thr.shape[0])
    _weights(graph, op, (units, words * (2 if ternary else planes)))
    _packed_bytes(graph, op, op.outputs[0], units)
    return BinaryFcParams(in_bits, words, units, ternary, _popcount(op), planes)


def binary_conv2d(graph: Graph, op: Op, rounding: str) -> BinaryConvParams:
    x, w, out = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.tensor(op.outputs[0])
    cin = int(op.attrs["in_channels"])
    ternary, planes = _ternary(op), _planes(op)
    if len(x.shape) != 4 or len(w.shape) != 4 or len(out.shape) != 4:
        _fail(op, "input, weights and output must be 4-D")
    _packed_bytes(graph, op, x.name, cin)
    cout, kh, kw = int(w.shape[0]), int(w.shape[1]), int(w.shape[2])
    in_words = words_for(cin)
    _weights(graph, op, (cout, kh, kw, in_words * (2 if ternary else planes)))
    _packed_bytes(graph, op, out.name, cout)
    stride = tuple(int(s) for s in op.attrs.get("stride", (1, 1)))
    padding = tuple(int(p) for p in op.attrs.get("padding", (0, 0, 0, 0)))
    oh = (x.shape[1] + padding[0] + padding[1] - kh) // stride[0] + 1
    ow = (x.shape[2] + padding[2] + padding[3] - kw) // stride[1] + 1
    if (oh, ow) != tuple(out.shape[1:3]) or min(stride) < 1:
        _fail(op, f"output {out.shape[1:3]} does not follow from input {x.shape[1:3]}, kernel "
                  f"{(kh, kw)}, stride {stride} and padding {padding}")
    return BinaryConvParams(cin, in_words, cout, (kh, kw), stride, padding, ternary, _popcount(op), planes)
