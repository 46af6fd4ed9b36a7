"""Packed int4 weights, TFLite's INT4 convention: values -8..7 (zero point 0, one scale per
output channel), two per byte, the element with the lower index in the low nibble; a tensor
of odd size leaves the high nibble of its last byte zero (tensor_utils' UnpackDenseInt4IntoInt8
reads them back this way).

Unlike the other encodings int4 changes the numbers (encode/int4_requantize.py re-quantizes
weights to 4 bits), so it is never chosen by --optimize; a layer carries it only when asked for. Stored
for the kernels (runtime_c/int4/) as each output row's products padded with zeros to a multiple
of 8 and packed 8 to a little-endian uint32 word: the bytes of a fully connected row are
TFLite's (row_words); a conv row's nibbles take the fast codebook conv kernel's pair order
(codegen/int4_layout.conv_words).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcucompress.encode.stored import StoredMatrix
from mcucompress.errors import McuError

INT4_MIN, INT4_MAX = -8, 7
PER_WORD = 8


def check_int4(values: np.ndarray, what: str) -> np.ndarray:
    """``values`` as int64, McuError unless every one lies in -8..7."""
    v = np.asarray(values)
    if v.dtype.kind not in "iu":
        raise McuError(f"{what}: int4 values must be integers, not {v.dtype}")
    v = v.astype(np.int64)
    if v.size and (v.min() < INT4_MIN or v.max() > INT4_MAX):
        raise McuError(f"{what}: int4 values must lie in {INT4_MIN}..{INT4_MAX}, found {v.min()}..{v.max()}")
    return v


def pack_int4(values: np.ndarray) -> np.ndarray:
    """Flat values -8..7 -> uint8 bytes, two per byte, the lower index in the low nibble."""
    v = check_int4(values, "pack_int4").ravel()
    if v.size % 2:
        v = np.r_[v, 0]
    nibbles = (v & 15).astype(np.uint8)
    return (nibbles[0::2] | (nibbles[1::2] << 4)).astype(np.uint8)


def unpack_int4(packed: np.ndarray, count: int) -> np.ndarray:
    """uint8 bytes -> ``count`` int8 values; McuError when the bytes do not hold exactly
    ceil(count / 2) of them."""
    b = np.asarray(packed, dtype=np.uint8).ravel()
    if count < 0 or b.size != (count + 1) // 2:
        raise McuError(f"int4 data of {b.size} bytes cannot hold {count} values (needs {(count + 1) // 2})")
    nibbles = np.stack([b & 15, b >> 4], axis=1).ravel()[:count].astype(np.int8)
    return np.where(nibbles > INT4_MAX, nibbles - 16, nibbles).astype(np.int8)


def row_words(w: np.ndarray) -> tuple[np.ndarray, int]:
    """(units, K) values -8..7 -> (units, k_padded / 8) uint32 words of the int4 kernels, k_padded."""
    v = check_int4(w, "int4 weights")
    units, k = v.shape
    k_padded = -(-k // PER_WORD) * PER_WORD
    padded = np.zeros((units, k_padded), dtype=np.int64)
    padded[:, :k] = v
    packed = pack_int4(padded).reshape(units, k_padded // 2)
    return packed.view("<u4").astype(np.uint32), k_padded


@dataclass(frozen=True, eq=False)
class Int4Weights(StoredMatrix):
    words: np.ndarray   # uint32 (units, k_padded / 8); the kernel takes no descriptor


def encode_int4(w: np.ndarray) -> Int4Weights:
    words, _ = row_words(w)
    units, depth = np.asarray(w).shape
    return Int4Weights(int(units), int(depth), words)
