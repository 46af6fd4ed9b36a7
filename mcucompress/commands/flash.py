"""`mcucompress flash DIR --board NAME`: build the standalone firmware and program it."""

from __future__ import annotations

import shlex

import click

from mcucompress.commands.options import boards_dir_option
from mcucompress.errors import McuError
from mcucompress.targets.board import load_board
from mcucompress.targets.cross_build import build_firmware
from mcucompress.targets.firmware import write_firmware_project
from mcucompress.targets.flashing import check_tool_ready, choose_tool, flash_command
from mcucompress.targets.manifest import read_manifest
from mcucompress.targets.tools import run_tool


@click.command(help="Build the firmware for a board and flash it through pyOCD or OpenOCD "
                    "(a debug probe must be attached).")
@click.argument("export_dir", type=click.Path(file_okay=False))
@click.option("--board", required=True, help="Board name (see `mcucompress boards`).")
@click.option("--tool", type=click.Choice(["pyocd", "openocd"]), default=None,
              help="Flashing tool; default: the board's first (pyOCD when it has a target).")
@click.option("--dry-run", is_flag=True, help="Build and print the flashing command without running it.")
@boards_dir_option
def command(export_dir, board, tool, dry_run, boards_dir):
    manifest = read_manifest(export_dir)
    target = load_board(board, boards_dir)
    tool = choose_tool(target, tool)
    project = manifest.root / "firmware" / target.name
    if not (project / "CMakeLists.txt").is_file():
        write_firmware_project(manifest.root, target, project, build=False)
    elf, footprint = build_firmware(project, target, manifest.prefix, platform="standalone")
    click.echo(footprint.summary(target))
    if target.notes:
        click.echo(f"note: {target.notes}")
    args = flash_command(target, elf, tool)
    if dry_run:
        click.echo(shlex.join(args))
        return 0
    check_tool_ready(target, tool)
    result = run_tool(args, timeout=300)
    if result.returncode != 0:
        last = (result.stderr.strip() or result.stdout.strip()).splitlines()[-1:] or ["no output"]
        raise McuError(f"{tool} failed (exit {result.returncode}): {last[0]}")
    click.echo(f"flashed {elf.name} to {target.name} with {tool}")
    return 0
