"""The `info` view of an exported tree's kernels: the runtime kernel(s) each layer calls, how its
dense weights are laid out in flash (int8, widened as read, or widened to int16), and the
channels the fast kernels store as exact constants or leave to mcc_conv2d_channels_s8."""

from __future__ import annotations

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph


# What `info` prints for a layer's weight layout (specialize.FastLayer.weight_layout).
LAYOUT_TEXT = {"int8": "int8", "widened": "int16 (widened)", "int16": "int16"}


def kernel_rows(graph: Graph, prefix: str, rounding: str, layers=None) -> list[tuple[str, str, str, int, int]]:
    """(layer, kernels joined by '+', weight layout or "", constant channels, patched channels)
    per layer. ``layers``: an exported tree's manifest entries, whose kernels and layouts are the
    ones its export chose for its core (a tree for a DSP core writes depthwise layers out);
    without them the graph is lowered for no core in particular."""
    from mcucompress.codegen.lower import lower
    from mcucompress.codegen.specialize import choose

    kernels: dict[str, list[str]] = {}
    if layers is not None:
        for entry in layers:
            if entry.get("kernel"):
                kernels[entry["op"]] = entry["kernel"].split("+")
        layouts = {entry["op"]: entry.get("weight_layout") for entry in layers}
    else:
        program = lower(graph, prefix, rounding)
        for call in program.calls:
            kernels.setdefault(call.comment.split(": ")[0], []).append(call.function)
        layouts = {layer.op: layer.weight_layout for layer in program.layers}
    rows = []
    for op in graph.ops:
        if op.name not in kernels:
            continue
        try:
            layer = choose(graph, op, rounding)
        except McuError:
            layer = None
        # codebook and int4 layouts have neither exact constants nor patched channels
        constant = getattr(layer, "constant_channels", 0)
        patch = getattr(layer, "patch", None)
        patched = len(patch.index) if patch is not None else 0
        layout = LAYOUT_TEXT.get(layouts.get(op.name), "")
        rows.append((op.name, "+".join(kernels[op.name]), layout, constant, patched))
    return rows


def kernel_table(graph: Graph, prefix: str, rounding: str, layers=None):
    from rich.table import Table

    from mcucompress.plain_text import shown

    table = Table(title="kernels (weights: dense weights as stored in flash; constant: channels stored as "
                        "exact constants; patched: finished by mcc_conv2d_channels_s8)")
    for column in ("layer", "kernel", "weights", "constant", "patched"):
        table.add_column(column, justify="right" if column in ("constant", "patched") else "left")
    for name, kernel, layout, constant, patched in kernel_rows(graph, prefix, rounding, layers):
        # layer names come from the model file: shown as plain text, never as markup or escapes
        table.add_row(shown(name), kernel, layout, str(constant) if constant else "", str(patched) if patched else "")
    return table
