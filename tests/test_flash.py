"""`mcucompress flash`: the exact commands it runs, and its one-line errors without a probe."""

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from mcucompress.cli import cli
from mcucompress.errors import McuError
from mcucompress.targets.board import load_board
from mcucompress.targets.flashing import choose_tool, flash_command, pyocd_probes

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_model"
ELF = Path("/tmp/x/tiny_firmware.elf")
needs_arm = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")


@pytest.mark.parametrize("board, target", [("nucleo-f446re", "stm32f446retx"), ("nucleo-h743zi", "stm32h743xx"),
                                           ("arduino-nano-33-ble", "nrf52840"), ("rpi-pico", "rp2040"),
                                           ("stm32f746g-disco", "stm32f746nghx"),
                                           ("microbit", "nrf51"), ("nucleo-u575zi-q", "stm32u575zitx"),
                                           ("nucleo-g071rb", "stm32g071rbtx")])
def test_pyocd_command(board, target):
    args = flash_command(load_board(board), ELF, "pyocd")
    assert Path(args[0]).name == "pyocd"
    assert args[1:] == ["flash", "--target", target, "--format", "elf", str(ELF)]


def test_openocd_command():
    assert flash_command(load_board("nucleo-f446re"), ELF, "openocd") == [
        "openocd", "-f", "board/st_nucleo_f4.cfg", "-c", f"program {ELF} verify reset exit"]
    assert flash_command(load_board("lm3s6965evb"), ELF, "openocd") == [
        "openocd", "-f", "board/ek-lm3s6965.cfg", "-c", f"program {ELF} verify reset exit"]


def test_tool_choice():
    assert choose_tool(load_board("nucleo-l4r5zi"), None) == "pyocd"
    assert choose_tool(load_board("lm3s6965evb"), None) == "openocd"
    with pytest.raises(McuError, match="no pyocd settings"):
        choose_tool(load_board("lm3s6965evb"), "pyocd")
    with pytest.raises(McuError, match="no flashing settings"):
        choose_tool(load_board("mps2-an386"), None)


@pytest.fixture()
def tiny_tree(tmp_path) -> Path:
    tree = tmp_path / "tiny"
    shutil.copytree(FIXTURE, tree)
    return tree


@needs_arm
def test_dry_run_builds_the_standalone_image_and_prints_the_command(tiny_tree):
    result = CliRunner().invoke(cli, ["flash", str(tiny_tree), "--board", "nucleo-h743zi", "--dry-run"])
    assert result.exit_code == 0, result.output
    elf = tiny_tree / "firmware" / "nucleo-h743zi" / "build-standalone" / "tiny_firmware.elf"
    assert elf.is_file()
    assert f"flash --target stm32h743xx --format elf {elf}" in result.output
    assert "nucleo-h743zi: flash " in result.output


@needs_arm
def test_without_a_probe_flash_fails_with_one_line(tiny_tree):
    if pyocd_probes():
        pytest.skip("a debug probe is attached")
    result = CliRunner().invoke(cli, ["flash", str(tiny_tree), "--board", "nucleo-h743zi"],
                                standalone_mode=False, catch_exceptions=True)
    assert isinstance(result.exception, McuError)
    assert "no debug probe found" in str(result.exception)
    # Through the real entry point the status is 2 and the message one line.
    from mcucompress.cli import main
    assert main(["flash", str(tiny_tree), "--board", "nucleo-h743zi"]) == 2


def test_emulated_board_cannot_be_flashed(tiny_tree):
    from mcucompress.cli import main
    assert main(["flash", str(tiny_tree), "--board", "mps2-an386"]) == 2
