"""`--optimize fit` (the export default) against `speed` and `size` (issue 11 acceptance).

    cd <repo> && PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 nice .venv/bin/python scripts/bench_fit.py [--only autoencoder|lenet]

- The int8 fully connected autoencoder 640-128-128-128-128-8-128-128-128-128-640 (MLPerf Tiny's
  anomaly detection shape, 264 K MACs) with random weights drawn from Student's t distribution
  with 2 degrees of freedom (heavy-tailed like trained dense layers; with per-channel int8 as
  TFLite's PTQ makes it, Huffman codes them at about 5 bits a weight, i.e. `--optimize size`
  saves about 100 KB, as on the model the issue measured): default export on mps2-an386 (4 MB: fits at full speed) against --optimize speed, and
  on lm3s6965evb (256 KB flash: the dense image does not fit) against --optimize size.
- LeNet-300-100 pruned 92% + 32 clusters (scripts/bench_encoded.py's models, trained there on
  ../shared/datasets/mnist10k.npz and cached in build/bench_encoded) in fit mode on mps2-an386
  against its dense int8 export.

Every figure is an exact QEMU instruction count of one inference (outputs checked against the
host build and the reference); flash is the linked image without the test vectors. Writes
build/bench_fit/results.json and docs/benchmarks/fit.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mcucompress.export import export  # noqa: E402
from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor  # noqa: E402
from mcucompress.quantize.ptq import symmetric_per_channel  # noqa: E402
from mcucompress.targets.runner import run_model  # noqa: E402

AUTOENCODER = (640, 128, 128, 128, 128, 8, 128, 128, 128, 128, 640)


def _act(name, shape, scale, zero):
    return Tensor(name, tuple(shape), "int8", QuantParams((float(np.float32(scale)),), (int(zero),)))


def autoencoder(seed: int = 0) -> Graph:
    """The autoencoder as an int8 graph: Student-t weights, per-channel int8, ReLU between layers,
    activation scales that keep values in range."""
    rng = np.random.default_rng(seed)
    tensors = {"x": _act("x", (1, AUTOENCODER[0]), 0.05, 0)}
    ops, last = [], "x"
    for i, (depth, units) in enumerate(zip(AUTOENCODER, AUTOENCODER[1:])):
        w_float = (rng.standard_t(2.0, size=(units, depth)) * 0.5 / np.sqrt(depth)).astype(np.float32)
        q, scales = symmetric_per_channel(w_float, 0)
        in_scale = tensors[last].quant.scale[0]
        b = (rng.normal(0, 0.05, units) / (in_scale * scales.astype(np.float64))).round().astype(np.int32)
        tensors[f"w{i}"] = Tensor(f"w{i}", (units, depth), "int8",
                                  QuantParams(tuple(float(s) for s in scales), (0,) * units, 0), q)
        tensors[f"b{i}"] = Tensor(f"b{i}", (units,), "int32", None, b)
        final = i == len(AUTOENCODER) - 2
        out_scale = 0.05 * np.sqrt(depth * 2.0 / depth) * 2
        tensors[f"t{i}"] = _act(f"t{i}", (1, units), out_scale, 0 if final else -128)
        ops.append(Op("fully_connected", f"fc{i}", (last, f"w{i}", f"b{i}"), (f"t{i}",),
                      {"activation": "none" if final else "relu"}))
        last = f"t{i}"
    return Graph(tensors, tuple(ops), ("x",), (last,), name="autoencoder")


def measure(graph, out: Path, label: str, board: str, **options) -> dict:
    tree = export(graph, out / label / graph.name, prefix=graph.name, board=board, **options)
    manifest = json.loads((tree / "manifest.json").read_text())
    report = run_model(tree, board, samples=2)
    fp = report.footprint
    row = {"board": board, "options": options, "instructions": int(max(report.instructions)),
           "flash_bytes": fp.flash_bytes, "board_flash_bytes": report.board.flash.size,
           "identical_to": report.checks, "plan": manifest.get("weight_plan"),
           "encodings": {k: v["encoding"] for k, v in manifest["weight_encodings"].items()}}
    print(f"== {graph.name} {label} on {board}: {row['instructions']:,} instructions, flash {fp.flash_bytes:,} B, "
          f"{report.checks}, {row['encodings']}", flush=True)
    return row
