"""rpi-pico images that the RP2040 boot ROM accepts (no hardware here): the project's boot2 with
its CRC-32 in the last 4 bytes at 0x10000000, the vector table right after it at 0x10000100, and
a UF2 file next to the ELF holding exactly the ELF's flash contents."""

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from mcucompress.targets.boot2 import boot2_image, crc32_rp2040
from mcucompress.targets.board import load_board
from mcucompress.targets.firmware import write_firmware_project
from mcucompress.targets.tools import symbol_addresses
from mcucompress.targets.uf2 import MAGIC_END, MAGIC_START0, MAGIC_START1, flash_image

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_model"
RP2040_FAMILY = 0xE48BFF56
needs_arm = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")


def test_checksum_is_the_boot_roms_crc32():
    assert crc32_rp2040(b"123456789") == 0x0376E6E7   # the CRC-32/MPEG-2 check value
    assert crc32_rp2040(b"") == 0xFFFFFFFF


@needs_arm
def test_boot2_is_256_bytes_with_its_checksum_last():
    image = boot2_image("w25q")
    assert len(image) == 256
    assert int.from_bytes(image[252:], "little") == crc32_rp2040(image[:252])
    assert image[:2] == bytes.fromhex("00b5")   # push {lr}: Thumb code from the first byte


@pytest.fixture(scope="module")
def pico_build(tmp_path_factory):
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("needs arm-none-eabi-gcc")
    tree = tmp_path_factory.mktemp("pico") / "tiny"
    shutil.copytree(FIXTURE, tree)
    project = write_firmware_project(tree, "rpi-pico")
    return project / "build" / "tiny_firmware.elf"


def _section(elf: Path, name: str) -> tuple[int, bytes]:
    out = subprocess.run(["arm-none-eabi-objdump", "-h", "-w", str(elf)], capture_output=True, text=True).stdout
    line = next(l for l in out.splitlines() if l.split()[1:2] == [name])
    address = int(line.split()[4], 16)
    dump = elf.parent / f"{name.strip('.')}.bin"
    subprocess.run(["arm-none-eabi-objcopy", "-O", "binary", "-j", name, str(elf), str(dump)], check=True)
    return address, dump.read_bytes()


def test_elf_starts_with_checksummed_boot2_then_the_vector_table(pico_build):
    board = load_board("rpi-pico")
    address, boot2 = _section(pico_build, ".boot2")
    assert address == 0x10000000 and boot2 == boot2_image("w25q")
    assert int.from_bytes(boot2[252:], "little") == crc32_rp2040(boot2[:252])
    assert symbol_addresses(pico_build, ("mcc_vector_table",))["mcc_vector_table"] == 0x10000100
    vectors_at, vectors = _section(pico_build, ".isr_vector")
    initial_sp, reset = struct.unpack_from("<2I", vectors)
    assert vectors_at == 0x10000100
    assert board.ram.origin < initial_sp <= board.ram.origin + board.ram.size
    assert reset & 1 and board.flash.origin <= reset < board.flash.origin + board.flash.size   # Thumb, in flash


def test_uf2_next_to_the_elf_holds_its_flash_contents(pico_build):
    uf2 = pico_build.with_suffix(".uf2").read_bytes()
    assert len(uf2) % 512 == 0
    blocks = [uf2[i:i + 512] for i in range(0, len(uf2), 512)]
    payload = b""
    for number, block in enumerate(blocks):
        magic0, magic1, flags, target, size, index, count, family = struct.unpack_from("<8I", block)
        assert (magic0, magic1, struct.unpack_from("<I", block, 508)[0]) == (MAGIC_START0, MAGIC_START1, MAGIC_END)
        assert flags == 0x2000 and family == RP2040_FAMILY   # family id present: RP2040
        assert (target, size, index, count) == (0x10000000 + 256 * number, 256, number, len(blocks))
        payload += block[32:32 + size]
    address, image = flash_image(pico_build)
    assert address == 0x10000000
    assert payload[:len(image)] == image and not payload[len(image):].strip(b"\0")
    assert payload[:256] == boot2_image("w25q")
