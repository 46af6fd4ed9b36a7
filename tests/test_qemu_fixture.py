"""The firmware path end to end on emulated Cortex-M, with the hand-written fixture model:
cross build, QEMU run, outputs against the host build and a numpy model, exact instruction
counts, measured stack, and the budget error."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mcucompress.cli import cli, main
from mcucompress.errors import McuError
from mcucompress.targets.board import load_board
from mcucompress.targets.cross_build import build_firmware
from mcucompress.targets.firmware import write_firmware_project
from mcucompress.targets.manifest import manifest_json, read_manifest
from mcucompress.targets.qemu import run_on_qemu
from mcucompress.targets.runner import run_model
from mcucompress.targets.vectors import random_inputs

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                       reason="needs arm-none-eabi-gcc and qemu-system-arm"),
]

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_model"


def tiny_numpy(x: np.ndarray) -> np.ndarray:
    """The fixture's layer written independently of its C source (see include/tiny.h)."""
    o, i = np.meshgrid(np.arange(8), np.arange(32), indexing="ij")
    w = ((o * 37 + i * 11) % 255) - 127
    bias = 100 * np.arange(8) - 350
    acc = bias + (x.astype(np.int64) + 1) @ w.T
    return np.clip((acc * 3) >> 9, -128, 127).astype(np.int8)


@pytest.fixture()
def tiny_tree(tmp_path) -> Path:
    tree = tmp_path / "tiny"
    shutil.copytree(FIXTURE, tree)
    return tree


@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547", "lm3s6965evb"])
def test_fixture_runs_identically_on_qemu(tiny_tree, board):
    report = run_model(tiny_tree, board, samples=3)
    assert report.checks == {"host": True}
    # Host agreement alone could hide a bug both builds share: check an independent numpy model.
    assert np.array_equal(report.outputs, tiny_numpy(report.inputs))
    assert len(report.instructions) == 3 and all(300 < n < 5000 for n in report.instructions)
    fp = report.footprint
    assert 0 < fp.stack_used < fp.stack_reserved
    # The call-graph bound and the painted high-water mark agree to within the 64 bytes the
    # start-up code leaves unpainted below its own frame.
    assert fp.stack_computed is not None and abs(fp.stack_computed - fp.stack_used) <= 64
    assert fp.ram_bytes == fp.static_ram_bytes + fp.stack_used
    assert fp.flash_bytes > 256 + 32  # at least the weights and bias
    # The same ELF and inputs give the same counts: they are exact, not sampled.
    again = run_model(tiny_tree, board, samples=3)
    assert again.instructions == report.instructions


