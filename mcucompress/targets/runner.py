"""`mcucompress run`: cross-build an exported tree for a board, run it on the board's QEMU
machine, and check the outputs byte for byte against the host build and the references."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.graph import QuantParams
from mcucompress.targets.board import Board, load_board
from mcucompress.targets.budget import Footprint, check_stack
from mcucompress.targets.cross_build import build_firmware
from mcucompress.targets.firmware import write_firmware_project
from mcucompress.targets.host_run import run_on_host
from mcucompress.targets.layer_counts import call_passes, kernel_call_sites
from mcucompress.targets.manifest import Manifest, read_manifest
from mcucompress.targets.qemu import run_on_qemu
from mcucompress.targets.references import interpreter_outputs, reference_run
from mcucompress.targets.vectors import random_inputs
from mcucompress.targets.workspace import MODEL_LINK, firmware_workspace


@dataclass
class RunReport:
    board: Board
    prefix: str
    samples: int
    instructions: tuple[int, ...]      # per inference
    exact_invoke: bool                 # counts are exactly one <prefix>_invoke() each
    footprint: Footprint
    checks: dict[str, bool] = field(default_factory=dict)   # name -> identical to the target
    elf: Path | None = None
    inputs: np.ndarray | None = None     # (samples, input bytes) int8
    outputs: np.ndarray | None = None    # (samples, output bytes) int8, as the target printed them
    exits: tuple[int, ...] = ()          # early exit each input took (models with exits)
    call_sites: list = field(default_factory=list)   # kernel_call_sites of the ELF (run_model(layers=True))
    call_passes: tuple = ()              # (call site, count) of each pass through them, in order

    def per_exit(self) -> dict[int, dict]:
        """Exit -> {"inputs": how many took it, "mean_instructions": their mean count}."""
        table = {}
        for exit_index in sorted(set(self.exits)):
            counts = [c for c, e in zip(self.instructions, self.exits) if e == exit_index]
            table[exit_index] = {"inputs": len(counts), "mean_instructions": float(np.mean(counts)) if counts else None}
        return table

    @property
    def passed(self) -> bool:
        return all(self.checks.values())

    def as_dict(self) -> dict:
        fp = self.footprint
        return {
            "board": self.board.name, "cpu": self.board.cpu, "model": self.prefix,
            "samples": self.samples,
            "instructions_per_inference": list(self.instructions),
            "instructions_counted": "one invoke exactly" if self.exact_invoke else "between harness markers",
            "flash_bytes": fp.flash_bytes, "ram_bytes": fp.ram_bytes,
            "static_ram_bytes": fp.static_ram_bytes, "stack_used_bytes": fp.stack_used,
            "stack_computed_bytes": fp.stack_computed,
            "test_vector_bytes": fp.vectors_bytes,
            "board_flash_bytes": self.board.image_capacity, "board_ram_bytes": self.board.ram.size,
            "identical_to": self.checks, "passed": self.passed,
            "elf": str(self.elf) if self.elf else None,
            "outputs": [row.tobytes().hex() for row in self.outputs] if self.outputs is not None else None,
            **({"exits": list(self.exits), "mean_instructions": float(np.mean(self.instructions)),
                "per_exit": {str(k): v for k, v in self.per_exit().items()}} if self.exits else {}),
        }


def select_inputs(manifest: Manifest, data: str | Path | None, samples: int) -> np.ndarray:
    if samples < 1:
        raise McuError("--samples must be at least 1")
    if data is None:
        return random_inputs(manifest, samples)
    from mcucompress.data import join_ports, load_port_samples

    quants = []
    for port in manifest.inputs:
        known = port.scale is not None and port.zero_point is not None
        quants.append(QuantParams((float(port.scale),), (int(port.zero_point),)) if known else None)
    xs, _ = load_port_samples(data, [port.shape for port in manifest.inputs], quants)
    if any(x.dtype != np.int8 for x in xs):
        raise McuError(f"{data}: the model input is int8 but the samples are {xs[0].dtype} and the manifest "
                       "has no input quantization")
    return np.asarray(join_ports([x[:samples] for x in xs]), dtype=np.int8)


def run_model(export_dir, board_name: str | Board, data=None, samples: int = 2,
              layers: bool = False) -> RunReport:
    """Builds and runs in the (tree, board) workspace, holding its lock for the whole run; a
    caller that reads the ELF afterwards holds `firmware_workspace` itself around this.
    ``layers``: the same QEMU run also counts each kernel call (``call_sites``, ``call_passes``:
    what layer_counts.count_layers counts, without a second run)."""
    manifest = read_manifest(export_dir)
    board = load_board(board_name)
    if board.qemu_machine is None:
        raise McuError(f"board {board.name} has no QEMU machine; use `mcucompress flash` for it")
    inputs = select_inputs(manifest, data, samples)
    with firmware_workspace(manifest.root, board) as project:
        host, elf, footprint, result, sites, passes = _build_and_run(project, manifest, board, inputs, layers)
    target = np.frombuffer(b"".join(result.outputs), dtype=np.int8).reshape(len(result.outputs), -1)
    if target.shape != host.shape:
        raise McuError(f"the target printed {len(result.outputs)} outputs for {len(inputs)} inputs")
    exits = result.exits if manifest.raw.get("exits") else ()
    return RunReport(board, manifest.prefix, len(inputs), result.instructions, result.exact_invoke,
                     footprint, compare_outputs(manifest, inputs, target, host, exits), elf, inputs, target,
                     exits, sites, tuple(passes))


def compare_outputs(manifest: Manifest, inputs: np.ndarray, target: np.ndarray, host: np.ndarray,
                    exits=()) -> dict[str, bool]:
    """The checks of a target's outputs: identical to the host build's, the numpy reference's
    (and its early exits) and, for a model from a .tflite, the interpreter's."""
    checks = {"host": bool(np.array_equal(target, host))}
    reference = reference_run(manifest, inputs)
    if reference is not None:
        checks["reference"] = bool(np.array_equal(target, reference[0]))
        if manifest.raw.get("exits"):
            checks["reference exits"] = list(exits) == reference[1].tolist()
    interpreter = interpreter_outputs(manifest, inputs)
    if interpreter is not None:
        name, outputs = interpreter
        checks[name] = bool(np.array_equal(target, outputs))
    return checks


