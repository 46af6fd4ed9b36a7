"""Python API: export a model as a self-contained C source tree.

    from mcucompress.export import export
    export("model.tflite", "out/")                      # int8 .tflite as is
    export("model.keras", "out/", calib="calib.npz")    # Keras: quantized with calibration data

The tree is written into a temporary sibling folder and renamed into place at the end, so a
failure never leaves a half-written folder behind, and an existing folder that is not an earlier
export is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from mcucompress import __version__
from mcucompress.codegen.c_literals import is_c_identifier
from mcucompress.codegen.lower import Program, lower
from mcucompress.codegen.render import INCLUDE_DIRS, defines, render, sources
from mcucompress.errors import McuError
from mcucompress.importers.keras_file import KERAS_SUFFIXES
from mcucompress.folders import make_staging_folder, missing_folders, remove_if_empty
from mcucompress.ir.graph import Graph
from mcucompress.ir.serialize import graph_to_bytes
from mcucompress.quantize.fixedpoint import ROUNDING_MODES
from mcucompress.resources import runtime_dir

MANIFEST = "manifest.json"
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
    try:
        return "mcucompress_version" in json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError, TypeError):
        return False


def _check_destination(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise McuError(f"output path {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not is_export_tree(out):
        raise McuError(f"refusing to overwrite {out}: it is not empty and not an mcucompress export")


def write_tree(folder: Path, graph: Graph, program: Program, prefix: str, rounding: str,
               model_sha256: str, source_tflite: Path | None, cpu: str | None = None,
               extra: dict | None = None) -> None:
    """``cpu``: the core the weight encodings' estimates are for; ``extra``: more manifest keys."""
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
    (folder / MANIFEST).write_text(json.dumps({**manifest(program, prefix, rounding, model_sha256,
                                                          source_tflite is not None),
                                               **manifest_entry(graph, cpu), **(extra or {}),
                                               "quantization": quantization_scheme(graph)},
                                              indent=2, sort_keys=True) + "\n")


FIT_ATTEMPTS = 6       # builds at most, when --optimize fit compresses until the image fits
FIT_MARGIN = 256       # bytes saved beyond a measured overflow (kernel code the next choice links)


def export(model, out_dir, calib=None, prefix: str = "model", rounding: str = "tflm",
           board: str | None = None, optimize: str = "fit", quantize: str = "int8",
           unsafe_deserialization: bool = False, flash_budget: int | None = None) -> Path:
    """Write the C source tree of ``model`` (path, Graph or Keras model) to ``out_dir``.
    ``optimize``: per-layer weight encoding, see mcucompress/encode/choose.py; ``fit`` (the
    default) takes the fastest encodings for ``board``'s core and, when the firmware image does
    not fit the board's flash (or ``flash_budget`` bytes), compresses layers until it does;
    without a board ``flash_budget`` bounds the weights as stored.
    ``quantize``: "int8" (TFLite's scheme), "qformat" (power-of-two, quantize/qformat.py) or
    "binary" (Keras binary networks, binary/deploy.py).
    ``unsafe_deserialization``: load Keras files that carry Python code (Lambda layers, foreign
    modules); only for files the user trusts."""
    if not is_c_identifier(prefix):
        raise McuError(f"prefix '{prefix}' is not a C identifier")
    if rounding not in ROUNDING_MODES:
        raise McuError(f"unknown rounding '{rounding}'; expected one of {', '.join(ROUNDING_MODES)}")
    if flash_budget is not None and flash_budget <= 0:
        raise McuError(f"flash budget must be a positive number of bytes, not {flash_budget}")
    from mcucompress.encode.choose import OPTIMIZE
    if optimize not in OPTIMIZE:
        raise McuError(f"unknown --optimize '{optimize}'; expected one of {', '.join(OPTIMIZE)}")
    out = Path(out_dir).resolve()
    _check_destination(out)
    cpu = _board_cpu(board)
    from mcucompress.quantize.qformat_model import load_quantized  # int8 or Q-format (issue 7)
    graph, digest, source = load_quantized(model, calib, quantize, board, allow_code=unsafe_deserialization)

    created = missing_folders(out.parent)
    staging = make_staging_folder(out)
    try:
        _write_fitting(staging, graph, prefix, rounding, digest, source, board, cpu, optimize, flash_budget)
        _check_destination(out)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        remove_if_empty(created)  # parent folders this export made for itself
        raise
    return out


