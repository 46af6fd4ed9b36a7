"""Python API: export a model as a self-contained C source tree.

    from mcucompress.export import export
    export("model.tflite", "out/")                      # int8 .tflite as is
    export("model.keras", "out/", calib="calib.npz")    # Keras: quantized with calibration data

The tree is written into a temporary sibling folder and renamed into place at the end, so a
failure never leaves a half-written folder behind. An existing folder is replaced only when every
file in it is one an earlier export wrote, unchanged (manifest.json lists them with their SHA-256).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from mcucompress import __version__
from mcucompress.codegen.c_literals import prefix_problem
from mcucompress.codegen.lower import Program, lower
from mcucompress.codegen.render import INCLUDE_DIRS, defines, exit_count, render, sources
from mcucompress.errors import McuError
from mcucompress.folders import make_staging_folder, missing_folders, remove_if_empty
from mcucompress.ir.graph import Graph
from mcucompress.ir.ops import graph_scheme
from mcucompress.ir.serialize import graph_to_bytes
from mcucompress.load import load
from mcucompress.quantize.fixedpoint import ROUNDING_MODES
from mcucompress.resources import runtime_dir
from mcucompress.targets.manifest import manifest_json
from mcucompress.tree_files import MANIFEST, check_destination, first_foreign_file, write_manifest

GRAPH_FILE = "graph.npz"
SOURCE_TFLITE = "source.tflite"


def manifest(program: Program, prefix: str, rounding: str, model_sha256: str,
             has_tflite: bool) -> dict:
    def port(p):
        return {"shape": list(p.shape), "scale": p.scale, "zero_point": p.zero_point, "bytes": p.bytes}

    exits = {"exits": exit_count(program)} if exit_count(program) else {}  # early exits (the full network is the last)
    return {
        **exits,
        "prefix": prefix,
        "sources": sources(program),
        "include_dirs": list(INCLUDE_DIRS),
        "defines": defines(program),
        "input": port(program.input),    # the first port (the only one of most models)
        "output": port(program.output),
        "inputs": [port(p) for p in program.inputs],
        "outputs": [port(p) for p in program.outputs],
        "arena_bytes": program.memory.arena_bytes,
        "model_sha256": model_sha256,
        "rounding": rounding,
        "mcucompress_version": __version__,
        "graph": GRAPH_FILE,
        "source_tflite": SOURCE_TFLITE if has_tflite else None,
        "layers": [vars(layer) for layer in program.layers],
    }


def is_export_tree(folder: Path) -> bool:
    """True when ``folder`` holds only files an export wrote, unchanged: it may be replaced."""
    return folder.is_dir() and first_foreign_file(folder) is None


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
    write_manifest(folder, {**manifest(program, prefix, rounding, model_sha256, source_tflite is not None),
                            **manifest_entry(graph, cpu), **(extra or {}), "quantization": graph_scheme(graph)})


def _add_to_file_list(folder: Path) -> None:
    """Re-lists the files after more were written (the firmware project of --board)."""
    write_manifest(folder, manifest_json(folder))


FIT_ATTEMPTS = 8       # builds at most, when --optimize fit compresses until the image fits
FIT_MARGIN = 256       # bytes saved beyond a measured overflow (kernel code the next choice links)


def export(model, out_dir, calib=None, prefix: str = "model", rounding: str = "tflm",
           board=None, optimize: str = "fit", quantize: str = "int8",
           unsafe_deserialization: bool = False, format: str = "cmake", flash_budget: int | None = None,
           int4=None, core: str | None = None) -> Path:
    """Write the C source tree of ``model`` (path, Graph or Keras model) to ``out_dir``.
    ``optimize``: per-layer weight encoding, see mcucompress/encode/choose.py; ``fit`` (the
    default) takes the fastest encodings for ``board``'s core and, when the firmware image does
    not fit the board's flash (or ``flash_budget`` bytes), compresses layers until it does;
    without a board ``flash_budget`` bounds the weights as stored.
    ``quantize``: "int8" (TFLite's scheme), "qformat" (power-of-two, quantize/qformat.py) or
    "binary" (Keras binary networks, binary/convert.py); see mcucompress/load.py.
    ``unsafe_deserialization``: load Keras files that carry Python code (Lambda layers, foreign
    modules); only for files the user trusts.
    ``format``: "cmake" (the tree), "arduino" (plus an Arduino library in arduino/<prefix>/) or
    "zephyr" (plus zephyr/module.yml, CMakeLists.txt and Kconfig), see mcucompress/formats.py.
    ``int4``: None, "all" or names of fully connected / conv2d layers whose weights are
    re-quantized to 4 bits and stored packed (encode/int4_requantize.py; changes the outputs).
    ``core``: without a board, the cpu (e.g. "cortex-m55") whose cost model and weight layouts
    the choice is made for (default: the M4's)."""
    problem = prefix_problem(prefix) if isinstance(prefix, str) else "is not text"
    if problem:
        raise McuError(f"prefix '{prefix}' {problem}; choose another --prefix")
    from mcucompress.formats import FORMATS, write_format
    if format not in FORMATS:
        raise McuError(f"unknown format '{format}'; expected one of {', '.join(FORMATS)}")
    if rounding not in ROUNDING_MODES:
        raise McuError(f"unknown rounding '{rounding}'; expected one of {', '.join(ROUNDING_MODES)}")
    if flash_budget is not None and flash_budget <= 0:
        raise McuError(f"flash budget must be a positive number of bytes, not {flash_budget}")
    from mcucompress.encode.choose import OPTIMIZE
    if optimize not in OPTIMIZE:
        raise McuError(f"unknown --optimize '{optimize}'; expected one of {', '.join(OPTIMIZE)}")
    if board is not None:
        from mcucompress.targets.board import load_board
        board = load_board(board)  # a bad name fails before the model is loaded
    out = Path(os.path.abspath(out_dir))  # not resolved: a link named as the output is refused, not followed
    check_destination(out)
    if board is not None:
        from mcucompress.targets.firmware import check_cmake_path
        check_cmake_path(out / "firmware" / board.name, "firmware project")
    if core is not None and board is None:
        from mcucompress.encode.cost_model import family
        family(core)  # an unknown cpu fails here, in one line
    cpu = board.cpu if board is not None else core
    loaded = load(model, calib, quantize, board, allow_code=unsafe_deserialization, int4=int4)
    graph, digest, source = loaded.graph, loaded.sha256, loaded.source_tflite

    created = missing_folders(out.parent)
    staging = make_staging_folder(out)
    try:
        _write_fitting(staging, graph, prefix, rounding, digest, source, board, cpu, optimize, flash_budget)
        if quantize == "int8":
            _write_float_oracle(staging, model, calib, unsafe_deserialization)
        write_format(staging, format)
        _add_to_file_list(staging)  # every file written above, so a later export may replace the tree
        check_destination(out)
        if out.exists():
            shutil.rmtree(out)
        try:
            staging.rename(out)
        except OSError as error:  # another export filled the folder in the meantime
            raise McuError(f"cannot write {out}: {error.strerror or error}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        remove_if_empty(created)  # parent folders this export made for itself
        raise
    return out


def _write_float_oracle(tree: Path, model, calib, allow_code: bool) -> None:
    """A Keras export keeps its float model and calibration samples, so that verify can judge
    the C against the float model and against TensorFlow's own conversion (float_oracle.py)."""
    from mcucompress.float_oracle import write_oracle_inputs

    entry = write_oracle_inputs(tree, model, calib, allow_code)
    if entry:
        (tree / MANIFEST).write_text(json.dumps({**manifest_json(tree), **entry}, indent=2, sort_keys=True) + "\n")


def _write_fitting(staging: Path, graph: Graph, prefix: str, rounding: str, digest: str,
                   source: Path | None, board, cpu: str | None, optimize: str,
                   flash_budget: int | None) -> None:
    """Choose the encodings, write the tree (and the board's firmware); for ``fit``, while the
    image is over the board's flash or the budget, save that much more and write again."""
    from mcucompress.codegen.specialize import without_written_out
    from mcucompress.encode.choose import choose_encodings
    from mcucompress.encode.plan import summarize, weight_bytes

    need, write_out, written_out_over = 0, True, None
    if optimize == "fit" and board is None and flash_budget is not None:
        need = max(0, weight_bytes(choose_encodings(graph, "speed", cpu), cpu) - flash_budget)
    for attempt in range(FIT_ATTEMPTS):
        chosen = choose_encodings(graph, optimize, cpu, need)
        if not write_out:
            chosen = without_written_out(chosen)
        plan = summarize(chosen, graph, optimize, cpu, flash_budget)
        if attempt:
            shutil.rmtree(staging)
            staging.mkdir()
        program = lower(chosen, prefix, rounding, cpu)
        write_tree(staging, chosen, program, prefix, rounding, digest, source, cpu, {"weight_plan": plan.as_dict()})
        if board is None:
            if flash_budget is not None and plan.weight_bytes > flash_budget:
                raise McuError(f"the weights need {plan.weight_bytes:,} B as stored, over the flash budget of "
                               f"{flash_budget:,} B" + ("" if optimize == "fit" else f" (--optimize {optimize})"))
            return
        over, error = _flash_over(staging, board, flash_budget)
        # fit also leaves room for one test vector (input and expected output), which is what
        # `mcucompress run` embeds in the image besides the model (the footprint leaves it out)
        reserve = program.input_bytes + program.output_bytes if optimize == "fit" else 0
        if over + reserve <= 0:
            return
        if write_out and program.functions and written_out_over is None:
            # depthwise layers written out per layer try the shared kernel's one copy of code
            # first: a little speed for their code's bytes, before any weight is compressed
            write_out, written_out_over = False, over
            continue
        if not write_out and over > written_out_over:
            write_out = True   # the shared kernel is the larger here: the written-out layers again
            continue
        more = plan.bytes_saved + over + reserve + FIT_MARGIN
        if optimize != "fit" or weight_bytes(choose_encodings(graph, "fit", cpu, more), cpu) >= plan.weight_bytes:
            if over <= 0:
                return
            raise error  # not fitting, and nothing left to compress (or compression not asked for)
        need = more
    if over > 0:
        raise error


def _flash_over(tree: Path, board, flash_budget: int | None) -> tuple[int, McuError | None]:
    """Build the board's firmware: (bytes of flash over the budget - at most 0 when it fits - and
    the error to report if it stays over). Other build errors are raised."""
    from mcucompress.targets.budget import flash_overflow

    b = board
    limit = min(flash_budget, b.image_capacity) if flash_budget is not None else b.image_capacity
    try:
        _write_firmware(tree, board)
    except McuError as error:
        log = tree / "firmware" / board.name / "build" / "build.log"
        excess = flash_overflow(log.read_text()) if log.is_file() else None
        if excess is None:
            raise
        return b.image_capacity + excess - limit, error
    footprint = json.loads((tree / "firmware" / board.name / "footprint.json").read_text())
    over = footprint["flash_bytes"] - limit
    return over, McuError(f"the model does not fit the flash budget of {limit:,} B on {board.name}: the image "
                          f"needs {footprint['flash_bytes']:,} B")


def _write_firmware(tree: Path, board: str) -> None:
    try:
        from mcucompress.targets.firmware import write_firmware_project
    except ImportError:
        raise McuError("board support not available") from None
    project = write_firmware_project(tree, board)
    # The build folder only served the budget check (footprint.json stays); its CMake cache and
    # dependency logs name the staging folder, and a tree must be the same bytes on every export.
    shutil.rmtree(project / "build", ignore_errors=True)


def _prefix_for(path: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", path.stem).lower().strip("_")[:30] or "model"
    return name if not prefix_problem(name) else f"m_{name}"


def prepare_tree(model: str | Path, work: Path, rounding: str = "tflm", optimize: str | None = None,
                 core: str | None = None) -> Path:
    """An exported tree for `model` (used as is when it already is one), for `bench`; its weight
    encodings chosen by `optimize` (export's default when None) for the cpu `core` (None: the
    M4's), in a folder of its own per core family."""
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
    # An earlier export of the same name is replaced by export itself; anything else is refused.
    options = {"optimize": optimize} if optimize is not None else {}
    folder = _prefix_for(path)
    if core is not None:
        from mcucompress.encode.cost_model import family
        folder += f"-{family(core)}"
    return export(path, work / folder, prefix=_prefix_for(path), rounding=rounding, core=core, **options)
