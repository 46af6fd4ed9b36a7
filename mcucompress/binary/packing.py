"""Bit packing shared by the converter, the numpy reference and code generation.

A vector of C binary values (+1 -> bit 1, -1 -> bit 0) is stored in ceil(C/32) little-endian
uint32 words: value c sits in word c // 32 at bit c % 32, and the unused high bits of the last
word are 0. An NHWC activation packs each pixel's channels separately, so a packed tensor of
shape (1, H, W, C) is stored as (1, H, W, 4 * words) int8 bytes in the arena.
"""

from __future__ import annotations

import numpy as np

WORD_BITS = 32


def words_for(bits: int) -> int:
    return (int(bits) + WORD_BITS - 1) // WORD_BITS


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Boolean (..., C) -> uint32 (..., ceil(C/32)), bit c of a row at word c//32, bit c%32."""
    bits = np.asarray(bits, dtype=bool)
    channels = bits.shape[-1]
    padded = np.zeros(bits.shape[:-1] + (words_for(channels) * WORD_BITS,), dtype=np.uint64)
    padded[..., :channels] = bits
    weights = np.left_shift(np.uint64(1), np.arange(WORD_BITS, dtype=np.uint64))
    grouped = padded.reshape(bits.shape[:-1] + (-1, WORD_BITS))
    return (grouped * weights).sum(axis=-1).astype(np.uint32)


def unpack_bits(words: np.ndarray, channels: int) -> np.ndarray:
    """uint32 (..., words) -> boolean (..., channels); inverse of pack_bits."""
    words = np.asarray(words, dtype=np.uint32)
    shifts = np.arange(WORD_BITS, dtype=np.uint32)
    bits = (words[..., :, None] >> shifts) & np.uint32(1)
    return bits.reshape(words.shape[:-1] + (-1,))[..., :channels].astype(bool)


def words_to_bytes(words: np.ndarray) -> np.ndarray:
    """uint32 (..., n) -> int8 (..., 4n): the arena bytes of packed words (little endian)."""
    words = np.ascontiguousarray(np.asarray(words, dtype="<u4"))
    return words.view(np.int8).reshape(words.shape[:-1] + (4 * words.shape[-1],))


def bytes_to_words(data: np.ndarray) -> np.ndarray:
    """int8 (..., 4n) -> uint32 (..., n); inverse of words_to_bytes."""
    data = np.ascontiguousarray(np.asarray(data, dtype=np.int8))
    return data.view("<u4").reshape(data.shape[:-1] + (data.shape[-1] // 4,)).astype(np.uint32)
