"""The `info` view of an exported tree's kernels: the runtime kernel(s) each layer calls, and the
channels the fast kernels store as exact constants or leave to mcc_conv2d_channels_s8."""

from __future__ import annotations

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph


def kernel_rows(graph: Graph, prefix: str, rounding: str) -> list[tuple[str, str, int, int]]:
    """(layer, kernels joined by '+', constant channels, patched channels) per layer."""
    from mcucompress.codegen.lower import lower
    from mcucompress.codegen.specialize import choose

    kernels: dict[str, list[str]] = {}
    for call in lower(graph, prefix, rounding).calls:
        kernels.setdefault(call.comment.split(": ")[0], []).append(call.function)
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
        rows.append((op.name, "+".join(kernels[op.name]), constant, patched))
    return rows


def kernel_table(graph: Graph, prefix: str, rounding: str):
    from rich.table import Table

    table = Table(title="kernels (constant: channels stored as exact constants; patched: finished by "
                        "mcc_conv2d_channels_s8)")
    for column in ("layer", "kernel", "constant", "patched"):
        table.add_column(column, justify="right" if column in ("constant", "patched") else "left")
    for name, kernel, constant, patched in kernel_rows(graph, prefix, rounding):
        table.add_row(name, kernel, str(constant) if constant else "", str(patched) if patched else "")
    return table
