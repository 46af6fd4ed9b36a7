"""Outputs the firmware is checked against besides the host build: the numpy int8 reference
(from the graph serialized in the exported tree) and, when the model came from a .tflite, the
interpreter whose arithmetic the export's rounding mode follows: TensorFlow Lite Micro ("tflm")
or LiteRT ("litert")."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from mcucompress.targets.manifest import Manifest


def graph_file(manifest: Manifest) -> Path | None:
    named = manifest.raw.get("graph")
    if named and (manifest.root / named).is_file():
        return manifest.root / named
    candidates = sorted(manifest.root.glob("*.npz"))
    return candidates[0] if len(candidates) == 1 else None


def tflite_file(manifest: Manifest) -> Path | None:
    named = manifest.raw.get("source_tflite")
    if named and (manifest.root / named).is_file():
        return manifest.root / named
    candidates = sorted(manifest.root.glob("*.tflite"))
    return candidates[0] if len(candidates) == 1 else None


def reference_outputs(manifest: Manifest, inputs: np.ndarray) -> np.ndarray | None:
    """run_int8 on the serialized graph, or None when the tree holds no graph."""
    path = graph_file(manifest)
    if path is None:
        return None
    from mcucompress.ir.serialize import load_graph
    from mcucompress.reference.int8 import run_int8

    graph = load_graph(path)
    rounding = manifest.raw.get("rounding", "tflm")
    shape = manifest.input.shape
    outs = [np.asarray(run_int8(graph, x.reshape(shape), rounding=rounding), dtype=np.int8).ravel()
            for x in inputs]
    return np.stack(outs)


def tflm_outputs(manifest: Manifest, inputs: np.ndarray) -> np.ndarray | None:
    """TensorFlow Lite Micro's interpreter on the source .tflite, or None without one."""
    path = tflite_file(manifest)
    if path is None:
        return None
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_file(str(path))
    shape = tuple(int(n) for n in interpreter.get_input_details(0)["shape"])
    outs = []
    for x in inputs:
        interpreter.set_input(np.asarray(x, dtype=np.int8).reshape(shape), 0)
        interpreter.invoke()
        outs.append(np.asarray(interpreter.get_output(0), dtype=np.int8).ravel())
    return np.stack(outs)


def litert_outputs(manifest: Manifest, inputs: np.ndarray) -> np.ndarray | None:
    """LiteRT's (TensorFlow Lite's) interpreter on the source .tflite, or None without one."""
    path = tflite_file(manifest)
    if path is None:
        return None
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]
    target = interpreter.get_output_details()[0]
    outs = []
    for x in inputs:
        interpreter.set_tensor(source["index"], np.asarray(x, dtype=np.int8).reshape(source["shape"]))
        interpreter.invoke()
        outs.append(np.asarray(interpreter.get_tensor(target["index"]), dtype=np.int8).ravel())
    return np.stack(outs)


def interpreter_outputs(manifest: Manifest, inputs: np.ndarray) -> tuple[str, np.ndarray] | None:
    """(name, outputs) of the interpreter matching the export's rounding, or None."""
    if manifest.raw.get("rounding", "tflm") == "litert":
        outs = litert_outputs(manifest, inputs)
        return None if outs is None else ("litert", outs)
    outs = tflm_outputs(manifest, inputs)
    return None if outs is None else ("tflite-micro", outs)
