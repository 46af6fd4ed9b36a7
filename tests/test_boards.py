"""Board files, firmware project generation and budgets: pure Python plus host compiles."""

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from mcucompress.cli import cli
from mcucompress.errors import McuError
from mcucompress.resources import boards_dir, templates_dir
from mcucompress.targets.board import board_from_file, board_names, load_board
from mcucompress.targets.budget import Footprint, flash_overflow, overflow_error
from mcucompress.targets.firmware import write_firmware_project
from mcucompress.targets.manifest import read_manifest

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_model"

REQUIRED = {
    # name: (cpu, flash size, ram size, qemu machine)
    "mps2-an386": ("cortex-m4", 4 << 20, 4 << 20, "mps2-an386"),
    "mps2-an500": ("cortex-m7", 4 << 20, 4 << 20, "mps2-an500"),
    "mps3-an547": ("cortex-m55", 512 << 10, 512 << 10, "mps3-an547"),
    "lm3s6965evb": ("cortex-m3", 256 << 10, 64 << 10, "lm3s6965evb"),
    "netduinoplus2": ("cortex-m4", 1 << 20, 128 << 10, "netduinoplus2"),
    "nucleo-f446re": ("cortex-m4", 512 << 10, 128 << 10, None),
    "nucleo-l4r5zi": ("cortex-m4", 2 << 20, 640 << 10, None),
    "nucleo-h743zi": ("cortex-m7", 2 << 20, 128 << 10, None),
    "stm32f746g-disco": ("cortex-m7", 1 << 20, 320 << 10, None),
    "arduino-nano-33-ble": ("cortex-m4", 1 << 20, 256 << 10, None),
    "rpi-pico": ("cortex-m0plus", 0x1FFF00, 264 << 10, None),
    "microbit": ("cortex-m0", 256 << 10, 16 << 10, "microbit"),
    "mps2-an505": ("cortex-m33", 4 << 20, 2 << 20, "mps2-an505"),
    "nucleo-u575zi-q": ("cortex-m33", 2 << 20, 768 << 10, None),
    "nucleo-g071rb": ("cortex-m0plus", 128 << 10, 36 << 10, None),
}


@pytest.fixture()
def tiny_tree(tmp_path) -> Path:
    tree = tmp_path / "tiny"
    shutil.copytree(FIXTURE, tree)
    return tree


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_board_files_describe_the_required_boards(name):
    board = load_board(name)
    cpu, flash, ram, machine = REQUIRED[name]
    assert (board.cpu, board.flash.size, board.ram.size, board.qemu_machine) == (cpu, flash, ram, machine)
    assert board.stack_bytes < board.ram.size
    assert f"-mcpu={cpu}" in board.compile_flags
    # A board is either emulated or has a way to flash it.
    assert board.qemu_machine or board.pyocd_target or board.openocd_config


def test_features_follow_the_cores():
    assert load_board("mps2-an505").dsp and not load_board("microbit").dsp
    assert load_board("microbit").fpu is None and load_board("nucleo-g071rb").float_abi == "soft"
    assert load_board("mps3-an547").mve and not load_board("mps2-an386").mve
    assert load_board("mps2-an386").dsp and not load_board("lm3s6965evb").dsp
    assert load_board("lm3s6965evb").fpu is None and load_board("rpi-pico").float_abi == "soft"


def test_boards_command_lists_every_board_with_memories():
    result = CliRunner().invoke(cli, ["boards"])
    assert result.exit_code == 0, result.output
    for name in board_names():
        assert name in result.output
    line = next(l for l in result.output.splitlines() if l.startswith("lm3s6965evb"))
    assert "256 KB @ 0x00000000" in line and "64 KB @ 0x20000000" in line
    assert "mps3-an547: weights and other constants in 32768 KB of read-only data @ 0x70000000" in result.output


def test_unknown_board_is_a_one_line_error():
    with pytest.raises(McuError, match="unknown board 'nope'"):
        load_board("nope")


def test_invalid_board_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ncpu: cortex-a53\nfloat_abi: hard\n")
    with pytest.raises(McuError, match="invalid"):
        board_from_file(bad)


