"""Outputs the firmware is checked against besides the host build: the numpy int8 reference
(from the graph serialized in the exported tree) and, when the model came from a .tflite, the
interpreter whose arithmetic the export's rounding mode follows: TensorFlow Lite Micro ("tflm")
or LiteRT ("litert")."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcucompress.targets.manifest import Manifest, check_source_model


def graph_file(manifest: Manifest) -> Path | None:
    named = manifest.raw.get("graph")
    if named and (manifest.root / named).is_file():
        return manifest.root / named
    candidates = sorted(manifest.root.glob("*.npz"))
    return candidates[0] if len(candidates) == 1 else None


def tflite_file(manifest: Manifest) -> Path | None:
    named = manifest.raw.get("source_tflite")
    if named and (manifest.root / named).is_file():
        return check_source_model(manifest.root / named, manifest.raw)
    candidates = sorted(manifest.root.glob("*.tflite"))
    return check_source_model(candidates[0], manifest.raw) if len(candidates) == 1 else None


def reference_outputs(manifest: Manifest, inputs: np.ndarray) -> np.ndarray | None:
    """run_int8 on the serialized graph, or None when the tree holds no graph."""
    run = reference_run(manifest, inputs)
    return None if run is None else run[0]


def reference_run(manifest: Manifest, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(outputs, early exit taken per input) of run_int8 on the serialized graph, or None when
    the tree holds no graph."""
    path = graph_file(manifest)
    if path is None:
        return None
    from mcucompress.ir.serialize import load_graph
    from mcucompress.reference.int8 import run_int8_batch_exits

    return run_int8_batch_exits(load_graph(path), inputs, rounding=manifest.raw.get("rounding", "tflm"))


def interpreter_outputs(manifest: Manifest, inputs: np.ndarray) -> tuple[str, np.ndarray] | None:
    """(name, outputs) of the interpreter matching the export's rounding, or None without a .tflite."""
    path = tflite_file(manifest)
    if path is None:
        return None
    from mcucompress.reference import interpreters

    return interpreters.interpreter_outputs(path, inputs, manifest.raw.get("rounding", "tflm"))
