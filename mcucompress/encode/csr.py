"""Compressed sparse rows of an int8 weight matrix (units, depth), as Deep Compression stores
them: per entry a value and a 4- or 8-bit *relative* column index (gap to the previous entry);
a gap too long for the index width is bridged by filler entries holding the zero point.

Lossless: ``decode_csr(encode_csr(w, z, bits), z)`` equals ``w``. Stored layout and kernel:
runtime_c/sparse/mcc_fully_connected_csr_s8.c.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mcucompress.encode.stored import StoredMatrix
from mcucompress.errors import McuError

GAP_BITS = (4, 8)
DESCRIPTOR_BYTES = 20  # mcc_csr_s8 on a 32-bit target: 3 pointers + 2 int32


@dataclass(frozen=True, eq=False)
class Csr(StoredMatrix):
    DESCRIPTOR_BYTES: ClassVar[int] = DESCRIPTOR_BYTES

    gap_bits: int
    row_entries: np.ndarray  # uint16 (units,)
    gaps: np.ndarray         # uint8, packed gap_bits per entry (low nibble first for 4 bits)
    values: np.ndarray       # int8 (entries,)

    @property
    def entries(self) -> int:
        return int(self.values.size)


def encode_csr(w: np.ndarray, zero: int, gap_bits: int) -> Csr:
    if gap_bits not in GAP_BITS:
        raise McuError(f"CSR gaps are 4 or 8 bits, not {gap_bits}")
    w = np.asarray(w, dtype=np.int8)
    units, depth = w.shape
    span = 1 << gap_bits  # positions one filler covers
    rows, cols = np.nonzero(w != zero)  # row-major order
    same_row = np.r_[False, rows[1:] == rows[:-1]] if rows.size else np.zeros(0, dtype=bool)
    prev = np.where(same_row, np.r_[-1, cols[:-1]][:cols.size], -1)  # -1 at each row start
    gap = cols - prev - 1
    fillers = gap // span
    # Each non-zero becomes `fillers` entries (gap span-1, value zero) then itself (gap % span).
    count = fillers + 1
    total = int(count.sum())
    gaps = np.full(total, span - 1, dtype=np.int64)
    values = np.full(total, zero, dtype=np.int8)
    last = np.cumsum(count) - 1
    gaps[last] = gap % span
    values[last] = w[rows, cols]
    row_entries = np.bincount(rows, weights=count, minlength=units).astype(np.int64)
    if row_entries.max(initial=0) > 0xFFFF:
        raise McuError(f"a row of {row_entries.max()} CSR entries does not fit the 16-bit row lengths")
    if gap_bits == 4:
        padded = np.r_[gaps, np.zeros(total % 2, dtype=np.int64)]
        packed = (padded[0::2] | (padded[1::2] << 4)).astype(np.uint8)
    else:
        packed = gaps.astype(np.uint8)
    return Csr(int(units), int(depth), gap_bits, row_entries.astype(np.uint16), packed, values)


def decode_csr(csr: Csr, zero: int) -> np.ndarray:
    """The dense matrix back (a Python mirror of the C kernel's walk)."""
    if csr.gap_bits == 4:
        gaps = np.stack([csr.gaps & 15, csr.gaps >> 4], axis=1).ravel()[:csr.entries]
    else:
        gaps = csr.gaps
    w = np.full((csr.units, csr.depth), zero, dtype=np.int8)
    k = 0
    for u, n in enumerate(csr.row_entries.tolist()):
        cols = np.cumsum(gaps[k:k + n].astype(np.int64) + 1) - 1
        w[u, cols] = csr.values[k:k + n]
        k += n
    return w
