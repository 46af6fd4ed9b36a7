"""The outside oracle of a Keras export: how far our C output is from the float Keras model,
next to how far TensorFlow's own int8 conversion (run by tflite-micro) is.

Bit-exactness against our numpy reference proves that the C computes what our graph says; it
cannot show that the graph says what the Keras model computes. So an export from Keras keeps the
float model and its calibration samples in ``oracle/``, and ``verify`` converts the same model
with TensorFlow's converter on the same samples and compares all three on the verify data.

NRMSE here is the root mean square error over every output value, divided by the float
outputs' range (max - min). Ours fails when it exceeds max(0.02, 1.5 x tflite-micro's); without a
tflite-micro figure (the converter or tflite-micro cannot handle the model) the bound is 0.05.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.serialize import npz_bytes
from mcucompress.quantize.calibrate import DEFAULT_MAX_SAMPLES

ORACLE_DIR = "oracle"
CALIBRATION_FILE = "calibration.npz"
NRMSE_FLOOR = 0.02
TFLM_FACTOR = 1.5
NRMSE_ALONE = 0.05  # the bound when there is no tflite-micro figure to compare with


@dataclass(frozen=True)
class OracleReport:
    ours_nrmse: float
    ours_top1: float
    tflm_nrmse: float | None
    tflm_top1: float | None
    limit: float
    note: str | None = None  # why there is no tflite-micro figure

    @property
    def ok(self) -> bool:
        return bool(self.ours_nrmse <= self.limit)


def nrmse(values: np.ndarray, reference: np.ndarray) -> float:
    values = np.asarray(values, np.float64).reshape(len(values), -1)
    reference = np.asarray(reference, np.float64).reshape(len(reference), -1)
    span = float(reference.max() - reference.min()) or float(np.abs(reference).max()) or 1.0
    return float(np.sqrt(np.mean((values - reference) ** 2)) / span)


def top1_agreement(values: np.ndarray, reference: np.ndarray) -> float:
    values = np.asarray(values).reshape(len(values), -1)
    reference = np.asarray(reference).reshape(len(reference), -1)
    return float(np.mean(values.argmax(axis=1) == reference.argmax(axis=1)))


def limit_for(tflm_nrmse: float | None) -> float:
    return NRMSE_ALONE if tflm_nrmse is None else max(NRMSE_FLOOR, TFLM_FACTOR * tflm_nrmse)


# -- export side -------------------------------------------------------------------------------

def write_oracle_inputs(folder: Path, model, calib, allow_code: bool) -> dict | None:
    """Keeps the float Keras model and the calibration samples in ``folder/oracle``; returns the
    manifest entry, or None when ``model`` is not a Keras model (a .tflite or a Graph)."""
    from mcucompress.importers.keras_file import KERAS_SUFFIXES

    if calib is None:
        return None
    target = folder / ORACLE_DIR
    if isinstance(model, (str, Path)):
        path = Path(model)
        if path.suffix.lower() not in KERAS_SUFFIXES:
            return None
        target.mkdir(parents=True, exist_ok=True)
        model_file = "model" + path.suffix.lower()
        shutil.copyfile(path, target / model_file)
    elif hasattr(model, "layers") and hasattr(model, "save"):
        target.mkdir(parents=True, exist_ok=True)
        model_file = "model.keras"
        try:
            model.save(target / model_file)
        except Exception as error:  # an in-memory model Keras cannot serialize: no oracle
            shutil.rmtree(target, ignore_errors=True)
            return {"float_oracle": None, "float_oracle_note": f"model not saved: {str(error)[:120]}"}
    else:
        return None
    samples = _calibration_samples(calib)
    (target / CALIBRATION_FILE).write_bytes(npz_bytes({f"{name}.npy": x for name, x in samples.items()}))
    return {"float_oracle": {"model": f"{ORACLE_DIR}/{model_file}",
                             "calibration": f"{ORACLE_DIR}/{CALIBRATION_FILE}",
                             "allow_code": bool(allow_code)}}


def _calibration_samples(calib) -> dict[str, np.ndarray]:
    """NPZ name -> float samples: ``x``, or ``x0``, ``x1``, ... for a model with several inputs."""
    from mcucompress.data import port_array_names

    if isinstance(calib, (str, Path)):
        with np.load(calib, allow_pickle=False) as npz:
            names = ["x"] if "x" in npz.files else sorted((n for n in npz.files if n[:1] == "x" and n[1:].isdigit()),
                                                          key=lambda n: int(n[1:]))
            calib = [npz[n] for n in names]
            if len(calib) == 1:
                calib = calib[0]
    arrays = list(calib) if isinstance(calib, (list, tuple)) else [calib]
    names = port_array_names("x", len(arrays))
    return {name: np.asarray(a, dtype=np.float32)[:DEFAULT_MAX_SAMPLES] for name, a in zip(names, arrays)}


# -- verify side -------------------------------------------------------------------------------

def oracle_report(tree: Path, manifest: dict, x_float: np.ndarray, c_out: np.ndarray,
                  progress=None) -> OracleReport | None:
    """Compares the C outputs (int8, one row per sample) with the float model and with
    tflite-micro running TensorFlow's conversion; None when the tree keeps no oracle inputs."""
    entry = manifest.get("float_oracle")
    if not entry:
        return None
    from mcucompress.importers.keras_file import open_keras_file

    model = open_keras_file(tree / entry["model"], allow_code=bool(entry.get("allow_code")))
    xs = [np.asarray(x, np.float32) for x in (x_float if isinstance(x_float, (list, tuple)) else [x_float])]
    reference = _float_outputs(model, xs)
    outs = manifest.get("outputs") or [manifest["output"]]
    ours, start = [], 0
    for port in outs:  # each output dequantized with its own scale; the ports back to back
        part = c_out.reshape(len(c_out), -1)[:, start:start + int(port["bytes"])].astype(np.float64)
        ours.append((part - port["zero_point"]) * port["scale"])
        start += int(port["bytes"])
    ours = np.concatenate(ours, axis=1)
    tflm, note = _tflm_outputs(tree, entry, model, xs, progress)
    tflm_nrmse = nrmse(tflm, reference) if tflm is not None else None
    return OracleReport(nrmse(ours, reference), top1_agreement(ours, reference), tflm_nrmse,
                        top1_agreement(tflm, reference) if tflm is not None else None,
                        limit_for(tflm_nrmse), note)


