"""The main job, end to end on data that ships with scikit-learn (nothing is downloaded):

train a small CNN on the 8x8 digits, export it to C with calibration data, build it on the host
and check it byte for byte against the numpy reference, cross-build it for an emulated Cortex-M4,
run it in QEMU with exact instruction counts, and collect one report.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

DEMO_BOARD = "mps2-an386"
CALIBRATION_SAMPLES = 200
QEMU_SAMPLES = 20


@dataclass(frozen=True)
class DigitsData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class DemoReport:
    out_dir: Path
    float_accuracy: float
    int8_accuracy: float
    host_verify: object      # mcucompress.verify.VerifyReport
    target_run: object       # mcucompress.targets.runner.RunReport
    layers: list             # mcucompress.codegen.metrics.LayerRow
    arena_bytes: int
    picture: Path


def load_digits_data(seed: int = 0) -> DigitsData:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target.astype(np.int64), test_size=0.25, random_state=seed, stratify=digits.target)
    return DigitsData(x_train, y_train, x_test, y_test)


def train_digits_cnn(data: DigitsData, epochs: int = 12, seed: int = 0):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ], name="digits_cnn")
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=32, verbose=0)
    return model


def run_demo(out_dir, epochs: int = 12, board: str = DEMO_BOARD,
             step: Callable[[str], None] = lambda message: None) -> DemoReport:
    """Every stage of the tool on one model; ``step`` is told what is about to happen."""
    from mcucompress.folders import make_folder, missing_folders, remove_if_empty

    out = Path(out_dir).resolve()
    _check_before_training(out, board)
    created = missing_folders(out)
    make_folder(out)
    try:
        return _run_stages(out, epochs, board, step)
    except BaseException:
        if created:  # a failed demo leaves no half-written folder behind
            shutil.rmtree(out, ignore_errors=True)
            remove_if_empty(created[1:])
        raise


# Everything the demo writes; a folder holding only these is an earlier demo's and may be reused.
DEMO_FILES = {"digits_cnn.keras", "calibration.npz", "test.npz", "digits_c", "report.png"}
DEMO_TOOLS = ("cmake", "arm-none-eabi-gcc", "qemu-system-arm")


def _check_before_training(out: Path, board: str) -> None:
    """Fail in a second, not after training: a foreign folder, a board without QEMU, a missing tool."""
    from mcucompress.errors import McuError
    from mcucompress.targets.board import load_board
    from mcucompress.targets.tools import require_tool

    if out.exists() and not out.is_dir():
        raise McuError(f"output path {out} exists and is not a folder")
    if out.is_dir() and not {p.name for p in out.iterdir()} <= DEMO_FILES:
        raise McuError(f"refusing to write into {out}: it holds files that are not an earlier demo's")
    if load_board(board).qemu_machine is None:
        raise McuError(f"board {board} has no QEMU machine; the demo needs one (see `mcucompress boards`)")
    for tool in DEMO_TOOLS:
        require_tool(tool)


def _run_stages(out: Path, epochs: int, board: str, step: Callable[[str], None]) -> DemoReport:
    from mcucompress.codegen.metrics import layer_rows
    from mcucompress.export import export
    from mcucompress.ir.serialize import load_graph
    from mcucompress.targets.runner import run_model
    from mcucompress.verify import verify

    step("training a small CNN on scikit-learn's 8x8 digits")
    data = load_digits_data()
    model = train_digits_cnn(data, epochs=epochs)
    float_accuracy = float(np.mean(np.argmax(model.predict(data.x_test, verbose=0), axis=1) == data.y_test))
    model_path = out / "digits_cnn.keras"
    model.save(model_path)
    calib_path, test_path = out / "calibration.npz", out / "test.npz"
    np.savez(calib_path, x=data.x_train[:CALIBRATION_SAMPLES])
    np.savez(test_path, x=data.x_test, y=data.y_test)

    step(f"quantizing to int8 and generating C (with a firmware project for {board})")
    tree = export(model_path, out / "digits_c", calib=calib_path, prefix="digits", board=board)

    step(f"building on the host and comparing {len(data.x_test)} outputs byte for byte with the reference")
    host = verify(tree, test_path)

    step(f"cross-building for {board} and running {QEMU_SAMPLES} inputs in QEMU")
    target = run_model(tree, board, data=test_path, samples=QEMU_SAMPLES)

    manifest_arena = _arena_bytes(tree)
    layers = layer_rows(load_graph(_graph_file(tree)))
    picture = draw_report_picture(out / "report.png", layers, float_accuracy, host.accuracy, target, board)
    return DemoReport(out, float_accuracy, float(host.accuracy), host, target, layers, manifest_arena, picture)


def _arena_bytes(tree: Path) -> int:
    from mcucompress.targets.manifest import read_manifest

    return int(read_manifest(tree).arena_bytes)


def _graph_file(tree: Path) -> Path:
    from mcucompress.targets.manifest import read_manifest

    return tree / read_manifest(tree).graph


def draw_report_picture(path: Path, layers, float_accuracy: float, int8_accuracy: float, target, board: str) -> Path:
    """Per-layer MACs and weight bytes beside the accuracy and the memory budget, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_layers, ax_memory) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 2]})
    names = [f"{i}:{row.kind}" for i, row in enumerate(layers)]
    positions = np.arange(len(layers))
    ax_layers.bar(positions - 0.2, [row.macs for row in layers], 0.4, label="MACs")
    ax_layers.bar(positions + 0.2, [row.weight_bytes for row in layers], 0.4, label="weight bytes")
    ax_layers.set_xticks(positions, names, rotation=45, ha="right", fontsize=8)
    ax_layers.set_yscale("symlog")
    ax_layers.set_ylim(0, 3 * max(max(row.macs for row in layers), max(row.weight_bytes for row in layers), 1))
    ax_layers.set_title(f"per layer (float {float_accuracy:.1%} -> int8 {int8_accuracy:.1%} accuracy)")
    ax_layers.legend()

    fp = target.footprint
    used = [fp.flash_bytes / 1024, fp.ram_bytes / 1024]
    capacity = [target.board.image_capacity / 1024, target.board.ram.size / 1024]
    ax_memory.barh(["flash", "RAM"], capacity, color="#dddddd", label=f"{board} capacity")
    ax_memory.barh(["flash", "RAM"], used, color="#3b7dd8", label="used")
    ax_memory.set_xscale("log")
    ax_memory.set_xlabel("KiB")
    ax_memory.set_title(f"{target.instructions[0]:,} instructions per inference")
    ax_memory.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
