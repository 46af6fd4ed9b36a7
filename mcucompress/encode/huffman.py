"""Canonical, length-limited Huffman coding of weight streams.

Two layouts (decoder: runtime_c/huffman/mcc_fully_connected_huffman_s8.c):
- dense: the units * depth int8 weights, row-major, one value code each;
- sparse: per row, (run, value) pairs - run r skips r zero weights - then the end-of-row run -1.
  Runs and values have separate code tables; their codes interleave in one bit stream.

The ``huffman_lut`` variant (decoder: runtime_c/huffman/mcc_fully_connected_huffman_lut_s8.c)
stores one value code per weight, codes of at most LUT_BITS bits, and, instead of the canonical
table, a lookup table of 2^LUT_BITS words: entry v decodes every code that ends within the
next LUT_BITS stream bits v (stream bit pos + j is bit j of v; up to three weights) - bytes 0-2
the weights, bits 24-27 the bits they take, bits 30-31 their number less one. Its stream is read
least significant bit first (bit i = (bytes[i >> 3] >> (i & 7)) & 1, each code's first bit
first: one little-endian word load and a shift give the next bits) and orders the weights so
that the decoder can multiply two rows at once: per pair of rows, chunks of LUT_CHUNK weights
alternate between the two rows (an odd last row follows whole).

A table is stored as the canonical code's counts per length and its symbols in code order (as
zlib's puff decodes them), so it costs 2 bytes per code length plus 2 per symbol. Codes are at
most ``max_len`` bits: when plain Huffman would be longer, the counts are halved (keeping every
symbol at least 1) and the code rebuilt, which stays within a fraction of a percent of optimal
for the skewed weight statistics seen here and bounds the decoder's loop.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from mcucompress.encode.bits import pack_bits, unpack_bits
from mcucompress.errors import McuError

MAX_LEN = 12           # default code length limit (the C decoder accepts up to 15)
C_MAX_LEN = 15
END_OF_ROW = -1
DESCRIPTOR_BYTES = 40  # mcc_huffman_s8 on a 32-bit target: pointer + int32 + 2 tables of 16
LUT_BITS = 12          # lookup table index width (the C decoder's MCC_HUFFMAN_LUT_MAX_BITS)
LUT_SYMBOLS = 3        # weights one lookup yields at most
LUT_CHUNK = 128        # weights of a row per chunk of the huffman_lut stream order
LUT_DESCRIPTOR_BYTES = 16  # mcc_huffman_lut_s8: 2 pointers + 2 int32


@dataclass(frozen=True, eq=False)
class HuffmanTable:
    counts: np.ndarray   # uint16 (max_len,): codes of length 1..max_len
    symbols: np.ndarray  # int16, in canonical code order

    @property
    def max_len(self) -> int:
        return int(self.counts.size)

    @property
    def nbytes(self) -> int:
        return self.counts.nbytes + self.symbols.nbytes

    def codes(self) -> dict[int, tuple[int, int]]:
        """symbol -> (code, length), canonical: consecutive codes within a length."""
        out, code, index = {}, 0, 0
        for length, count in enumerate(self.counts.tolist(), start=1):
            for k in range(count):
                out[int(self.symbols[index + k])] = (code + k, length)
            index += count
            code = (code + count) << 1
        return out


@dataclass(frozen=True, eq=False)
class HuffmanWeights:
    units: int
    depth: int
    values: HuffmanTable
    runs: HuffmanTable | None  # None: dense layout
    bits: np.ndarray           # uint8 stream
    num_bits: int
    lookup: np.ndarray | None = None  # uint32 (2^lookup_bits,): the huffman_lut decoder's table
    lookup_bits: int = 0

    @property
    def nbytes(self) -> int:
        if self.lookup is not None:  # the lookup table replaces the canonical one on the device
            return self.bits.nbytes + self.lookup.nbytes + LUT_DESCRIPTOR_BYTES
        runs = self.runs.nbytes if self.runs is not None else 0
        return self.bits.nbytes + self.values.nbytes + runs + DESCRIPTOR_BYTES


def _huffman_lengths(counts: list[int]) -> list[int]:
    """Code length of each symbol (ties broken by position, so the result is deterministic)."""
    if len(counts) == 1:
        return [1]
    heap = [(c, i, (i,)) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    lengths = [0] * len(counts)
    order = len(counts)
    while len(heap) > 1:
        c1, _, s1 = heapq.heappop(heap)
        c2, _, s2 = heapq.heappop(heap)
        for s in s1 + s2:
            lengths[s] += 1
        heapq.heappush(heap, (c1 + c2, order, s1 + s2))
        order += 1
    return lengths


def build_table(symbols: np.ndarray, max_len: int = MAX_LEN) -> HuffmanTable:
    """The canonical code of a symbol stream, no code longer than max_len bits."""
    if not 1 <= max_len <= C_MAX_LEN:
        raise McuError(f"Huffman code length limit must be 1..{C_MAX_LEN}, not {max_len}")
    alphabet, counts = np.unique(np.asarray(symbols, dtype=np.int64), return_counts=True)
    if alphabet.size == 0:
        raise McuError("cannot build a Huffman code for an empty stream")
    if alphabet.size > (1 << max_len):
        raise McuError(f"{alphabet.size} symbols do not fit codes of at most {max_len} bits")
    counts = counts.tolist()
    lengths = _huffman_lengths(counts)
    while max(lengths) > max_len:
        counts = [max(1, c >> 1) for c in counts]
        lengths = _huffman_lengths(counts)
    order = sorted(range(alphabet.size), key=lambda i: (lengths[i], int(alphabet[i])))
    top = max(lengths)
    per_length = np.bincount(lengths, minlength=top + 1)[1:]
    return HuffmanTable(per_length.astype(np.uint16), alphabet[order].astype(np.int16))


def _encode_stream(tables_and_symbols: list[tuple[HuffmanTable, np.ndarray]], order: np.ndarray,
                   bitorder: str = "big") -> tuple[np.ndarray, int]:
    """Bit stream of several symbol streams interleaved: order[k] names the stream of the k-th code."""
    codes = np.zeros(order.size, dtype=np.int64)
    widths = np.zeros(order.size, dtype=np.int64)
    for which, (table, symbols) in enumerate(tables_and_symbols):
        lookup = table.codes()
        where = order == which
        pairs = np.array([lookup[int(s)] for s in np.unique(symbols)], dtype=np.int64).reshape(-1, 2)
        alphabet = np.unique(symbols)
        idx = np.searchsorted(alphabet, symbols)
        codes[where] = pairs[idx, 0]
        widths[where] = pairs[idx, 1]
    return pack_bits(codes, widths, msb_first=True, bitorder=bitorder)


def encode_dense(w: np.ndarray, max_len: int = MAX_LEN) -> HuffmanWeights:
    w = np.asarray(w, dtype=np.int8)
    symbols = w.ravel().astype(np.int64)
    table = build_table(symbols, max_len)
    bits, n = _encode_stream([(table, symbols)], np.zeros(symbols.size, dtype=np.int64))
    return HuffmanWeights(int(w.shape[0]), int(w.shape[1]), table, None, bits, n)


def build_lookup(table: HuffmanTable, bits: int = LUT_BITS) -> np.ndarray:
    """The multi-symbol lookup table of a canonical code whose codes are at most ``bits`` long
    (layout in the module docstring). Bit patterns no code starts (an incomplete code, e.g. of
    one symbol) decode as weight 0 taking every bit: a valid stream never reaches them."""
    if not 1 <= table.max_len <= bits <= LUT_BITS:
        raise McuError(f"a lookup table of {bits} bits needs codes of 1..{bits} bits, not {table.max_len}")
    size = 1 << bits
    # By the next bits read most significant first (prefix), then re-indexed by the stream's order.
    first_symbol = np.zeros(size, dtype=np.int64)
    first_len = np.zeros(size, dtype=np.int64)  # 0: no code starts with these bits
    for symbol, (code, length) in table.codes().items():
        start = code << (bits - length)
        first_symbol[start:start + (1 << (bits - length))] = symbol
        first_len[start:start + (1 << (bits - length))] = length
    v = np.arange(size, dtype=np.int64)
    valid = first_len > 0
    taken = np.where(valid, first_len, bits)
    count = np.ones(size, dtype=np.int64)
    entry = np.where(valid, first_symbol & 0xFF, 0)
    more = valid.copy()
    for k in range(1, LUT_SYMBOLS):
        rest = (v << taken) & (size - 1)
        length = first_len[rest]
        more &= (length > 0) & (taken + length <= bits)
        entry |= np.where(more, (first_symbol[rest] & 0xFF) << (8 * k), 0)
        taken = np.where(more, taken + length, taken)
        count += more
    entry |= (taken << 24) | ((count - 1) << 30)
    return entry[_reversed_bits(v, bits)].astype(np.uint32)


def _reversed_bits(v: np.ndarray, bits: int) -> np.ndarray:
    return sum(((v >> j) & 1) << (bits - 1 - j) for j in range(bits))


def lookup_order(units: int, depth: int) -> np.ndarray:
    """Flat (row-major) indices of the weights in huffman_lut stream order."""
    index = np.arange(units * depth).reshape(units, depth)
    parts = []
    for u in range(0, units - 1, 2):
        for d in range(0, depth, LUT_CHUNK):
            parts += [index[u, d:d + LUT_CHUNK], index[u + 1, d:d + LUT_CHUNK]]
    if units % 2:
        parts.append(index[-1])
    return np.concatenate(parts)


def encode_lookup(w: np.ndarray, bits: int = LUT_BITS) -> HuffmanWeights:
    """The huffman_lut encoding: stream in lookup_order, codes of at most ``bits`` bits, the table."""
    w = np.asarray(w, dtype=np.int8)
    symbols = w.ravel()[lookup_order(*w.shape)].astype(np.int64)
    table = build_table(symbols, bits)
    stream, n = _encode_stream([(table, symbols)], np.zeros(symbols.size, dtype=np.int64), bitorder="little")
    return HuffmanWeights(int(w.shape[0]), int(w.shape[1]), table, None, stream, n,
                          lookup=build_lookup(table, bits), lookup_bits=bits)


def lookup_windows(hw: HuffmanWeights) -> np.ndarray:
    """The lookup index at every stream bit position (bits past the end read as 0)."""
    k = hw.lookup_bits
    stream = np.r_[unpack_bits(hw.bits, hw.num_bits, bitorder="little"), np.zeros(k, dtype=np.uint8)]
    return np.lib.stride_tricks.sliding_window_view(stream, k)[:hw.num_bits] @ (1 << np.arange(k))


def decode_lookup(hw: HuffmanWeights) -> np.ndarray:
    """The dense matrix back through the lookup table (a Python mirror of the C decoder)."""
    n, pos, out = hw.units * hw.depth, 0, []
    windows = lookup_windows(hw)
    while len(out) < n:
        entry = int(hw.lookup[windows[pos]]) if pos < hw.num_bits else int(hw.lookup[0])
        out += [((entry >> (8 * k)) & 0xFF) for k in range((entry >> 30) + 1)]
        pos += (entry >> 24) & 15
    w = np.zeros(n, dtype=np.uint8)
    w[lookup_order(hw.units, hw.depth)] = out[:n]
    return w.view(np.int8).reshape(hw.units, hw.depth)


def encode_sparse(w: np.ndarray, zero: int, max_len: int = MAX_LEN) -> HuffmanWeights:
    w = np.asarray(w, dtype=np.int8)
    units, depth = w.shape
    if depth > 32768:
        raise McuError(f"sparse Huffman rows are at most 32768 weights, not {depth}")
    rows, cols = np.nonzero(w != zero)
    same_row = np.r_[False, rows[1:] == rows[:-1]] if rows.size else np.zeros(0, dtype=bool)
    prev = np.where(same_row, np.r_[-1, cols[:-1]][:cols.size], -1)
    runs = cols - prev - 1
    values = w[rows, cols].astype(np.int64)
    # Code order: per row run, value, run, value, ..., end-of-row. Position of each code:
    per_row = np.bincount(rows, minlength=units)
    row_start = np.r_[0, np.cumsum(2 * per_row + 1)[:-1]]
    rank = np.arange(rows.size) - np.r_[0, np.cumsum(per_row)[:-1]][rows]
    total = int(2 * rows.size + units)
    order = np.zeros(total, dtype=np.int64)  # 0 = run code, 1 = value code
    order[row_start[rows] + 2 * rank + 1] = 1
    run_stream = np.full(total - rows.size, END_OF_ROW, dtype=np.int64)
    run_positions = np.flatnonzero(order == 0)
    is_pair_run = np.zeros(total, dtype=bool)
    is_pair_run[row_start[rows] + 2 * rank] = True
    run_stream[is_pair_run[run_positions]] = runs
    run_table = build_table(run_stream, max_len)
    value_table = build_table(values, max_len) if values.size else build_table(np.array([zero]), max_len)
    bits, n = _encode_stream([(run_table, run_stream), (value_table, values)], order)
    return HuffmanWeights(int(units), int(depth), value_table, run_table, bits, n)


def _decode_symbols(stream: np.ndarray, pos: int, table: HuffmanTable) -> tuple[int, int]:
    code = first = index = 0
    for count in table.counts.tolist():
        code |= int(stream[pos])
        pos += 1
        if code - first < count:
            return int(table.symbols[index + code - first]), pos
        index += count
        first = (first + count) << 1
        code <<= 1
    raise McuError("invalid Huffman code in stream")


def decode(hw: HuffmanWeights, zero: int) -> np.ndarray:
    """The dense matrix back (a Python mirror of the C decoder, for tests)."""
    stream = unpack_bits(hw.bits, hw.num_bits, bitorder="big")
    w = np.full((hw.units, hw.depth), zero, dtype=np.int8)
    pos = 0
    for u in range(hw.units):
        if hw.runs is None:
            for d in range(hw.depth):
                w[u, d], pos = _decode_symbols(stream, pos, hw.values)
            continue
        col = -1
        while True:
            run, pos = _decode_symbols(stream, pos, hw.runs)
            if run == END_OF_ROW:
                break
            col += run + 1
            w[u, col], pos = _decode_symbols(stream, pos, hw.values)
    return w