def _float_outputs(model, xs: list[np.ndarray]) -> np.ndarray:
    """The float model's outputs, one row per sample (several outputs back to back)."""
    rows = []
    for i in range(0, len(xs[0]), 64):
        chunk = [x[i:i + 64] for x in xs]
        ys = model(chunk if len(chunk) > 1 else chunk[0], training=False)
        ys = ys if isinstance(ys, (list, tuple)) else [ys]
        rows.append(np.concatenate([np.asarray(y).reshape(len(chunk[0]), -1) for y in ys], axis=1))
    return np.concatenate(rows)


def _tflm_outputs(tree: Path, entry: dict, model, xs: list[np.ndarray], progress):
    """(dequantized tflite-micro outputs or None, why not). The converter and tflite-micro each
    run in a child process: both crash on some models (LSTM, GRU), which must not end verify."""
    from mcucompress.data import join_ports, quantize_input
    from mcucompress.importers.tflite_flatbuffer import read_tflite
    from mcucompress.ir.graph import QuantParams
    from mcucompress.reference.interpreters import interpreter_outputs
    from mcucompress.reference.tf_converter import convert_in_child, converted_port_order

    try:
        tflite = convert_in_child(tree / entry["model"], tree / entry["calibration"],
                                  allow_code=bool(entry.get("allow_code")))
    except McuError as error:
        return None, str(error)
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "tf_converter.tflite"
        path.write_bytes(tflite)
        try:
            in_order, out_order = converted_port_order(model, path)
            raw = read_tflite(path)
            in_quant = [(raw.tensors[i].scale[0], raw.tensors[i].zero_point[0]) for i in raw.inputs]
            out_quant = [(raw.tensors[i].scale[0], raw.tensors[i].zero_point[0]) for i in raw.outputs]
            q = join_ports([quantize_input(xs[k], QuantParams((s,), (z,))) for k, (s, z) in zip(in_order, in_quant)])
            _, rows = interpreter_outputs(path, q, "tflm", progress=_renamed(progress))
        except (McuError, RuntimeError, ValueError, IndexError) as error:
            return None, f"tflite-micro cannot run TensorFlow's conversion: {str(error).splitlines()[0][:160]}"
    sizes = [int(np.prod(raw.tensors[i].shape)) for i in raw.outputs]
    bounds = np.cumsum([0] + sizes)
    ports = [(rows[:, a:b].astype(np.float64) - z) * s for a, b, (s, z) in zip(bounds[:-1], bounds[1:], out_quant)]
    return np.concatenate([ports[out_order.index(k)] for k in range(len(ports))], axis=1), None


def _renamed(progress):
    if progress is None:
        return None
    return lambda stage, done, total: progress("tflite-micro (TF converter)", done, total)


def report_dict(report: OracleReport | None) -> dict | None:
    if report is None:
        return None
    return json.loads(json.dumps({**report.__dict__, "ok": report.ok}))
