"""Boards as data: one YAML file per board in `boards/`, loaded into a frozen Board value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mcucompress.errors import McuError
from mcucompress.resources import boards_dir

CPUS = ("cortex-m0", "cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33", "cortex-m55")


@dataclass(frozen=True)
class Memory:
    origin: int
    size: int


@dataclass(frozen=True)
class Board:
    name: str
    description: str
    cpu: str
    fpu: str | None           # -mfpu value, "auto" for cores whose -mcpu implies it, None for none
    float_abi: str            # "hard" | "softfp" | "soft"
    dsp: bool
    mve: bool
    clock_hz: int
    flash: Memory
    ram: Memory
    stack_bytes: int
    qemu_machine: str | None
    pyocd_target: str | None = None
    pyocd_pack: bool = False
    openocd_config: tuple[str, ...] = field(default_factory=tuple)
    notes: str = ""           # what a user must know before flashing (bootloaders, probes)
    boot2: str | None = None  # second-stage boot loader placed before flash.origin (RP2040)
    uf2_family: int | None = None  # UF2 family id: a .uf2 file is written next to the ELF

    @property
    def compile_flags(self) -> tuple[str, ...]:
        """-mcpu/-mfpu/-mfloat-abi for both compiling and linking (they pick the multilib)."""
        flags = ["-mthumb", f"-mcpu={self.cpu}", f"-mfloat-abi={self.float_abi}"]
        if self.fpu:
            flags.append(f"-mfpu={self.fpu}")
        return tuple(flags)


def board_names() -> list[str]:
    return sorted(p.stem for p in boards_dir().glob("*.yaml"))


def load_board(name: str) -> Board:
    path = boards_dir() / f"{name}.yaml"
    if not path.is_file():
        raise McuError(f"unknown board '{name}' (known: {', '.join(board_names())})")
    return board_from_file(path)


def list_boards() -> list[Board]:
    return [load_board(name) for name in board_names()]


def board_from_file(path: Path) -> Board:
    try:
        data = yaml.safe_load(path.read_text())
        return _board_from_dict(data)
    except (yaml.YAMLError, KeyError, TypeError, ValueError) as error:
        raise McuError(f"board file {path} is invalid: {error!r}") from None


def _board_from_dict(d: dict) -> Board:
    if d["cpu"] not in CPUS:
        raise ValueError(f"cpu {d['cpu']} is not one of {CPUS}")
    if d["float_abi"] not in ("hard", "softfp", "soft"):
        raise ValueError(f"float_abi {d['float_abi']}")
    features = d.get("features") or {}
    tools = d.get("flash_tool") or {}
    pyocd = tools.get("pyocd") or {}
    openocd = tools.get("openocd") or {}
    boot = d.get("boot") or {}
    return Board(
        name=str(d["name"]),
        description=str(d.get("description", "")),
        cpu=d["cpu"],
        fpu=d.get("fpu"),
        float_abi=d["float_abi"],
        dsp=bool(features.get("dsp", False)),
        mve=bool(features.get("mve", False)),
        clock_hz=int(d["clock_hz"]),
        flash=Memory(int(d["memory"]["flash"]["origin"]), int(d["memory"]["flash"]["size"])),
        ram=Memory(int(d["memory"]["ram"]["origin"]), int(d["memory"]["ram"]["size"])),
        stack_bytes=int(d["stack_bytes"]),
        qemu_machine=(d.get("qemu") or {}).get("machine"),
        pyocd_target=pyocd.get("target"),
        pyocd_pack=bool(pyocd.get("pack", False)),
        openocd_config=tuple(openocd.get("config") or ()),
        notes=" ".join(str(d.get("notes", "")).split()),
        boot2=boot.get("stage2"),
        uf2_family=int(boot["uf2_family"]) if boot.get("uf2_family") is not None else None,
    )
