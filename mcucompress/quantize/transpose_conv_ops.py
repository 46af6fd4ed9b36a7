"""transpose_conv2d: TFLite's TRANSPOSE_CONV (Keras Conv2DTranspose). Everything about the kind
sits here (registered in ir/ops.py).

Input x (1, H, W, Cin), weights (Cout, KH, KW, Cin) quantized per output channel, bias (Cout,)
int32 or None, output (1, OH, OW, Cout). Input pixel (iy, ix) adds x * w[:, ky, kx, :] to output
pixel (iy * sh - pad_top + ky, ix * sw - pad_left + kx) (TFLM's scatter). The int32 sums are
exact, so gathering them per output pixel (what the C does, with no scratch) gives the same
accumulator; bias and the per-channel requantization then follow conv2d's arithmetic exactly
(``params._conv``: multiplier and shift from input scale x weight scale / output scale).

Attributes: ``stride`` (sh, sw), ``padding`` (top, bottom, left, right) where only top and left
are read (TFLM's transpose conv ignores the far side: the output size is given), ``activation``.
"""

from __future__ import annotations

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.activation import fused_activation
from mcucompress.ir.graph import Graph, Op
from mcucompress.quantize import fixedpoint as fp


def transpose_padding(in_size: int, out_size: int, kernel: int, stride: int, same: bool) -> int:
    """The leading padding TFLM computes for a transpose conv (ComputePaddingHeightWidth with the
    output as the convolution's input): SAME or VALID over the output size, floor of half."""
    windows = (out_size + stride - 1) // stride if same else (out_size - kernel + stride) // stride
    return max(0, (windows - 1) * stride + kernel - out_size) // 2


def transpose_conv_params(graph: Graph, op: Op, rounding: str = "tflm"):
    from mcucompress.quantize.params import _conv

    x, w, out = graph.tensors[op.inputs[0]], graph.tensors[op.inputs[1]], graph.output_tensor(op)
    if len(x.shape) != 4 or len(w.shape) != 4 or len(out.shape) != 4 or w.shape[3] != x.shape[3] or \
            w.shape[0] != out.shape[3] or x.shape[0] != out.shape[0]:
        raise McuError(f"op '{op.name}' (transpose_conv2d): weights {list(w.shape)} do not fit input "
                       f"{list(x.shape)} and output {list(out.shape)}")
    return _conv(graph, op, rounding)


def _accumulate(x: np.ndarray, w: np.ndarray, out_hw, stride, padding) -> np.ndarray:
    """sum over taps of x * w scattered to the output, int64 (exact), shape (N, OH, OW, Cout)."""
    n, h, wd, _ = x.shape
    cout, kh, kw, _ = w.shape
    sh, sw = stride
    top, left = padding[0], padding[2]
    oh, ow = out_hw
    # a canvas that holds every tap's reach and the output window (output padding may exceed it)
    rows = max((h - 1) * sh + kh, top + oh)
    cols = max((wd - 1) * sw + kw, left + ow)
    canvas = np.zeros((n, rows, cols, cout), dtype=np.float64)
    xf = x.astype(np.float64)
    for ky in range(kh):
        for kx in range(kw):
            canvas[:, ky:ky + (h - 1) * sh + 1:sh, kx:kx + (wd - 1) * sw + 1:sw] += xf @ w[:, ky, kx, :].T.astype(np.float64)
    return canvas[:, top:top + oh, left:left + ow]


def int8_reference(op: Op, p, args, out_shape, graph) -> np.ndarray:
    x, w, b = (list(args) + [None])[:3]
    acc = _accumulate(x.astype(np.int64) + p.input_offset, w.astype(np.int64), out_shape[1:3],
                      p.stride, p.padding).astype(np.int64)
    if b is not None:
        acc = acc + np.asarray(b, dtype=np.int64)
    return fp.requantize_accumulator(acc, p).reshape(out_shape)


def float_reference(graph: Graph, op: Op, x, w, b) -> np.ndarray:
    _, oh, ow, _ = graph.output_tensor(op).shape
    y = _accumulate(np.asarray(x, np.float64), np.asarray(w, np.float64), (oh, ow), op.attrs["stride"],
                    op.attrs["padding"]).astype(np.float32)
    if b is not None:
        y += b
    return fused_activation(y, op.attrs.get("activation", "none"))


def lower(b, i: int, op: Op) -> None:
    from mcucompress.quantize.params import c_activation, c_tile, kernel_params

    x, w, bias, out = b.weighted(op)
    p = kernel_params(b.graph, op, b.rounding)
    b.check_rounding(op, p)
    oid = f"op{i}_{op.kind}"
    params = b.struct("mcc_conv_params", f"{oid}_params",
                      {"input_offset": p.input_offset, "output_offset": p.output_offset, "stride": c_tile(p.stride),
                       "padding": c_tile((p.padding[0], p.padding[2])), "dilation": c_tile((1, 1)),
                       "activation": c_activation(p)})
    b.call(op, "mcc_transpose_conv2d_s8", params, b.quant(oid, p), b.dims_of(x.shape), b.arena(x.name),
           b.dims_of(w.shape), b.constant(oid, "weights", w), b.constant(oid, "bias", bias),
           b.dims_of(out.shape), b.arena(out.name))
