"""Sparse rows as windows of two adjacent columns in 256-column segments (encoding ``csr_pair``):
the layout of mcc_fully_connected_csr_pair_s8 (runtime_c/sparse/), made for SMLAD.

Segments as csr_seg (segment s at column 256 * s, the last at depth - 256, so every offset
0..255 lands inside the row). Each row's non-zero columns are covered left to right by windows
of two columns: a window starts at the first column not yet covered and takes the next one too,
whatever it holds (at 30% density a window carries 1.3 non-zero weights on average). A window
belongs to the segment of its first column: an 8-bit offset and two int8 weights. Per row and
segment the windows are padded to a multiple of 4 (offset 0, zero point) and stored as groups
of three little-endian words (mcc.h, mcc_csr_pair_s8):

    word 0: offset 0, weight 0a, offset 1, weight 0b
    word 1: offset 2, weight 2a, offset 3, weight 2b
    word 2: weight 1a, weight 3a, weight 1b, weight 3b

with a uint8 count of groups per row and segment. A window's second column may be column
``depth`` (past the row): its weight is the zero point and the kernel reads 0 there.

Lossless: ``decode_csr_pair(encode_csr_pair(w, z), z)`` equals ``w``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mcucompress.encode.csr_seg import SEGMENT, segment_starts, segments
from mcucompress.encode.stored import StoredMatrix
from mcucompress.errors import McuError

DESCRIPTOR_BYTES = 16  # mcc_csr_pair_s8 on a 32-bit target: 2 pointers + 2 int32
# Per unit, the dense fast requantization's channel constants in place of the bias (as csr_seg).
CHANNEL_BYTES = 12
WINDOWS = 4            # windows in a group


@dataclass(frozen=True, eq=False)
class CsrPair(StoredMatrix):
    DESCRIPTOR_BYTES: ClassVar[int] = DESCRIPTOR_BYTES
    CHANNEL_BYTES: ClassVar[int] = CHANNEL_BYTES

    counts: np.ndarray   # uint8 (units * segments,): groups of each row's segments
    groups: np.ndarray   # uint32 (groups * 3,)

    @property
    def segments(self) -> int:
        return segments(self.depth)

    @property
    def groups_count(self) -> int:
        return int(self.groups.size // 3)


def windows(columns: np.ndarray) -> list[int]:
    """First columns of the windows covering ``columns`` (ascending), left to right."""
    starts, end = [], -1
    for c in columns.tolist():
        if c > end:
            starts.append(c)
            end = c + 1
    return starts


def encode_csr_pair(w: np.ndarray, zero: int) -> CsrPair:
    w = np.asarray(w, dtype=np.int8)
    units, depth = w.shape
    n_seg, starts = segments(depth), segment_starts(depth)
    padded = np.concatenate([w, np.full((units, 1), zero, dtype=np.int8)], axis=1)  # column depth
    counts = np.zeros(units * n_seg, dtype=np.int64)
    offsets, first, second = [], [], []
    for u in range(units):
        cols = np.asarray(windows(np.nonzero(w[u] != zero)[0]), dtype=np.int64)
        seg = np.minimum(cols // SEGMENT, n_seg - 1)
        for s in range(n_seg):
            mine = cols[seg == s]
            n = -(-mine.size // WINDOWS) * WINDOWS
            counts[u * n_seg + s] = n // WINDOWS
            offsets.append(np.r_[mine - starts[s], np.zeros(n - mine.size, dtype=np.int64)])
            first.append(np.r_[padded[u, mine], np.full(n - mine.size, zero)])
            second.append(np.r_[padded[u, mine + 1], np.full(n - mine.size, zero)])
    if counts.size and counts.max() > 255:
        raise McuError("csr_pair: more than 255 groups in a segment")
    o = np.concatenate(offsets).astype(np.uint8).reshape(-1, WINDOWS)
    a = np.concatenate(first).astype(np.int8).view(np.uint8).reshape(-1, WINDOWS)
    b = np.concatenate(second).astype(np.int8).view(np.uint8).reshape(-1, WINDOWS)
    words = np.stack([
        np.stack([o[:, 0], a[:, 0], o[:, 1], b[:, 0]], axis=1),
        np.stack([o[:, 2], a[:, 2], o[:, 3], b[:, 2]], axis=1),
        np.stack([a[:, 1], a[:, 3], b[:, 1], b[:, 3]], axis=1)], axis=1)   # (groups, 3, 4 bytes)
    groups = np.ascontiguousarray(words.reshape(-1)).view("<u4").astype(np.uint32)
    return CsrPair(int(units), int(depth), counts.astype(np.uint8), groups)


def unpack_groups(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offsets, first weights, second weights), (groups, 4) each, windows in order."""
    by = np.asarray(groups, dtype="<u4").view(np.uint8).reshape(-1, 3, 4)
    offsets = by[:, [0, 0, 1, 1], [0, 2, 0, 2]]
    first = by[:, [0, 2, 1, 2], [1, 0, 1, 1]].view(np.int8)
    second = by[:, [0, 2, 1, 2], [3, 2, 3, 3]].view(np.int8)
    return offsets, first, second


def decode_csr_pair(data: CsrPair, zero: int) -> np.ndarray:
    """The dense matrix back (a Python mirror of the kernel's walk)."""
    w = np.full((data.units, data.depth + 1), zero, dtype=np.int8)
    starts = segment_starts(data.depth)
    offsets, first, second = unpack_groups(data.groups)
    g = 0
    for i, n in enumerate(data.counts.tolist()):
        u, s = divmod(i, data.segments)
        cols = starts[s] + offsets[g:g + n].reshape(-1).astype(np.int64)
        a, b = first[g:g + n].reshape(-1), second[g:g + n].reshape(-1)
        real = (a != zero) | (b != zero)   # padding windows (offset 0, zero point) add nothing
        w[u, cols[real]] = a[real]
        w[u, cols[real] + 1] = b[real]
        g += n
    return w[:, :data.depth]
