"""What an export's choice of weight encodings cost against the fastest choice: bytes saved,
instructions added (cost model estimates for the target's core family), and which layers left
their fastest encoding. Recorded in the exported tree's manifest and printed by `export`."""

from __future__ import annotations

from dataclasses import dataclass

from mcucompress.encode import cost_model
from mcucompress.encode.choose import choose_encodings, encoding_rows
from mcucompress.ir.graph import Graph


@dataclass(frozen=True)
class PlanSummary:
    optimize: str
    core_family: str
    weight_bytes: int                 # encodable layers' weights as stored
    estimated_instructions: int       # encodable layers, per inference
    bytes_saved: int                  # against the fastest choice
    instructions_added: int           # against the fastest choice
    changed: tuple[tuple[str, str], ...]   # (layer, encoding) of layers not at their fastest
    flash_budget: int | None = None   # bytes the choice had to fit (image, or weights without a board)

    def as_dict(self) -> dict:
        return {"optimize": self.optimize, "core_family": self.core_family, "weight_bytes": self.weight_bytes,
                "estimated_instructions": self.estimated_instructions, "bytes_saved": self.bytes_saved,
                "instructions_added": self.instructions_added, "flash_budget": self.flash_budget,
                "changed_from_fastest": dict(self.changed)}


def plan_text(plan: dict) -> str:
    """One line for `export` from a manifest's "weight_plan" (PlanSummary.as_dict())."""
    budget = f", flash budget {plan['flash_budget']:,} B" if plan.get("flash_budget") is not None else ""
    head = (f"weights --optimize {plan['optimize']}{budget}: {plan['weight_bytes']:,} B, "
            f"~{plan['estimated_instructions']:,} instructions in weighted layers (cost model {plan['core_family']})")
    changed = plan.get("changed_from_fastest") or {}
    if not changed:
        return head + "; every layer at its fastest encoding"
    layers = ", ".join(f"{name} {kind}" for name, kind in changed.items())
    return (head + f"; {len(changed)} layer(s) not at their fastest ({layers}): "
            f"{plan['bytes_saved']:,} B saved, {plan['instructions_added']:+,} instructions")


def int4_text(encodings: dict) -> str:
    """One line for `export` on the layers stored as int4 (a manifest's "weight_encodings"), or ""."""
    rows = {name: r for name, r in encodings.items() if r.get("encoding") == "int4"}
    if not rows:
        return ""
    weights = sum(r["weights"] for r in rows.values())
    stored = sum(r["bytes"] for r in rows.values())
    return (f"int4 weights (4 bits a weight, two a byte, one scale per output channel) in "
            f"{len(rows)} layer(s): {weights:,} weights in {stored:,} B (int8: {weights:,} B)")


def weight_bytes(graph: Graph, cpu: str | None = None) -> int:
    return sum(r.bytes for r in encoding_rows(graph, cpu))


def summarize(chosen: Graph, original: Graph, optimize: str, cpu: str | None,
              flash_budget: int | None = None) -> PlanSummary:
    """``chosen`` (annotated by choose_encodings) against the fastest choice for ``original``."""
    rows = encoding_rows(chosen, cpu)
    fastest = {r.layer: r for r in encoding_rows(choose_encodings(original, "speed", cpu), cpu)}
    changed = tuple((r.layer, r.encoding) for r in rows if r.layer in fastest and r.encoding != fastest[r.layer].encoding)
    base_bytes = sum(fastest[r.layer].bytes if r.layer in fastest else r.bytes for r in rows)
    base_instr = sum(fastest[r.layer].estimated_instructions if r.layer in fastest else r.estimated_instructions
                     for r in rows)
    stored = sum(r.bytes for r in rows)
    instructions = sum(r.estimated_instructions for r in rows)
    return PlanSummary(optimize, cost_model.family(cpu), stored, instructions, base_bytes - stored,
                       instructions - base_instr, changed, flash_budget)
