"""Run the model zoo (scripts/zoo_models.py) through both paths and write docs/benchmarks/zoo.md.

For every model:
- the .keras path: export with calibration data, then verify (bit-exact against our reference,
  and the outside oracle: NRMSE of our C and of tflite-micro running TensorFlow's own int8
  conversion, both against the float model);
- the .tflite path: TensorFlow's converter writes the int8 .tflite (batch fixed at 1); if
  tflite-micro runs it, export it and verify byte for byte against tflite-micro.

A model either passes or is refused with a one-line error; a model that exports but misses the
oracle's bound is a silent error and is reported as such.

    PYTHONPATH=. python scripts/zoo.py [--only NAME ...] [--samples 32] [--out docs/benchmarks/zoo.md]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from zoo_models import MODELS  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@dataclass
class PathResult:
    status: str  # "pass" | "refused" | "silent error" | "differs" | "TFLM cannot run" | "converter failed"
    detail: str = ""
    ours_nrmse: float | None = None
    tflm_nrmse: float | None = None
    ops: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "pass"


@dataclass
class ZooRow:
    name: str
    keras: PathResult
    tflite: PathResult
    seconds: float = 0.0
    float_ops: tuple[str, ...] = field(default_factory=tuple)


def _one_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:160]


def _samples(model, sampler, n: int, seed: int) -> list[np.ndarray]:
    """One batch per model input (the sampler draws each from its own generator state)."""
    rng = np.random.default_rng(seed)
    return [sampler(rng, n, tuple(t.shape)[1:]) for t in model.inputs]


def _save_samples(path: Path, batches: list[np.ndarray]) -> Path:
    from mcucompress.data import port_array_names

    np.savez(path, **dict(zip(port_array_names("x", len(batches)), batches)))
    return path


def keras_path(model_file: Path, calib: Path, test: Path, work: Path) -> PathResult:
    from mcucompress.errors import McuError
    from mcucompress.export import export
    from mcucompress.ir.serialize import load_graph
    from mcucompress.verify import verify

    try:
        tree = export(model_file, work / "keras_out", calib=calib)
        report = verify(tree, test)
    except McuError as error:
        return PathResult("refused", _one_line(error))
    ops = tuple(op.kind for op in load_graph(tree / "graph.npz").ops)
    oracle = report.oracle
    result = PathResult("pass", ops=ops, ours_nrmse=oracle.ours_nrmse if oracle else None,
                        tflm_nrmse=oracle.tflm_nrmse if oracle else None)
    if not report.bit_exact:
        result.status, result.detail = "differs", "C differs from the numpy reference"
    elif oracle is not None and not oracle.ok:
        result.status = "silent error"
        result.detail = f"NRMSE {oracle.ours_nrmse:.4f} > limit {oracle.limit:.4f}"
    if oracle is not None and oracle.note:
        result.detail = (result.detail + "; " if result.detail else "") + oracle.note
    return result


def tflite_path(model, model_file: Path, calib: Path, test: Path, work: Path) -> PathResult:
    from mcucompress.errors import McuError
    from mcucompress.export import export
    from mcucompress.importers.tflite_flatbuffer import read_tflite
    from mcucompress.reference.tf_converter import convert_in_child, converted_port_order
    from mcucompress.verify import verify

    try:  # in a child process: the converter segfaults on some models (LSTM, GRU)
        blob = convert_in_child(model_file, calib)
    except McuError as error:
        return PathResult("converter failed", _one_line(error))
    path = work / "model.tflite"
    path.write_bytes(blob)
    try:
        ops = tuple(sorted({op.opname for op in read_tflite(path).ops}))
    except McuError:
        ops = ()
    why = _tflm_cannot_run(path)
    if why:
        return PathResult("TFLM cannot run", why, ops=ops)
    try:
        tree = export(path, work / "tflite_out")
        report = verify(tree, _in_file_order(test, converted_port_order(model, path)[0], work))
    except McuError as error:
        return PathResult("refused", _one_line(error), ops=ops)
    if not report.ok:
        worst = max(report.comparisons, key=lambda c: c.mismatched_bytes)
        return PathResult("differs", f"{worst.mismatched_bytes} bytes differ from {worst.against}", ops=ops)
    return PathResult("pass", ops=ops)


def _in_file_order(test: Path, order: list[int], work: Path) -> Path:
    """The test samples with the inputs in the converted file's order (the converter may reorder them)."""
    if order == list(range(len(order))):
        return test
    with np.load(test) as npz:
        arrays = [npz[f"x{k}"] for k in order]
    return _save_samples(work / "test_file_order.npz", arrays)


