"""Locating and running the external programs the firmware side needs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from mcucompress.errors import McuError

DEBIAN_PACKAGE = {
    "arm-none-eabi-gcc": "gcc-arm-none-eabi",
    "arm-none-eabi-size": "binutils-arm-none-eabi",
    "arm-none-eabi-nm": "binutils-arm-none-eabi",
    "arm-none-eabi-objdump": "binutils-arm-none-eabi",
    "arm-none-eabi-objcopy": "binutils-arm-none-eabi",
    "qemu-system-arm": "qemu-system-arm",
    "cmake": "cmake",
    "ninja": "ninja-build",
    "gcc": "gcc",
    "objcopy": "binutils",
}


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        package = DEBIAN_PACKAGE.get(name)
        hint = f" (Debian package {package})" if package else ""
        raise McuError(f"{name} not found on PATH; install it{hint}")
    return path


def run_tool(args: list[str], cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Runs a tool with stdin closed and captured text output; never raises on a non-zero exit."""
    require_tool(args[0])
    try:
        return subprocess.run(args, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise McuError(f"{Path(args[0]).name} did not finish within {timeout:.0f} s") from None


def symbol_addresses(elf: Path, names: tuple[str, ...]) -> dict[str, int]:
    """Addresses of global symbols from arm-none-eabi-nm, Thumb bit cleared."""
    result = run_tool(["arm-none-eabi-nm", str(elf)])
    if result.returncode != 0:
        raise McuError(f"arm-none-eabi-nm failed on {elf}: {result.stderr.strip()}")
    found = {}
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] in names:
            found[parts[2]] = int(parts[0], 16) & ~1
    missing = [n for n in names if n not in found]
    if missing:
        raise McuError(f"{elf.name} has no symbol {', '.join(missing)}")
    return found
