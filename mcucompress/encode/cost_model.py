"""Per-core instruction estimates of fully connected and conv2d layers in each weight encoding.

Instructions of one kernel call are a linear function of a few counts of the layer (features
below), with non-negative coefficients per core family, fitted by scripts/fit_cost_model.py on
exact QEMU counts of the layers of mcucompress/cost_suite.py and shipped in cost_coefficients.json:

    m0m3  Cortex-M0/M0+/M3 (no DSP instructions; measured on lm3s6965evb, M3; an M0+ runs more)
    m4    Cortex-M4/M7/M33 (DSP; measured on mps2-an386, M4)
    m55   Cortex-M55 (MVE; measured on mps3-an547)

Dense layers are costed as the export-time specialised kernels (codegen/specialize.py):
mcc_fully_connected_fast_s8 with its int8 layout, conv2d as mcc_conv2d_fast_s8 (widened layout)
or mcc_conv2d_fast_w8_s8 (int8 layout: kind dense_int8), fully connected layers in the int16 layout
as mcc_fully_connected_fast_w16_s8 (kind dense_int16); codebooks of 2- or 4-bit indices as
their fast kernels (kind codebook_fast, codegen/codebook_fast.py).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from mcucompress.errors import McuError

COEFFICIENTS = Path(__file__).with_name("cost_coefficients.json")
CORE_FAMILIES = {"cortex-m0": "m0m3", "cortex-m0plus": "m0m3", "cortex-m3": "m0m3", "cortex-m4": "m4", "cortex-m7": "m4",
                 "cortex-m33": "m4", "cortex-m55": "m55"}
DEFAULT_FAMILY = "m4"
FEATURES = {
    ("fully_connected", "dense"): ("calls", "units", "k4", "full_rows_x_k4", "tail_rows_x_k4",
                                   "tail_blocks_x_k4", "odd_group_blocks", "blocks_x_chunks16",
                                   "blocks_x_tail16"),
    ("fully_connected", "dense_int16"): ("calls", "units", "k4", "full_rows_x_k4", "tail_rows_x_k4",
                                         "tail_blocks_x_k4", "odd_group_blocks"),
    ("fully_connected", "csr4"): ("calls", "units", "entries"),
    ("fully_connected", "csr8"): ("calls", "units", "entries"),
    ("fully_connected", "csr_seg"): ("calls", "units", "seg_segments", "entries", "seg_eights", "seg_quads",
                                     "seg_singles", "seg_vectors", "seg_checked"),
    ("fully_connected", "csr_pair"): ("calls", "units", "pair_segments", "pair_walked", "pair_groups",
                                      "pair_odd", "pair_widened"),
    ("fully_connected", "codebook"): ("calls", "units", "weights", "index_bytes", "weights_8bit",
                                      "weights_4bit"),
    ("fully_connected", "huffman"): ("calls", "symbols", "units", "bits", "codes", "long_codes", "long_steps"),
    ("fully_connected", "huffman_sparse"): ("calls", "symbols", "units", "bits", "codes", "long_codes",
                                            "long_steps"),
    ("fully_connected", "huffman_lut"): ("calls", "units", "lut_chunks", "lut_lean_pairs", "lut_fills",
                                         "lut_fast_steps", "lut_checked_lookups", "lut_pair_weights",
                                         "lut_widened_weights", "lut_quad_weights", "lut_scalar_weights",
                                         "lut_widened_inputs"),
    ("conv2d", "dense"): ("calls", "pixels", "border_pixels", "pixels_x_k8", "pixel_pairs_x_k8",
                          "pixels_x_units"),
    ("conv2d", "dense_int8"): ("calls", "pixels", "border_pixels", "pixels_x_k8", "pixel_pairs_x_k8",
                               "pixels_x_units", "im2col_pixels", "staged_pixels"),
    ("conv2d", "csr4"): ("calls", "entries", "band_bytes", "csr_groups_x_units", "csr_groups_x_entries",
                         "pixels_x_units"),
    ("conv2d", "csr8"): ("calls", "entries", "band_bytes", "csr_groups_x_units", "csr_groups_x_entries",
                         "pixels_x_units"),
    ("conv2d", "codebook"): ("calls", "pixels", "pixels_x_units", "taps_x_units", "macs", "straddles",
                             "macs_8bit"),
    ("fully_connected", "codebook_fast"): ("calls", "table_words", "quad_words", "units", "cb_k_padded",
                                           "cb_blocks", "cb_full_words", "cb_pairs_4bit", "cb_pairs_2bit",
                                           "cb_tail_pairs"),
    ("conv2d", "codebook_fast"): ("calls", "table_words", "pixels", "border_pixels", "cb_pixels_x_k_padded",
                                  "cb_blocks_x_chunks", "cb_blocks_x_units", "cb_block_words", "cb_block_pairs",
                                  "cb_scalar_outputs"),
    ("fully_connected", "int4"): ("calls", "units", "weights", "i4_k_padded", "i4_block_words", "i4_tail_words",
                                  "i4_row_chunks", "i4_blocks_x_chunks"),
}
# Encodings that run another encoding's kernel, priced (and fitted) as that one: an int4 conv
# is the 4-bit fast codebook conv with the signed nibbles as codebook (runtime_c/int4).
SAME_KERNEL = {("conv2d", "int4"): "codebook_fast"}
# Kernels whose MVE path (Cortex-M55) is another loop than the DSP one: that family's features.
FAMILY_FEATURES = {
    ("m55", "fully_connected", "codebook_fast"): ("calls", "mve_tables", "units", "cb_k_padded", "cb_blocks",
                                                  "mve_row_chunks_4bit", "mve_row_chunks_2bit",
                                                  "mve_short_row_chunks", "mve_last_rows_4bit", "mve_last_rows_2bit",
                                                  "mve_block_chunks"),
    # DSP cores walk CSR conv weights as windows of two adjacent positions, with a pair table
    # filled per group of pixels
    ("m4", "conv2d", "csr4"): ("calls", "entries", "band_bytes", "csr_groups_x_units", "csr_groups_x_windows",
                               "csr_groups_x_positions", "pixels_x_units"),
    ("m4", "conv2d", "csr8"): ("calls", "entries", "band_bytes", "csr_groups_x_units", "csr_groups_x_windows",
                               "csr_groups_x_positions", "pixels_x_units"),
    ("m55", "conv2d", "dense_int8"): ("calls", "pair_pixels", "border_pixels", "pair_pixels_x_k8",
                                      "pair_pixel_pairs_x_k8", "pair_pixels_x_units", "im2col_pixels",
                                      "staged_pixels", "few_k_loop", "few_k_channels"),
    # DSP cores: the staged and the direct widening priced apart, a block's channels one call
    ("m4", "conv2d", "codebook_fast"): ("calls", "table_words", "pixels", "border_pixels", "cb_direct_x_k_padded",
                                        "cb_staged_x_k_padded", "cb_blocks", "cb_short_chunks", "cb_blocks_x_units",
                                        "cb_block_words", "cb_block_pairs", "cb_short_outputs"),
    ("m55", "conv2d", "codebook_fast"): ("calls", "mve_tables", "pixels", "mve_stage_runs", "cb_pixels_x_k_padded",
                                         "mve_interleaved", "mve_channel_loop"),
}
# Codebooks of 2- or 4-bit indices run on their own kernels (codegen/codebook_fast.py): costed
# as the kind below (the exporter falls back to the portable codebook kernel only for LiteRT
# rounding or channel constants the fast requantization cannot take).
FAST_CODEBOOK_BITS = (2, 4)
CB_PIXELS = 6    # output pixels per pass of mcc_conv2d_codebook_fast_s8
CB_CHANNELS = 8  # output channels summed per call of its channel loop (4 requantized a word)
CB_ROWS = 8      # rows per pass of mcc_fully_connected_codebook_fast_s8 (then 4, then the rest)
CB_MVE_PIXELS = 4  # output pixels per pass of the MVE path of mcc_conv2d_codebook_fast_s8
CB_MVE_CHUNK_WORDS = 4  # index words per chunk of the MVE paths (16 bytes, one vector)
CSR_PIXELS = 4   # output pixels per walk of mcc_conv2d_csr_fast_s8 (codegen/csr_fast.py)
I4_ROWS = 4      # rows per pass of mcc_fully_connected_int4_s8
LUT_BITS = 8   # codes up to this long decode with one lookup (runtime_c/huffman)
LUT_CHUNK = 128       # weights decoded per fill by mcc_fully_connected_huffman_lut_s8
LUT_MAX_TAKEN = 15    # bits a lookup takes at most
LUT_SAFE_SHIFT = 4    # its unchecked fills' bound: bits left >> 4 (2^4 > LUT_MAX_TAKEN) lookups


def family(cpu: str | None) -> str:
    """The cost model's core family of a board's cpu (None: the M4's)."""
    if cpu is None:
        return DEFAULT_FAMILY
    if cpu not in CORE_FAMILIES:
        raise McuError(f"no cost model for cpu '{cpu}'; known: {', '.join(sorted(CORE_FAMILIES))}")
    return CORE_FAMILIES[cpu]


def geometry(graph, op, units: int) -> dict[str, float]:
    """Where the layer is applied: input rows of a fully connected layer; for a conv2d its
    output pixels, those whose window lies inside the input (interior), and the kernel taps
    that land inside the input over all pixels."""
    out = graph.output_tensor(op)
    a = out.size // units
    if op.kind != "conv2d":
        return {"applications": a, "interior": a, "taps": a, "in_c": 0, "out_rows": a, "row_groups": a,
                "band": 0, "direct": False, "few_k": False, "kw": 1, "dw": 1}
    _, in_h, in_w, _ = graph.tensor(op.inputs[0]).shape
    _, kh, kw, in_c = graph.tensor(op.inputs[1]).shape
    _, out_h, out_w, _ = out.shape
    top, _, left, _ = op.attrs.get("padding", (0, 0, 0, 0))
    sh, sw = op.attrs.get("stride", (1, 1))
    dh, dw = op.attrs.get("dilation", (1, 1))

    def inside(out_n, in_n, k, s, d, pad):
        pos = np.arange(out_n)[:, None] * s - pad + np.arange(k)[None, :] * d
        ok = (pos >= 0) & (pos < in_n)
        return ok.sum(axis=1), ok.all(axis=1)

    taps_y, full_y = inside(out_h, in_h, kh, sh, dh, top)
    taps_x, full_x = inside(out_w, in_w, kw, sw, dw, left)
    rows = a // out_w
    # the MVE int8-weight kernel reads a 1x1 conv's input pixels as its columns (no im2col)
    direct = (kh, kw) == (1, 1) and top == left == 0 and in_c % 8 == 0 and units % 2 == 0
    # ... and runs one on 8 or 16 input channels at stride 1 channel by channel over four pixels
    few_k = direct and (sh, sw) == (1, 1) and in_c in (8, 16)
    return {"applications": a, "interior": float(full_y.sum() * full_x.sum()),
            "taps": float(taps_y.sum() * taps_x.sum()), "in_c": int(in_c), "out_rows": rows,
            "row_groups": rows * -(-out_w // CSR_PIXELS),
            "band": kh * ((out_w - 1) * sw + (kw - 1) * dw + 1) * in_c, "direct": direct, "few_k": few_k,
            "kw": int(kw),
            "dw": int(dw)}


def _straddle_fraction(bits: int) -> float:
    """Share of index_bits-bit indices that continue into the next byte."""
    return float(np.mean([(i * bits % 8) + bits > 8 for i in range(8)]))


def _long_codes(table, symbols: np.ndarray) -> tuple[float, float]:
    """(codes longer than the lookup table, their length-search steps) in a symbol stream."""
    lengths = {s: length for s, (_, length) in table.codes().items()}
    alphabet, counts = np.unique(symbols, return_counts=True)
    shortest = min(lengths.values())
    long_codes = steps = 0.0
    for s, c in zip(alphabet.tolist(), counts.tolist()):
        if lengths[s] > LUT_BITS:
            long_codes += c
            steps += c * (lengths[s] - shortest)
    return long_codes, steps


def _huffman_counts(data, w: np.ndarray, zero: int) -> dict[str, float]:
    from mcucompress.encode.huffman import END_OF_ROW

    units = w.shape[0]
    if data.runs is None:
        long_codes, steps = _long_codes(data.values, w.ravel().astype(np.int64))
        codes = float(w.size)
    else:
        rows, cols = np.nonzero(w != zero)
        long_codes, steps = _long_codes(data.values, w[rows, cols].astype(np.int64))
        first = np.r_[True, rows[1:] != rows[:-1]] if rows.size else np.zeros(0, dtype=bool)
        runs = cols - np.where(first, -1, np.r_[-1, cols[:-1]]) - 1
        run_long, run_steps = _long_codes(data.runs, np.r_[runs, np.full(units, END_OF_ROW)].astype(np.int64))
        long_codes, steps = long_codes + run_long, steps + run_steps
        codes = float(2 * rows.size + units)
    symbols = data.values.symbols.size + (data.runs.symbols.size if data.runs is not None else 0)
    return {"codes": codes, "bits": float(data.num_bits), "long_codes": long_codes, "long_steps": steps,
            "symbols": float(symbols)}


def _lookup_counts(data, units: int, depth: int) -> dict[str, float]:
    """The huffman_lut kernel's work, from a run of its decoding over the stream: chunks of the
    general loop and pairs of rows of the lean one (rows of one chunk, a multiple of 8 long: the
    input widened once per call on DSP cores), fills, iterations of the unchecked fill loop (two
    lookups each) and lookups of the checked one, weights multiplied by the two-row loops (8 at
    a time; the widened input's loop on its own) and by the 4-weight and scalar tails."""
    from mcucompress.encode.huffman import lookup_windows

    entries = data.lookup[lookup_windows(data)]
    taken = ((entries >> 24) & 15).astype(np.int64).tolist()
    counts = ((entries >> 30) + 1).astype(np.int64).tolist()
    num_bits, num_bytes = data.num_bits, (data.num_bits + 7) // 8
    whole_bits = 8 * (num_bytes - 4) if num_bytes >= 4 else 0  # unchecked lookups start before it
    past = int(data.lookup[0])   # past the stream only zero bits are read
    lean = depth <= LUT_CHUNK and depth % 8 == 0

    def lookup(pos):
        return (counts[pos], taken[pos]) if pos < num_bits else ((past >> 30) + 1, (past >> 24) & 15)

    pos = have = 0
    c = dict.fromkeys(("lut_chunks", "lut_lean_pairs", "lut_fills", "lut_fast_steps", "lut_checked_lookups",
                       "lut_pair_weights", "lut_widened_weights", "lut_quad_weights", "lut_scalar_weights"), 0)
    c["lut_widened_inputs"] = depth if lean else 0
    for u in range(0, units, 2):
        rows = 2 if u + 1 < units else 1
        for d in range(0, depth, LUT_CHUNK):
            m = min(LUT_CHUNK, depth - d)
            n = rows * m
            c["lut_lean_pairs" if lean and rows == 2 else "lut_chunks"] += 1
            if have < n:
                c["lut_fills"] += 1
                while have < n:   # unchecked runs while `safe` lookups leave room
                    safe = (whole_bits - pos) >> LUT_SAFE_SHIFT if pos < whole_bits else 0
                    if safe <= 3:
                        break
                    stop = n if n - have + 3 <= safe else have + safe - 3
                    while have < stop:
                        for _ in range(2):
                            k, t = lookup(pos)
                            have, pos = have + k, pos + t
                        c["lut_fast_steps"] += 1
                while have < n:
                    k, t = lookup(pos)
                    have, pos = have + k, pos + t
                    c["lut_checked_lookups"] += 1
            have -= n
            paired = m // 8 * 8 if rows == 2 else 0
            c["lut_widened_weights" if lean and rows == 2 else "lut_pair_weights"] += rows * paired
            c["lut_quad_weights"] += rows * ((m - paired) // 4 * 4)
            c["lut_scalar_weights"] += rows * ((m - paired) % 4)
    return {k: float(v) for k, v in c.items()}


def cost_kind(encoded) -> str:
    """The kind the cost model prices an encoding as: its own, codebook_fast, dense_int8 (a
    dense conv2d in the int8 layout) or dense_int16 (a dense fully connected layer in the int16
    layout)."""
    if encoded.kind == "codebook" and encoded.data.index_bits in FAST_CODEBOOK_BITS:
        return "codebook_fast"
    if encoded.kind == "dense" and getattr(encoded, "layout", None) == "int8":
        return "dense_int8"
    if encoded.kind == "dense" and getattr(encoded, "layout", None) == "int16":
        return "dense_int16"
    return encoded.kind


def _fast_codebook_counts(op_kind: str, bits: int, units: int, depth: int, where: dict) -> dict[str, float]:
    per_word = 64 // (2 * bits)                 # products per index word
    pairs = per_word // 2
    k_padded = -(-depth // per_word) * per_word
    words = k_padded // per_word
    a = where["applications"]
    c = {"table_words": float(1 << (2 * bits)), "quad_words": 512.0 if bits == 2 else 0.0}
    if op_kind == "conv2d":
        blocks = -(-a // CB_PIXELS)
        last = a - (blocks - 1) * CB_PIXELS            # pixels of the last block
        full_blocks = blocks - (last < CB_PIXELS)
        scalar = full_blocks * (units % 4) * CB_PIXELS + (last < CB_PIXELS) * units * last
        c.update({"cb_pixels_x_k_padded": a * k_padded, "cb_blocks_x_chunks": blocks * -(-units // CB_CHANNELS),
                  "cb_blocks_x_units": blocks * units, "cb_block_words": blocks * units * words,
                  "cb_block_pairs": blocks * units * words * pairs, "cb_scalar_outputs": float(scalar)})
        # DSP cores: columns widened straight from the input when in_c is a multiple of 4 from 8
        # on, else staged first; a block of 6 pixels stores every channel from one call, a last
        # shorter block from calls of 8 channels through the byte buffer
        direct = where["in_c"] % 4 == 0 and where["in_c"] >= 8
        short = last < CB_PIXELS
        c.update({"cb_direct_x_k_padded": float(a * k_padded if direct else 0),
                  "cb_staged_x_k_padded": float(0 if direct else a * k_padded), "cb_blocks": float(blocks),
                  "cb_short_chunks": float(short * -(-units // CB_CHANNELS)),
                  "cb_short_outputs": float(short * units * last)})
        # MVE: blocks of 4 pixels; the channel loop's instructions per channel (its assembly):
        # 35 around, per whole chunk of 16 index bytes 22 (4-bit) or 42 (2-bit), the last bytes
        # predicated one chunk more (23 or 43)
        full, last = divmod(words, CB_MVE_CHUNK_WORDS)
        chunk = 22 if bits == 4 else 42
        per_channel = 35 + full * chunk + (last > 0) * (chunk + 1)
        # staging: a run of bytes per kernel row inside the input, one per tap of a border
        # pixel; then 16 bytes a vector into the interleaved columns
        taps = depth // max(where["in_c"], 1)
        rows = round(taps ** 0.5)
        blocks = -(-a // CB_MVE_PIXELS)
        c.update({"mve_tables": 4.0 if bits == 2 else 2.0,
                  "mve_stage_runs": float(where["interior"] * rows + (a - where["interior"]) * taps),
                  "mve_interleaved": float(blocks * CB_MVE_PIXELS * -(-k_padded // 16)),
                  "mve_channel_loop": float(blocks * units * per_channel)})
    else:
        tail = units % 4                                # rows of the last block under 4
        blocks = units // CB_ROWS + (units % CB_ROWS >= 4) + (tail > 0)
        full_pairs = a * (units - tail) * words * pairs
        c.update({"cb_k_padded": a * k_padded, "cb_blocks": a * blocks,
                  "cb_full_words": a * (blocks - (tail > 0)) * words,
                  "cb_pairs_4bit": full_pairs if bits == 4 else 0.0, "cb_pairs_2bit": full_pairs if bits == 2 else 0.0,
                  "cb_tail_pairs": a * tail * words * pairs})
        # MVE: whole chunks in assembly for blocks of 8 and 4 rows, with intrinsics for the
        # rest and for every row's predicated last chunk
        full, last = words // CB_MVE_CHUNK_WORDS, words % CB_MVE_CHUNK_WORDS > 0
        row_chunks = a * (units - tail) * full
        c.update({"mve_row_chunks_4bit": row_chunks if bits == 4 else 0.0,
                  "mve_row_chunks_2bit": row_chunks if bits == 2 else 0.0,
                  "mve_short_row_chunks": a * tail * full, "mve_tables": 4.0 if bits == 2 else 2.0,
                  "mve_last_rows_4bit": a * units * last if bits == 4 else 0.0,
                  "mve_last_rows_2bit": a * units * last if bits == 2 else 0.0,
                  "mve_block_chunks": a * blocks * (full + last)})
    return c


def _int4_counts(op_kind: str, units: int, depth: int, where: dict) -> dict[str, float]:
    if op_kind == "conv2d":   # the 4-bit fast codebook kernel runs it
        return _fast_codebook_counts(op_kind, 4, units, depth, where)
    k_padded = -(-depth // 8) * 8
    words = k_padded // 8
    a = where["applications"]
    full = units // I4_ROWS * I4_ROWS
    chunks = -(-words // 4)   # MVE: 4 words (32 weights) of a row a gather
    return {"i4_k_padded": a * k_padded, "i4_block_words": a * full * words,
            "i4_tail_words": a * (units - full) * words, "i4_row_chunks": a * units * chunks,
            "i4_blocks_x_chunks": a * -(-units // I4_ROWS) * chunks}


def layer_counts(op_kind: str, encoded, w: np.ndarray, zero: int, where: dict) -> dict[str, float]:
    """The counts the features are made of, per kernel call. ``encoded``: an
    encode.choose.Encoded of the (units, depth) int8 matrix ``w``; ``where``: geometry()."""
    units, depth = w.shape
    data = encoded.data
    n = units * depth
    a, interior, taps = where["applications"], where["interior"], where["taps"]
    k4, k8 = -(-depth // 4) * 4, -(-depth // 8) * 8
    full_blocks, tail = units // 4, units % 4
    c = {"calls": 1.0, "units": a * units, "k4": a * k4, "full_rows_x_k4": a * 4 * full_blocks * k4,
         "tail_rows_x_k4": a * tail * k4, "tail_blocks_x_k4": a * (tail > 0) * k4,
         "odd_group_blocks": a * full_blocks * ((k4 // 4) & 1),
         "blocks_x_chunks16": a * -(-units // 4) * (depth // 16),
         "blocks_x_tail16": a * -(-units // 4) * (depth % 16 > 0),
         "entries": 0.0, "weights": a * n, "index_bytes": 0.0, "weights_8bit": 0.0,
         "weights_4bit": 0.0,
         "codes": 0.0, "bits": 0.0, "long_codes": 0.0, "long_steps": 0.0, "symbols": 0.0,
         "pixels": a, "border_pixels": a - interior, "pixels_x_k8": a * k8,
         "pixel_pairs_x_k8": a * -(-units // 2) * k8, "pixels_x_units": a * units,
         "im2col_pixels": 0.0 if where.get("direct") else float(a),
         # columns gathered as int8 first (in_c not a multiple of 8: the staging row)
         "staged_pixels": float(a) if where["in_c"] % 8 else 0.0,
         # MVE: a short 1x1 conv's loop (few_k_channels_mve) per channel and whole quad of pixels, 13
         # instructions and one load and one VMLADAV per 8 products; the pair loop's counts then 0
         "few_k_loop": float(a // 4 * units * (13 + k8)) if where.get("few_k") else 0.0,
         "few_k_channels": float(units) if where.get("few_k") else 0.0,   # set-up, the last 1-3 pixels
         **{f"pair_{n}": 0.0 if where.get("few_k") else v
            for n, v in (("pixels", a), ("pixels_x_k8", a * k8), ("pixel_pairs_x_k8", a * -(-units // 2) * k8),
                         ("pixels_x_units", a * units))},
         "interior_x_entries": 0.0, "border_x_entries": 0.0, "band_bytes": 0.0, "csr_groups_x_units": 0.0,
         "csr_groups_x_entries": 0.0, "csr_groups_x_windows": 0.0, "csr_groups_x_positions": 0.0,
         "taps_x_units": 0.0, "macs": 0.0,
         "straddles": 0.0, "macs_8bit": 0.0,
         "lut_chunks": 0.0, "lut_fills": 0.0, "lut_fast_steps": 0.0, "lut_checked_lookups": 0.0,
         "lut_pair_weights": 0.0, "lut_quad_weights": 0.0, "lut_scalar_weights": 0.0}
    if encoded.kind == "int4":
        c.update(_int4_counts(op_kind, units, depth, where))
    if cost_kind(encoded) == "codebook_fast":
        c.update(_fast_codebook_counts(op_kind, data.index_bits, units, depth, where))
    if encoded.kind in ("csr4", "csr8"):
        c["entries"] = a * data.entries
        c["interior_x_entries"] = interior * data.entries
        c["border_x_entries"] = (a - interior) * data.entries
        if op_kind == "conv2d":  # mcc_conv2d_csr_fast_s8: padded rows per output row, 4 pixels a walk
            c["entries"] = float(data.entries)
            c["band_bytes"] = where["out_rows"] * where["band"]
            c["csr_groups_x_units"] = where["row_groups"] * units
            c["csr_groups_x_entries"] = where["row_groups"] * data.entries
            c["csr_groups_x_windows"] = where["row_groups"] * _pair_windows(w, zero, where)
            c["csr_groups_x_positions"] = where["row_groups"] * w.shape[1] // (where["kw"] * where["in_c"]) * (
                (where["kw"] - 1) * where["dw"] + 1) * where["in_c"]
    elif encoded.kind == "csr_seg":
        c.update({k: (v if k == "seg_checked" else a * v) for k, v in _segment_counts(data).items()})
    elif encoded.kind == "csr_pair":
        c.update({k: a * v for k, v in _pair_counts(data).items()})
    elif encoded.kind == "codebook":
        eight = data.index_bits == 8
        c["index_bytes"] = 0.0 if eight else a * n * data.index_bits / 8
        c["weights_8bit"] = a * n if eight else 0.0
        c["weights_4bit"] = a * n if data.index_bits <= 4 else 0.0
        if op_kind == "conv2d":
            in_c = where["in_c"]
            c["taps_x_units"] = taps * units
            macs = taps * units * in_c
            c["macs"] = macs
            c["straddles"] = macs * _straddle_fraction(data.index_bits)
            c["macs_8bit"] = macs if eight else 0.0
    elif encoded.kind == "huffman_lut":
        c.update({k: a * v for k, v in _lookup_counts(data, units, depth).items()})
    elif encoded.kind in ("huffman", "huffman_sparse"):
        h = _huffman_counts(data, w, zero)
        c.update({k: (v if k == "symbols" else a * v) for k, v in h.items()})
    return c


def _segment_counts(data) -> dict[str, float]:
    """mcc_fully_connected_csr_seg_s8's work per input row: segments walked, entries, the M4's
    loop turns of 8, blocks of 4 and single entries, the M55's vectors of 16, and the offsets
    checked once per call (rows shorter than 256)."""
    n = data.counts.astype(np.int64)
    return {"seg_segments": float(n.size), "entries": float(data.entries), "seg_eights": float((n >> 3).sum()),
            "seg_quads": float(((n >> 2) & 1).sum()), "seg_singles": float((n & 3).sum()),
            "seg_vectors": float((-(-n // 16)).sum()),
            "seg_checked": float(data.entries if data.depth < 256 else 0)}


def _pair_windows(w: np.ndarray, zero: int, where: dict) -> float:
    """Windows of two adjacent window positions covering a conv2d's non-zero weights
    (mcc_conv2d_csr_fast_s8 on DSP cores): position ky * span + kx * dilation * in_c + ci."""
    kw, dw, in_c = where["kw"], where["dw"], where["in_c"]
    span = ((kw - 1) * dw + 1) * in_c
    cols = np.arange(w.shape[1])
    tap, ci = cols // in_c, cols % in_c
    pos = (tap // kw) * span + (tap % kw) * dw * in_c + ci
    total = 0
    for row in w:
        p = pos[row != zero]
        end = -2
        for q in p.tolist():
            if q != end + 1:
                total += 1
                end = q
            else:
                end = -2
    return float(total)


def _pair_counts(data) -> dict[str, float]:
    """mcc_fully_connected_csr_pair_s8's work per input row: segments, segments with groups (the
    walk entered), groups of 4 windows, segments with an odd count (one group before the loop of
    two), and the widened input slots."""
    n = data.counts.astype(np.int64)
    return {"pair_segments": float(n.size), "pair_walked": float((n > 0).sum()), "pair_groups": float(n.sum()),
            "pair_odd": float((n & 1).sum()), "pair_widened": float(max(data.depth, 256) + 1)}
def priced_as(op_kind: str, kind: str) -> str:
    """The encoding whose kernel, features and coefficients price ``kind``."""
    return SAME_KERNEL.get((op_kind, kind), kind)


def feature_names(op_kind: str, kind: str, core_family: str | None = None) -> tuple[str, ...]:
    kind = priced_as(op_kind, kind)
    names = FAMILY_FEATURES.get((core_family, op_kind, kind)) or FEATURES.get((op_kind, kind))
    if names is None:
        raise McuError(f"no cost model for {op_kind} weights stored as '{kind}'")
    return names


def features(op_kind: str, kind: str, counts: dict[str, float], core_family: str | None = None) -> np.ndarray:
    return np.array([counts[n] for n in feature_names(op_kind, kind, core_family)], dtype=np.float64)


@lru_cache(maxsize=None)
def _coefficients() -> dict:
    if not COEFFICIENTS.is_file():
        raise McuError(f"cost model coefficients missing: {COEFFICIENTS} (run scripts/fit_cost_model.py)")
    return json.loads(COEFFICIENTS.read_text())


def predict(op_kind: str, kind: str, counts: dict[str, float], core_family: str = DEFAULT_FAMILY) -> int:
    """Estimated instructions of one kernel call."""
    table = _coefficients()["families"].get(core_family)
    if table is None:
        raise McuError(f"no cost model coefficients for core family '{core_family}'")
    coef = table.get(f"{op_kind}/{priced_as(op_kind, kind)}")
    if coef is None:
        raise McuError(f"no cost model coefficients for {op_kind}/{kind} on {core_family}")
    return int(round(float(features(op_kind, kind, counts, core_family) @ np.asarray(coef["coef"], dtype=np.float64))))