def test_manifest_problems_are_one_line_errors(tmp_path, tiny_tree):
    with pytest.raises(McuError, match="no manifest.json"):
        read_manifest(tmp_path)
    (tiny_tree / "src" / "tiny.c").unlink()
    with pytest.raises(McuError, match="src/tiny.c"):
        read_manifest(tiny_tree)


def test_firmware_project_follows_the_board_memory_map(tiny_tree):
    project = write_firmware_project(tiny_tree, "netduinoplus2", build=False)
    assert project == tiny_tree / "firmware" / "netduinoplus2"
    script = (project / "netduinoplus2.ld").read_text()
    assert "FLASH (rx)  : ORIGIN = 0x08000000, LENGTH = 0x00100000" in script
    assert "RAM   (rwx) : ORIGIN = 0x20000000, LENGTH = 0x00020000" in script
    assert ". = . + 8192;" in script
    toolchain = (project / "cmake" / "arm-none-eabi.cmake").read_text()
    assert "-mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16" in toolchain
    assert "0xE000ED88" in (project / "startup.c").read_text()  # FPU enabled at reset
    cmake = (project / "CMakeLists.txt").read_text()
    assert "add_library(tiny STATIC" in cmake and "TINY_ARENA_BYTES=64" in cmake
    assert "tiny_invoke(input, output)" in (project / "mcc_model_glue.c").read_text()


def test_an505_image_sits_in_the_secure_aliases(tiny_tree):
    """The M33 of QEMU's AN505 resets secure with its vector table at 0x10000000; the non-secure
    aliases of the same SSRAMs (0x0, 0x28000000) fault until an SAU set-up opens them."""
    project = write_firmware_project(tiny_tree, "mps2-an505", build=False)
    script = (project / "mps2-an505.ld").read_text()
    assert "FLASH (rx)  : ORIGIN = 0x10000000" in script and "RAM   (rwx) : ORIGIN = 0x38000000" in script


def test_read_only_data_goes_to_the_boards_rodata_region(tiny_tree, tmp_path):
    """mps3-an547 keeps code in the ITCM and constants in DDR; a board without such a region
    keeps them in flash; a region overlapping flash or RAM is refused."""
    script = (write_firmware_project(tiny_tree, "mps3-an547", build=False) / "mps3-an547.ld").read_text()
    assert "RODATA (r)  : ORIGIN = 0x70000000, LENGTH = 0x02000000" in script
    assert script.count("*(.rodata .rodata.*)") == 1 and "} > RODATA" in script
    assert load_board("mps3-an547").image_capacity == (512 << 10) + (32 << 20)
    plain = (write_firmware_project(tiny_tree, "mps2-an386", tmp_path / "m4", build=False) / "mps2-an386.ld").read_text()
    assert "RODATA" not in plain and "*(.rodata .rodata.*)" in plain
    text = (boards_dir() / "mps3-an547.yaml").read_text()
    bad = tmp_path / "overlap.yaml"
    bad.write_text(text.replace("name: mps3-an547", "name: overlap").replace("0x70000000", "0x20040000"))
    with pytest.raises(McuError, match="memory.rodata' overlaps memory.ram"):
        board_from_file(bad)


def test_no_fpu_start_up_on_cores_without_one(tiny_tree):
    project = write_firmware_project(tiny_tree, "lm3s6965evb", build=False)
    assert "0xE000ED88" not in (project / "startup.c").read_text()


def test_generation_is_deterministic(tiny_tree, tmp_path):
    first = write_firmware_project(tiny_tree, "mps3-an547", tmp_path / "a", build=False)
    second = write_firmware_project(tiny_tree, "mps3-an547", tmp_path / "b", build=False)
    for path in sorted(first.rglob("*")):
        if path.is_file() and path.name != "CMakeLists.txt":  # CMakeLists records its own folder
            assert path.read_bytes() == (second / path.relative_to(first)).read_bytes(), path.name


