"""numpy reference of the Q-format op kinds (arithmetic stated in ``quantize/qformat_params.py``).

Named by the op catalogue (``ir/ops.py``), so ``run_int8`` runs Q-format graphs, which mix these
kinds with int8 ones (pooling, reshape, softmax). Sums of int8 products are formed with float64
matrix products, exact because they stay far below 2^53.
"""

from __future__ import annotations

import numpy as np


def rshift_round(acc: np.ndarray, shift) -> np.ndarray:
    """acc / 2^shift rounded to nearest, halves up; shift >= 0 (scalar or per last axis)."""
    acc = np.asarray(acc, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    half = np.where(shift > 0, (acc >> np.maximum(shift - 1, 0)) & 1, 0)
    return (acc >> shift) + half


def _output(acc: np.ndarray, shift, p) -> np.ndarray:
    return np.clip(rshift_round(acc, shift), p.act_min, p.act_max).astype(np.int8)


def _bias(b, channels: int) -> np.ndarray:
    return np.zeros(channels, dtype=np.int64) if b is None else np.asarray(b, dtype=np.int64)


def _windows(x: np.ndarray, out_hw, kernel_hw, p) -> np.ndarray:
    """(OH, OW, KH, KW, C) taps of x; taps in the padding read 0."""
    _, h, w, c = x.shape
    (oh, ow), (kh, kw) = out_hw, kernel_hw
    (sh, sw), (dh, dw), (top, _, left, _) = p.stride, p.dilation, p.padding
    rows = (np.arange(oh) * sh - top)[:, None] + np.arange(kh)[None, :] * dh   # (OH, KH)
    cols = (np.arange(ow) * sw - left)[:, None] + np.arange(kw)[None, :] * dw  # (OW, KW)
    inside = ((rows >= 0) & (rows < h))[:, None, :, None] & ((cols >= 0) & (cols < w))[None, :, None, :]
    taps = x[0][np.clip(rows, 0, h - 1)[:, None, :, None], np.clip(cols, 0, w - 1)[None, :, None, :]]
    return np.where(inside[..., None], taps.astype(np.int64), 0)


def conv2d_q7(op, p, args, out_shape, graph) -> np.ndarray:
    x, w, b = (list(args) + [None])[:3]
    cout, kh, kw, cin = w.shape
    taps = _windows(x, out_shape[1:3], (kh, kw), p).reshape(-1, kh * kw * cin)
    acc = (taps.astype(np.float64) @ w.reshape(cout, -1).T.astype(np.float64)).astype(np.int64)
    return _output(acc + _bias(b, cout), p.shift, p).reshape(out_shape)


def depthwise_conv2d_q7(op, p, args, out_shape, graph) -> np.ndarray:
    x, w, b = (list(args) + [None])[:3]
    _, kh, kw, cout = w.shape
    taps = np.repeat(_windows(x, out_shape[1:3], (kh, kw), p), p.depth_multiplier, axis=-1)
    acc = np.einsum("hwklc,klc->hwc", taps.astype(np.float64), w[0].astype(np.float64)).astype(np.int64)
    return _output(acc + _bias(b, cout), p.shift, p).reshape(out_shape)


def fully_connected_q7(op, p, args, out_shape, graph) -> np.ndarray:
    x, w, b = (list(args) + [None])[:3]
    rows = x.reshape(-1, w.shape[1]).astype(np.float64)
    acc = (rows @ w.T.astype(np.float64)).astype(np.int64)
    return _output(acc + _bias(b, w.shape[0]), p.shift, p).reshape(out_shape)


def add_q7(op, p, args, out_shape, graph) -> np.ndarray:
    a = args[0].astype(np.int64) << p.input1_left_shift
    b = args[1].astype(np.int64) << p.input2_left_shift
    return _output(a + b, p.shift, p).reshape(out_shape)