def test_run_command_json_with_data(tiny_tree, tmp_path):
    x = np.arange(-64, 64, dtype=np.int8).reshape(4, 32)
    np.savez(tmp_path / "data.npz", x=x)
    result = CliRunner().invoke(cli, ["run", str(tiny_tree), "--board", "mps2-an386",
                                      "--data", str(tmp_path / "data.npz"), "--samples", "4", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["passed"] and report["identical_to"] == {"host": True} and report["samples"] == 4
    assert report["flash_bytes"] > 0 and report["ram_bytes"] > report["static_ram_bytes"]
    assert len(report["instructions_per_inference"]) == 4


def test_model_too_big_for_the_board_is_a_budget_error(tiny_tree, capsys):
    manifest = manifest_json(tiny_tree)
    manifest["defines"]["TINY_ARENA_BYTES"] = 100 * 1024
    (tiny_tree / "manifest.json").write_text(json.dumps(manifest))
    assert main(["run", str(tiny_tree), "--board", "lm3s6965evb"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: the model does not fit lm3s6965evb: RAM")
    assert "KB over" in err and len(err.splitlines()) == 1


def _straight_line_length(elf: Path, function: str) -> int:
    """Instructions of a branch-free-except-one-loop function, up to and including its return."""
    text = subprocess.run(["arm-none-eabi-objdump", "-d", f"--disassemble={function}", str(elf)],
                          capture_output=True, text=True, check=True).stdout
    body = [l for l in text.splitlines() if l.startswith(" ") and ":\t" in l]
    end = next(i for i, l in enumerate(body) if "bx\tlr" in l or "pop" in l and "pc}" in l)
    return end + 1


@pytest.mark.parametrize("board", ["mps2-an386", "lm3s6965evb"])
def test_instruction_counts_are_exact(tmp_path, board):
    """A fixture whose invoke loops input[0] + 1 times over two instructions: one pass through
    the loop executes the function's instructions once each, every extra pass adds exactly 2."""
    tree = tmp_path / "loop"
    shutil.copytree(FIXTURE.parent / "loop_model", tree)
    np.savez(tmp_path / "x.npz", x=np.array([[0], [5], [105], [-1]], dtype=np.int8))  # -1 is 255
    report = run_model(tree, board, data=tmp_path / "x.npz", samples=4)
    assert report.checks == {"host": True} and report.exact_invoke
    once = _straight_line_length(report.elf, "loop_invoke")
    assert report.instructions == (once, once + 2 * 5, once + 2 * 105, once + 2 * 255)


def test_harness_reports_outputs_that_differ_from_the_expected(tiny_tree):
    """The firmware checks itself (what a real board relies on): wrong expected bytes for the
    second input give exit status 1 and FAIL, while the printed outputs stay the true ones."""
    board = load_board("mps2-an386")
    inputs = random_inputs(read_manifest(tiny_tree), 2)
    wrong = tiny_numpy(inputs)
    wrong[1, 0] ^= 1
    project = write_firmware_project(tiny_tree, board, build=False, inputs=inputs, expected=wrong)
    elf, _ = build_firmware(project, board, "tiny")
    run = run_on_qemu(elf, board, "tiny")
    assert run.exit_status == 1 and "mcc result FAIL" in run.console
    assert run.outputs == tuple(row.tobytes() for row in tiny_numpy(inputs))


def test_a_fault_on_the_target_is_a_one_line_error(tmp_path):
    tree = tmp_path / "loop"
    shutil.copytree(FIXTURE.parent / "loop_model", tree)
    manifest = manifest_json(tree)
    manifest["defines"] = {"LOOP_FAULT": 1}
    (tree / "manifest.json").write_text(json.dumps(manifest))
    board = load_board("mps2-an386")
    project = write_firmware_project(tree, board, build=False)
    elf, _ = build_firmware(project, board, "loop")
    with pytest.raises(McuError, match="run on mps2-an386 failed: the firmware faulted"):
        run_on_qemu(elf, board, "loop")


def test_a_build_folder_whose_compiler_is_gone_is_configured_again(tiny_tree, tmp_path, monkeypatch):
    """A firmware build folder outlives the compiler CMake found when it configured it (a test
    session's ccache wrappers, first on PATH, are removed at its end; `run`'s workspaces in the
    user's cache are kept by tree path): the next build of changed sources configures the folder
    again instead of calling the missing compiler."""
    board = load_board("mps2-an386")
    project = write_firmware_project(tiny_tree, board, build=False)
    wrappers = tmp_path / "wrappers"
    wrappers.mkdir()
    wrapper = wrappers / "arm-none-eabi-gcc"
    wrapper.write_text(f'#!/bin/sh\nexec "{shutil.which("arm-none-eabi-gcc")}" "$@"\n')
    wrapper.chmod(0o755)
    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", f"{wrappers}{os.pathsep}{path}")
    build_firmware(project, board, "tiny")
    shutil.rmtree(wrappers)
    monkeypatch.setenv("PATH", path)
    for source in tiny_tree.rglob("*.c"):
        source.touch()  # newer than their objects: the build compiles them again
    elf, _ = build_firmware(project, board, "tiny")
    assert elf.is_file()
