"""`mcucompress demo`: the whole tool on one small model, with a printed report."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from mcucompress.demo import DEMO_BOARD, run_demo


@click.command(help="Train a small CNN on scikit-learn's digits, export it to C, verify it on the host, "
                    "run it on an emulated Cortex-M and print a report.")
@click.option("-o", "--out", "out_dir", default="demo-out", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the model, the generated C and the report picture.")
@click.option("--board", default=DEMO_BOARD, show_default=True, help="A board with a QEMU machine.")
@click.option("--epochs", default=12, show_default=True, type=click.IntRange(1, 200))
def command(out_dir, board, epochs):
    console = Console(stderr=True, log_path=False)
    with console.status("starting") as status:
        report = run_demo(out_dir, epochs=epochs, board=board,
                          step=lambda message: (console.log(message), status.update(message)))
    _print_report(Console(), report)
    return 0 if report.host_verify.ok and report.target_run.passed else 1


def _print_report(console: Console, report) -> None:
    host, target = report.host_verify, report.target_run
    fp = target.footprint

    layers = Table(title="generated C, per layer", title_justify="left")
    for column in ("#", "op", "output", "params", "MACs", "weight bytes"):
        layers.add_column(column, justify="right" if column not in ("op", "output") else "left")
    for i, row in enumerate(report.layers):
        layers.add_row(str(i), row.kind, "x".join(map(str, row.output_shape)), f"{row.parameters:,}",
                       f"{row.macs:,}", f"{row.weight_bytes:,}")
    console.print(layers)

    summary = Table(title="report", title_justify="left", show_header=False)
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("accuracy", f"float {report.float_accuracy:.2%}  ->  int8 C {report.int8_accuracy:.2%} "
                                f"({len(report.layers)} layers, {host.samples} test digits)")
    for comparison in host.comparisons:
        verdict = "byte-identical" if comparison.exact else f"{comparison.mismatched_bytes} bytes differ"
        summary.add_row(f"host C vs {comparison.against}", verdict)
    for name, identical in target.checks.items():
        summary.add_row(f"{target.board.name} vs {name}", "byte-identical" if identical else "DIFFERENT")
    counts = sorted(set(target.instructions))
    summary.add_row("instructions / inference",
                    f"{counts[0]:,} on {target.board.cpu} (exact count in QEMU, {target.samples} inputs)")
    summary.add_row("flash", f"{fp.flash_bytes:,} B of {target.board.image_capacity:,} B")
    summary.add_row("RAM", f"{fp.ram_bytes:,} B of {target.board.ram.size:,} B (activation arena {report.arena_bytes:,} B)")
    from mcucompress.plain_text import shown

    summary.add_row("files", shown(f"{report.out_dir}  (C tree: digits_c/, picture: {report.picture.name})"))
    console.print(summary)
