"""One block of a written-out depthwise layer (dw_gen.py) as Thumb-2 assembly whose registers
the generator chooses.

GCC compiles dw_gen's C blocks with spills: six accumulators, the weight words, the
multiplier, the round and the pointers exceed the 13 registers it keeps free. Here each value of
the block's straight-line code (inputs x, pairs p, weight words loaded per kernel row when first
needed, the biases each accumulator starts from, accumulators, multiplier and round loaded once
the products are done) has a known definition and last use, so a linear scan over the op list
gives each a register, reusing a register at the instruction that reads its last use. The
block is an ``__asm__`` statement whose pointers sit in pinned registers (input r0, output r1,
the channel's words r2, the class biases r3 when the block needs them); every other register
but sp and pc is the block's. A block needing more registers than that returns None: it stays C.
"""

from __future__ import annotations

POINTERS = ("src", "dst", "k", "cb")
PINNED = {"src": "r0", "dst": "r1", "k": "r2", "cb": "r3"}
REGISTERS = ("r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "lr")
IMM12 = 4095   # LDRSB / LDR / STRB immediates and ADDW / SUBW


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
        while rel:
            step = max(-IMM12, min(IMM12, rel))
            self.op(f"{'add' if step > 0 else 'sub'}w {{d}}, {{d}}, #{abs(step)}", ptr, ptr)
            rel -= step
        self.base[ptr] = off
        return 0


def block(rows, biases: dict, stores, row_words: int, pair_words: int, cb: dict, shift: int,
          act_min: int, act_max: int, in_ptr: str, out_ptr: str) -> list[str] | None:
    """The C lines of one block's ``__asm__`` statement, or None. rows: per input row the ops
    dw_gen._Writer._input_row made; biases: accumulator -> "bias" (word pair_words of k) or a
    class bias (cb: name -> its index in mcc_cb); stores: (accumulator, output offset);
    row_words: weight words per kernel row (w{ky}_{kx} is word ky * row_words + kx)."""
    out = _Out()
    started: set[str] = set()
    loaded: set[str] = set()
    for iy, ops in enumerate(rows):
        for op in ops:
            if op[0] == "load":
                _, x, off = op
                rel = out.offset("src", off)
                out.op(f"ldrsb {{d}}, [{{0}}, #{rel}]", f"{iy}:{x}", "src")
                continue
            if op[0] == "pack":
                _, p, lo, hi = op
                out.op("pkhbt {d}, {0}, {1}, lsl #16", f"{iy}:{p}", f"{iy}:{lo}", f"{iy}:{hi}")
                continue
            _, instr, acc, a, w = op
            if w not in loaded:   # the weight word, when first needed
                loaded.add(w)
                ky, kx = (int(v) for v in w[1:].split("_"))
                out.op(f"ldr {{d}}, [{{0}}, #{4 * (ky * row_words + kx)}]", w, "k")
            start = acc
            if acc not in started:   # the first product starts from the accumulator's bias
                started.add(acc)
                start = biases[acc]
                if start not in loaded:
                    loaded.add(start)
                    where = ("k", pair_words) if start == "bias" else ("cb", cb[start])
                    out.op(f"ldr {{d}}, [{{0}}, #{4 * where[1]}]", start, where[0])
            out.op(f"{instr} {{d}}, {{0}}, {{1}}, {{2}}", acc, f"{iy}:{a}", w, start)
    out.op(f"ldr {{d}}, [{{0}}, #{4 * (pair_words + 1)}]", "mult", "k")
    out.op(f"ldr {{d}}, [{{0}}, #{4 * (pair_words + 2)}]", "rnd", "k")
    for acc, off in stores:
        if acc not in started:
            return None
        out.op("smmla {d}, {0}, {1}, {2}", acc, acc, "mult", "rnd")
        out.op(f"ssat {{d}}, #8, {{0}}, asr #{shift}", acc, acc)
        if act_min > -128:
            out.op(f"cmp {{0}}, #{act_min}\n\tit lt\n\tmovlt {{0}}, #{act_min}", None, acc)
        if act_max < 127:
            out.op(f"cmp {{0}}, #{act_max}\n\tit gt\n\tmovgt {{0}}, #{act_max}", None, acc)
        rel = out.offset("dst", off)
        out.op(f"strb {{0}}, [{{1}}, #{rel}]", None, acc, "dst")
    regs = _allocate(out.ops, "cb" in {u for _, _, uses in out.ops for u in uses})
    if regs is None:
        return None
    text = []
    for fmt, d, uses in out.ops:
        text.append(fmt.format(*(regs[u] for u in uses), d=regs.get(d)))
    pointers = [p for p in POINTERS if p != "cb" or "cb" in regs]
    c_of = {"src": ("const int8_t *", in_ptr), "dst": ("int8_t *", out_ptr), "k": ("const int32_t *", "k"),
            "cb": ("const int32_t *", "mcc_cb")}
    lines = ["{"]
    lines += [f"    register {c_of[p][0]}mcc_r{p} __asm__(\"{PINNED[p]}\") = {c_of[p][1]};" for p in pointers]
    lines.append("    __asm__ volatile(")
    lines += [f"        \"{t}\\n\\t\"" for t in text]
    lines.append("        : " + ", ".join(f"\"+r\"(mcc_r{p})" for p in pointers))
    clobbers = [r for r in REGISTERS if r not in {PINNED[p] for p in pointers}]
    lines.append("        : : " + ", ".join(f"\"{r}\"" for r in clobbers) + ", \"cc\", \"memory\");")
    lines.append("}")
    return lines


def _allocate(ops, with_cb: bool) -> dict[str, str] | None:
    """Linear scan: value -> register. The pointers start in their pinned registers; a value's
    register is free again after the instruction that last reads it (that instruction may
    write its result there); None when some value finds no free register."""
    last = {}
    for i, (_, d, uses) in enumerate(ops):
        for u in uses:
            last[u] = i
    regs = {p: PINNED[p] for p in POINTERS if p != "cb" or with_cb}
    free = [r for r in REGISTERS if r not in regs.values()]
    for p in list(regs):
        if p not in last:   # a pointer the block never reads
            free.append(regs[p])
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
