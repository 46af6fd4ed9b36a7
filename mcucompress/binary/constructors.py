"""Constructors for binary tensors and ops of the IR (used by the converter, tests and benches)."""

from __future__ import annotations

import numpy as np

from mcucompress.binary.packing import pack_bits, words_for
from mcucompress.errors import McuError
from mcucompress.ir.graph import Op, QuantParams, Tensor

# Packed tensors carry a neutral quantization so that reshape and the model ports accept them.
PACKED_QUANT = QuantParams((1.0,), (0,))


def packed_tensor(name: str, outer: tuple[int, ...], channels: int) -> Tensor:
    """The arena bytes of a packed tensor: (*outer, 4 * ceil(channels / 32)) int8."""
    return Tensor(name, tuple(outer) + (4 * words_for(channels),), "int8", PACKED_QUANT)


def pack_weights(signs: np.ndarray, ternary: bool = False) -> np.ndarray:
    """Weights in {-1, +1} (binary) or {-1, 0, +1} (ternary), reduced over the last axis, to
    uint32 words: binary (..., words); ternary (..., 2 * words) = sign plane then mask plane."""
    signs = np.asarray(signs)
    if not ternary:
        if np.any(signs == 0):
            raise McuError("binary weights must be +1 or -1; zeros need ternary weights")
        return pack_bits(signs > 0)
    return np.concatenate([pack_bits(signs > 0), pack_bits(signs != 0)], axis=-1)


def pack_levels(levels: np.ndarray, bits: int) -> np.ndarray:
    """k-bit weights as odd integer levels L in [-(2^k - 1), 2^k - 1] (DoReFa), reduced over the
    last axis, to k sign planes (..., k * words): plane b holds bit b of (L + 2^k - 1) / 2, so
    that L = sum_b 2^b (2 bit_b - 1)."""
    levels = np.asarray(levels, dtype=np.int64)
    top = 2 ** bits - 1
    if np.any((levels + top) % 2) or np.any(np.abs(levels) > top):
        raise McuError(f"{bits}-bit weight levels must be odd integers in [-{top}, {top}]")
    q = (levels + top) // 2
    return np.concatenate([pack_bits((q >> b) & 1) for b in range(bits)], axis=-1)


def weights_tensor(name: str, packed: np.ndarray) -> Tensor:
    return Tensor(name, tuple(packed.shape), "uint32", None, np.ascontiguousarray(packed, dtype=np.uint32))


def thresholds_tensor(name: str, values) -> Tensor:
    values = np.asarray(values, dtype=np.int64)
    return Tensor(name, (len(values),), "int32", None, np.clip(values, -(1 << 30), 1 << 30).astype(np.int32))


def binarize_op(name: str, x: str, out: str, threshold: int) -> Op:
    return Op("binarize", name, (x,), (out,), {"threshold": int(threshold)})


def unpack_op(name: str, x: str, out: str) -> Op:
    return Op("unpack_bits", name, (x,), (out,), {})


def _weight_attrs(ternary: bool, planes: int) -> dict:
    if ternary:
        return {"weights": "ternary"}
    return {"weights": "planes", "planes": int(planes)} if planes > 1 else {"weights": "binary"}


def fc_op(name: str, x: str, w: str, thr: str, out: str, in_features: int, ternary: bool,
          popcount: str, planes: int = 1) -> Op:
    return Op("binary_fully_connected", name, (x, w, thr), (out,),
              {"in_features": int(in_features), "popcount": popcount, **_weight_attrs(ternary, planes)})


def conv_op(name: str, x: str, w: str, thr: str, out: str, in_channels: int, stride, padding,
            ternary: bool, popcount: str, planes: int = 1) -> Op:
    return Op("binary_conv2d", name, (x, w, thr), (out,),
              {"in_channels": int(in_channels), "stride": tuple(int(s) for s in stride),
               "padding": tuple(int(p) for p in padding), "popcount": popcount,
               **_weight_attrs(ternary, planes)})