def _tflm_cannot_run(path: Path) -> str | None:
    """Why tflite-micro cannot load and invoke ``path`` (it crashes on some LSTM files, so it is
    tried in a worker of the serving child process, which a crash ends alone), or None."""
    from mcucompress.errors import McuError
    from mcucompress.reference import serving_child

    try:
        serving_child.serve("tflm_probe", [str(path.resolve())], "tflite-micro", path, timeout=600)
    except McuError as error:
        return _one_line(error)
    return None


def evaluate(name: str, samples: int = 32, work: Path | None = None) -> ZooRow:
    """Both paths for one zoo model; ``work`` is a scratch folder (a temporary one by default)."""
    own = work is None
    work = Path(tempfile.mkdtemp(prefix=f"zoo_{name}_")) if own else work
    start = time.time()
    try:
        model, sampler = MODELS[name]()
        model_file = work / f"{name}.keras"
        model.save(model_file)
        calib = _save_samples(work / "calib.npz", _samples(model, sampler, samples, 0))
        test = _save_samples(work / "test.npz", _samples(model, sampler, max(8, samples // 4), 1))
        keras = keras_path(model_file, calib, test, work)
        tflite = tflite_path(model, model_file, calib, test, work)
        return ZooRow(name, keras, tflite, time.time() - start)
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _cell(result: PathResult) -> str:
    text = result.status if not result.detail else f"{result.status}: {result.detail}"
    return text.replace("|", "\\|")


def write_table(rows: list[ZooRow], out: Path, command: str) -> str:
    keras_ok = sum(r.keras.ok for r in rows)
    tflm_runs = [r for r in rows if r.tflite.status not in ("TFLM cannot run", "converter failed")]
    tflite_ok = sum(r.tflite.ok for r in rows)
    silent = [r.name for r in rows if r.keras.status == "silent error"]
    lines = [
        "# Model zoo: both import paths",
        "",
        f"{len(rows)} of the {len(MODELS)} zoo models measured.",
        "",
        f"Produced by `{command}` (scripts/zoo.py over scripts/zoo_models.py; random seeded weights).",
        "The .keras column exports with calibration data and runs `verify`: bit-exact against our",
        "numpy reference and, from the outside, NRMSE against the float Keras model next to tflite-micro",
        "running TensorFlow's own int8 conversion (same calibration set); it fails above",
        "max(0.02, 1.5x TFLM's). The .tflite column exports the converter's int8 file (batch 1) and",
        "compares the C with tflite-micro byte for byte.",
        "",
        f"- **.keras: {keras_ok} of {len(rows)}** export and verify; every other model is refused "
        "with a one-line error" + (f" (silent errors: {', '.join(silent)})" if silent else " (no silent errors)."),
        f"- **.tflite: {tflite_ok} of {len(rows)}** export and match tflite-micro byte for byte; "
        f"tflite-micro runs {len(tflm_runs)} of the {len(rows)} converted files.",
        "",
        "| model | our ops (from .keras) | .keras | NRMSE ours | NRMSE TFLM | .tflite | TFLite ops |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ops = ", ".join(sorted(set(r.keras.ops)))
        lines.append(f"| {r.name} | {ops} | {_cell(r.keras)} | {_fmt(r.keras.ours_nrmse)} | "
                     f"{_fmt(r.keras.tflm_nrmse)} | {_cell(r.tflite)} | {', '.join(r.tflite.ops)} |")
    text = "\n".join(lines) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="model names (default: all)")
    parser.add_argument("--samples", type=int, default=32, help="calibration samples per model")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks" / "zoo.md")
    args = parser.parse_args(argv)
    names = args.only or list(MODELS)
    # Rows are kept in a JSON beside the table and the table is rewritten after every model, so
    # `--only NAME` re-measures one row and a long run leaves its finished rows behind.
    store = args.out.with_suffix(".json")
    saved = json.loads(store.read_text()) if store.is_file() else {}
    command = "PYTHONPATH=. python scripts/zoo.py" + (f" --samples {args.samples}" if args.samples != 32 else "")
    for name in names:
        row = evaluate(name, args.samples)
        saved[name] = asdict(row)
        print(f"{name:34s} keras: {_cell(row.keras)[:70]:70s} tflite: {_cell(row.tflite)[:60]} "
              f"({row.seconds:.0f} s)", flush=True)
        rows = [_row(saved[n]) for n in MODELS if n in saved]
        store.parent.mkdir(parents=True, exist_ok=True)
        store.write_text(json.dumps(saved, indent=1, sort_keys=True) + "\n")
        write_table(rows, args.out, command)
    print(f"wrote {args.out}")
    return 0


def _row(d: dict) -> ZooRow:
    return ZooRow(d["name"], PathResult(**{**d["keras"], "ops": tuple(d["keras"]["ops"])}),
                  PathResult(**{**d["tflite"], "ops": tuple(d["tflite"]["ops"])}), d["seconds"])


if __name__ == "__main__":
    from mcucompress.quiet import preload_tensorflow

    preload_tensorflow()
    sys.exit(main())
