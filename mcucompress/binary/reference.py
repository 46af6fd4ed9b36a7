"""numpy reference of the binary op kinds (arithmetic stated in ``binary/kernel_params.py``).

Named by the op catalogue (``ir/ops.py``), so ``run_int8`` runs graphs that mix int8 and binary
ops. Each function takes and returns the arena bytes of its tensors (int8), as the C kernels do.
"""

from __future__ import annotations

import numpy as np

from mcucompress.binary.packing import bytes_to_words, pack_bits, unpack_bits, words_to_bytes


def _pc(v: np.ndarray) -> np.ndarray:
    return np.bitwise_count(np.asarray(v, dtype=np.uint32)).astype(np.int64)


def _dot(a: np.ndarray, w: np.ndarray, n: int, ternary: bool, planes: int = 1) -> np.ndarray:
    """Dot products of +-1 vectors: a (..., words) against w (units, words * planes) -> (..., units)."""
    a = a[..., None, :]
    if not ternary:
        words = w.shape[-1] // planes
        return sum((n - 2 * _pc(a ^ w[..., b * words:(b + 1) * words]).sum(axis=-1)) << b
                   for b in range(planes))
    words = w.shape[-1] // 2
    sign, mask = w[..., :words], w[..., words:]
    return _pc(mask).sum(axis=-1) - 2 * _pc(mask & (a ^ sign)).sum(axis=-1)


def binarize(op, p, args, out_shape, graph) -> np.ndarray:
    x = np.asarray(args[0]).astype(np.int64)
    return words_to_bytes(pack_bits(x >= p.threshold))


def unpack(op, p, args, out_shape, graph) -> np.ndarray:
    bits = unpack_bits(bytes_to_words(args[0]), p.channels)
    return np.where(bits, 1, -1).astype(np.int8)


def binary_fully_connected(op, p, args, out_shape, graph) -> np.ndarray:
    a = bytes_to_words(np.asarray(args[0]).reshape(1, -1))[0]
    w, thr = args[1], args[2].astype(np.int64)
    dot = _dot(a, w, p.in_bits, p.ternary, p.planes)
    return words_to_bytes(pack_bits(dot >= thr))


def binary_conv2d(op, p, args, out_shape, graph) -> np.ndarray:
    x = bytes_to_words(np.asarray(args[0]))[0]  # (H, W, in_words)
    w, thr = args[1], args[2].astype(np.int64)
    h, wd = x.shape[:2]
    (kh, kw), (sh, sw), (top, _, left, _) = p.kernel, p.stride, p.padding
    oh, ow = out_shape[1], out_shape[2]
    dot = np.zeros((oh, ow, p.out_channels), dtype=np.int64)
    for ky in range(kh):
        iy = np.arange(oh) * sh - top + ky
        for kx in range(kw):
            ix = np.arange(ow) * sw - left + kx
            valid = ((iy >= 0) & (iy < h))[:, None] & ((ix >= 0) & (ix < wd))[None, :]
            taps = x[np.clip(iy, 0, h - 1)[:, None], np.clip(ix, 0, wd - 1)[None, :]]
            contribution = _dot(taps, w[:, ky, kx, :], p.in_channels, p.ternary, p.planes)
            dot += np.where(valid[..., None], contribution, 0)
    return words_to_bytes(pack_bits(dot >= thr))[None]
