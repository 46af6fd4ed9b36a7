"""Lowering of the binary op kinds (binarize, unpack_bits, binary_fully_connected,
binary_conv2d) to the XNOR-popcount kernels of runtime_c/binary.

Named by the op catalogue (``ir/ops.py``), with the kernel files each kind may call. Parameters come from
``kernel_params`` (binary/kernel_params.py), the numbers the numpy reference runs with. The popcount
routine is the op's ``popcount`` attribute, chosen at conversion for the target core.
"""

from __future__ import annotations

import numpy as np

from mcucompress.binary.packing import pack_bits, unpack_bits
from mcucompress.binary.kernel_params import VERTICAL_MAX_BITS
from mcucompress.quantize.params import kernel_params

_WORDS_PER_LINE = 6


def _op_id(index: int, op) -> str:
    return f"op{index}_{op.kind}"


def _operands(b, i: int, op, struct: str):
    """Input, weights and output tensors, kernel parameters, C name and the parameter struct
    ``struct`` of a binary conv or fully connected op."""
    g = b.graph
    p = kernel_params(g, op, b.rounding)
    oid = _op_id(i, op)
    params = b.struct(struct, f"{oid}_params", p.c_fields())
    return g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.output_tensor(op), p, oid, params


def _words_array(b, suffix: str, words: np.ndarray) -> str:
    """A const uint32_t array of packed weights, written as hex words."""
    items = [f"0x{int(v):08x}u" for v in np.asarray(words, dtype=np.uint32).ravel()]
    lines = [", ".join(items[i:i + _WORDS_PER_LINE]) for i in range(0, len(items), _WORDS_PER_LINE)]
    lines = [line + ("," if i < len(lines) - 1 else "") for i, line in enumerate(lines)]
    return b.array_text("uint32_t", suffix, len(items), lines)


def _thresholds(b, oid: str, op) -> str:
    return b.array(f"{oid}_threshold", b.graph.tensor(op.inputs[2]).data, "int32_t")


def lower_binarize(b, i: int, op) -> None:
    x, out = b.graph.tensor(op.inputs[0]), b.graph.output_tensor(op)
    p = kernel_params(b.graph, op, b.rounding)
    b.call(op, "mcc_binarize_s8", str(p.threshold), b.dims_of(x.shape), b.arena(x.name),
           b.arena(out.name))


def lower_unpack(b, i: int, op) -> None:
    x, out = b.graph.tensor(op.inputs[0]), b.graph.output_tensor(op)
    kernel_params(b.graph, op, b.rounding)
    b.call(op, "mcc_unpack_b1", b.dims_of(out.shape), b.arena(x.name), b.arena(out.name))


def _vertical(p) -> bool:
    return (p.popcount == "vertical" and not p.ternary and p.planes == 1 and p.in_bits <= VERTICAL_MAX_BITS
            and p.words == (p.in_bits + 31) // 32)


LANE_PLANES = 14  # MCC_B1_LANE_PLANES in mcc_fully_connected_vertical_b1.c


def column_words(rows: np.ndarray, in_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Packed weight rows (units, words) -> (columns (ceil(units / 32), in_bits) uint32, whose
    word i of group g has at bit r the weight bit of unit 32g + r at input i; 1 bits per row)."""
    bits = unpack_bits(rows, in_bits)                          # (units, n)
    groups = -(-bits.shape[0] // 32)
    padded = np.zeros((groups * 32, in_bits), dtype=bool)
    padded[:bits.shape[0]] = bits
    columns = pack_bits(padded.reshape(groups, 32, in_bits).transpose(0, 2, 1))[..., 0]
    return columns, bits.sum(axis=1).astype(np.int64)


def lane_planes(values: np.ndarray) -> np.ndarray:
    """Non-negative integers per unit -> (groups, LANE_PLANES) uint32 bit slices: word p of group
    g has at bit r bit p of the value of unit 32g + r."""
    groups = -(-len(values) // 32)
    padded = np.zeros(groups * 32, dtype=np.int64)
    padded[:len(values)] = values
    bits = (padded.reshape(groups, 32)[:, None, :] >> np.arange(LANE_PLANES)[None, :, None]) & 1
    return pack_bits(bits.astype(bool))[..., 0]


def vertical_constants(rows: np.ndarray, thresholds: np.ndarray, in_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(columns, lane planes: per group Y then row_ones) of mcc_fully_connected_vertical_b1."""
    columns, row_ones = column_words(rows, in_bits)
    y = np.clip(thresholds.astype(np.int64) + in_bits + 2 * row_ones, 0, 2 ** LANE_PLANES - 1)
    return columns, np.concatenate([lane_planes(y), lane_planes(row_ones)], axis=1)


def lower_fully_connected(b, i: int, op) -> None:
    x, w, out, p, oid, params = _operands(b, i, op, "mcc_fc_b1_params")
    if _vertical(p):
        columns, planes = vertical_constants(w.data, b.graph.tensor(op.inputs[2]).data, p.in_bits)
        b.call(op, "mcc_fully_connected_vertical_b1", params, b.arena(x.name),
               b.dims_of((p.units, p.in_bits)), _words_array(b, f"{oid}_columns", columns),
               _words_array(b, f"{oid}_lane_planes", planes), b.arena(out.name))
        return
    b.call(op, "mcc_fully_connected_b1", params, b.arena(x.name), b.dims_of(w.shape),
           _words_array(b, f"{oid}_weights", w.data), _thresholds(b, oid, op), b.arena(out.name))


def lower_conv2d(b, i: int, op) -> None:
    x, w, out, p, oid, params = _operands(b, i, op, "mcc_conv_b1_params")
    in_shape = tuple(x.shape[:3]) + (p.in_channels,)
    filter_shape = (p.out_channels,) + tuple(p.kernel) + (p.in_channels,)
    out_shape = tuple(out.shape[:3]) + (p.out_channels,)
    b.call(op, "mcc_conv2d_b1", params, b.dims_of(in_shape), b.arena(x.name), b.dims_of(filter_shape),
           _words_array(b, f"{oid}_weights", w.data), _thresholds(b, oid, op), b.dims_of(out_shape),
           b.arena(out.name))