def _build_and_run(project: Path, manifest: Manifest, board: Board, inputs: np.ndarray, layers: bool = False,
                   regions_of=None):
    """(host outputs, ELF, footprint, QEMU run, kernel call sites, their passes) of ``inputs``,
    built in ``project``; no call sites unless ``layers``. ``regions_of(elf)``: (begin, end)
    pairs the run counts besides the invoke (their passes in the run's ``region_passes``)."""
    host = run_on_host(manifest, inputs, project / "host", model_link=MODEL_LINK)
    write_firmware_project(manifest.root, board, project, build=False, inputs=inputs, expected=host,
                           model_dir=MODEL_LINK)
    try:
        elf, footprint = build_firmware(project, board, manifest.prefix)
    except McuError as error:
        vector_bytes = inputs.size + host.size
        if "flash needs" in str(error) and len(inputs) > 1:
            raise McuError(f"{error} (this includes {vector_bytes:,} B of test vectors for {len(inputs)} "
                           "samples; try fewer --samples)") from None
        raise
    sites = kernel_call_sites(elf, manifest.prefix) if layers else []
    regions = [(begin, end) for begin, end, _ in sites] + (list(regions_of(elf)) if regions_of else [])
    result = run_on_qemu(elf, board, manifest.prefix, regions=regions)
    passes = result.region_passes
    if sites and len(result.instructions) != len(result.outputs):
        # the plugin keeps a bounded number of passes, which the calls filled: one run each
        result, passes = run_on_qemu(elf, board, manifest.prefix), call_passes(elf, board, sites)
    footprint = footprint.with_stack(result.stack_used) if result.stack_used is not None else footprint
    check_stack(footprint, board)
    return host, elf, footprint, result, sites, passes