def test_harness_is_strict_c99_on_the_host(tmp_path, tiny_tree):
    """The shared harness, the standalone platform and the generated glue/vectors compile without
    a warning under the project's strictest flags."""
    project = write_firmware_project(tiny_tree, "mps2-an386", build=False)
    sources = [project / n for n in ("harness.c", "mcc_model_glue.c", "mcc_vectors.c")]
    sources += [templates_dir() / "firmware" / "platform_host.c"]
    result = subprocess.run(
        ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", f"-I{project}",
         f"-I{tiny_tree / 'include'}", "-DMCC_OUTPUT_BYTES=8", *map(str, sources),
         str(tiny_tree / "src" / "tiny.c"), str(tiny_tree / "src" / "tiny_weights.c"),
         "-o", str(tmp_path / "harness")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    run = subprocess.run([str(tmp_path / "harness")], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.startswith("mcc out 0 ")


def test_link_overflow_becomes_a_budget_error_in_kb():
    board = load_board("lm3s6965evb")
    log = "ld: region `RAM' overflowed by 10240 bytes\ncollect2: error: ld returned 1 exit status"
    error = overflow_error(log, board, board.stack_bytes)
    assert str(error) == ("the model does not fit lm3s6965evb: RAM (with a 4.0 KB stack) needs 74.0 KB "
                          "of 64.0 KB, 10.0 KB over")
    assert error.exit_code == 2
    assert overflow_error("ld: undefined reference to `foo'", board, 4096) is None
    m55 = load_board("mps3-an547")
    assert str(overflow_error("ld: region `RODATA' overflowed by 1024 bytes", m55, 4096)) == (
        "the model does not fit mps3-an547: read-only data needs 32769.0 KB of 32768.0 KB, 1.0 KB over")
    assert flash_overflow("ld: region `FLASH' overflowed by 8 bytes\nld: region `RODATA' overflowed by 4 bytes") == 12


def test_footprint_counts_flash_and_ram_without_test_vectors():
    fp = Footprint({".isr_vector": 64, ".text": 1000, ".mcc_vectors": 500, ".data": 8, ".bss": 300,
                    ".stack": 4096})
    assert fp.flash_bytes == 1072
    assert Footprint({".text": 1000, ".rodata": 24}).flash_bytes == 1024  # a board's rodata region counts
    assert fp.ram_bytes == 308 + 4096 and fp.stack_source == "reserved"
    assert fp.with_computed_stack(240).ram_bytes == 548
    assert fp.with_computed_stack(240).with_stack(200).ram_bytes == 508  # measured wins


def test_run_needs_an_emulated_board_and_an_exported_tree(tiny_tree, tmp_path, capsys):
    from mcucompress.cli import main
    assert main(["run", str(tiny_tree), "--board", "nucleo-f446re"]) == 2
    assert "nucleo-f446re has no QEMU machine" in capsys.readouterr().err
    assert main(["run", str(tmp_path), "--board", "mps2-an386"]) == 2
    assert "not an exported model tree" in capsys.readouterr().err


def test_boards_needing_care_before_flashing_say_so():
    assert "boot2" in load_board("rpi-pico").notes
    assert "probe" in load_board("arduino-nano-33-ble").notes


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")
@pytest.mark.parametrize("name", [n for n in board_names() if load_board(n).qemu_machine is None])
def test_every_real_board_cross_builds_cleanly(tiny_tree, name):
    """Start-up code, harness and linker script build under -Werror -pedantic for the boards QEMU
    cannot run (the emulated ones are built and run by the QEMU tests), and the image sits inside
    the board's memories."""
    project = write_firmware_project(tiny_tree, name)  # builds and checks the budget
    import json
    footprint = json.loads((project / "footprint.json").read_text())
    assert 256 + 32 < footprint["flash_bytes"] < footprint["board_flash_bytes"]
    assert footprint["stack_source"] == "computed" and 0 < footprint["stack_bytes"] < 1024
    board = load_board(name)
    from mcucompress.targets.tools import symbol_addresses
    table = symbol_addresses(project / "build" / "tiny_firmware.elf", ("mcc_vector_table",))
    assert table["mcc_vector_table"] == board.flash.origin  # the core boots from here
