"""Python API: export a model as a self-contained C source tree.

    from mcucompress.export import export
    export("model.tflite", "out/")                      # int8 .tflite as is
    export("model.keras", "out/", calib="calib.npz")    # Keras: quantized with calibration data

The tree is written into a temporary sibling folder and renamed into place at the end, so a
failure never leaves a half-written folder behind. An existing folder is replaced only when every
file in it is one an earlier export wrote, unchanged (manifest.json lists them with their SHA-256).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from mcucompress import __version__
from mcucompress.codegen.c_literals import prefix_problem
from mcucompress.codegen.lower import Program, lower
from mcucompress.codegen.render import INCLUDE_DIRS, defines, render, sources
from mcucompress.errors import McuError
from mcucompress.importers.keras_file import KERAS_SUFFIXES
from mcucompress.folders import check_not_protected, make_staging_folder, missing_folders, remove_if_empty
from mcucompress.ir.graph import Graph
from mcucompress.ir.serialize import graph_to_bytes
from mcucompress.quantize.fixedpoint import ROUNDING_MODES
from mcucompress.resources import runtime_dir
from mcucompress.tree_files import FILES_KEY, MANIFEST, file_hashes, first_foreign_file
GRAPH_FILE = "graph.npz"
SOURCE_TFLITE = "source.tflite"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_model(model, calib=None, allow_code: bool = False) -> tuple[Graph, str, Path | None]:
    """(int8 graph, sha256 of the model's bytes, path of a source .tflite or None).
    ``allow_code``: let Keras files with Lambda layers load (importers/keras_file.py)."""
    if isinstance(model, Graph):
        if not model.is_quantized:
            if calib is None:
                raise McuError("a float graph needs calibration data (calib=NPZ) to be quantized")
            model = _quantize(model, calib)
        return model, _sha256(graph_to_bytes(model)), None
    if isinstance(model, (str, Path)):
        path = Path(model)
        if not path.is_file():
            raise McuError(f"model file not found: {path}")
        digest = _sha256(path.read_bytes())
        suffix = path.suffix.lower()
        if suffix == ".tflite":
            from mcucompress.importers.tflite import load_tflite
            return load_tflite(path), digest, path
        if suffix in KERAS_SUFFIXES:
            return _quantize(_load_keras(path, allow_code), calib), digest, None
        raise McuError(f"{path.name}: unsupported model type '{path.suffix}' (expected .tflite, .keras or .h5)")
    if hasattr(model, "layers"):  # an in-memory Keras model
        float_graph = _load_keras(model)
        quantized = _quantize(float_graph, calib)
        return quantized, _sha256(graph_to_bytes(float_graph)), None
    raise McuError(f"cannot export an object of type {type(model).__name__}")


def _load_keras(path_or_model, allow_code: bool = False) -> Graph:
    from mcucompress.importers.keras import load_keras
    return load_keras(path_or_model, allow_code=allow_code)


def _quantize(float_graph: Graph, calib) -> Graph:
    if calib is None:
        raise McuError("Keras models need calibration data: pass --calib NPZ (array 'x' of inputs)")
    from mcucompress.encode.per_tensor import clustered_layers, per_tensor_weights
    from mcucompress.quantize.ptq import quantize_graph
    if isinstance(calib, (str, Path)):
        from mcucompress.data import load_samples
        calib, _ = load_samples(calib, float_graph.tensor(float_graph.inputs[0]).shape)
    quantized = quantize_graph(float_graph, calib)
    # Per-channel scales would turn k shared float values into k values per row; clustered
    # layers get one scale per tensor so their clustering survives into int8 (and the encoders).
    clustered = clustered_layers(float_graph)
    return per_tensor_weights(quantized, float_graph, clustered) if clustered else quantized


def manifest(program: Program, prefix: str, rounding: str, model_sha256: str,
             has_tflite: bool) -> dict:
    def port(p):
        return {"shape": list(p.shape), "scale": p.scale, "zero_point": p.zero_point, "bytes": p.bytes}

    return {
        "prefix": prefix,
        "sources": sources(program),
        "include_dirs": list(INCLUDE_DIRS),
        "defines": defines(program),
        "input": port(program.input),
        "output": port(program.output),
        "arena_bytes": program.memory.arena_bytes,
        "model_sha256": model_sha256,
        "rounding": rounding,
        "mcucompress_version": __version__,
        "graph": GRAPH_FILE,
        "source_tflite": SOURCE_TFLITE if has_tflite else None,
    }


def is_export_tree(folder: Path) -> bool:
    """True when ``folder`` holds only files an export wrote, unchanged: it may be replaced."""
    return folder.is_dir() and first_foreign_file(folder) is None


def check_destination(out: Path) -> None:
    """Raise unless ``out`` is missing, empty, or an earlier export that holds nothing else."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise McuError(f"output path {out} exists and is not a folder")
    if out.is_dir():
        check_not_protected(out)
        foreign = first_foreign_file(out)
        if foreign is not None:
            raise McuError(f"refusing to overwrite {out}: {foreign}")


def write_tree(folder: Path, graph: Graph, program: Program, prefix: str, rounding: str,
               model_sha256: str, source_tflite: Path | None) -> None:
    files = render(program, prefix, model_sha256)
    for rel, text in files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    runtime = runtime_dir()
    for rel in program.runtime_files:
        target = folder / "runtime" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(runtime / rel, target)
    (folder / GRAPH_FILE).write_bytes(graph_to_bytes(graph))
    if source_tflite is not None:
        shutil.copyfile(source_tflite, folder / SOURCE_TFLITE)
    from mcucompress.encode.choose import manifest_entry  # per-layer weight encodings (issue 6)
    from mcucompress.quantize.qformat_model import quantization_scheme  # int8 | qformat | binary
    write_manifest(folder, {**manifest(program, prefix, rounding, model_sha256, source_tflite is not None),
                            **manifest_entry(graph), "quantization": quantization_scheme(graph)})


def write_manifest(folder: Path, content: dict) -> None:
    """manifest.json with the list of every other file now in ``folder`` and its SHA-256."""
    content = {**content, FILES_KEY: file_hashes(folder)}
    (folder / MANIFEST).write_text(json.dumps(content, indent=2, sort_keys=True) + "\n")


def _add_to_file_list(folder: Path) -> None:
    """Re-lists the files after more were written (the firmware project of --board)."""
    write_manifest(folder, json.loads((folder / MANIFEST).read_text()))


def export(model, out_dir, calib=None, prefix: str = "model", rounding: str = "tflm",
           board: str | None = None, optimize: str = "size", quantize: str = "int8",
           unsafe_deserialization: bool = False) -> Path:
    """Write the C source tree of ``model`` (path, Graph or Keras model) to ``out_dir``.
    ``optimize``: per-layer weight encoding, see mcucompress/encode/choose.py.
    ``quantize``: "int8" (TFLite's scheme), "qformat" (power-of-two, quantize/qformat.py) or
    "binary" (Keras binary networks, binary/deploy.py).
    ``unsafe_deserialization``: load Keras files that carry Python code (Lambda layers, foreign
    modules); only for files the user trusts."""
    problem = prefix_problem(prefix) if isinstance(prefix, str) else "is not text"
    if problem:
        raise McuError(f"prefix '{prefix}' {problem}; choose another --prefix")
    if rounding not in ROUNDING_MODES:
        raise McuError(f"unknown rounding '{rounding}'; expected one of {', '.join(ROUNDING_MODES)}")
    if board is not None:
        from mcucompress.targets.board import load_board
        board = load_board(board)  # a bad name fails before the model is loaded
    out = Path(os.path.abspath(out_dir))  # not resolved: a link named as the output is refused, not followed
    check_destination(out)
    from mcucompress.quantize.qformat_model import load_quantized  # int8 or Q-format (issue 7)
    graph, digest, source = load_quantized(model, calib, quantize, board, allow_code=unsafe_deserialization)
    from mcucompress.encode.choose import choose_encodings
    graph = choose_encodings(graph, optimize)
    program = lower(graph, prefix, rounding)

    created = missing_folders(out.parent)
    staging = make_staging_folder(out)
    try:
        write_tree(staging, graph, program, prefix, rounding, digest, source)
        if quantize == "int8":
            _write_float_oracle(staging, model, calib, unsafe_deserialization)
        if board is not None:
            _write_firmware(staging, board)
            _add_to_file_list(staging)
        check_destination(out)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        remove_if_empty(created)  # parent folders this export made for itself
        raise
    return out


def _write_float_oracle(tree: Path, model, calib, allow_code: bool) -> None:
    """A Keras export keeps its float model and calibration samples, so that verify can judge
    the C against the float model and against TensorFlow's own conversion (reference/float_oracle.py)."""
    from mcucompress.reference.float_oracle import write_oracle_inputs

    entry = write_oracle_inputs(tree, model, calib, allow_code)
    if entry:
        path = tree / MANIFEST
        path.write_text(json.dumps({**json.loads(path.read_text()), **entry}, indent=2, sort_keys=True) + "\n")


def _write_firmware(tree: Path, board: str) -> None:
    try:
        from mcucompress.targets.firmware import write_firmware_project
    except ImportError:
        raise McuError("board support not available") from None
    write_firmware_project(tree, board)
