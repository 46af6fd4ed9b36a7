"""Python API: build an exported tree on the host and compare its outputs byte for byte.

    from mcucompress.verify import verify
    report = verify("out/", "samples.npz")
    assert report.ok

The NPZ holds ``x`` (or, for a model with several inputs, ``x0``, ``x1``, ...) and optionally
labels ``y`` (``y0``) of the first output. Several outputs are compared together, back to back.

The C outputs are compared with the numpy int8 reference (the graph stored in the tree) and,
when the tree came from a .tflite, with the interpreter its rounding mode follows: TensorFlow
Lite Micro for "tflm", LiteRT for "litert".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mcucompress.build.host import build_host
from mcucompress.build.runner import run_host_exits
from mcucompress.data import join_ports, load_port_samples, quantize_input
from mcucompress.errors import McuError
from mcucompress.ir.graph import QuantParams
from mcucompress.ir.serialize import load_graph
from mcucompress.float_oracle import OracleReport, oracle_report, report_dict
from mcucompress.reference.interpreters import Progress, interpreter_outputs
from mcucompress.reference.int8 import run_int8_batch_exits


@dataclass(frozen=True)
class Comparison:
    against: str
    mismatched_bytes: int
    mismatched_samples: int
    max_abs_diff: int
    top1_agreement: float

    @property
    def exact(self) -> bool:
        return self.mismatched_bytes == 0


@dataclass(frozen=True)
class VerifyReport:
    tree: str
    samples: int
    output_bytes: int
    rounding: str
    comparisons: tuple[Comparison, ...]
    accuracy: float | None
    oracle: OracleReport | None = None  # Keras exports: distance to the float model, ours vs TFLM
    # early exits: {"taken": inputs per exit, "same_as_reference": every input took the reference's exit}
    exits: dict | None = None

    @property
    def bit_exact(self) -> bool:
        return all(c.exact for c in self.comparisons) and (self.exits is None or self.exits["same_as_reference"])

    @property
    def ok(self) -> bool:
        return self.bit_exact and (self.oracle is None or self.oracle.ok)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["oracle"] = report_dict(self.oracle)
        d["ok"] = self.ok
        return d


def compare(name: str, c_out: np.ndarray, other: np.ndarray) -> Comparison:
    c_out = c_out.reshape(len(c_out), -1).astype(np.int16)
    other = other.reshape(len(other), -1).astype(np.int16)
    diff = np.abs(c_out - other)
    return Comparison(name, int(np.count_nonzero(diff)), int(np.count_nonzero(diff.any(axis=1))),
                      int(diff.max(initial=0)),
                      float(np.mean(c_out.argmax(axis=1) == other.argmax(axis=1))))


def read_manifest(tree: Path) -> dict:
    """The tree's manifest.json as a dict, after the shared checks of an exported tree."""
    from mcucompress.targets.manifest import read_manifest as read_checked

    manifest = read_checked(tree).raw
    if "mcucompress_version" not in manifest:
        raise McuError(f"{tree}: manifest.json was not written by mcucompress export")
    return manifest


def manifest_ports(manifest: dict) -> tuple[list[dict], list[dict]]:
    """The input and output ports of a manifest (dict): every one, in order."""
    return (manifest.get("inputs") or [manifest["input"]], manifest.get("outputs") or [manifest["output"]])


def verify(tree, data, progress: Progress | None = None, limit: int | None = None,
           oracle: bool = True) -> VerifyReport:
    """Build ``tree`` on the host, run every sample of ``data`` (NPZ path) and compare.
    ``oracle``: for a Keras export, also judge the C against the float model and TensorFlow's
    own conversion run by tflite-micro (float_oracle.py)."""
    tree = Path(tree).resolve()
    manifest = read_manifest(tree)
    graph = load_graph(tree / manifest.get("graph", "graph.npz"))
    ins, outs = manifest_ports(manifest)
    quants = [QuantParams((float(port["scale"]),), (int(port["zero_point"]),)) for port in ins]
    xs_given, y = load_port_samples(data, [tuple(port["shape"]) for port in ins])
    if limit is not None:
        xs_given, y = [x[:limit] for x in xs_given], (y[:limit] if y is not None else None)
    xs = [quantize_input(x, q) for x, q in zip(xs_given, quants)]
    x = join_ports(xs)  # one row per sample: the inputs back to back
    output_bytes = sum(int(port["bytes"]) for port in outs)
    rounding = manifest.get("rounding", "tflm")

    if progress:
        progress("host build", 0, 1)
    exe = build_host(tree)
    if progress:
        progress("host build", 1, 1)
    c_out, c_exits = run_host_exits(exe, x, output_bytes)

    reference, reference_exits = run_int8_batch_exits(graph, x, rounding, progress)
    comparisons = [compare("numpy reference", c_out, reference)]
    exits = None
    if manifest.get("exits"):
        exits = {"taken": np.bincount(c_exits, minlength=int(manifest["exits"]) + 1).tolist(),
                 "same_as_reference": bool(np.array_equal(c_exits, reference_exits))}
    source = manifest.get("source_tflite")
    if source and (tree / source).is_file():
        from mcucompress.targets.manifest import check_source_model

        ports = tuple([(float(port["scale"]), int(port["zero_point"])) for port in side] for side in (ins, outs))
        name, interp_outs = interpreter_outputs(check_source_model(tree / source, manifest), x, rounding, progress,
                                                ports=ports)
        comparisons.append(compare(name, c_out, interp_outs))

    float_report = None
    if oracle and manifest.get("float_oracle"):
        xs_float = [given if given.dtype != np.int8 else
                    (q_x.astype(np.float32) - q.zero_point[0]) * np.float32(q.scale[0])
                    for given, q_x, q in zip(xs_given, xs, quants)]
        # with early exits the float model is the full network: judged on the inputs that ran it all
        full = c_exits == int(manifest.get("exits", 0))
        if full.any():
            xs_full = [x_float[full] for x_float in xs_float]
            float_report = oracle_report(tree, manifest, xs_full if len(xs_full) > 1 else xs_full[0],
                                         c_out[full], progress)

    accuracy = None
    if y is not None:  # labels of the first output
        first = c_out[:, :int(outs[0]["bytes"])]
        labels = np.asarray(y)
        labels = labels.argmax(axis=1) if labels.ndim == 2 and labels.shape[1] > 1 else labels.ravel()  # (N, 1) = indices
        accuracy = float(np.mean(first.argmax(axis=1) == labels))
    return VerifyReport(str(tree), len(x), output_bytes, rounding,
                        tuple(comparisons), accuracy, float_report, exits)
