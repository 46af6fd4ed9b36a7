"""Bit packing shared by the encodings. Codebook indices are read as stream bit i =
``(bytes[i >> 3] >> (i & 7)) & 1`` (bytes filled from their least significant bit, bitorder
"little"); Huffman streams as ``(bytes[i >> 3] >> (7 - (i & 7))) & 1`` (bitorder "big"), so the
decoder can load the next bits of a code into the top of a register byte by byte."""

from __future__ import annotations

import numpy as np


def pack_bits(values: np.ndarray, widths: np.ndarray | int, msb_first: bool = False,
                   bitorder: str = "little") -> tuple[np.ndarray, int]:
    """Concatenate ``values[k]`` written in ``widths[k]`` bits into a byte stream.

    Each value's bits go least significant first (indices) or, with ``msb_first``, most
    significant first (Huffman codes, which the decoder grows one bit at a time).
    Returns (uint8 bytes, number of bits)."""
    values = np.asarray(values, dtype=np.int64).ravel()
    widths = np.broadcast_to(np.asarray(widths, dtype=np.int64), values.shape)
    if values.size == 0:
        return np.zeros(0, dtype=np.uint8), 0
    top = int(widths.max())
    j = np.arange(top, dtype=np.int64)[None, :]
    shift = (widths[:, None] - 1 - j) if msb_first else np.broadcast_to(j, (values.size, top))
    bits = (values[:, None] >> np.maximum(shift, 0)) & 1
    keep = j < widths[:, None]
    stream = bits[keep].astype(np.uint8)
    return np.packbits(stream, bitorder=bitorder), int(stream.size)


def unpack_bits(data: np.ndarray, num_bits: int, bitorder: str = "little") -> np.ndarray:
    """The stream's bits (0/1 uint8) in reading order."""
    return np.unpackbits(np.asarray(data, dtype=np.uint8), bitorder=bitorder)[:num_bits]