def _board_cpu(board: str | None) -> str | None:
    if board is None:
        return None
    from mcucompress.targets.board import load_board
    return load_board(board).cpu


def _write_fitting(staging: Path, graph: Graph, prefix: str, rounding: str, digest: str,
                   source: Path | None, board: str | None, cpu: str | None, optimize: str,
                   flash_budget: int | None) -> None:
    """Choose the encodings, write the tree (and the board's firmware); for ``fit``, while the
    image is over the board's flash or the budget, save that much more and write again."""
    from mcucompress.encode.choose import choose_encodings
    from mcucompress.encode.plan import summarize, weight_bytes

    need = 0
    if optimize == "fit" and board is None and flash_budget is not None:
        need = max(0, weight_bytes(choose_encodings(graph, "speed", cpu), cpu) - flash_budget)
    for attempt in range(FIT_ATTEMPTS):
        chosen = choose_encodings(graph, optimize, cpu, need)
        plan = summarize(chosen, graph, optimize, cpu, flash_budget)
        if attempt:
            shutil.rmtree(staging)
            staging.mkdir()
        program = lower(chosen, prefix, rounding)
        write_tree(staging, chosen, program, prefix, rounding, digest, source, cpu, {"weight_plan": plan.as_dict()})
        if board is None:
            if flash_budget is not None and plan.weight_bytes > flash_budget:
                raise McuError(f"the weights need {plan.weight_bytes:,} B as stored, over the flash budget of "
                               f"{flash_budget:,} B" + ("" if optimize == "fit" else f" (--optimize {optimize})"))
            return
        over, error = _flash_over(staging, board, flash_budget)
        # fit also leaves room for one test vector (input and expected output), which is what
        # `mcucompress run` embeds in the image besides the model (the footprint leaves it out)
        reserve = program.input.bytes + program.output.bytes if optimize == "fit" else 0
        if over + reserve <= 0:
            return
        more = plan.bytes_saved + over + reserve + FIT_MARGIN
        if optimize != "fit" or weight_bytes(choose_encodings(graph, "fit", cpu, more), cpu) >= plan.weight_bytes:
            if over <= 0:
                return
            raise error  # not fitting, and nothing left to compress (or compression not asked for)
        need = more
    if over > 0:
        raise error


def _flash_over(tree: Path, board: str, flash_budget: int | None) -> tuple[int, McuError | None]:
    """Build the board's firmware: (bytes of flash over the budget - at most 0 when it fits - and
    the error to report if it stays over). Other build errors are raised."""
    from mcucompress.targets.board import load_board
    from mcucompress.targets.budget import flash_overflow

    b = load_board(board)
    limit = min(flash_budget, b.flash.size) if flash_budget is not None else b.flash.size
    try:
        _write_firmware(tree, board)
    except McuError as error:
        log = tree / "firmware" / board / "build" / "build.log"
        excess = flash_overflow(log.read_text()) if log.is_file() else None
        if excess is None:
            raise
        return b.flash.size + excess - limit, error
    footprint = json.loads((tree / "firmware" / board / "footprint.json").read_text())
    over = footprint["flash_bytes"] - limit
    return over, McuError(f"the model does not fit the flash budget of {limit:,} B on {board}: the image "
                          f"needs {footprint['flash_bytes']:,} B")


def _write_firmware(tree: Path, board: str) -> None:
    try:
        from mcucompress.targets.firmware import write_firmware_project
    except ImportError:
        raise McuError("board support not available") from None
    write_firmware_project(tree, board)
