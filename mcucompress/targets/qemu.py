"""Runs a firmware ELF on the board's QEMU machine with semihosting and the instruction counter."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mcucompress.errors import McuError
from mcucompress.targets.board import Board
from mcucompress.targets.count_region import count_region
from mcucompress.targets.plugin import plugin_path
from mcucompress.targets.tools import run_tool

EXIT_MEANING = {1: "outputs differ from the expected bytes", 2: "the model's invoke returned an error",
                3: "the firmware faulted"}


@dataclass(frozen=True)
class QemuRun:
    outputs: tuple[bytes, ...]           # one per test vector, as the target printed them
    instructions: tuple[int, ...]        # executed instructions per inference
    exact_invoke: bool                   # counts cover exactly <prefix>_invoke, no harness code
    stack_used: int | None
    exit_status: int
    console: str
    exits: tuple[int, ...] = ()          # early exit taken per inference (0 for models without)
    region_passes: tuple[tuple[int, int], ...] = ()   # (region, count) of each pass of `regions`, in order


def qemu_command(elf: Path, board: Board, plugin_args: str | None = None) -> list[str]:
    if board.qemu_machine is None:
        raise McuError(f"board {board.name} has no QEMU machine; flash it with `mcucompress flash`")
    args = ["qemu-system-arm", "-M", board.qemu_machine, "-nographic", "-monitor", "none",
            "-serial", "null", "-semihosting-config", "enable=on,target=native",
            "-kernel", str(elf)]
    if plugin_args:
        args += ["-plugin", plugin_args]
    return args


def parse_console(text: str) -> tuple[list[bytes], int | None]:
    outputs: dict[int, bytes] = {}
    stack = None
    for line in text.splitlines():
        match = re.fullmatch(r"mcc out (\d+) ([0-9a-f]*)", line.strip())
        if match:
            outputs[int(match.group(1))] = bytes.fromhex(match.group(2))
        match = re.fullmatch(r"mcc stack (\d+) of (\d+)", line.strip())
        if match:
            stack = int(match.group(1))
    return [outputs[i] for i in sorted(outputs)], stack


def parse_exits(text: str, count: int) -> tuple[int, ...]:
    """The exit each of ``count`` inferences took: "mcc exit <index> <exit>" lines, 0 if none."""
    exits = [0] * count
    for match in re.finditer(r"^mcc exit (\d+) (\d+)\s*$", text, re.MULTILINE):
        if int(match.group(1)) < count:
            exits[int(match.group(1))] = int(match.group(2))
    return tuple(exits)


def run_on_qemu(elf: Path, board: Board, prefix: str, timeout: float = 300, regions=()) -> QemuRun:
    """``regions``: more (begin, end) address pairs the same run counts, each on its own (the
    kernel call sites `bench` counts per layer): their passes come back in ``region_passes``."""
    elf = Path(elf)
    begin, end, exact = count_region(elf, prefix)
    with tempfile.TemporaryDirectory(prefix="mcc-icount-") as tmp:
        counts_file = Path(tmp) / "counts.txt"
        pairs = "".join(f",begin={b:#x},end={e:#x}" for b, e in [(begin, end), *regions])
        plugin_args = f"{plugin_path()}{pairs},out={counts_file}"
        result = run_tool(qemu_command(elf, board, plugin_args), timeout=timeout)
        counts = counts_file.read_text().split("\n") if counts_file.is_file() else []
    console = result.stdout + result.stderr   # QEMU 7.2 prints semihosting output on stderr
    if result.returncode not in (0, 1) or "mcc result" not in console:
        meaning = EXIT_MEANING.get(result.returncode, f"QEMU exited with status {result.returncode}")
        detail = console.strip().splitlines()[-1:] or [""]
        raise McuError(f"run on {board.name} failed: {meaning} {detail[0]}".strip())
    outputs, stack = parse_console(console)
    passes = [(int(fields[2]) if len(fields) > 2 else 0, int(fields[1]))
              for fields in map(str.split, counts) if fields and fields[0] == "pass"]
    instructions = tuple(count for pair, count in passes if pair == 0)
    return QemuRun(tuple(outputs), instructions, exact, stack, result.returncode, console,
                   parse_exits(console, len(outputs)),
                   tuple((pair - 1, count) for pair, count in passes if pair > 0))
