"""Seed inputs for fuzz/fuzz_decoders.c: well-formed encodings of random sparse and clustered
weight matrices, written with mcucompress.encode in the harness's byte layout.

    python fuzz/make_seeds.py OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mcucompress.encode import codebook, csr, csr_pair, csr_seg, huffman


def _u(value: int, n: int) -> bytes:
    return int(value).to_bytes(n, "little")


def _table(t: huffman.HuffmanTable) -> bytes:
    return _u(t.max_len, 1) + _u(t.symbols.size + 2, 2) + t.counts.astype("<u2").tobytes() + t.symbols.astype("<i2").tobytes()


def _channel_bytes(rng, units: int, present) -> bytes:
    """The sparse FC kinds' channel-constants flag byte, then (when present) 6 random bytes a unit
    that the harness turns into each unit's bias, multiplier and shift."""
    return _u(1, 1) + rng.integers(0, 256, 6 * units).astype(np.uint8).tobytes() if present else _u(0, 1)


def _segmented_rows(rng) -> np.ndarray:
    """int8 weights for the 256-column segment encodings: 1..24 rows, half of them as long as one
    segment at most and half 256..700 long, of five values with 50-97% zeros."""
    units, depth = int(rng.integers(1, 25)), int(rng.choice([int(rng.integers(1, 256)), int(rng.integers(256, 701))]))
    w = rng.choice(np.array([-100, -9, 4, 30, 127]), size=(units, depth))
    w[rng.random((units, depth)) < rng.uniform(0.5, 0.97)] = 0
    return w.astype(np.int8)


def seeds(count: int = 24):
    rng = np.random.default_rng(0)
    for i in range(count):
        units, depth = int(rng.integers(1, 25)), int(rng.integers(1, 81))
        w = rng.choice(np.array([-100, -9, 4, 30, 127]), size=(units, depth))
        w[rng.random((units, depth)) < rng.uniform(0.3, 0.97)] = 0
        w = w.astype(np.int8)
        head = _u(i % 3, 1) + _u(units - 1, 1) + _u(depth - 1, 1) + _u(0, 1)
        head += rng.integers(-128, 128, depth).astype(np.int8).tobytes()
        if i % 3 == 0:
            c = csr.encode_csr(w, 0, 4 if i % 2 else 8)
            body = (_u(c.gap_bits == 8, 1) + _u(c.entries, 2) + c.row_entries.astype("<u2").tobytes()
                    + c.gaps.tobytes() + c.values.tobytes())
        elif i % 3 == 1:
            cb = codebook.encode_codebook(w)
            body = _u(cb.index_bits, 1) + _u(cb.indices.size, 2) + cb.indices.tobytes() + cb.codebook.tobytes()
        else:
            h = huffman.encode_sparse(w, 0) if i % 2 else huffman.encode_dense(w)
            body = _u(h.runs is not None, 1) + _table(h.values) + (_table(h.runs) if h.runs is not None else b"")
            body += _u(h.num_bits, 2) + h.bits.tobytes()
        yield head + body


