"""The blocks of a written-out depthwise layer (dw_gen.py) as Thumb-2 assembly whose registers
the generator chooses.

GCC compiles dw_gen's C blocks with spills: six accumulators, the weight words, the
multiplier, the round and the pointers exceed the 13 registers it keeps free. Here each value of
the block's straight-line code (inputs x, pairs p, weight words loaded per kernel row when first
needed, the bias each accumulator starts from, fused into its first multiply, accumulators,
multiplier, round and (double rounding) shift loaded once the products are done) has a known
definition and last use, so a linear scan over the op list gives each a register, reusing a
register at the instruction that reads its last use. An ``__asm__`` statement holds one block,
the blocks of a map written out whole, or a loop over blocks (block(), sequence(), loop()); its
pointers sit in pinned registers (input r0, output r1, the channel's words r2 and a loop's pass
counter r3 when it needs one); the class biases, which C computes per channel into mcc_cb on the
stack, are memory operands GCC addresses from sp, so no register is held for them; every other
register but sp and pc is its own. Neighbouring words of k (a weight word and the next, the
multiplier and the round) come in one LDRD where the registers allow. Where the registers do not
suffice the functions return None: that code stays C.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

POINTERS = ("src", "dst", "k", "cnt")
PINNED = {"src": "r0", "dst": "r1", "k": "r2", "cnt": "r3"}
REGISTERS = ("r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "lr")
IMM12 = 4095   # LDRSB / LDR / STRB immediates and ADDW / SUBW
MAX_OPERANDS = 30   # GCC's limit for one asm statement (a statement past it stays C)


class _Out:
    """Instructions (format, defined value or None, used values), with the base offset each
    pointer register holds (it is stepped where an offset leaves the immediates' range)."""

    def __init__(self):
        self.ops: list[tuple[str, str | None, tuple[str, ...]]] = []
        self.base = {"src": 0, "dst": 0}

    def op(self, fmt: str, d: str | None, *uses: str) -> None:
        self.ops.append((fmt, d, uses))

    def offset(self, ptr: str, off: int) -> int:
        """The immediate that reaches offset off from ptr, stepping ptr to off first (by
        ADDW / SUBW, 4095 at most each) when it is out of reach."""
        rel = off - self.base[ptr]
        if 0 <= rel <= IMM12:
            return rel
        if _modified_immediate(abs(rel)):
            self.op(f"{'add' if rel > 0 else 'sub'} {{d}}, {{d}}, #{abs(rel)}", ptr, ptr)
            rel = 0
        while rel:
            step = max(-IMM12, min(IMM12, rel))
            self.op(f"{'add' if step > 0 else 'sub'}w {{d}}, {{d}}, #{abs(step)}", ptr, ptr)
            rel -= step
        self.base[ptr] = off
        return 0


def _modified_immediate(v: int) -> bool:
    """Whether ADD / SUB take v as one Thumb-2 modified immediate (an 8-bit value shifted left;
    the byte-replicated forms aside)."""
    return any(v >> r << r == v and v >> r < 256 for r in range(25))


@dataclass(frozen=True)
class Consts:
    """What every block of a layer shares: the index in the channel's k of each weight word
    (dw_gen.WordLayout) and of the bias, multiplier, round and shift (dw_gen.channel_words),
    the class biases' indexes in mcc_cb, the requantization:
    the two-instruction one's final shift, None for the fast kernels' double rounding."""

    words: dict   # name -> index in k: weight words, "bias", "mult", "rnd", "shift"
    cb: dict
    shift: int | None
    act_min: int
    act_max: int


def _load_words(out: _Out, first: str, second: str | None, off: int) -> None:
    """Values first and second (None: first alone) from k at byte offset off: one LDRD for two
    neighbouring words (the second a value of its own, defined by the empty op after)."""
    if second is None:
        out.op(f"ldr {{d}}, [{{0}}, #{off}]", first, "k")
        return
    out.op(f"ldrd {{d}}, {{d2}}, [{{0}}, #{off}]", first, "k")
    out.op("", second)


def _block_ops(out: _Out, tag: str, rows, biases: dict, stores, c: Consts, paired: bool = True) -> bool:
    """Appends one block's instructions to out (its values named with ``tag``). rows: per input
    row the ops dw_gen._Writer._input_row made; biases: accumulator -> "bias" or a class bias;
    stores: (accumulator, output offset). ``paired``: a word of k (weights, bias) whose
    neighbour the block also reads comes with it in one LDRD, and so do the multiplier and the
    round (one instruction less each, the neighbour held longer)."""
    started: set[str] = set()
    loaded: set[str] = set()
    gen = [""]   # suffix of the words' values: a new one after each ("phase",) op
    at: dict[int, str] = {}   # index in k -> word the phase reads (LDRD partners)

    opening = {}   # accumulator -> the group of its first product (which reads its bias)
    for j, ops in enumerate(rows):
        for op in ops:
            if op[0] == "mac":
                opening.setdefault(op[2], j)

    def phase(first: int) -> None:   # the words the groups from first to the next phase read
        wanted = set()
        for j, ops in enumerate(rows[first:], first):
            if j > first and ops and ops[0][0] == "phase":
                break
            wanted |= {op[4] for op in ops if op[0] == "mac"}
            wanted |= {"bias" for acc, g in opening.items() if g == j and biases[acc] == "bias"}
        at.clear()
        at.update({i: name for name, i in c.words.items() if name in wanted} if paired else {})

    phase(0)

    def word(name: str) -> str:
        return tag + name + gen[0]

    def need(name: str) -> None:   # word name of k, with a neighbour the block reads later
        if name in loaded:
            return
        i = c.words[name]
        after, before = at.get(i + 1), at.get(i - 1)
        if after is not None and after not in loaded:
            _load_words(out, word(name), word(after), 4 * i)
            loaded.add(after)
        elif before is not None and before not in loaded:
            _load_words(out, word(before), word(name), 4 * (i - 1))
            loaded.add(before)
        else:
            _load_words(out, word(name), None, 4 * i)
        loaded.add(name)

    for iy, ops in enumerate(rows):
        def val(name: str) -> str:   # a value of this group, or (@...) one another block made
            return name if name[0] == "@" else f"{tag}{iy}:{name}"

        for op in ops:
            if op[0] == "phase":   # the words loaded so far are let go, loaded again when needed
                loaded.clear()
                gen[0] = f"~{iy}"
                phase(iy)
                continue
            if op[0] == "load":
                _, x, off = op
                rel = out.offset("src", off)
                out.op(f"ldrsb {{d}}, [{{0}}, #{rel}]", val(x), "src")
                continue
            if op[0] == "pack":
                _, p, lo, hi = op
                out.op("pkhbt {d}, {0}, {1}, lsl #16", val(p), val(lo), val(hi))
                continue
            _, instr, acc, a, w = op
            need(w)   # the weight word, when first needed
            start = tag + acc
            if acc not in started:   # the first product starts from the accumulator's bias
                started.add(acc)
                if biases[acc] == "bias":
                    need("bias")
                    start = word("bias")
                else:   # a memory operand: GCC addresses mcc_cb from sp
                    start = word(biases[acc])
                    if biases[acc] not in loaded:
                        loaded.add(biases[acc])
                        out.op(f"ldr {{d}}, %[cb{c.cb[biases[acc]]}]", start)
            out.op(f"{instr} {{d}}, {{0}}, {{1}}, {{2}}", tag + acc, val(a), word(w), start)
    if any(acc not in started for acc, _ in stores):
        return False
    if paired:   # next to each other in k
        _load_words(out, tag + "mult", tag + "rnd", 4 * c.words["mult"])
    else:
        _load_words(out, tag + "mult", None, 4 * c.words["mult"])
        _load_words(out, tag + "rnd", None, 4 * c.words["rnd"])
    if c.shift is None:   # the fast kernels' double rounding: the channel's shift from k
        _load_words(out, tag + "shift", None, 4 * c.words["shift"])
    for acc, off in stores:
        acc = tag + acc
        if c.shift is None:   # mcc_nn_fast_requantize: SMMLAR, + the sign, >> shift, clamp
            v = acc + "v"
            out.op("smmlar {d}, {0}, {1}, {2}", v, acc, tag + "mult", tag + "rnd")
            out.op("add {d}, {0}, {1}, asr #31", v, v, acc)
            out.op("asr {d}, {0}, {1}", v, v, tag + "shift")
            out.op("ssat {d}, #8, {0}", v, v)
            acc = v
        else:
            out.op("smmla {d}, {0}, {1}, {2}", acc, acc, tag + "mult", tag + "rnd")
            out.op(f"ssat {{d}}, #8, {{0}}, asr #{c.shift}", acc, acc)
        if c.act_min > -128:
            out.op(f"cmp {{0}}, #{c.act_min}\\n\\tit lt\\n\\tmovlt {{0}}, #{c.act_min}", None, acc)
        if c.act_max < 127:
            out.op(f"cmp {{0}}, #{c.act_max}\\n\\tit gt\\n\\tmovgt {{0}}, #{c.act_max}", None, acc)
        rel = out.offset("dst", off)
        out.op(f"strb {{0}}, [{{1}}, #{rel}]", None, acc, "dst")
    return True


def _vertical_group(rows) -> int | None:
    """Index of a block's one group of vertical pairs (its second row's loads are named y),
    None when it has none or several."""
    found = [i for i, ops in enumerate(rows) if any(op[0] == "load" and op[1][0] == "y" for op in ops)]
    return found[0] if len(found) == 1 else None


def _columns(ops) -> list[list]:
    """A vertical group's ops per input column: both loads, the pair, its products."""
    columns = []
    for op in ops:
        if op[0] == "load" and op[1][0] == "x":
            columns.append([])
        if columns:   # a ("phase",) op before them is not a column's
            columns[-1].append(op)
    return columns


def _key(column) -> tuple:
    return tuple(op[2] for op in column if op[0] == "load")


def with_carries(blocks) -> list | None:
    """blocks (rows, biases, stores) with the vertical pairs of the input columns two
    neighbouring blocks share (a 6-wide block's last two at stride 1, one at stride 2) packed
    once: the first block makes its vertical pairs last and names the shared ones for the
    statement (@...), the second multiplies them first, then runs its other rows, then its own
    columns with the vertical words loaded again (held across the other rows they would take
    the registers the pairs need); None where no neighbours share a column."""
    rows = [list(r) for r, _, _ in blocks]
    carried = False
    for i in range(1, len(rows)):
        first, second = _vertical_group(rows[i - 1]), _vertical_group(rows[i])
        if first is None or second is None:
            continue
        mine = _columns(rows[i][second])
        theirs = {_key(col): col for col in _columns(rows[i - 1][first])}
        shared = [col for col in mine if _key(col) in theirs]
        if not shared or mine[:len(shared)] != shared:
            continue
        renamed, lead = {}, []
        for col in shared:
            pair = next(op[1] for op in theirs[_key(col)] if op[0] == "pack")
            renamed[pair] = f"@{i}.{pair}"
            lead += [op[:3] + (renamed[pair],) + op[4:] for op in col if op[0] == "mac"]
        rows[i - 1][first] = [op[:1] + (renamed.get(op[1], op[1]),) + op[2:] if op[0] == "pack" else
                              op[:3] + (renamed.get(op[3], op[3]),) + op[4:] if op[0] == "mac" else op
                              for op in rows[i - 1][first]]
        if first != len(rows[i - 1]) - 1:   # the shared pairs made last, held over no other row
            rows[i - 1].append(rows[i - 1].pop(first))
        rest = [op for col in mine[len(shared):] for op in col]
        others = [ops for j, ops in enumerate(rows[i]) if j != second]
        rows[i] = [lead] + others + ([[("phase",)] + rest] if rest else [])
        carried = True
    return [(r, b, st) for r, (_, b, st) in zip(rows, blocks)] if carried else None


def block(rows, biases: dict, stores, c: Consts, in_ptr: str, out_ptr: str) -> list[str] | None:
    """The C lines of one block's ``__asm__`` statement, or None (see _block_ops)."""
    return sequence([(rows, biases, stores)], c, {"src": in_ptr, "dst": out_ptr}, "")


def sequence(blocks, c: Consts, starts: dict, tag: str = "b{}.") -> list[str] | None:
    """The C lines of one ``__asm__`` statement running blocks (as for loop()) one after the
    other: the pointers stay in their registers in between. Neighbouring words in LDRDs where
    the registers allow, else one by one."""
    for todo, paired in _tries(blocks, (True, False)):
        out = _Out()
        if not all(_block_ops(out, tag.format(i), rows, biases, stores, c, paired)
                   for i, (rows, biases, stores) in enumerate(todo)):
            return None
        lines = _render(out.ops, starts, ())
        if lines is not None:
            return lines
    return None


def _tries(blocks, options):
    """(blocks, option) to try in turn: with the shared columns packed once, then as they are."""
    carried = with_carries(blocks)
    return [(b, o) for b in ([carried] if carried else []) + [blocks] for o in options]


def loop(blocks, count: int, steps: dict, c: Consts, starts: dict) -> list[str] | None:
    """The C lines of an ``__asm__`` loop of ``count`` passes over blocks (each (rows, biases,
    stores) as for block(), reading and writing through the loop's pointers), the pointers
    stepped by steps {"src": bytes, "dst": bytes} a pass; starts: the pointers' C values. The
    pass counter takes a register where the blocks leave one, else a word of GCC's frame (a
    memory operand: the frame's size and the stack figures stay GCC's);
    None when neither allocates."""
    for todo, (paired, in_register) in _tries(blocks, ((True, True), (True, False), (False, True), (False, False))):
        out = _Out()
        out.op("1:", None)
        for i, (rows, biases, stores) in enumerate(todo):
            if not _block_ops(out, f"b{i}.", rows, biases, stores, c, paired):
                return None
        for ptr in ("src", "dst"):
            rel = steps[ptr] - out.base[ptr]
            if rel:
                out.op(f"{'add' if rel > 0 else 'sub'}w {{d}}, {{d}}, #{abs(rel)}", ptr, ptr)
        if in_register:
            out.op("subs {d}, {0}, #1\\n\\tbne 1b", "cnt", "cnt")
        else:
            out.op("ldr {d}, %[n]", "n")
            out.op("subs {d}, {0}, #1", "n", "n")
            out.op("str {0}, %[n]\\n\\tbne 1b", None, "n")
        if any(abs(steps[p] - out.base[p]) > IMM12 for p in ("src", "dst")):
            return None
        lines = _render(out.ops, dict(starts, cnt=str(count)), ("src", "dst", "k") + (("cnt",) if in_register else ()),
                        None if in_register else count)
        if lines is not None:
            return lines
    return None


def _render(ops, starts: dict, carried, frame_count: int | None = None) -> list[str] | None:
    """The statement's C lines: pinned pointers, the text, operands and clobbers; frame_count:
    the pass counter of a loop kept in GCC's frame (operand %[n])."""
    regs = _allocate(ops, carried)
    if regs is None:
        return None
    text = [fmt.format(*(regs[u] for u in uses), d=regs.get(d), d2=regs.get(ops[i + 1][1]) if "{d2}" in fmt else None)
            for i, (fmt, d, uses) in enumerate(ops) if fmt]
    pointers = [p for p in POINTERS if p in regs]
    c_of = {"src": "const int8_t *", "dst": "int8_t *", "k": "const int32_t *",
            "cnt": "int32_t "}
    values = dict({"k": "k"}, **starts)
    lines = ["{"]
    lines += [f"    register {c_of[p]}mcc_r{p} __asm__(\"{PINNED[p]}\") = {values[p]};" for p in pointers]
    operands = [f"\"+r\"(mcc_r{p})" for p in pointers]
    if frame_count is not None:
        lines.append(f"    int32_t mcc_n = {frame_count};")
        operands.append("[n] \"+m\"(mcc_n)")
    used_cb = sorted({int(m) for t in text for m in re.findall(r"%\[cb(\d+)\]", t)})
    operands_in = [f"[cb{i}] \"m\"(mcc_cb[{i}])" for i in used_cb]
    if 2 * len(operands) + len(operands_in) > MAX_OPERANDS:   # GCC counts a "+" operand twice
        return None
    lines.append("    __asm__ volatile(")
    lines += [f"        \"{t}\\n\\t\"" for t in text]
    lines.append("        : " + ", ".join(operands))
    clobbers = [r for r in REGISTERS if r not in {PINNED[p] for p in pointers}]
    lines.append("        : " + ", ".join(operands_in) + " : " + ", ".join(f"\"{r}\"" for r in clobbers)
                 + ", \"cc\", \"memory\");")
    lines.append("}")
    return lines


def _allocate(ops, carried=()) -> dict[str, str] | None:
    """Linear scan: value -> register. The pointers (and a loop's counter) start in their pinned
    registers; a value's register is free again after the instruction that last reads it (that
    instruction may write its result there), ``carried`` values (read by the loop's next pass)
    never; None when some value finds no free register."""
    last = {}
    for i, (_, d, uses) in enumerate(ops):
        for u in uses:
            last[u] = i
    for u in carried:
        if u in last:
            last[u] = len(ops)
    regs = {p: PINNED[p] for p in POINTERS if p in last}
    free = [r for r in REGISTERS if r not in regs.values()]
    for i, (_, d, uses) in enumerate(ops):
        for u in dict.fromkeys(uses):
            if last[u] == i and u != d:
                free.append(regs[u])
        if d is not None and d not in regs:
            if not free:
                return None
            regs[d] = free.pop(0)
        elif d is not None and last.get(d, -1) < i:   # written and never read again
            free.append(regs[d])
    return regs
