"""Where the instruction counter starts and stops: the model's first instruction and the address
it returns to in the harness glue, so one count is exactly one `<prefix>_invoke()` call.

The return address is the instruction after the glue's `bl <prefix>_invoke`, read from the
disassembly. When it cannot be found (an unusual API or compiler), the harness's marker
functions around the glue call are used instead, which adds a handful of call instructions.
"""

from __future__ import annotations

import re
from pathlib import Path

from mcucompress.errors import McuError
from mcucompress.targets.tools import run_tool, symbol_addresses

GLUE = "mcc_glue_invoke"
MARKERS = ("mcc_bench_begin", "mcc_bench_end")
_INSN = re.compile(r"^\s*([0-9a-f]+):\s")
_FUNCTION = re.compile(r"^[0-9a-f]+ <(\S+)>:$")


def _return_sites(elf: Path, calls: dict[str, str]) -> dict[str, int]:
    """caller -> the address of the instruction after the caller's `bl <callee>`, for the callers
    where one is found; one disassembly for all of them."""
    only = [f"--disassemble={next(iter(calls))}"] if len(calls) == 1 else ["-d"]
    result = run_tool(["arm-none-eabi-objdump", *only, str(elf)])
    if result.returncode != 0:
        return {}
    listing: dict[str, list[str]] = {}
    function = None
    for line in result.stdout.splitlines():
        match = _FUNCTION.match(line)
        if match:
            function = match.group(1)
        elif function in calls and _INSN.match(line):
            listing.setdefault(function, []).append(line)
    sites = {}
    for caller, lines in listing.items():
        for line, following in zip(lines, lines[1:]):
            fields = line.split("\t")
            if len(fields) >= 4 and fields[2].strip() == "bl" and fields[3].strip().endswith(f"<{calls[caller]}>"):
                sites[caller] = int(_INSN.match(following).group(1), 16)
                break
    return sites


def invoke_regions(elf: Path, glues: dict[str, str]) -> dict[str, tuple[int, int]]:
    """glue function -> (entry of the prefix's invoke, the glue's return site) for {glue: prefix}:
    each model of a firmware that holds several (one glue function each) counted exactly."""
    calls = {glue: f"{prefix}_invoke" for glue, prefix in glues.items()}
    sites = _return_sites(elf, calls)
    missing = sorted(set(calls) - set(sites))
    if missing:
        raise McuError(f"{elf.name}: no call of the model's invoke found in {', '.join(missing)}")
    entries = symbol_addresses(elf, tuple(calls.values()))
    return {glue: (entries[calls[glue]], sites[glue]) for glue in glues}


def count_region(elf: Path, prefix: str) -> tuple[int, int, bool]:
    """(begin address, end address, exact): exact means one invoke, nothing else, is counted."""
    invoke = f"{prefix}_invoke"
    back = _return_sites(elf, {GLUE: invoke}).get(GLUE)
    if back is not None:
        entry = symbol_addresses(elf, (invoke,))[invoke]
        return entry, back, True
    markers = symbol_addresses(elf, MARKERS)
    return markers[MARKERS[0]], markers[MARKERS[1]], False
