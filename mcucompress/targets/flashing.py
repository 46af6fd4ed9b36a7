"""Flashing a built firmware image with pyOCD (preferred) or OpenOCD.

The image flashed is the `standalone` harness build: on a board without a debugger attached,
semihosting would fault, so results go to a RAM buffer (`mcc_console`, `mcc_exit_status`).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from mcucompress.errors import McuError
from mcucompress.targets.board import Board

TOOLS = ("pyocd", "openocd")


def available_tools(board: Board) -> list[str]:
    """The flashing tools this board has settings for, in order of preference."""
    tools = []
    if board.pyocd_target:
        tools.append("pyocd")
    if board.openocd_config:
        tools.append("openocd")
    return tools


def choose_tool(board: Board, tool: str | None) -> str:
    tools = available_tools(board)
    if not tools:
        raise McuError(f"board {board.name} has no flashing settings (it is emulated or programmed otherwise)")
    if tool is None:
        return tools[0]
    if tool not in tools:
        raise McuError(f"board {board.name} has no {tool} settings (it has: {', '.join(tools)})")
    return tool


def pyocd_executable() -> str:
    """pyocd on PATH, else the one installed beside this Python (an unactivated venv)."""
    beside = Path(sys.executable).parent / "pyocd"
    return shutil.which("pyocd") or (str(beside) if beside.is_file() else "pyocd")


def flash_command(board: Board, elf: Path, tool: str) -> list[str]:
    """The exact command line that programs `elf`, verifies it and resets the board."""
    if tool == "pyocd":
        return [pyocd_executable(), "flash", "--target", board.pyocd_target, "--format", "elf", str(elf)]
    if tool == "openocd":
        args = ["openocd"]
        for config in board.openocd_config:
            args += ["-f", config]
        return args + ["-c", f"program {elf} verify reset exit"]
    raise McuError(f"unknown flashing tool '{tool}' (use one of {', '.join(TOOLS)})")


def pyocd_probes() -> list[str]:
    """Unique ids of the debug probes pyOCD sees now."""
    from pyocd.core.helpers import ConnectHelper

    return [probe.unique_id for probe in ConnectHelper.get_all_connected_probes(blocking=False)]


def check_tool_ready(board: Board, tool: str) -> None:
    """Fails with one line when the tool is missing or (pyOCD) no probe is attached."""
    if tool == "pyocd":
        if shutil.which(pyocd_executable()) is None:
            raise McuError("pyocd not found on PATH; install it with `pip install pyocd`")
        if not pyocd_probes():
            raise McuError(f"no debug probe found: connect {board.name} over USB (ST-LINK / CMSIS-DAP / J-Link) and retry")
        if board.pyocd_pack:
            from pyocd.target import TARGET

            if board.pyocd_target not in TARGET:
                _check_pack(board)
    elif shutil.which("openocd") is None:
        raise McuError("openocd not found on PATH; install it (Debian package openocd) or use --tool pyocd")


def _check_pack(board: Board) -> None:
    from pyocd.target.pack.pack_target import ManagedPacks

    names = {target.part_number.lower() for target in ManagedPacks.get_installed_targets()}
    if board.pyocd_target.lower() not in names:
        raise McuError(f"pyOCD has no support for {board.pyocd_target} installed; run "
                       f"`pyocd pack install {board.pyocd_target}`")