def conv_seeds(count: int = 8):
    """conv2d seeds: the harness's conv header, then the same CSR / codebook bodies over the
    im2col weight matrix (out, kh * kw * c)."""
    rng = np.random.default_rng(1)
    for i in range(count):
        h, w, c = int(rng.integers(3, 8)), int(rng.integers(3, 8)), int(rng.integers(1, 10))
        n, kh, kw = int(rng.integers(1, 7)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        weights = rng.choice(np.array([-80, -5, 6, 90]), size=(n, kh * kw * c))
        weights[rng.random(weights.shape) < 0.7] = 0
        weights = weights.astype(np.int8)
        head = _u(3 + i % 2, 1) + bytes(3)  # the harness reads (and ignores) the FC shape bytes
        head += b"".join(_u(v - 1, 1) for v in (h, w, c, n, kh, kw)) + _u(i % 2, 1) + _u(i % 2, 1)
        head += rng.integers(-128, 128, h * w * c).astype(np.int8).tobytes()
        if i % 2 == 0:
            m = csr.encode_csr(weights, 0, 4 if i % 4 else 8)
            body = (_u(m.gap_bits == 8, 1) + _u(m.entries, 2) + m.row_entries.astype("<u2").tobytes()
                    + m.gaps.tobytes() + m.values.tobytes())
        else:
            cb = codebook.encode_codebook(weights)
            body = _u(cb.index_bits, 1) + _u(cb.indices.size, 2) + cb.indices.tobytes() + cb.codebook.tobytes()
        yield head + body


def fast_codebook_seeds(count: int = 8):
    """Fast codebook seeds (conv2d, fully connected): the kind, then shapes, offsets, codebook,
    index words, input and requantization constants - any bytes are valid there."""
    rng = np.random.default_rng(2)
    for i in range(count):
        yield _u(5 + i % 2, 1) + bytes(3) + rng.integers(0, 256, 1500).astype(np.uint8).tobytes()


def lookup_seeds(count: int = 8):
    """Huffman lookup-table seeds: the FC header, then lookup_bits, num_bits, table, stream, and
    channel constants or not (1 byte; their bytes come next)."""
    rng = np.random.default_rng(3)
    for i in range(count):
        units, depth = int(rng.integers(1, 25)), int(rng.integers(1, 81))
        w = np.clip(rng.standard_t(2.0, size=(units, depth)) * 8, -128, 127).astype(np.int8)
        h = huffman.encode_lookup(w, bits=int(rng.integers(8, 13)) if i % 2 else huffman.LUT_BITS)
        head = _u(7, 1) + _u(units - 1, 1) + _u(depth - 1, 1) + _u(i % 8, 1)
        head += rng.integers(-128, 128, depth * (1 + i % 2)).astype(np.int8).tobytes()
        channels = _channel_bytes(rng, units, i % 4 == 0)
        yield (head + _u(h.lookup_bits, 1) + _u(h.num_bits, 2) + h.lookup.astype("<u4").tobytes() + h.bits.tobytes()
               + channels)


def _segmented_seeds(seed: int, count: int, layout):
    """Seeds of a 256-column segment encoding: ``layout(i, w, channels)`` writes the header and
    the encoded weights of seed i; one or two batches of input follow."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        w = _segmented_rows(rng)
        channels = _channel_bytes(rng, w.shape[0], i % 2)
        yield layout(i, w, channels) + rng.integers(-128, 128, w.shape[1] * (1 + i % 2)).astype(np.int8).tobytes()


def segment_seeds(count: int = 8):
    """csr_seg seeds: the FC header, depth (2 bytes), channel constants or not (1 byte; their bytes
    come next), entries, counts, offsets, values, input."""

    def layout(i, w, channels):
        (units, depth), m = w.shape, csr_seg.encode_csr_seg(w, 0)
        head = _u(8, 1) + _u(units - 1, 1) + _u(0, 1) + _u(i % 8, 1) + _u(depth - 1, 2) + channels + _u(m.entries, 2)
        return head + m.counts.astype("<u2").tobytes() + m.offsets.tobytes() + m.values.tobytes()

    return _segmented_seeds(4, count, layout)


def pair_seeds(count: int = 8):
    """csr_pair seeds: the FC header, depth (2 bytes), channel constants or not (1 byte; their
    bytes come next), the group count, counts, groups, input."""

    def layout(i, w, channels):
        (units, depth), m = w.shape, csr_pair.encode_csr_pair(w, 0)
        head = _u(10, 1) + _u(units - 1, 1) + _u(0, 1) + _u(i % 8, 1) + _u(depth - 1, 2) + channels
        return head + _u(m.groups_count, 2) + m.counts.tobytes() + m.groups.astype("<u4").tobytes()

    return _segmented_seeds(5, count, layout)


def int4_seeds(count: int = 8):
    """int4 seeds (conv2d and fully connected in turn): the kind, then shapes, offsets, packed
    words, input and requantization constants - any bytes are valid there."""
    rng = np.random.default_rng(4)
    for i in range(count):
        yield _u(9, 1) + _u(i % 2, 1) + rng.integers(0, 256, 1500).astype(np.uint8).tobytes()


# File name prefix -> seed generator; the harness reads the kind from each file's first byte, the
# prefix only tells a person which kernel a seed is for.
SEED_FILES = (("seed", seeds), ("conv", conv_seeds), ("fast", fast_codebook_seeds), ("lut", lookup_seeds),
              ("seg", segment_seeds), ("pair", pair_seeds), ("int4", int4_seeds))


def main(out: str) -> int:
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, generate in SEED_FILES:
        for i, data in enumerate(generate()):
            (folder / f"{prefix}{i:02d}").write_bytes(data)
    return 0

if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
