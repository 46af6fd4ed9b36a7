"""Depthwise convolutions written out per layer for DSP cores (Cortex-M4, M7, M33).

A generic depthwise kernel spends most of its instructions on what the exporter already knows:
where each tap lands in the NHWC input, which taps fall in the padding, how far to step. This
module writes one C function per layer instead, channel by channel, with every offset an
immediate of its load or store:

- each input is loaded once per block of outputs (LDRSB); two kernel rows at a time (rows 0
  and 1 of a 3x3 window) are packed column by column into vertical pairs (PKHBT), so one SMLAD
  multiplies a window column of both rows and one pair serves every output of the block whose
  window holds that column; the last row of an odd kernel packs two horizontal neighbours only
  where a pair starts on an even input column: with weight words (w[k], w[k+1]), an output whose
  window starts on an even column takes (w0, w1) by SMLAD and w2 by SMLABT, its neighbour
  (w1, w2) by SMLAD and w0 from the pair's top half by SMLATB. A 3x3 window: 5 multiplies;
- padded taps are not computed: a window cut by the border starts from a bias of its own,
  the folded bias plus the zero point times the weights it misses, made once per channel;
- rows of up to UNROLL_COLUMNS outputs are written out whole, interior rows of taller maps
  run as loops over the same straight-line body;
- ReLU-like layers requantize in two instructions (relu_requant.py: SMMLA, SSAT with the
  layer's shift as an immediate), others by the fast kernels' double rounding.

The helpers the C calls (mcc_nn_smlad, mcc_nn_smlabb, ..., mcc_nn.h) have portable bodies, so
a host build runs the same function and is checked against it byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcucompress.codegen.channel_split import patch, split_channels
from mcucompress.codegen.relu_requant import best_final_shift

UNROLL_ROWS = 8      # output rows up to which every row is written out
# Outputs of one output row a block, measured on the M4 over the suite's layers (docs/BENCHMARKS.md,
# rounds 12 and 13): six, each input loaded once per row, the best or near it everywhere (two rows
# a block save loads but spill more than they save; maps of at most 3 rows ran in C blocks of two
# rows of four until vertical pairs made a row of the window pairless, then lost to one-row
# blocks in assembly). Even: a column loop keeps the horizontal pairs' parity.
BLOCK_WIDTH = 6
UNROLL_COLUMNS = 48  # output columns up to which a row is written out, no column loop (a loop
                     # pass costs its pointers and counter, and a row loop around it stays C)


@dataclass(frozen=True)
class DwShape:
    h: int
    w: int
    c: int
    ho: int
    wo: int
    kh: int
    kw: int
    sh: int
    sw: int
    pad_t: int
    pad_l: int

    def rows(self, oy: int) -> tuple[int, int]:
        """First and last kernel row inside the input for output row oy."""
        return _taps(oy, self.sh, self.pad_t, self.kh, self.h)

    def cols(self, ox: int) -> tuple[int, int]:
        return _taps(ox, self.sw, self.pad_l, self.kw, self.w)


def _taps(o: int, stride: int, pad: int, k: int, size: int) -> tuple[int, int]:
    start = o * stride - pad
    return max(0, -start), min(k - 1, size - 1 - start)


@dataclass(frozen=True, eq=False)
class DwGenLayer:
    """One depthwise layer to write out: its shape, the table of constants its function reads
    (``words`` per channel) and how it requantizes."""

    shape: DwShape
    table: np.ndarray       # int32 words, ``words`` per channel
    words: int
    zero_point: int         # the input's
    relu_shift: int | None  # final shift of the two-instruction requantization, None: fast rounding
    act_min: int
    act_max: int
    patch: object = None    # channels finished by mcc_conv2d_channels_s8
    constant_channels: int = 0

    @property
    def channel_words(self) -> dict:
        return channel_words(WordLayout(self.shape.kh, self.shape.kw))


def channel_words(layout: "WordLayout") -> dict:
    """Name -> index of a channel's words in the table: the bias, the weight words (layout),
    the multiplier, the round and the shift (the bias first: an interior block's first product
    reads it with the first weight word, one LDRD)."""
    words = {"bias": 0}
    words.update((name, 1 + layout.index(name)) for name in layout.names())
    words.update((name, 1 + layout.count + i) for i, name in enumerate(("mult", "rnd", "shift")))
    return words


@dataclass(frozen=True)
class WordLayout:
    """Where a channel's weights sit in its words of int16 pairs. Each even kernel row with a
    row below it is stored with that row as vertical words v{ky}_{kx} = (w[ky][kx], w[ky + 1][kx]),
    one per column (a window column of both rows is one SMLAD); the last row of an odd kh as
    horizontal words w{ky}_{kx} = (w[ky][kx], w[ky][kx + 1]) for kx < kw - 1 (two neighbours
    one SMLAD). A one-column kernel has no pairs to gain: word w{ky}_0 = (w[ky][0], 0) a row.
    Every tap sits in exactly one word except the horizontal rows' inner ones (in two)."""

    kh: int
    kw: int

    @property
    def paired_rows(self) -> int:
        return self.kh - self.kh % 2 if self.kw > 1 else 0

    @property
    def row_words(self) -> int:
        return max(self.kw - 1, 1)

    @property
    def count(self) -> int:
        return self.paired_rows // 2 * self.kw + (self.kh - self.paired_rows) * self.row_words

    def index(self, name: str) -> int:
        ky, kx = (int(v) for v in name[1:].split("_"))
        if name[0] == "v":
            return ky // 2 * self.kw + kx
        return self.paired_rows // 2 * self.kw + (ky - self.paired_rows) * self.row_words + kx

    def names(self) -> list[str]:
        """Every word's name, in table order."""
        names = [f"v{ky}_{kx}" for ky in range(0, self.paired_rows, 2) for kx in range(self.kw)]
        return names + [f"w{ky}_{kx}" for ky in range(self.paired_rows, self.kh) for kx in range(self.row_words)]

    def tap(self, ky: int, kx: int) -> tuple[str, str]:
        """(word, half) holding tap (ky, kx) alone."""
        if ky < self.paired_rows:
            return f"v{ky - ky % 2}_{kx}", "bt"[ky % 2]
        if self.kw == 1 or kx <= self.kw - 2:
            return f"w{ky}_{kx if self.kw > 1 else 0}", "b"
        return f"w{ky}_{self.kw - 2}", "t"

    def words(self, w: np.ndarray) -> np.ndarray:
        """(channels, kh * kw) int16-range weights -> (channels, count) int32 words."""
        taps = np.asarray(w, dtype=np.int64).reshape(len(w), self.kh, self.kw)
        padded = np.concatenate([taps, np.zeros_like(taps[:, :, :1])], axis=2)   # (w, 0) of kw == 1
        cols = []
        for name in self.names():
            ky, kx = (int(v) for v in name[1:].split("_"))
            lo, hi = taps[:, ky, kx], (taps[:, ky + 1, kx] if name[0] == "v" else padded[:, ky, kx + 1])
            cols.append((lo & 0xFFFF) | ((hi & 0xFFFF) << 16))
        return np.stack(cols, axis=1).astype(np.uint32).view(np.int32)


