"""Benchmarks for `mcucompress bench`: per model and per core, exact instructions per inference,
MACs per instruction, flash and RAM, and a per-layer breakdown (one count per kernel call).

Counts come from the same QEMU runs and instruction-counting plugin as `mcucompress run`; the
outputs of every run are checked against the host build and the references first, so a figure
is only reported for a byte-exact firmware.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mcucompress.errors import McuError
from mcucompress.targets.manifest import manifest_json, read_manifest

MANIFEST = "manifest.json"


@dataclass
class LayerRow:
    index: int
    op: str          # "name: kind" as the generated model.c comments it (manifest layers)
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


def with_defines(tree: Path, work: Path, defines: dict) -> Path:
    """A copy of `tree` whose builds add C defines (MCC_FORCE_REFERENCE, MCC_NO_MVE, ...)."""
    if not defines:
        return tree
    suffix = "_".join(f"{k}{v}" for k, v in sorted(defines.items())).lower()
    copy = work / f"{tree.name}-{suffix}"
    from mcucompress.tree_files import check_destination, write_manifest

    check_destination(copy)  # an earlier copy is replaced, a folder of the user's is not
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(tree, copy, ignore=shutil.ignore_patterns("firmware"))
    manifest = manifest_json(copy)
    manifest["defines"] = {**manifest.get("defines", {}), **defines}
    write_manifest(copy, manifest)
    return copy


def tree_core(board) -> str | None:
    """The cpu a model file is exported for to run on ``board``: the board's own where its
    core's default weight layout differs from the M4's (the M55 keeps convolution weights one
    byte each; cores without DSP or with MVE keep hot fully connected layers int8), else the
    first cpu of its cost-model family (one tree for the M4, M7 and M33), whose export leaves out
    the MVE-only depthwise scratch the default export (any core) reserves."""
    from mcucompress.codegen.specialize import planes_target
    from mcucompress.encode.choose import FC_INT16_FAMILIES, default_conv_layout
    from mcucompress.encode.cost_model import CORE_FAMILIES, DEFAULT_FAMILY, family

    core = family(board.cpu)
    same = (default_conv_layout(core) == default_conv_layout(DEFAULT_FAMILY)
            and (core in FC_INT16_FAMILIES) == (DEFAULT_FAMILY in FC_INT16_FAMILIES))
    if not same:
        return board.cpu
    return None if planes_target(board.cpu) else next(cpu for cpu, f in CORE_FAMILIES.items() if f == core)


def boards_by_tree_core(boards: list) -> dict:
    """{tree_core: [boards]} in the order the boards come (Board values)."""
    groups: dict = {}
    for board in boards:
        groups.setdefault(tree_core(board), []).append(board)
    return groups


def merge_benches(parts: list, order: list[str]) -> ModelBench:
    """One ModelBench of the same model benched as several trees (one per tree core): cores in
    ``order`` (board names), per-layer counts side by side (a layer whose kernel differs between
    the trees names both, e.g. 'mcc_conv2d_fast_s8 | mcc_conv2d_fast_w8_s8')."""
    merged = parts[0]
    for other in parts[1:]:
        merged.cores += other.cores
        if merged.layers and other.layers:
            if len(merged.layers) != len(other.layers):
                raise McuError(f"{merged.model}: the trees of two cores list different layers")
            for row, more in zip(merged.layers, other.layers):
                row.instructions.update(more.instructions)
                if more.kernel != row.kernel:
                    row.kernel = f"{row.kernel} | {more.kernel}"
    merged.cores.sort(key=lambda c: order.index(c.board))
    return merged


def bench_model(tree: Path, boards: list, layers: bool = True, samples: int = 1) -> ModelBench:
    """``boards``: names of shipped boards or Board values."""
    from mcucompress.targets.board import load_board
    from mcucompress.targets.layer_counts import layer_counts
    from mcucompress.targets.runner import run_model

    manifest = read_manifest(tree)
    result = ModelBench(tree.name, sum(layer.macs for layer in manifest.layers or ()))
    rows = [LayerRow(i, f"{layer.op}: {layer.kind}", layer.kernel, layer.macs)
            for i, layer in enumerate(manifest.kernel_layers())]
    row_of_call = [row for row in rows for _ in row.kernel.split("+")]   # a layer may make several calls
    calls = [kernel for row in rows for kernel in row.kernel.split("+")]
    for board in map(load_board, boards):
        report = run_model(tree, board, samples=samples, layers=layers)   # one QEMU run counts both
        if not report.passed:
            raise McuError(f"{tree.name} on {board.name}: outputs differ from the references {report.checks}")
        counted = layer_counts(report.call_sites, report.call_passes, board) if layers else None
        n = max(report.instructions)
        result.cores.append(CoreRow(board.name, report.board.cpu, n, report.footprint.flash_bytes,
                                    report.footprint.ram_bytes, report.checks,
                                    round(result.macs / n, 3)))
        if layers:
            if [c.kernel for c in counted] != calls:
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
