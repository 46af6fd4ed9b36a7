"""Benchmarks for `mcucompress bench`: per model and per core, exact instructions per inference,
MACs per instruction, flash and RAM, and a per-layer breakdown (one count per kernel call).

Counts come from the same QEMU runs and instruction-counting plugin as `mcucompress run`; the
outputs of every run are checked against the host build and the references first, so a figure
is only reported for a byte-exact firmware.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mcucompress.errors import McuError
from mcucompress.ir.ops import graph_macs, macs

MANIFEST = "manifest.json"


@dataclass
class LayerRow:
    index: int
    op: str          # "name: kind" as the generated model.c comments it
    kernel: str
    macs: int
    instructions: dict = field(default_factory=dict)   # board -> count


@dataclass
class CoreRow:
    board: str
    cpu: str
    instructions: int
    flash_bytes: int
    ram_bytes: int
    identical_to: dict
    macs_per_instruction: float


@dataclass
class ModelBench:
    model: str
    macs: int
    cores: list = field(default_factory=list)
    layers: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"model": self.model, "macs": self.macs,
                "cores": [vars(c) for c in self.cores],
                "layers": [vars(l) for l in self.layers]}


def _prefix_for(path: Path) -> str:
    from mcucompress.codegen.c_literals import prefix_problem

    name = re.sub(r"[^A-Za-z0-9_]", "_", path.stem).lower().strip("_")[:30] or "model"
    return name if not prefix_problem(name) else f"m_{name}"


def prepare_tree(model: str | Path, work: Path, rounding: str = "tflm", optimize: str | None = None) -> Path:
    """An exported tree for `model` (used as is when it already is one), its weight encodings
    chosen by `optimize` (export's default when None)."""
    path = Path(model)
    if (path / MANIFEST).is_file():
        if optimize is not None:
            raise McuError(f"{path} is already exported: --optimize applies to model files only "
                           "(export it again with `mcucompress export --optimize`)")
        return path
    if not path.exists():
        raise McuError(f"{path}: no such model file or exported tree")
    if path.is_dir():
        raise McuError(f"{path} is not an exported model tree (no {MANIFEST}); run `mcucompress export` first")
    from mcucompress.export import export

    return export(path, work / _prefix_for(path), prefix=_prefix_for(path), rounding=rounding,
                  optimize=optimize or "size")


def with_defines(tree: Path, work: Path, defines: dict) -> Path:
    """A copy of `tree` whose builds add C defines (MCC_FORCE_REFERENCE, MCC_NO_MVE, ...)."""
    if not defines:
        return tree
    suffix = "_".join(f"{k}{v}" for k, v in sorted(defines.items())).lower()
    copy = work / f"{tree.name}-{suffix}"
    from mcucompress.export import check_destination, write_manifest

    check_destination(copy)  # an earlier copy is replaced, a folder of the user's is not
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(tree, copy, ignore=shutil.ignore_patterns("firmware"))
    manifest = json.loads((copy / MANIFEST).read_text())
    manifest["defines"] = {**manifest.get("defines", {}), **defines}
    write_manifest(copy, manifest)
    return copy


def _calls(tree: Path):
    """(graph, [(op comment, kernel)]) in call order, from the tree's serialized graph."""
    from mcucompress.codegen.lower import lower
    from mcucompress.ir.serialize import load_graph

    manifest = json.loads((tree / MANIFEST).read_text())
    graph = load_graph(tree / manifest.get("graph", "graph.npz"))
    program = lower(graph, manifest["prefix"], manifest.get("rounding", "tflm"))
    return graph, [(c.comment, c.function) for c in program.calls]


def bench_model(tree: Path, boards: list, layers: bool = True, samples: int = 1) -> ModelBench:
    """``boards``: names of shipped boards or Board values."""
    from mcucompress.targets.board import load_board
    from mcucompress.targets.layer_counts import count_layers
    from mcucompress.targets.runner import run_model
    from mcucompress.targets.workspace import firmware_workspace

    graph, calls = _calls(tree)
    by_name = {op.name: op for op in graph.ops}
    result = ModelBench(tree.name, graph_macs(graph))
    rows, row_of_call = [], []   # one row per layer; a layer may make several calls
    for comment, kernel in calls:
        if rows and rows[-1].op == comment:
            rows[-1].kernel += f"+{kernel}"
        else:
            rows.append(LayerRow(len(rows), comment, kernel, macs(graph, by_name[comment.split(": ")[0]])))
        row_of_call.append(rows[-1])
    for board in map(load_board, boards):
        with firmware_workspace(tree, board):  # no other run rebuilds the ELF before it is counted
            report = run_model(tree, board, samples=samples)
            counted = count_layers(report.elf, board, report.prefix) if layers and report.passed else None
        if not report.passed:
            raise McuError(f"{tree.name} on {board.name}: outputs differ from the references {report.checks}")
        n = max(report.instructions)
        result.cores.append(CoreRow(board.name, report.board.cpu, n, report.footprint.flash_bytes,
                                    report.footprint.ram_bytes, report.checks,
                                    round(result.macs / n, 3)))
        if layers:
            if [c.kernel for c in counted] != [kernel for _, kernel in calls]:
                raise McuError(f"{tree.name} on {board.name}: the firmware's kernel calls do not match the "
                               "model's layers")
            for row, c in zip(row_of_call, counted):
                row.instructions[board.name] = row.instructions.get(board.name, 0) + c.instructions
    if layers:
        result.layers = rows
    return result


def format_text(bench: ModelBench) -> list[str]:
    lines = [f"{bench.model}: {bench.macs:,} MACs per inference"]
    lines.append(f"  {'board':<12} {'cpu':<11} {'instructions':>13} {'MAC/instr':>9} {'flash B':>9} "
                 f"{'RAM B':>8}  identical to")
    for c in bench.cores:
        same = ", ".join(k for k, v in c.identical_to.items() if v)
        lines.append(f"  {c.board:<12} {c.cpu:<11} {c.instructions:>13,} {c.macs_per_instruction:>9.3f} "
                     f"{c.flash_bytes:>9,} {c.ram_bytes:>8,}  {same}")
    if bench.layers:
        boards = [c.board for c in bench.cores]
        lines.append("  per layer (instructions of each kernel call; MAC/instr on the first board):")
        lines.append(f"  {'#':>3} {'layer':<34} {'kernel':<30} {'MACs':>11} "
                     + " ".join(f"{b:>12}" for b in boards) + f" {'MAC/instr':>9}")
        for r in bench.layers:
            first = r.instructions.get(boards[0], 0)
            ratio = f"{r.macs / first:9.3f}" if r.macs and first else " " * 9
            lines.append(f"  {r.index:>3} {r.op[:34]:<34} {r.kernel[:30]:<30} {r.macs:>11,} "
                         + " ".join(f"{r.instructions.get(b, 0):>12,}" for b in boards) + f" {ratio}")
    return lines
