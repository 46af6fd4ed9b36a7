"""Export-time choice of mcc_conv2d_csr_fast_s8 (runtime_c/sparse/mcc_conv2d_csr_fast_s8.c) for
conv2d layers whose weights are stored as CSR: the same weights and descriptor as
mcc_conv2d_csr_s8, walked once for several output pixels, with the entries' columns decoded
once per call into 16-bit offsets into the padded input rows of one output row (arena scratch).

Layers whose band (k_h padded input rows) holds more than 65536 values, or whose window table
(8 bytes per window position) more than 65536 bytes, keep mcc_conv2d_csr_s8.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcucompress.codegen import specialize
from mcucompress.encode.choose import encoded_weights
from mcucompress.ir.graph import Graph, Op

KERNEL = "mcc_conv2d_csr_fast_s8"
PIXELS = 4          # PIXELS of mcc_conv2d_csr_fast_s8.c
LANES = 8           # LANES of mcc_conv2d_csr_fast_s8.c
MAX_BAND = 65536    # offsets are 16-bit


@dataclass(frozen=True, eq=False)
class CsrConvLayer:
    kernel: str
    scratch_bytes: int
    channels: np.ndarray | None  # int32 (out_c, 4) of the dense fast kernels, or None (portable requantization)


def band_values(in_c: int, kernel: tuple[int, int], out_w: int, stride_w: int, dilation_w: int) -> int:
    """k_h padded input rows of one output row (values), as the kernel's csr_band_geometry."""
    kh, kw = kernel
    return kh * ((out_w - 1) * stride_w + (kw - 1) * dilation_w + 1) * in_c


def scratch_bytes(entries: int, out_c: int, band: int, window: int) -> int:
    """mcc_conv2d_csr_fast_s8_get_buffer_size(): the decoded entries (MVE: 16-bit offsets and
    weights, each channel's padded to a multiple of LANES, and PIXELS sums per channel; DSP: two
    words per window of two positions, a window count and the 4 channel constants per channel and
    one window for a channel without entries,
    the pair table of PIXELS words per window position and the band as int16; otherwise a word per
    entry and the window table of PIXELS int16 values per window position), a weight sum per
    channel, the band."""
    padded = entries + (LANES - 1) * out_c
    mve = (2 * padded + 3) // 4 * 4 + (padded + 3) // 4 * 4 + 4 * PIXELS * out_c
    scalar = 4 * entries + 2 * PIXELS * window
    dsp = 8 * entries + 28 * out_c + 4 * PIXELS * window + 2 * band
    return max(mve, scalar, dsp) + 4 * out_c + band


def choose(graph: Graph, op: Op, p, rounding: str) -> CsrConvLayer | None:
    """The fast CSR conv kernel for op, or None when mcc_conv2d_csr_s8 stays. Under TFLite's
    rounding, with channel constants exact for the dense fast kernels' requantization, it takes
    those (specialize._channel_table)."""
    encoded = encoded_weights(graph, op)
    if op.kind != "conv2d" or encoded is None or encoded.kind not in ("csr4", "csr8"):
        return None
    x, w, out = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.output_tensor(op)
    if len(x.shape) != 4 or len(w.shape) != 4 or w.shape[-1] != x.shape[-1] or not -127 <= p.input_offset <= 128:
        return None
    kh, kw, in_c = int(w.shape[1]), int(w.shape[2]), int(x.shape[-1])
    band = band_values(in_c, (kh, kw), int(out.shape[2]), int(p.stride[1]), int(p.dilation[1]))
    window = kh * ((kw - 1) * int(p.dilation[1]) + 1) * in_c
    if band > MAX_BAND or 2 * PIXELS * window > MAX_BAND:
        return None
    return CsrConvLayer(KERNEL, scratch_bytes(encoded.data.entries, int(w.shape[0]), band, window),
                        channel_constants(graph, op, p, rounding))


def channel_constants(graph: Graph, op: Op, p, rounding: str) -> np.ndarray | None:
    """The dense fast kernels' {2 * folded bias, multiplier, round, shift} per output channel of a
    CSR layer (specialize._channel_table), or None: under LiteRT rounding, with a filter offset,
    or when the fast requantization would not be exact."""
    if rounding != "tflm" or getattr(p, "rounding", "tflm") != "tflm" or getattr(p, "filter_offset", 0) != 0:
        return None
    w = graph.tensor(op.inputs[1])
    rows = np.asarray(w.data, dtype=np.int64).reshape(w.shape[0], -1)
    return specialize._channel_table(np.abs(rows).sum(1), rows.sum(1), specialize._bias(graph, op, rows.shape[0]),
                                     p.input_offset, p.output_offset, p.multiplier, p.shift)
