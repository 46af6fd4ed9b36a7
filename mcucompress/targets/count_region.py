"""Where the instruction counter starts and stops: the model's first instruction and the address
it returns to in the harness glue, so one count is exactly one `<prefix>_invoke()` call.

The return address is the instruction after the glue's `bl <prefix>_invoke`, read from the
disassembly. When it cannot be found (an unusual API or compiler), the harness's marker
functions around the glue call are used instead, which adds a handful of call instructions.
"""

from __future__ import annotations

import re
from pathlib import Path

from mcucompress.targets.tools import run_tool, symbol_addresses

GLUE = "mcc_glue_invoke"
MARKERS = ("mcc_bench_begin", "mcc_bench_end")
_INSN = re.compile(r"^\s*([0-9a-f]+):\s")


def _return_site(elf: Path, callee: str) -> int | None:
    result = run_tool(["arm-none-eabi-objdump", "-d", f"--disassemble={GLUE}", str(elf)])
    if result.returncode != 0:
        return None
    lines = [l for l in result.stdout.splitlines() if _INSN.match(l)]
    for line, following in zip(lines, lines[1:]):
        fields = line.split("\t")
        if len(fields) >= 4 and fields[2].strip() == "bl" and fields[3].strip().endswith(f"<{callee}>"):
            return int(_INSN.match(following).group(1), 16)
    return None


def count_region(elf: Path, prefix: str) -> tuple[int, int, bool]:
    """(begin address, end address, exact): exact means one invoke, nothing else, is counted."""
    invoke = f"{prefix}_invoke"
    back = _return_site(elf, invoke)
    if back is not None:
        entry = symbol_addresses(elf, (invoke,))[invoke]
        return entry, back, True
    markers = symbol_addresses(elf, MARKERS)
    return markers[MARKERS[0]], markers[MARKERS[1]], False
