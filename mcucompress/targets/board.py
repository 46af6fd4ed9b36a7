"""Boards as data: one YAML file per board in `boards/` (or in a folder the user names with
--boards-dir), checked against targets/board_schema.py and loaded into a frozen Board value."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mcucompress.errors import McuError
from mcucompress.resources import boards_dir as boards_dir_shipped
from mcucompress.targets.board_schema import BOARD_NAME, BoardSchemaError, checked_board_fields


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
    rodata: Memory | None = None   # read-only data (.rodata: weights, constants) when not in flash

    @property
    def image_capacity(self) -> int:
        """Bytes the image's non-volatile part may take: flash, plus the read-only data region."""
        return self.flash.size + (self.rodata.size if self.rodata else 0)

    @property
    def compile_flags(self) -> tuple[str, ...]:
        """-mcpu/-mfpu/-mfloat-abi for both compiling and linking (they pick the multilib)."""
        flags = ["-mthumb", f"-mcpu={self.cpu}", f"-mfloat-abi={self.float_abi}"]
        if self.fpu:
            flags.append(f"-mfpu={self.fpu}")
        return tuple(flags)


def check_board_name(name: str) -> str:
    """``name`` if it names a board (never a path): board files outside the shipped set come only
    from a folder the user names with --boards-dir."""
    if not isinstance(name, str) or not BOARD_NAME.fullmatch(name) or ".." in name:
        raise McuError(f"'{name}' is not a board name (letters, digits, '.', '_', '-'); --board takes a name "
                       "from `mcucompress boards`, and board files of your own go in a folder named "
                       "with --boards-dir")
    return name


def _folders(boards_dir) -> list[Path]:
    if boards_dir is None:
        return [boards_dir_shipped()]
    folder = Path(boards_dir)
    if not folder.is_dir():
        raise McuError(f"boards folder {folder} does not exist")
    return [folder, boards_dir_shipped()]  # the user's folder first: it was named on purpose


def board_names(boards_dir=None) -> list[str]:
    return sorted({p.stem for folder in _folders(boards_dir) for p in folder.glob("*.yaml")
                   if BOARD_NAME.fullmatch(p.stem) and ".." not in p.stem})


def load_board(board: str | Board, boards_dir=None) -> Board:
    """The board called ``board`` from ``boards_dir`` (when given) or the shipped set; a Board
    is returned as it is."""
    if isinstance(board, Board):
        return board
    name = check_board_name(board)
    for folder in _folders(boards_dir):
        path = folder / f"{name}.yaml"
        if path.is_file():
            return board_from_file(path)
    raise McuError(f"unknown board '{name}' (known: {', '.join(board_names(boards_dir))})")


def list_boards(boards_dir=None) -> list[Board]:
    return [load_board(name, boards_dir) for name in board_names(boards_dir)]


def board_from_file(path: Path) -> Board:
    """The board in ``path``, checked against the schema; its name must be the file's."""
    try:
        fields = checked_board_fields(yaml.safe_load(path.read_text()))
    except (yaml.YAMLError, BoardSchemaError, UnicodeDecodeError) as error:
        problem = " ".join(str(error).split())
        raise McuError(f"board file {path} is invalid: {problem}") from None
    except OSError as error:
        raise McuError(f"cannot read board file {path}: {error.strerror or error}") from None
    if fields["name"] != path.stem:
        raise McuError(f"board file {path} is invalid: its name '{fields['name']}' is not the file's "
                       f"('{path.stem}')")
    flash, ram, rodata = fields.pop("flash"), fields.pop("ram"), fields.pop("rodata")
    return Board(flash=Memory(*flash), ram=Memory(*ram), rodata=rodata and Memory(*rodata), **fields)
