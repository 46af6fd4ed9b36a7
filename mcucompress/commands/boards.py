"""`mcucompress boards`: the supported boards with their cores and memories."""

from __future__ import annotations

import json

import click

from mcucompress.commands.options import boards_dir_option
from mcucompress.targets.board import list_boards


def _kb(n: int) -> str:
    return f"{n // 1024} KB" if n % 1024 == 0 else f"{n / 1024:.1f} KB"


@click.command(help="List the supported boards with their memories.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@boards_dir_option
def command(as_json: bool, boards_dir):
    boards = list_boards(boards_dir)
    if as_json:
        click.echo(json.dumps([{
            "name": b.name, "description": b.description, "cpu": b.cpu, "fpu": b.fpu,
            "dsp": b.dsp, "mve": b.mve, "clock_hz": b.clock_hz,
            "flash": {"origin": b.flash.origin, "size": b.flash.size},
            "ram": {"origin": b.ram.origin, "size": b.ram.size},
            **({"rodata": {"origin": b.rodata.origin, "size": b.rodata.size}} if b.rodata else {}),
            "qemu_machine": b.qemu_machine, "pyocd_target": b.pyocd_target,
            "openocd_config": list(b.openocd_config)} for b in boards], indent=2))
        return 0
    header = (f"{'board':<20} {'core':<16} {'flash':>20} {'RAM':>19} {'MHz':>4}  {'QEMU':<14} flashing")
    click.echo(header)
    click.echo("-" * len(header))
    for b in boards:
        flash = f"{_kb(b.flash.size)} @ {b.flash.origin:#010x}"
        ram = f"{_kb(b.ram.size)} @ {b.ram.origin:#010x}"
        extras = "+".join(x for x, on in (("FPU", b.fpu), ("DSP", b.dsp), ("MVE", b.mve)) if on)
        core = b.cpu.replace("cortex-", "").upper().replace("PLUS", "+") + (f" {extras}" if extras else "")
        tools = ", ".join(t for t, on in (("pyocd", b.pyocd_target), ("openocd", b.openocd_config)) if on)
        click.echo(f"{b.name:<20} {core:<16} {flash:>20} {ram:>19} {b.clock_hz // 1_000_000:>4}  "
                   f"{b.qemu_machine or '-':<14} {tools or '-'}")
    for b in boards:
        if b.rodata:
            click.echo(f"{b.name}: weights and other constants in {_kb(b.rodata.size)} of read-only data "
                       f"@ {b.rodata.origin:#010x}, code in flash")
    return 0
