"""Export-time layout for the fast codebook kernels (runtime_c/codebook/mcc_*_codebook_fast_s8.c).

A layer whose weights are stored as a codebook of 2- or 4-bit indices runs on a kernel that looks
every pair of weights up in a table of doubled int16 pairs (one SMLAD operand), built in scratch
on each call, instead of unpacking one index at a time. What it needs from the exporter:

- the index of each product moved to the order SXTB16 / SXTB16 ROR 8 widen 4 activations in:
  per group of 4 products the pairs (k0, k2), (k1, k3), each pair one field of 2 * bits bits
  (first index low), fields filling 32-bit words from bit 0; K padded to a whole word of pairs;
- conv: each output channel's words in turn; fully connected: rows in blocks of 8, then one
  of 4 when 4 or more are left, then one of the rest (fc_block_rows), per word position one
  word per row of the block;
- the channel constants of the dense fast kernels ({2 * folded bias, multiplier, round,
  shift}, one row per output channel): the same requantization, so the same bytes.

The MVE path of both kernels (Cortex-M55) reads the same layout: tables of int8 weights per
index byte (a byte gather per 16 weights) in place of the pair table, int8 columns of
MVE_PIXELS pixels for conv; its scratch is included in the sizes below.

Layers whose constants are not exact for the fast requantization (specialize._channel_rows) or
whose indices are wider than 4 bits keep the portable codebook kernels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcucompress.codegen import specialize
from mcucompress.encode.choose import encoded_weights
from mcucompress.ir.graph import Graph, Op
from mcucompress.quantize.params import c_activation, c_tile

FAST_BITS = (2, 4)
CONV_PIXELS = 6     # CB_PIXELS of mcc_conv2d_codebook_fast_s8.c
MVE_PIXELS = 4      # CB_MVE_PIXELS of mcc_conv2d_codebook_fast_s8.c
FC_BLOCK = 8        # CB_ROWS of mcc_fully_connected_codebook_fast_s8.c
CONV_KERNEL = "mcc_conv2d_codebook_fast_s8"
FC_KERNEL = "mcc_fully_connected_codebook_fast_s8"


@dataclass(frozen=True, eq=False)
class CodebookLayer:
    kernel: str
    indices: np.ndarray    # uint32 words
    codebook: np.ndarray   # int8 (1 << bits,)
    bits: int
    channels: np.ndarray   # int32 (units, 4)
    k_padded: int
    scratch_bytes: int


def products_per_word(bits: int) -> int:
    return 64 // (2 * bits)


def table_bytes(bits: int) -> int:
    return 4 << (2 * bits)


def conv_scratch_bytes(k_padded: int, bits: int) -> int:
    """mcc_conv2d_codebook_fast_s8_get_buffer_size(): the larger of the DSP path's (for 2-bit
    indices the table of pair pairs, 256 entries of 8 bytes; the pair table, widened columns,
    staging row) and the MVE path's (byte tables, int8 columns of MVE_PIXELS pixels in whole
    chunks, staging row)."""
    quad = 8 * 256 if bits == 2 else 0
    dsp = quad + table_bytes(bits) + CONV_PIXELS * 2 * k_padded + k_padded
    chunk = 32 if bits == 4 else 64
    mve = 256 * (8 // bits) + MVE_PIXELS * -(-k_padded // chunk) * chunk + k_padded
    return max(dsp, mve)


def fc_scratch_bytes(k_padded: int, bits: int) -> int:
    """mcc_fully_connected_codebook_fast_s8_get_buffer_size(): 2-bit indices add a table of
    pair pairs (256 entries of 8 bytes) for looking a byte of two fields up at once."""
    quad = 8 * 256 if bits == 2 else 0
    return quad + table_bytes(bits) + 2 * k_padded


def pair_words(indices: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    """(rows, K) indices -> (rows, words) uint32 of pair fields, and k_padded."""
    rows, k = indices.shape
    per_word = products_per_word(bits)
    k_padded = -(-k // per_word) * per_word
    padded = np.zeros((rows, k_padded), dtype=np.uint64)
    padded[:, :k] = indices
    groups = padded.reshape(rows, -1, 4)
    # per group of 4: fields (k0 | k2 << bits), (k1 | k3 << bits)
    fields = np.stack([groups[:, :, 0] | (groups[:, :, 2] << bits),
                       groups[:, :, 1] | (groups[:, :, 3] << bits)], axis=2).reshape(rows, -1, per_word // 2)
    shifts = (np.arange(per_word // 2, dtype=np.uint64) * np.uint64(2 * bits))
    words = (fields << shifts).sum(axis=2)
    return words.astype(np.uint32), k_padded


def fc_block_rows(units: int) -> list[int]:
    """Rows of each block of a fully connected layer (block_rows() of the kernel)."""
    sizes = []
    while units > 0:
        sizes.append(FC_BLOCK if units >= FC_BLOCK else 4 if units >= 4 else units)
        units -= sizes[-1]
    return sizes


def fc_blocks(words: np.ndarray) -> np.ndarray:
    """Rows in blocks of fc_block_rows(), per word position one word per row of the block."""
    out, r = [], 0
    for n in fc_block_rows(words.shape[0]):
        out.append(words[r:r + n].T.reshape(-1))
        r += n
    return np.concatenate(out)


def choose(graph: Graph, op: Op, p, rounding: str) -> CodebookLayer | None:
    """The fast codebook layout of op, or None when the portable codebook kernel stays."""
    if rounding != "tflm" or getattr(p, "rounding", "tflm") != "tflm":
        return None
    if op.kind == "fully_connected" and p.filter_offset != 0:
        return None
    encoded = encoded_weights(graph, op)
    if encoded is None or encoded.kind != "codebook" or encoded.data.index_bits not in FAST_BITS:
        return None
    cb = encoded.data
    wt = graph.tensor(op.inputs[1])
    w = np.asarray(wt.data, dtype=np.int64).reshape(wt.shape[0], -1)
    bias = specialize._bias(graph, op, w.shape[0])
    table = specialize._channel_table(np.abs(w).sum(1), w.sum(1), bias, p.input_offset, p.output_offset,
                                      p.multiplier, p.shift)
    if table is None:
        return None
    lookup = np.full(256, -1, dtype=np.int64)
    lookup[cb.codebook.astype(np.int64)[::-1] + 128] = np.arange(cb.codebook.size)[::-1]
    indices = lookup[w + 128]
    words, k_padded = pair_words(indices, cb.index_bits)
    if op.kind == "conv2d":
        return CodebookLayer(CONV_KERNEL, words.reshape(-1), cb.codebook, cb.index_bits, table, k_padded,
                             conv_scratch_bytes(k_padded, cb.index_bits))
    return CodebookLayer(FC_KERNEL, fc_blocks(words), cb.codebook, cb.index_bits, table, k_padded,
                         fc_scratch_bytes(k_padded, cb.index_bits))


def lower(b, i: int, op: Op, p, layer: CodebookLayer) -> None:
    """Emit the fast codebook kernel's call for op."""
    from mcucompress.memory.arena import scratch_name

    oid = f"op{i}_{op.kind}"
    scratch = f"(void *){b.arena(scratch_name(i))}"
    indices = b.array(f"{oid}_cb_indices", layer.indices, "uint32_t")
    codebook = b.array(f"{oid}_cb_codebook", layer.codebook, "int8_t")
    channels = b.array(f"{oid}_cb_channels", layer.channels.reshape(-1), "int32_t")
    filt = b.struct("mcc_codebook_fast_s8", f"{oid}_cb_weights",
                    {"indices": indices, "codebook": codebook, "index_bits": layer.bits})
    call_fast_kernel(b, op, p, layer.kernel, f"{oid}_cb_params", filt, layer.k_padded, channels, scratch)


