"""`mcucompress verify DIR --data NPZ`: host build, byte-for-byte comparison with the references."""

from __future__ import annotations

import json

import click


@click.command(help="Build an exported tree on the host, run every sample and compare the outputs "
                    "byte for byte with the numpy reference and the TFLM / LiteRT interpreter.")
@click.argument("tree", type=click.Path(exists=True, file_okay=False))
@click.option("--data", required=True, type=click.Path(dir_okay=False),
              help="NPZ with array 'x' (float inputs in the model's input shape) and optional 'y'.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--no-oracle", is_flag=True,
              help="Keras exports: skip the comparison with the float model and TensorFlow's conversion.")
def command(tree, data, as_json, no_oracle):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from mcucompress.verify import verify

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(),
                  console=console, transient=True,
                  disable=as_json or not console.is_terminal) as bar:  # no stray newline in logs and pipes
        tasks = {}

        def progress(stage, done, total):
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        report = verify(tree, data, progress=progress, oracle=not no_oracle)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print(report)
    return 0 if report.ok else 1


def _print(report) -> None:
    from rich.console import Console
    from rich.table import Table

    from mcucompress.plain_text import shown

    table = Table(title=shown(f"{report.tree}: {report.samples} samples, rounding {report.rounding}"))
    for column in ("C output vs", "mismatching bytes", "samples differing", "largest difference",
                   "top-1 agreement"):
        table.add_column(column, justify="left" if column == "C output vs" else "right")
    for c in report.comparisons:
        table.add_row(c.against, str(c.mismatched_bytes), str(c.mismatched_samples), str(c.max_abs_diff),
                      f"{100 * c.top1_agreement:.1f}%")
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)
    console.print(table)
    if report.accuracy is not None:
        console.print(f"accuracy of the C model on the labels: {100 * report.accuracy:.2f}%")
    if report.exits is not None:
        taken = ", ".join(f"exit {i}: {n}" for i, n in enumerate(report.exits["taken"]))
        console.print(f"early exits taken ({taken}), "
                      f"{'the same as' if report.exits['same_as_reference'] else 'DIFFERENT from'} the numpy reference")
    if report.oracle is not None:
        _print_oracle(console, report.oracle)
    if report.ok:
        console.print("[green]PASS: bit-exact[/green]" + (", as close to the float model as TFLM"
                                                          if report.oracle is not None else ""))
    elif not report.bit_exact:
        console.print("[red]FAIL: outputs differ[/red]")
    else:
        console.print(f"[red]FAIL: bit-exact, but {report.oracle.ours_nrmse:.4f} NRMSE from the float model "
                      f"(limit {report.oracle.limit:.4f})[/red]")


def _print_oracle(console, oracle) -> None:
    from rich.table import Table

    table = Table(title="against the float Keras model")
    for column in ("model", "NRMSE", "top-1 agreement"):
        table.add_column(column, justify="left" if column == "model" else "right")
    table.add_row("our C", f"{oracle.ours_nrmse:.4f}", f"{100 * oracle.ours_top1:.1f}%")
    if oracle.tflm_nrmse is not None:
        table.add_row("tflite-micro (TF converter)", f"{oracle.tflm_nrmse:.4f}", f"{100 * oracle.tflm_top1:.1f}%")
    console.print(table)
    if oracle.note:
        console.print(f"no tflite-micro figure: {oracle.note}")
