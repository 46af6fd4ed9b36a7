"""Sparse rows with absolute 8-bit column offsets in 256-column segments (encoding ``csr_seg``):
the layout of mcc_fully_connected_csr_seg_s8 (runtime_c/sparse/), made for gathers.

The depth is cut into S = ceil(depth / 256) segments; segment s starts at column 256 * s, the
last at depth - 256 (it may overlap the one before, so that every offset 0..255 of every segment
lands inside the row and the kernel checks no offset; a row shorter than 256 is one segment
whose offsets the kernel checks once per call). Per row and segment, in that order: a
count (uint16), then that many entries of an offset (uint8, column - segment start) and a value
(int8), columns ascending. Weights equal to the zero point are not stored. Two bytes an entry and
no filler entries: at 70% zeros 0.6 bytes a weight plus 2 * S + 12 bytes a row (the counts, and
the channel constants of the fast requantization in place of the bias).

Lossless: ``decode_csr_seg(encode_csr_seg(w, z), z)`` equals ``w``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mcucompress.encode.stored import StoredMatrix

SEGMENT = 256
DESCRIPTOR_BYTES = 20  # mcc_csr_seg_s8 on a 32-bit target: 3 pointers + 2 int32
# Per unit, the channel constants of the dense fast requantization the exporter gives the kernel
# (16 bytes) in place of the bias every encoding has (4).
CHANNEL_BYTES = 12


@dataclass(frozen=True, eq=False)
class CsrSeg(StoredMatrix):
    DESCRIPTOR_BYTES: ClassVar[int] = DESCRIPTOR_BYTES
    CHANNEL_BYTES: ClassVar[int] = CHANNEL_BYTES

    counts: np.ndarray   # uint16 (units * segments,): entries of each row's segments
    offsets: np.ndarray  # uint8 (entries,): column - segment start
    values: np.ndarray   # int8 (entries,)

    @property
    def segments(self) -> int:
        return segments(self.depth)

    @property
    def entries(self) -> int:
        return int(self.values.size)


def segments(depth: int) -> int:
    return -(-depth // SEGMENT)


def segment_starts(depth: int) -> np.ndarray:
    s = segments(depth)
    starts = np.arange(s, dtype=np.int64) * SEGMENT
    starts[-1] = max(depth - SEGMENT, 0)
    return starts


def encode_csr_seg(w: np.ndarray, zero: int) -> CsrSeg:
    w = np.asarray(w, dtype=np.int8)
    units, depth = w.shape
    rows, cols = np.nonzero(w != zero)  # row-major, columns ascending
    seg = np.minimum(cols // SEGMENT, segments(depth) - 1)
    offsets = cols - segment_starts(depth)[seg]
    counts = np.bincount(rows * segments(depth) + seg, minlength=units * segments(depth))
    return CsrSeg(int(units), int(depth), counts.astype(np.uint16), offsets.astype(np.uint8),
                  w[rows, cols].astype(np.int8))


def decode_csr_seg(data: CsrSeg, zero: int) -> np.ndarray:
    """The dense matrix back (a Python mirror of the kernel's walk)."""
    w = np.full((data.units, data.depth), zero, dtype=np.int8)
    starts = segment_starts(data.depth)
    k = 0
    for i, n in enumerate(data.counts.tolist()):
        u, s = divmod(i, data.segments)
        w[u, starts[s] + data.offsets[k:k + n].astype(np.int64)] = data.values[k:k + n]
        k += n
    return w
