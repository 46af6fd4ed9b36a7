"""`mcucompress bench MODEL... --board B...`: instructions per inference, MACs per instruction,
flash and RAM per model and core, with a per-layer breakdown (QEMU, exact counts)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click

from mcucompress.commands.options import OPTIMIZE_CHOICES, OPTIMIZE_HELP, boards_dir_option
from mcucompress.export import prepare_tree
from mcucompress.folders import make_folder
from mcucompress.targets.board import load_board
from mcucompress.targets.bench import bench_model, boards_by_tree_core, format_text, merge_benches, with_defines

DEFAULT_BOARDS = ("mps2-an386", "mps2-an500", "mps3-an547")


def _defines(pairs) -> dict:
    out = {}
    for item in pairs:
        name, _, value = item.partition("=")
        if not name.isidentifier():
            from mcucompress.errors import McuError
            raise McuError(f"--define expects NAME=VALUE, got '{item}'")
        out[name] = int(value) if value.lstrip("-").isdigit() else (value or 1)
    return out


@click.command(help="Benchmark models on emulated Cortex-M cores: exact instructions per inference, "
                    "MACs per instruction, flash and RAM, and instructions per layer. MODEL is a "
                    ".tflite/.keras file or an exported tree; every run's outputs are checked byte for "
                    "byte first.")
@click.argument("models", nargs=-1, required=True)
@click.option("--board", "boards", multiple=True, default=DEFAULT_BOARDS, show_default=True,
              help="Board to run on (repeat for several).")
@click.option("--layers/--no-layers", default=True, show_default=True,
              help="Also count each kernel call (one QEMU run per layer and board).")
@click.option("--define", "defines", multiple=True,
              help="Extra C define NAME=VALUE for the builds, e.g. MCC_FORCE_REFERENCE=1 (portable "
                   "kernels) or MCC_NO_MVE=1 (DSP paths on an MVE core).")
@click.option("--optimize", type=click.Choice(OPTIMIZE_CHOICES), default=None,
              help=OPTIMIZE_HELP + " Models only (an exported tree keeps its encodings); default: "
                   "export's (size).")
@click.option("--work", type=click.Path(file_okay=False), default=None,
              help="Folder for exported trees and builds (default: a temporary folder).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@boards_dir_option
def command(models, boards, layers, defines, optimize, work, as_json, boards_dir):
    extra = _defines(defines)
    boards = [load_board(board, boards_dir) for board in boards]
    with tempfile.TemporaryDirectory(prefix="mcc-bench-") as tmp:
        root = Path(work) if work else Path(tmp)
        make_folder(root)
        results = []
        for model in models:
            parts = []
            for core, group in boards_by_tree_core(boards).items():
                tree = with_defines(prepare_tree(model, root, optimize=optimize, core=core), root, extra)
                parts.append(bench_model(tree, group, layers=layers))
            results.append(merge_benches(parts, [b.name for b in boards]))
            if not as_json:
                click.echo("\n".join(format_text(results[-1])))
        if as_json:
            click.echo(json.dumps([r.as_dict() for r in results], indent=2))
    return 0
