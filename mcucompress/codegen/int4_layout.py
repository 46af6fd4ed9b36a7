"""Export-time layout for the int4 kernels (runtime_c/int4/mcc_*_int4_s8.c).

A layer whose weights carry the int4 encoding (values -8..7, encode/int4_requantize.py) runs
on a kernel that reads them packed, each output row padded to a multiple of 8 products, 8 to a
word: fully connected in TFLite's nibble order (encode/int4.row_words), rows in blocks of 4;
conv2d in the order of the 4-bit fast codebook kernel (codebook_fast.pair_words), which runs it
with the codebook of the 16 signed nibbles. Both take the channel constants of the dense fast
kernels ({2 * folded bias, multiplier, round, shift} per output channel), so they requantize
exactly as those do. The fully connected kernel sums 16 * w * x (nibbles masked in place), so on
top of the fast kernels' bounds 16 * 128 * sum|w| must fit int32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcucompress.codegen import specialize
from mcucompress.codegen.codebook_fast import call_fast_kernel, conv_scratch_bytes, pair_words
from mcucompress.encode.int4 import check_int4, row_words
from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op

KERNELS = {"fully_connected": "mcc_fully_connected_int4_s8", "conv2d": "mcc_conv2d_int4_s8"}
FC_ROWS = 4       # I4_ROWS of mcc_fully_connected_int4_s8.c
_INT32_LIMIT = (1 << 31) - 1


@dataclass(frozen=True, eq=False)
class Int4Layer:
    kernel: str
    words: np.ndarray      # uint32 (units * k_padded / 8)
    channels: np.ndarray   # int32 (units, 4)
    k_padded: int
    scratch_bytes: int


def scratch_bytes(op_kind: str, k_padded: int, units: int) -> int:
    """The kernel's *_get_buffer_size()."""
    if op_kind == "conv2d":
        return conv_scratch_bytes(k_padded, 4)
    return 2 * k_padded + 32


def choose(graph: Graph, op: Op, p, rounding: str) -> Int4Layer:
    """The int4 kernel's layout of op; McuError when the layer cannot run on it."""
    if rounding != "tflm" or getattr(p, "rounding", "tflm") != "tflm":
        raise McuError(f"op '{op.name}': int4 weights run with --rounding tflm only")
    wt = graph.tensor(op.inputs[1])
    if op.kind == "conv2d" and (len(wt.shape) != 4 or wt.shape[-1] != graph.tensor(op.inputs[0]).shape[-1]):
        raise McuError(f"op '{op.name}': int4 weights {wt.shape} do not fit input "
                       f"{graph.tensor(op.inputs[0]).shape} (grouped convolutions are not supported)")
    if getattr(p, "filter_offset", 0) != 0:
        raise McuError(f"op '{op.name}': int4 weights need zero point 0")
    w = np.asarray(wt.data, dtype=np.int64).reshape(wt.shape[0], -1)
    words, k_padded = conv_words(w) if op.kind == "conv2d" else row_words(w)
    bias = specialize._bias(graph, op, w.shape[0])
    table = specialize._channel_table(np.abs(w).sum(1), w.sum(1), bias, p.input_offset, p.output_offset,
                                      p.multiplier, p.shift)
    if table is None or 16 * 128 * int(np.abs(w).sum(1).max(initial=0)) > _INT32_LIMIT:
        raise McuError(f"op '{op.name}': int4 weights: the layer's sums or requantization constants do not fit "
                       "the int4 kernel's 32-bit arithmetic")
    if op.kind == "fully_connected":
        words = fc_blocks(words)
    return Int4Layer(KERNELS[op.kind], words.reshape(-1), table, k_padded, scratch_bytes(op.kind, k_padded, w.shape[0]))


def conv_words(w: np.ndarray) -> tuple[np.ndarray, int]:
    """(units, K) values -8..7 -> (units, k_padded / 8) uint32 words of mcc_conv2d_int4_s8 (the
    nibbles as 4-bit codebook indices: -8..-1 are 8..15), k_padded."""
    return pair_words(check_int4(w, "int4 weights") & 15, 4)


def fc_blocks(words: np.ndarray) -> np.ndarray:
    """(units, words) -> rows in blocks of FC_ROWS (the last block the rows left), per word
    position one word per row of the block (I4_ROWS of mcc_fully_connected_int4_s8.c)."""
    return np.concatenate([words[r:r + FC_ROWS].T.reshape(-1) for r in range(0, words.shape[0], FC_ROWS)])


def lower(b, i: int, op: Op, p, layer: Int4Layer) -> None:
    """Emit the int4 kernel's call for op."""
    from mcucompress.memory.arena import scratch_name

    oid = f"op{i}_{op.kind}"
    x, wt = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.inputs[1])
    depth = int(np.prod(wt.shape[1:]))
    if op.kind == "fully_connected" and x.size % depth:
        raise McuError(f"op '{op.name}': input of {x.size} values does not split into rows of {depth}")
    words = b.array(f"{oid}_int4_weights", layer.words, "uint32_t")
    channels = b.array(f"{oid}_int4_channels", layer.channels.reshape(-1), "int32_t")
    call_fast_kernel(b, op, p, layer.kernel, f"{oid}_int4_params", words, layer.k_padded, channels,
                     f"(void *){b.arena(scratch_name(i))}")