def build_layer(shape: DwShape, w: np.ndarray, bias: np.ndarray, p, rows, ok,
                model_shift: int | None = None) -> DwGenLayer | None:
    """The generated layer of a depthwise op with weights w (channels, taps) and the fast
    kernels' channel rows (specialize._channel_rows); None when a channel's constants leave int32.
    ``model_shift``: the final shift the model's layers share where they can (layers of one
    shape then share one function), else the layer's own."""
    from mcucompress.codegen.specialize import conv_relu_layer

    split = split_channels(rows, ok, w, bias, p)
    relu_shift, relu = None, None
    if int(p.act_min) >= int(p.output_offset) and not len(split.patched):
        n = len(w)
        shift = np.broadcast_to(np.asarray(p.shift, dtype=np.int64).reshape(-1), (n,))
        for relu_shift in dict.fromkeys((model_shift, best_final_shift(shift, np.ones(n)))):
            relu = conv_relu_layer(w, bias, p, split, relu_shift) if relu_shift else None
            if relu is not None:
                break
    if relu is not None:
        weights, table, constant = relu
        consts = np.asarray(table, dtype=np.int64)[:, :3]
    else:
        relu_shift, constant = None, len(split.constant)
        weights = 2 * np.asarray(split.weights, dtype=np.int64)
        consts = np.asarray(split.table, dtype=np.int64)
    if np.abs(weights).max(initial=0) > 2**15 - 1 or np.abs(consts).max(initial=0) > 2**31 - 1:
        return None
    words = np.concatenate([consts[:, :1], WordLayout(shape.kh, shape.kw).words(weights).astype(np.int64),
                            consts[:, 1:]], axis=1)   # channel_words
    return DwGenLayer(shape, words.astype(np.int32).reshape(-1), words.shape[1], -int(p.input_offset),
                      relu_shift, int(p.act_min), int(p.act_max),
                      patch(split.patched, w, bias, p, depthwise=True), constant)


