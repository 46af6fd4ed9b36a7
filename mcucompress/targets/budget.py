"""Flash and RAM of a firmware image, and whether it fits its board.

Flash = everything loaded into flash (vector table, code, constants and weights, .data's initial
values) except the harness's test vectors; on a board with a read-only data region of its own the
constants there (.rodata) count too, against flash plus that region. RAM = .data + .bss (the arena lives in .bss) + the
stack: the high-water mark measured on the target when it ran, else the worst case computed from
GCC's call graphs, else the whole reservation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mcucompress.errors import McuError
from mcucompress.targets.board import Board
from mcucompress.targets.tools import run_tool

FLASH_SECTIONS = (".isr_vector", ".text", ".ARM.exidx", ".data", ".rodata")
RAM_SECTIONS = (".data", ".bss")
VECTOR_SECTION = ".mcc_vectors"
STACK_SECTION = ".stack"

_OVERFLOW = re.compile(r"region `(\w+)' overflowed by (\d+) bytes")


def kb(n: int) -> str:
    return f"{n / 1024:.1f} KB"


@dataclass(frozen=True)
class Footprint:
    sections: dict[str, int]
    stack_used: int | None = None       # measured on the target
    stack_computed: int | None = None   # worst case from the call graph

    @property
    def flash_bytes(self) -> int:
        return sum(self.sections.get(s, 0) for s in FLASH_SECTIONS)

    @property
    def static_ram_bytes(self) -> int:
        return sum(self.sections.get(s, 0) for s in RAM_SECTIONS)

    @property
    def stack_reserved(self) -> int:
        return self.sections.get(STACK_SECTION, 0)

    @property
    def stack_bytes(self) -> int:
        for value in (self.stack_used, self.stack_computed):
            if value is not None:
                return value
        return self.stack_reserved

    @property
    def stack_source(self) -> str:
        if self.stack_used is not None:
            return "measured"
        return "computed" if self.stack_computed is not None else "reserved"

    @property
    def ram_bytes(self) -> int:
        return self.static_ram_bytes + self.stack_bytes

    @property
    def vectors_bytes(self) -> int:
        return self.sections.get(VECTOR_SECTION, 0)

    def with_stack(self, used: int) -> "Footprint":
        return Footprint(self.sections, used, self.stack_computed)

    def with_computed_stack(self, computed: int | None) -> "Footprint":
        return Footprint(self.sections, self.stack_used, computed)

    def as_dict(self, board: Board) -> dict:
        return {
            "board": board.name,
            "flash_bytes": self.flash_bytes, "board_flash_bytes": board.image_capacity,
            "ram_bytes": self.ram_bytes, "board_ram_bytes": board.ram.size,
            "static_ram_bytes": self.static_ram_bytes,
            "stack_bytes": self.stack_bytes, "stack_source": self.stack_source,
            "stack_measured_bytes": self.stack_used, "stack_computed_bytes": self.stack_computed,
            "stack_reserved_bytes": self.stack_reserved,
            "test_vector_bytes": self.vectors_bytes,
            "summary": self.summary(board),
        }

    def summary(self, board: Board) -> str:
        stack = f"{self.stack_bytes:,} B stack {self.stack_source}"
        return (f"{board.name}: flash {self.flash_bytes:,} B of {board.image_capacity:,} B, "
                f"RAM {self.ram_bytes:,} B of {board.ram.size:,} B "
                f"({self.static_ram_bytes:,} B data+bss + {stack})")


def measure(elf: Path) -> Footprint:
    """Section sizes from `arm-none-eabi-size -A`."""
    result = run_tool(["arm-none-eabi-size", "-A", str(elf)])
    if result.returncode != 0:
        raise McuError(f"arm-none-eabi-size failed on {elf}: {result.stderr.strip()}")
    sections = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            sections[parts[0]] = int(parts[1])
    return Footprint(sections)


def flash_overflow(link_log: str) -> int | None:
    """Bytes by which a failed link overflowed the image's non-volatile regions (FLASH, and RODATA
    where the board has one), or None when it did not."""
    over = {region: int(n) for region, n in _OVERFLOW.findall(link_log)}
    image = [over[r] for r in ("FLASH", "RODATA") if r in over]
    return sum(image) if image else None


ARENA_SYMBOL = "mcc_arena"


def arena_bytes(library: Path) -> int | None:
    """Size of the model's activation arena (the static `mcc_arena`) in its compiled library."""
    if not Path(library).is_file():
        return None
    result = run_tool(["arm-none-eabi-nm", "-S", str(library)])
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3] == ARENA_SYMBOL:
            return int(parts[1], 16)
    return None


def overflow_error(link_log: str, board: Board, stack_bytes: int, arena: int | None = None) -> McuError | None:
    """The budget error for a link that failed because a memory region overflowed, else None.
    With the arena size, a RAM overflow is broken down into arena, stack and everything else."""
    over = {region: int(n) for region, n in _OVERFLOW.findall(link_log)}
    if not over:
        return None
    parts = []
    for region, excess in sorted(over.items()):
        size = {"FLASH": board.flash.size, "RODATA": board.rodata.size if board.rodata else 0}.get(region, board.ram.size)
        what = {"FLASH": "flash", "RODATA": "read-only data"}.get(region, f"RAM (with a {kb(stack_bytes)} stack)")
        part = f"{what} needs {kb(size + excess)} of {kb(size)}, {kb(excess)} over"
        if region == "RAM" and arena is not None:
            rest = size + excess - arena - stack_bytes
            part += (f" (activation arena {kb(arena)} + stack {kb(stack_bytes)} + harness and other data "
                     f"{kb(rest)})")
        parts.append(part)
    return McuError(f"the model does not fit {board.name}: " + "; ".join(parts))


def check_stack(footprint: Footprint, board: Board) -> None:
    """After a run: the measured stack must have stayed inside its reservation (the linker
    already checked everything else)."""
    if footprint.stack_used is not None and footprint.stack_used >= footprint.stack_reserved:
        raise McuError(f"the firmware used all {kb(footprint.stack_reserved)} of stack reserved on "
                       f"{board.name}; raise stack_bytes in the board file")
