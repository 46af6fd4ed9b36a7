"""`mcucompress info MODEL|DIR`: per-layer table and the planned activation arena."""

from __future__ import annotations

from pathlib import Path

import click

from mcucompress.commands.options import unsafe_deserialization_option
from mcucompress.errors import McuError
from mcucompress.importers.keras_file import KERAS_SUFFIXES


def _load(target: Path, allow_code: bool = False):
    """(graph, description) of a model file or an exported tree."""
    if target.is_dir():
        from mcucompress.ir.serialize import load_graph
        from mcucompress.verify import read_manifest

        manifest = read_manifest(target)
        return load_graph(target / manifest.get("graph", "graph.npz")), f"exported tree {target}"
    if target.suffix.lower() == ".tflite":
        from mcucompress.load import load

        graph = load(target).graph
        return graph, f"int8 model {target.name}"
    if target.suffix.lower() in KERAS_SUFFIXES:
        from mcucompress.importers.keras import load_keras

        return load_keras(target, allow_code=allow_code), f"float Keras model {target.name} (before quantization)"
    raise McuError(f"{target}: expected a .tflite, .keras or .h5 file or an exported folder")


def _core_family(target: Path, board: str | None) -> str | None:
    """The cost model's core family for the encodings table: --board's core, else the one an
    exported tree's weight plan was made for, else None (the M4's)."""
    from mcucompress.encode.cost_model import family

    if board is not None:
        from mcucompress.targets.board import load_board

        return family(load_board(board).cpu)
    if target.is_dir():
        from mcucompress.verify import read_manifest

        return (read_manifest(target).get("weight_plan") or {}).get("core_family")
    return None


def _arena_bytes(target: Path, graph) -> int:
    """The arena an export has (or would have): activations plus the fast kernels' scratch."""
    if target.is_dir():
        from mcucompress.verify import read_manifest

        return int(read_manifest(target)["arena_bytes"])
    if graph.is_quantized:
        from mcucompress.codegen.specialize import choose_kernels
        from mcucompress.memory.arena import plan_memory

        return plan_memory(graph, choose_kernels(graph))[0].arena_bytes
    from mcucompress.memory.liveness import analyze
    from mcucompress.memory.planner import plan

    return plan(list(analyze(graph).requests)).arena_bytes


def _ports_line(graph) -> str:
    """The model's inputs and outputs in port order, as NPZ arrays and `<prefix>_invoke` take them."""
    from mcucompress.data import port_array_names
    from mcucompress.plain_text import shown

    def describe(names, arrays) -> str:
        parts = []
        for array, name in zip(arrays, names):
            t = graph.tensor(name)
            quant = f" scale {t.quant.scale[0]:.6g} zero point {t.quant.zero_point[0]}" if t.quant else ""
            parts.append(f"{array} {'x'.join(map(str, t.shape))} {t.dtype}{quant} ('{shown(name)}')")
        return "; ".join(parts)

    return (f"inputs: {describe(graph.inputs, port_array_names('x', len(graph.inputs)))}\n"
            f"outputs: {describe(graph.outputs, port_array_names('y', len(graph.outputs)))}")


@click.command(help="Per-layer table of a model or an exported tree: ops, shapes, parameters, MACs, "
                    "weight bytes, and the planned activation arena.")
@click.argument("target", type=click.Path(exists=True))
@click.option("--board", default=None, help="Estimate encoded layers' instructions for this board's core "
                                            "(default: the core an exported tree was fitted for, else the M4).")
@unsafe_deserialization_option
def command(target, board, unsafe_deserialization):
    from rich.console import Console
    from rich.table import Table

    from mcucompress.codegen.metrics import layer_rows
    from mcucompress.plain_text import shown
    graph, what = _load(Path(target), unsafe_deserialization)
    rows = layer_rows(graph)
    table = Table(title=shown(f"{graph.name}: {what}"))
    for column in ("#", "layer", "op", "input", "output", "params", "MACs", "weight bytes"):
        table.add_column(column, justify="right" if column in ("#", "params", "MACs", "weight bytes") else "left")
    for i, r in enumerate(rows):
        table.add_row(str(i), shown(r.name), shown(r.kind), " ".join("x".join(map(str, s)) for s in r.input_shapes),
                      "x".join(map(str, r.output_shape)), f"{r.parameters:,}", f"{r.macs:,}",
                      f"{r.weight_bytes:,}")
    table.add_section()
    table.add_row("", "total", "", "", "", f"{sum(r.parameters for r in rows):,}",
                  f"{sum(r.macs for r in rows):,}", f"{sum(r.weight_bytes for r in rows):,}")
    console = Console()
    if not console.is_terminal:  # files and pipes get whole numbers, not wrapped cells
        console = Console(width=200)
    console.print(table)
    console.print(_ports_line(graph), highlight=False)
    console.print(f"planned activation arena: {_arena_bytes(Path(target), graph):,} bytes"
                  + ("" if graph.is_quantized else " (float32 activations)"))
    if graph.variables():  # LSTM state: static buffers beside the arena, kept across invocations
        console.print(f"state kept across invocations: {sum(t.nbytes for t in graph.variables()):,} bytes "
                      "(static, outside the arena)")
    from mcucompress.report.micronet import micronet_count  # rules and track: report/micronet.py

    console.print(micronet_count(graph).describe(), highlight=False)
    from mcucompress.encode.report import encoding_table  # weight encodings chosen by export

    encodings = encoding_table(graph, _core_family(Path(target), board))
    if encodings is not None:
        console.print(encodings)
    if Path(target).is_dir():   # the tree's lowering names the kernel of every layer
        from mcucompress.codegen.kernel_report import kernel_table
        from mcucompress.verify import read_manifest

        manifest = read_manifest(Path(target))
        console.print(kernel_table(graph, manifest["prefix"], manifest.get("rounding", "tflm"), manifest.get("layers")))
    return 0