# -- C text ------------------------------------------------------------------------------------

def _runs(classes: list) -> list[tuple[int, int]]:
    """(start, end) of each run of equal consecutive values."""
    runs, start = [], 0
    for i in range(1, len(classes) + 1):
        if i == len(classes) or classes[i] != classes[start]:
            runs.append((start, i))
            start = i
    return runs


class _Writer:
    """The body of one generated function: lines, and the per-channel names it uses."""

    def __init__(self, layer: DwGenLayer, asm: bool = True):
        self.layer = layer
        self.s = layer.shape
        self.lines: list[str] = []
        self.used: set[str] = set()
        self.class_biases: dict[str, tuple] = {}
        self.words = WordLayout(self.s.kh, self.s.kw)
        self.asm = asm
        self.asm_class_biases: dict[str, int] = {}   # class bias -> its index in mcc_cb
        self.asm_used = False
        self.captured = None   # the blocks of a loop's body being written, when an asm loop may take it

    def emit(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    # names of per-channel constants ----------------------------------------------------------
    def weight(self, ky: int, kx: int) -> tuple[str, str]:
        """(word, half) holding tap (ky, kx)."""
        name, half = self.words.tap(ky, kx)
        self.used.add(name)
        return name, half

    def pair_weight(self, ky: int, kx: int) -> str:
        """The word of taps (ky, kx) and (ky, kx + 1), a horizontal row's; or of (ky, kx) and
        (ky + 1, kx), ky even and a paired row."""
        name = f"{'v' if ky < self.words.paired_rows else 'w'}{ky}_{kx}"
        self.used.add(name)
        return name

    def class_bias(self, rows: tuple[int, int], cols: tuple[int, int]) -> str:
        s = self.s
        if self.layer.zero_point == 0 or (rows == (0, s.kh - 1) and cols == (0, s.kw - 1)):
            self.used.add("bias")
            return "bias"
        name = f"b{rows[0]}{rows[1]}_{cols[0]}{cols[1]}"
        self.class_biases[name] = (rows, cols)
        return name

    # one block: outputs of a few rows and columns sharing each input row's loads ---------------
    def block(self, depth: int, oy: int, oxs: list[int], src: tuple[str, int, int],
              dst: tuple[str, int, int]):
        """Outputs (oy, ox) for ox in oxs; src = (pointer, input row, input column) it points at,
        dst = (pointer, output row, output column). On DSP builds the block is assembly with
        registers of its own (dw_asm.py) where they suffice, the C below the portable path and
        the fallback."""
        s = self.s
        in_ptr, iy0, ix0 = src
        out_ptr, oy0, ox0 = dst
        accs = {ox: f"a{i}" for i, ox in enumerate(oxs)}
        biases = {accs[ox]: self.class_bias(s.rows(oy), s.cols(ox)) for ox in oxs}
        rows = self._row_groups(oy, accs, iy0, ix0)   # per input row or pair of rows, its ops
        stores = [(name, ((oy - oy0) * s.wo + (ox - ox0)) * s.c) for ox, name in accs.items()]
        if self.captured is not None:
            self.captured.append((in_ptr, out_ptr, (rows, biases, stores)))
        text = self.asm_block(in_ptr, out_ptr, rows, biases, stores) if self.asm else None
        if text is not None:
            self.emit(0, "#if MCC_HAVE_DW_ASM")
            for line in text:
                self.emit(depth, line)
            self.emit(0, "#else")
        self.emit(depth, "{")
        for name, bias in biases.items():
            self.emit(depth + 1, f"int32_t {name} = {bias};")
        for ops in rows:
            self.emit(depth + 1, "{")
            for op in ops:
                self.emit(depth + 2, self._c_op(in_ptr, op))
            self.emit(depth + 1, "}")
        for name, off in stores:
            self.emit(depth + 1, f"{out_ptr}[{off}] = {self._requantize(name)};")
        self.emit(depth, "}")
        if text is not None:
            self.emit(0, "#endif")

    def _consts(self, biases):
        """dw_asm.Consts of the layer with the class biases of ``biases`` given an index in
        mcc_cb (kept by _commit()), None for maps the assembly does not take."""
        from mcucompress.codegen import dw_asm

        layer = self.layer
        cb = dict(self.asm_class_biases)
        for name in biases:
            if name != "bias":
                cb.setdefault(name, len(cb))
        return dw_asm.Consts(layer.channel_words, cb, layer.relu_shift, layer.act_min, layer.act_max)

    def _commit(self, consts, text):
        if text is not None:
            self.asm_class_biases = consts.cb
            self.asm_used = True
        return text

    def asm_block(self, in_ptr, out_ptr, rows, biases, stores):
        """The block's assembly lines (dw_asm.block), None where it stays C: maps of at most 3
        rows, or a block needing more registers than there are."""
        from mcucompress.codegen import dw_asm

        consts = self._consts(biases.values())
        if consts is None:
            return None
        return self._commit(consts, dw_asm.block(rows, biases, stores, consts, in_ptr, out_ptr))

    @staticmethod
    def _c_op(in_ptr: str, op) -> str:
        kind = op[0]
        if kind == "load":
            _, x, off = op
            return f"const int32_t {x} = {in_ptr}[{off}];"
        if kind == "pack":
            _, p, lo, hi = op
            return f"const uint32_t {p} = mcc_nn_pack16({lo}, {hi});"
        _, instr, acc, a, w = op
        if instr == "smlad":
            return f"{acc} = mcc_nn_smlad({a}, {w}, {acc});"
        return f"{acc} = mcc_nn_{instr}((uint32_t){a}, {w}, {acc});"

    def _input_row(self, iy: int, items, iy0: int, ix0: int) -> list:
        """The ops of input row iy for ``items`` (accumulator, output column, kernel row): in a
        kernel row stored horizontally (WordLayout) tap pairs starting on an even input column by
        SMLAD, the other taps (those of rows stored vertically all) one by one; ops are
        ("load", x, offset), ("pack", p, x_lo, x_hi), ("mac", instruction, acc, value, word)."""
        s = self.s
        pairs, singles = [], []   # (accumulator, first column, kernel row, kx)
        for acc, ox, ky in items:
            kx_a, kx_b = s.cols(ox)
            start = ox * s.sw - s.pad_l
            kx = kx_a
            while kx <= kx_b:
                if kx + 1 <= kx_b and (start + kx) % 2 == 0 and ky >= self.words.paired_rows:
                    pairs.append((acc, start + kx, ky, kx))
                    kx += 2
                else:
                    singles.append((acc, start + kx, ky, kx))
                    kx += 1
        pair_cols = {col for _, col, _, _ in pairs}
        loaded = pair_cols | {col + 1 for col in pair_cols}

        def source(col: int) -> str:   # the word holding column col's input, and which half
            if col in pair_cols:
                return f"p{col - ix0}", "b"
            if col - 1 in pair_cols:
                return f"p{col - 1 - ix0}", "t"
            loaded.add(col)
            return f"x{col - ix0}", "b"

        pending = [(acc, source(col), ky, kx) for acc, col, ky, kx in singles]
        # column by column: the load, the pair it completes, every product that can then run
        # (few values live at once: GCC spills the rest)
        ops = []
        for col in sorted(loaded):
            n = col - ix0
            off = ((iy - iy0) * s.w + n) * s.c
            ops.append(("load", f"x{n}", off))
            ready = {f"x{n}"}
            if col - 1 in pair_cols:
                ops.append(("pack", f"p{n - 1}", f"x{n - 1}", f"x{n}"))
                ready.add(f"p{n - 1}")
            for acc, pcol, ky, kx in pairs:
                if f"p{pcol - ix0}" in ready:
                    ops.append(("mac", "smlad", acc, f"p{pcol - ix0}", self.pair_weight(ky, kx)))
            for item in [item for item in pending if item[1][0] in ready]:
                pending.remove(item)
                acc, (name, half), ky, kx = item
                word, whalf = self.weight(ky, kx)
                ops.append(("mac", f"smla{half}{whalf}", acc, name, word))
        return ops

    def _row_groups(self, oy: int, accs: dict, iy0: int, ix0: int) -> list:
        """The ops of one output row's block: each even kernel row whose row below is inside the
        input too, with that row, as vertical pairs (_row_pair); the other rows alone
        (_input_row). A vertical pair costs one PKHBT a column, as two rows' horizontal pairs do,
        but multiplies a whole window column by one SMLAD: a 3x3 window takes 5 multiplies, not 6."""
        s = self.s
        ky, last = s.rows(oy)
        groups = []
        while ky <= last:
            iy, items = oy * s.sh - s.pad_t + ky, [(acc, ox, ky) for ox, acc in accs.items()]
            if ky % 2 == 0 and ky < min(last, self.words.paired_rows):
                groups.append(self._row_pair(iy, items, iy0, ix0))
                ky += 2
            else:
                groups.append(self._input_row(iy, items, iy0, ix0))
                ky += 1
        return groups

    def _row_pair(self, iy: int, items, iy0: int, ix0: int) -> list:
        """The ops of input rows iy and iy + 1 for ``items`` (accumulator, output column, kernel
        row of iy): column by column both loads, their pair (PKHBT) and the SMLAD of every output
        whose window holds that column."""
        s = self.s
        readers: dict[int, list] = {}   # input column -> (accumulator, kernel row, kx)
        for acc, ox, ky in items:
            kx_a, kx_b = s.cols(ox)
            for kx in range(kx_a, kx_b + 1):
                readers.setdefault(ox * s.sw - s.pad_l + kx, []).append((acc, ky, kx))
        ops = []
        for col in sorted(readers):
            n = col - ix0
            ops.append(("load", f"x{n}", ((iy - iy0) * s.w + n) * s.c))
            ops.append(("load", f"y{n}", ((iy + 1 - iy0) * s.w + n) * s.c))
            ops.append(("pack", f"v{n}", f"x{n}", f"y{n}"))
            ops += [("mac", "smlad", acc, f"v{n}", self.pair_weight(ky, kx)) for acc, ky, kx in readers[col]]
        return ops

    def _requantize(self, acc: str) -> str:
        layer = self.layer
        if layer.relu_shift is None:
            self.used.update(("mult", "rnd", "shift"))
            return f"mcc_nn_fast_requantize({acc}, mult, rnd, shift, {layer.act_min}, {layer.act_max})"
        self.used.update(("mult", "rnd"))
        v = f"mcc_nn_relu_requantize({acc}, mult, rnd, {layer.relu_shift})"
        if layer.act_min > -128:
            v = f"mcc_nn_max({v}, {layer.act_min})"
        if layer.act_max < 127:
            v = f"mcc_nn_min({v}, {layer.act_max})"
        return f"(int8_t){v}"

    # rows and columns ---------------------------------------------------------------------------
    def row(self, depth: int, oy: int, src_row: tuple[str, int], dst_row: tuple[str, int]):
        """Every output of row oy; src_row = (pointer to input column 0 of an input row, that
        row), dst_row likewise for the output."""
        s = self.s

        def looped(d, ox, passes):
            first_col, oxs = ox * s.sw - s.pad_l, list(range(ox, ox + BLOCK_WIDTH))
            self._loop(d, "x", passes,
                       [("const int8_t *ci", f"{src_row[0]} + {first_col * s.c}", BLOCK_WIDTH * s.sw * s.c),
                        ("int8_t *co", f"{dst_row[0]} + {ox * s.c}", BLOCK_WIDTH * s.c)],
                       lambda d2: self.block(d2, oy, oxs, ("ci", src_row[1], first_col), ("co", dst_row[1], ox)))

        self._sweep(depth, s.wo, UNROLL_COLUMNS, BLOCK_WIDTH, [s.cols(ox) for ox in range(s.wo)], looped,
                    lambda d, oxs: self.block(d, oy, oxs, (src_row[0], src_row[1], 0), (dst_row[0], dst_row[1], 0)))

    def _sweep(self, depth: int, size: int, unroll: int, step: int, classes, looped, written) -> None:
        """Positions 0..size-1 of a row or column in groups of ``step``: all written out
        (written(depth, group)) up to ``unroll`` positions; else each run of positions whose windows
        the border cuts alike as a loop of whole groups (looped(depth, start, passes)), the rest of
        the run written out. Where one run loops, the loop is placed in it (and one pass shorter
        when that helps) so that the fewest groups are written out around it: a written group
        may take outputs of several classes, and each group costs its weights' and constants'
        loads whatever its size."""
        def write(first, end):
            for start in range(first, end, step):
                written(depth, list(range(start, min(start + step, end))))

        if size <= unroll:
            write(0, size)
            return
        runs = _runs(classes)
        looping = [(start, end) for start, end in runs if end - start >= 2 * step]
        if len(looping) == 1:
            (start, end), most = looping[0], (looping[0][1] - looping[0][0]) // step
            def groups(passes, first):   # blocks written and passes, fewest first, then most passes
                return (passes + -(-first // step) + -(-(size - first - passes * step) // step), -passes)

            passes, first = min(((p, start + shift) for p in range(most, max(most - 2, 1), -1)
                                 for shift in range(end - start - p * step + 1)), key=lambda o: groups(*o))
            write(0, first)
            looped(depth, first, passes)
            write(first + passes * step, size)
            return
        for start, end in runs:
            passes = (end - start) // step if end - start >= 2 * step else 0
            if passes:
                looped(depth, start, passes)
            write(start + passes * step, end)

    def _loop(self, depth: int, var: str, count: int, pointers, body) -> None:
        """``count`` passes of body(depth) over pointers (declaration, start, step) stepped each pass.
        On DSP builds a loop whose body is blocks through its own two pointers only is one
        assembly loop (dw_asm.loop) where registers allow, its C the portable path."""
        asm = self._asm_loop(depth, count, pointers, body) if self.asm else None
        if asm is not None:
            self.emit(0, "#if MCC_HAVE_DW_ASM")
            for line in asm:
                self.emit(depth, line)
            self.emit(0, "#else")
            self.asm, saved = False, self.asm
            self._c_loop(depth, var, count, pointers, body)
            self.asm = saved
            self.emit(0, "#endif")
        else:
            self._c_loop(depth, var, count, pointers, body)

    def _asm_loop(self, depth, count, pointers, body):
        return self._asm_blocks(depth, [(d.split("*")[-1], start) for d, start, _ in pointers],
                                (count, pointers[0][2], pointers[1][2]), body)

    def _asm_blocks(self, depth, pointers, passes, body):
        """body's blocks as one assembly statement (dw_asm.loop when passes = (count, input
        step, output step), else dw_asm.sequence) when they all go through ``pointers`` (input
        and output (name, C start)) and body has no loop; None otherwise."""
        from mcucompress.codegen import dw_asm

        outer, lines, self.captured, self.lines, self.asm = self.captured, self.lines, [], [], False
        try:   # the body's C only to see its blocks
            body(depth)
            captured, nested = self.captured, any(line.lstrip().startswith("for (") for line in self.lines)
        finally:
            self.captured, self.lines, self.asm = outer, lines, True
        names = tuple(name for name, _ in pointers)
        if nested or not captured or any((i, o) != names for i, o, _ in captured):
            return None
        blocks = [b for _, _, b in captured]
        consts = self._consts(dict.fromkeys(name for _, biases, _ in blocks for name in biases.values()))
        if consts is None:
            return None
        starts = {"src": pointers[0][1], "dst": pointers[1][1]}
        if passes is None:
            return self._commit(consts, dw_asm.sequence(blocks, consts, starts))
        count, step_in, step_out = passes
        return self._commit(consts, dw_asm.loop(blocks, count, {"src": step_in, "dst": step_out}, consts, starts))

    def _c_loop(self, depth: int, var: str, count: int, pointers, body) -> None:
        self.emit(depth, "{")
        self.emit(depth + 1, f"int32_t {var};")
        for declaration, start, _ in pointers:
            self.emit(depth + 1, f"{declaration} = {start};")
        steps = ", ".join(f"{declaration.split('*')[-1]} += {step}" for declaration, _, step in pointers)
        self.emit(depth + 1, f"for ({var} = 0; {var} < {count}; ++{var}, {steps}) {{")
        body(depth + 2)
        self.emit(depth + 1, "}")
        self.emit(depth, "}")

    def body(self, depth: int):
        s = self.s

        def looped(d, oy, passes):
            iy = oy * s.sh - s.pad_t
            self._loop(d, "y", passes,
                       [("const int8_t *ri", f"in + {iy * s.w * s.c}", s.sh * s.w * s.c),
                        ("int8_t *ro", f"out + {oy * s.wo * s.c}", s.wo * s.c)],
                       lambda d2: self.row(d2, oy, ("ri", iy), ("ro", oy)))

        def sweep(d):
            self._sweep(d, s.ho, UNROLL_ROWS, 1, [s.rows(oy) for oy in range(s.ho)], looped,
                        lambda d2, oys: self.row(d2, oys[0], ("in", 0), ("out", 0)))

        # a map written out whole: its blocks one assembly statement (no pointers reloaded between)
        asm = self._asm_blocks(depth, [("in", "in"), ("out", "out")], None, sweep) if self.asm else None
        if asm is None:
            sweep(depth)
            return
        self.emit(0, "#if MCC_HAVE_DW_ASM")
        for line in asm:
            self.emit(depth, line)
        self.emit(0, "#else")
        self.asm = False
        sweep(depth)
        self.asm = True
        self.emit(0, "#endif")


def _class_bias_expr(writer: _Writer, rows: tuple[int, int], cols: tuple[int, int]) -> str:
    """bias + zero point * (the weights of the taps outside rows x cols), as SMLAD where two
    missing taps share a word, else SMLABx on the word holding the tap (the weights are scaled
    as the accumulator is)."""
    s, layout = writer.s, writer.words
    zp2 = f"0x{((writer.layer.zero_point & 0xFFFF) * 0x10001):08X}u"
    writer.used.add("bias")
    expr = "bias"

    def missing(ky: int, kx: int) -> bool:
        return not (rows[0] <= ky <= rows[1] and cols[0] <= kx <= cols[1])

    def pair(ky: int, kx: int) -> None:   # both taps of word pair_weight(ky, kx)
        nonlocal expr
        expr = f"mcc_nn_smlad({zp2}, {writer.pair_weight(ky, kx)}, {expr})"

    def single(ky: int, kx: int) -> None:
        nonlocal expr
        word, half = writer.weight(ky, kx)
        expr = f"mcc_nn_smlab{half}({zp2}, {word}, {expr})"

    for ky in range(0, layout.paired_rows, 2):   # vertical words: both rows missing, one SMLAD
        for kx in range(s.kw):
            if missing(ky, kx) and missing(ky + 1, kx):
                pair(ky, kx)
            else:
                for row in (ky, ky + 1):
                    if missing(row, kx):
                        single(row, kx)
    for ky in range(layout.paired_rows, s.kh):
        gaps = [kx for kx in range(s.kw) if missing(ky, kx)]
        kx_i = 0
        while kx_i < len(gaps):
            if kx_i + 1 < len(gaps) and gaps[kx_i + 1] == gaps[kx_i] + 1 and s.kw > 1:
                pair(ky, gaps[kx_i])
                kx_i += 2
            else:
                single(ky, gaps[kx_i])
                kx_i += 1
    return expr


def c_function(name: str, layer: DwGenLayer) -> str:
    """The C text of the layer's function ``mcc_status name(const int32_t *k, const int8_t *in,
    int8_t *out)``, k its table (static, never inlined, so that bench counts it as the layer's
    call; layers of the same shape and requantization share it)."""
    s = layer.shape
    writer = _Writer(layer)
    writer.body(2)
    class_lines = [f"        const int32_t {n} = {_class_bias_expr(writer, *rc)};"
                   for n, rc in sorted(writer.class_biases.items())]
    def const(name: str, i: int) -> str:   # weight words unsigned (the helpers' operands)
        if name[0] in "vw":
            return f"        const uint32_t {name} = (uint32_t)k[{i}];"
        return f"        const int32_t {name} = k[{i}];"

    consts = [const(n, i) for n, i in layer.channel_words.items() if n in writer.used]
    lines = [f"static MCC_NOINLINE mcc_status {name}(const int32_t *k, const int8_t *in, int8_t *out)",
             "{", "    int32_t ch;",
             f"    for (ch = 0; ch < {s.c}; ++ch, ++in, ++out, k += {layer.words}) {{"]
    if writer.asm_used:
        # the assembly reads the weights from k itself and the class biases from mcc_cb: the
        # C names only it would not use are voided (GCC drops their loads)
        asm = ["#if MCC_HAVE_DW_ASM"]
        if writer.asm_class_biases:
            asm.append(f"        int32_t mcc_cb[{len(writer.asm_class_biases)}];")
        asm += [f"        mcc_cb[{i}] = {n};" for n, i in writer.asm_class_biases.items()]
        asm += [f"        (void){line.split(' = ')[0].split()[-1]};" for line in consts + class_lines]
        asm.append("#endif")
    else:
        asm = []
    lines += consts + class_lines + asm + writer.lines + ["    }", "    return MCC_OK;", "}"]
    return "\n".join(lines) + "\n"
