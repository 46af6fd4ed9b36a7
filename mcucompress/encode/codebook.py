"""Codebook (clustered) weights: each int8 weight becomes a b-bit index (b = 2, 4..8: the fewest
that cover its distinct values, 1 and 3 rounded up) into a per-layer int8 codebook of 2^b entries.

Lossless; stored layout and kernel: runtime_c/codebook/mcc_fully_connected_codebook_s8.c.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mcucompress.encode.bits import pack_bits, unpack_bits
from mcucompress.encode.stored import StoredMatrix

DESCRIPTOR_BYTES = 16  # mcc_codebook_s8 on a 32-bit target: 2 pointers + 2 int32


@dataclass(frozen=True, eq=False)
class Codebook(StoredMatrix):
    DESCRIPTOR_BYTES: ClassVar[int] = DESCRIPTOR_BYTES

    index_bits: int
    codebook: np.ndarray  # int8 (2 ** index_bits,)
    indices: np.ndarray   # uint8 LSB-first bit stream


def index_bits_for(distinct: int) -> int:
    """Bits per index: 2 or 4 up to 16 values (the widths the fast kernels take, pairs of them
    filling bytes or nibbles), else the fewest that cover them."""
    bits = max(1, int(np.ceil(np.log2(max(distinct, 1)))))
    return {1: 2, 3: 4}.get(bits, bits)


def encode_codebook(w: np.ndarray) -> Codebook:
    w = np.asarray(w, dtype=np.int8)
    units, depth = w.shape
    values = np.unique(w)
    bits = index_bits_for(values.size)
    codebook = np.zeros(1 << bits, dtype=np.int8)  # padded so every index is in bounds
    codebook[:values.size] = values
    indices = np.searchsorted(values, w.ravel())
    packed, _ = pack_bits(indices, bits)
    return Codebook(int(units), int(depth), bits, codebook, packed)


def decode_codebook(cb: Codebook) -> np.ndarray:
    n = cb.units * cb.depth
    bits = unpack_bits(cb.indices, n * cb.index_bits).reshape(n, cb.index_bits).astype(np.int64)
    indices = (bits << np.arange(cb.index_bits)).sum(axis=1)
    return cb.codebook[indices].reshape(cb.units, cb.depth)
