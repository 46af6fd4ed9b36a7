"""The RP2040's second-stage boot loader (boot2): the project's own assembly source
(`templates/firmware/boot2/<name>.S`), assembled, padded to 252 bytes and followed by the CRC-32
the boot ROM checks before it runs the 256 bytes from SRAM. Firmware projects get it as a C array
in the `.boot2` section, which the linker script places at the start of flash."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from mcucompress.errors import McuError
from mcucompress.resources import templates_dir
from mcucompress.targets.tools import run_tool

BOOT2_BYTES = 256
CHECKSUM_BYTES = 4
SECTION = ".boot2"


def crc32_rp2040(data: bytes) -> int:
    """The boot ROM's CRC-32: polynomial 0x04C11DB7, initial value 0xFFFFFFFF, bits not reflected,
    no final XOR (the CRC-32/MPEG-2 parameters)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
            crc &= 0xFFFFFFFF
    return crc


def boot2_source(name: str) -> Path:
    path = templates_dir() / "firmware" / "boot2" / f"{name}.S"
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.S"))
        raise McuError(f"unknown boot2 '{name}' (known: {', '.join(known)})")
    return path


@functools.lru_cache(maxsize=None)
def boot2_image(name: str) -> bytes:
    """The 256 bytes the boot ROM loads: code, zero padding, CRC-32 (little-endian)."""
    source = boot2_source(name)
    with tempfile.TemporaryDirectory(prefix="mcc-boot2-") as tmp:
        obj, binary = Path(tmp) / "boot2.o", Path(tmp) / "boot2.bin"
        for args in (["arm-none-eabi-gcc", "-mcpu=cortex-m0plus", "-mthumb", "-c", str(source), "-o", str(obj)],
                     ["arm-none-eabi-objcopy", "-O", "binary", "-j", ".text", str(obj), str(binary)]):
            result = run_tool(args)
            if result.returncode != 0:
                raise McuError(f"building boot2 '{name}' failed: {result.stderr.strip().splitlines()[-1:]}")
        code = binary.read_bytes()
    room = BOOT2_BYTES - CHECKSUM_BYTES
    if len(code) > room:
        raise McuError(f"boot2 '{name}' is {len(code)} bytes; the boot ROM loads {room} plus a checksum")
    body = code + bytes(room - len(code))
    return body + crc32_rp2040(body).to_bytes(CHECKSUM_BYTES, "little")


def boot2_c_source(name: str, banner: str) -> str:
    image = boot2_image(name)
    rows = [", ".join(f"0x{b:02x}" for b in image[i:i + 16]) for i in range(0, len(image), 16)]
    body = ",\n    ".join(rows)
    return (f"/* {banner}\n * Second-stage boot loader '{name}' (templates/firmware/boot2/{name}.S), assembled; "
            f"the last 4 bytes\n * are the CRC-32 the RP2040 boot ROM checks. */\n#include <stdint.h>\n\n"
            f"__attribute__((section(\"{SECTION}\"), used))\n"
            f"const uint8_t mcc_boot2[{BOOT2_BYTES}] = {{\n    {body}\n}};\n")