def call_fast_kernel(b, op: Op, p, kernel: str, params_name: str, weights: str, k_padded: int, channels: str,
                     scratch: str) -> None:
    """Emit a call of a fast kernel that takes mcc_fc_fast_params / mcc_conv_fast_params (its
    weights unused: ``weights`` is the kernel's own argument) and a scratch buffer."""
    g = b.graph
    x, wt, out = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.output_tensor(op)
    act = c_activation(p)
    if op.kind == "fully_connected":
        units, depth = int(wt.shape[0]), int(np.prod(wt.shape[1:]))
        params = b.struct("mcc_fc_fast_params", params_name,
                          {"in_features": depth, "out_features": units, "k_padded": k_padded,
                           "activation": act, "weights": 0, "channels": channels})
        b.call(op, kernel, params, weights, str(x.size // depth), b.arena(x.name), b.arena(out.name), scratch)
        return
    units, kh, kw, in_c = (int(s) for s in wt.shape)
    params = b.struct("mcc_conv_fast_params", params_name,
                      {"kernel": c_tile((kh, kw)), "stride": c_tile(p.stride),
                       "padding": c_tile((p.padding[0], p.padding[2])), "dilation": c_tile(p.dilation),
                       "in_c": in_c, "out_c": units, "k_padded": k_padded,
                       "input_zero_point": -int(p.input_offset), "activation": act, "weights": 0,
                       "channels": channels})
    b.call(op, kernel, params, weights, b.dims_of(x.shape), b.arena(x.name), b.dims_of(out.shape),
           b.arena(out.name), scratch)
