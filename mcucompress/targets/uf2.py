"""UF2 files (Microsoft's USB flashing format, what the RP2040's BOOTSEL drive accepts): the
ELF's flash contents in 512-byte blocks, each carrying 256 bytes for one flash address."""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

from mcucompress.errors import McuError
from mcucompress.targets.tools import run_tool

MAGIC_START0 = 0x0A324655   # "UF2\n"
MAGIC_START1 = 0x9E5D5157
MAGIC_END = 0x0AB16F30
FLAG_FAMILY_ID = 0x00002000
BLOCK_BYTES = 512
PAYLOAD_BYTES = 256
_HEADER = struct.Struct("<8I")


def flash_image(elf: Path) -> tuple[int, bytes]:
    """(load address, bytes) of everything the ELF loads into memory, as one contiguous image
    (objcopy's binary output starts at the lowest load address)."""
    with tempfile.TemporaryDirectory(prefix="mcc-uf2-") as tmp:
        binary = Path(tmp) / "image.bin"
        result = run_tool(["arm-none-eabi-objcopy", "-O", "binary", str(elf), str(binary)])
        if result.returncode != 0:
            raise McuError(f"arm-none-eabi-objcopy failed on {elf}: {result.stderr.strip()}")
        data = binary.read_bytes()
    headers = run_tool(["arm-none-eabi-objdump", "-h", "-w", str(elf)]).stdout
    loads = []
    for line in headers.splitlines():
        parts = line.split()
        if len(parts) >= 7 and parts[0].isdigit() and "LOAD" in line and int(parts[2], 16) > 0:
            loads.append(int(parts[4], 16))   # LMA
    if not loads or not data:
        raise McuError(f"{elf} has nothing to load into flash")
    return min(loads), data


def uf2_bytes(address: int, data: bytes, family_id: int) -> bytes:
    blocks = [data[i:i + PAYLOAD_BYTES] for i in range(0, len(data), PAYLOAD_BYTES)]
    out = bytearray()
    for number, payload in enumerate(blocks):
        header = _HEADER.pack(MAGIC_START0, MAGIC_START1, FLAG_FAMILY_ID, address + number * PAYLOAD_BYTES,
                              PAYLOAD_BYTES, number, len(blocks), family_id)
        block = header + payload.ljust(476, b"\0") + struct.pack("<I", MAGIC_END)
        assert len(block) == BLOCK_BYTES
        out += block
    return bytes(out)


def write_uf2(elf: Path, family_id: int) -> Path:
    """Writes `<elf stem>.uf2` next to the ELF and returns its path."""
    address, data = flash_image(elf)
    if address % PAYLOAD_BYTES:
        raise McuError(f"{elf.name} starts at {address:#x}, not on a {PAYLOAD_BYTES}-byte flash page")
    path = Path(elf).with_suffix(".uf2")
    path.write_bytes(uf2_bytes(address, data, family_id))
    return path
