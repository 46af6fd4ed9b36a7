"""The schema of a board file: every field's type, range and characters, checked before any of
it reaches a linker script, a CMake file, a C comment or a tool's command line.

A board file may come from anywhere (`--boards-dir`), so text is limited to characters that are
plain in all of those places: no newlines, quotes, `$`, `;`, `*`, `#` or braces.
"""

from __future__ import annotations

import re

CPUS = ("cortex-m0", "cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")
FPUS = ("auto", "fpv4-sp-d16", "fpv5-sp-d16", "fpv5-d16")
FLOAT_ABIS = ("hard", "softfp", "soft")

BOARD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
TOOL_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")           # QEMU machine, pyOCD target
CONFIG_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")  # OpenOCD script
PLAIN_TEXT = re.compile(r"[A-Za-z0-9 .,:()+/_@&'-]*")

TOP_KEYS = {"name", "description", "cpu", "fpu", "float_abi", "features", "clock_hz", "memory",
            "stack_bytes", "qemu", "flash_tool", "notes", "boot"}
ADDRESS_SPACE = 1 << 32


class BoardSchemaError(ValueError):
    """One line naming the field and what is wrong with it."""


def _fail(field: str, problem: str):
    raise BoardSchemaError(f"field '{field}' {problem}")


def _mapping(value, field: str, keys: set[str]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(field, "must be a mapping")
    unknown = sorted(str(k) for k in value if k not in keys)
    if unknown:
        _fail(f"{field}.{unknown[0]}" if field else unknown[0], "is not a board field")
    return value


def _choice(value, field: str, allowed: tuple) -> str:
    if value not in allowed:
        _fail(field, f"must be one of {', '.join(allowed)}")
    return value


def _integer(value, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        _fail(field, f"must be an integer from {low:#x} to {high:#x}")
    return value


def _boolean(value, field: str) -> bool:
    if not isinstance(value, bool):
        _fail(field, "must be true or false")
    return value


def _word(value, field: str, pattern: re.Pattern, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value) or ".." in value:
        _fail(field, f"must match {pattern.pattern} (no '..')")
    return value


def _text(value, field: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        _fail(field, "must be text")
    value = " ".join(value.split())  # YAML folding may leave line breaks; a board's text is one line
    if len(value) > limit or not PLAIN_TEXT.fullmatch(value):
        bad = next((c for c in value if not PLAIN_TEXT.fullmatch(c)), None)
        _fail(field, f"holds {repr(bad) if bad else f'more than {limit} characters'} (allowed: letters, "
                     "digits, spaces and . , : ( ) + / _ @ & ' -)")
    return value


def _memory(value, field: str) -> tuple[int, int]:
    region = _mapping(value, field, {"origin", "size"})
    origin = _integer(region.get("origin"), f"{field}.origin", 0, ADDRESS_SPACE - 1)
    size = _integer(region.get("size"), f"{field}.size", 1, ADDRESS_SPACE - origin)
    return origin, size


def checked_board_fields(d) -> dict:
    """The keyword arguments of Board for a parsed board file, or BoardSchemaError."""
    d = _mapping(d, "", TOP_KEYS)
    if not d:
        raise BoardSchemaError("the file holds no board")
    features = _mapping(d.get("features"), "features", {"dsp", "mve"})
    memory = _mapping(d.get("memory"), "memory", {"flash", "ram", "rodata"})
    qemu = _mapping(d.get("qemu"), "qemu", {"machine"})
    tools = _mapping(d.get("flash_tool"), "flash_tool", {"pyocd", "openocd"})
    pyocd = _mapping(tools.get("pyocd"), "flash_tool.pyocd", {"target", "pack"})
    openocd = _mapping(tools.get("openocd"), "flash_tool.openocd", {"config"})
    boot = _mapping(d.get("boot"), "boot", {"stage2", "uf2_family"})  # RP2040: boot2 source, UF2 family id
    configs = openocd.get("config") or []
    if not isinstance(configs, list) or len(configs) > 8:
        _fail("flash_tool.openocd.config", "must be a list of at most 8 script paths")
    flash, ram = _memory(memory.get("flash"), "memory.flash"), _memory(memory.get("ram"), "memory.ram")
    # read-only data (weights, constants) in a region of its own, where the board keeps it apart from code
    rodata = None if memory.get("rodata") is None else _memory(memory["rodata"], "memory.rodata")
    for name, (origin, size) in (("flash", flash), ("ram", ram)):
        if rodata and origin < rodata[0] + rodata[1] and rodata[0] < origin + size:
            _fail("memory.rodata", f"overlaps memory.{name}")
    return dict(
        name=_word(d.get("name"), "name", BOARD_NAME),
        description=_text(d.get("description"), "description", 120),
        cpu=_choice(d.get("cpu"), "cpu", CPUS),
        fpu=None if d.get("fpu") is None else _choice(d.get("fpu"), "fpu", FPUS),
        float_abi=_choice(d.get("float_abi"), "float_abi", FLOAT_ABIS),
        dsp=_boolean(features.get("dsp", False), "features.dsp"),
        mve=_boolean(features.get("mve", False), "features.mve"),
        clock_hz=_integer(d.get("clock_hz"), "clock_hz", 1, 2_000_000_000),
        flash=flash,
        ram=ram,
        rodata=rodata,
        stack_bytes=_integer(d.get("stack_bytes"), "stack_bytes", 256, min(ram[1], 1 << 24)),
        qemu_machine=_word(qemu.get("machine"), "qemu.machine", TOOL_WORD, optional=True),
        pyocd_target=_word(pyocd.get("target"), "flash_tool.pyocd.target", TOOL_WORD, optional=True),
        pyocd_pack=_boolean(pyocd.get("pack", False), "flash_tool.pyocd.pack"),
        openocd_config=tuple(_word(c, "flash_tool.openocd.config", CONFIG_PATH) for c in configs),
        notes=_text(d.get("notes"), "notes", 400),
        boot2=_word(boot.get("stage2"), "boot.stage2", TOOL_WORD, optional=True),
        uf2_family=None if boot.get("uf2_family") is None else _integer(boot["uf2_family"], "boot.uf2_family",
                                                                        0, ADDRESS_SPACE - 1),
    )
