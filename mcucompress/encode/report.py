"""The `info` view of an exported tree's weight encodings: choice, bytes and bits per weight."""

from __future__ import annotations

from mcucompress.encode import cost_model
from mcucompress.encode.choose import encoding_rows
from mcucompress.ir.graph import Graph


def encoding_table(graph: Graph, core_family: str | None = None):
    """A rich Table of the annotated layers, or None when no layer carries an encoding;
    instructions estimated for ``core_family`` (None: the M4's)."""
    rows = encoding_rows(graph, core_family=core_family)
    if not rows:
        return None
    from rich.table import Table

    from mcucompress.plain_text import shown

    family = core_family or cost_model.DEFAULT_FAMILY
    table = Table(title=f"weight encodings (bytes as stored in flash; instructions: cost model {family})")
    for column in ("layer", "encoding", "weights", "dense bytes", "bytes", "bits/weight", "est. instructions"):
        table.add_column(column, justify="left" if column in ("layer", "encoding") else "right")
    for r in rows:
        table.add_row(shown(r.layer), r.encoding, f"{r.weights:,}", f"{r.dense_bytes:,}", f"{r.bytes:,}",
                      f"{r.bits_per_weight:.2f}", f"{r.estimated_instructions:,}")
    table.add_section()
    dense, stored = sum(r.dense_bytes for r in rows), sum(r.bytes for r in rows)
    table.add_row("total", "", f"{sum(r.weights for r in rows):,}", f"{dense:,}", f"{stored:,}",
                  f"{8 * stored / max(1, sum(r.weights for r in rows)):.2f}", "")
    return table
