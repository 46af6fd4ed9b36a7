"""`mcucompress run DIR --board NAME`: cross-build, run on QEMU, compare, count instructions."""

from __future__ import annotations

import json

import click

from mcucompress.commands.options import boards_dir_option
from mcucompress.targets.board import load_board
from mcucompress.targets.runner import run_model


@click.command(help="Cross-build an exported tree for a board, run it on the board's QEMU machine, "
                    "check its outputs byte for byte against the host build and the references, and "
                    "report executed instructions per inference, flash and RAM.")
@click.argument("export_dir", type=click.Path(file_okay=False))
@click.option("--board", required=True, help="Board name (see `mcucompress boards`).")
@click.option("--data", type=click.Path(dir_okay=False), default=None,
              help="NPZ with array x in the model's input shape; default: random inputs.")
@click.option("--samples", type=int, default=2, show_default=True, help="How many inputs to embed and run.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@boards_dir_option
def command(export_dir, board, data, samples, as_json, boards_dir):
    report = run_model(export_dir, load_board(board, boards_dir), data=data, samples=samples)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        counts = report.instructions
        same = all(c == counts[0] for c in counts)
        per = f"{counts[0]:,}" if same else f"{min(counts):,} .. {max(counts):,}"
        click.echo(f"{report.prefix} on {report.board.name} ({report.board.cpu}), {report.samples} input(s)")
        what = "exactly one invoke" if report.exact_invoke else "incl. harness call overhead"
        click.echo(f"  instructions per inference  {per} ({what})")
        if report.exits:
            click.echo(f"  average over the inputs     {sum(counts) / len(counts):,.0f}")
            for exit_index, row in report.per_exit().items():
                click.echo(f"  exit {exit_index:<2} {row['inputs']:>6} input(s), mean {row['mean_instructions']:,.0f} "
                           "instructions")
        click.echo(f"  {report.footprint.summary(report.board)}")
        for name, ok in report.checks.items():
            click.echo(f"  outputs vs {name:<13} {'identical' if ok else 'DIFFERENT'}")
    if not report.passed:
        click.echo("error: the outputs on the target differ", err=True)
        return 1
    return 0
