#!/usr/bin/env python3
"""Acceptance check: the host-compiled C of ResNet-8 and DS-CNN is byte-identical to TFLM
(--rounding tflm) and to LiteRT (--rounding litert), and to the numpy reference, on N random
int8 inputs per model (default 100). Also reports the planned arena and the C run time.

    PYTHONPATH=. .venv/bin/python scripts/check_host_bitexact.py [--count 100] [--models DIR]

Exits 1 if any byte differs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from mcucompress.build.host import build_host  # noqa: E402
from mcucompress.build.runner import run_host  # noqa: E402
from mcucompress.export import export  # noqa: E402
from mcucompress.ir.serialize import load_graph  # noqa: E402
from mcucompress.verify import compare, interpreter_outputs, reference_outputs  # noqa: E402

MODELS = {"ResNet-8": "pretrainedResnet_quant.tflite", "DS-CNN": "kws_ref_model.tflite"}
DEFAULT_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "models" / "mlperf-tiny"


def check(name: str, model: Path, rounding: str, count: int, workdir: Path) -> bool:
    tree = export(model, workdir / f"{model.stem}_{rounding}", rounding=rounding)
    graph = load_graph(tree / "graph.npz")
    shape = graph.tensor(graph.inputs[0]).shape
    out_bytes = graph.tensor(graph.outputs[0]).nbytes
    x = np.random.default_rng(2024).integers(-128, 128, size=(count,) + shape, dtype=np.int8)
    exe = build_host(tree)
    start = time.perf_counter()
    c_out = run_host(exe, x, out_bytes)
    per_inference_ms = 1000 * (time.perf_counter() - start) / count
    results = [compare("numpy reference", c_out, reference_outputs(graph, x, rounding, None))]
    interp, outs = interpreter_outputs(tree / "source.tflite", x, rounding, None)
    results.append(compare(interp, c_out, outs))
    arena = int(__import__("json").loads((tree / "manifest.json").read_text())["arena_bytes"])
    ok = all(r.exact for r in results)
    detail = ", ".join(f"vs {r.against}: {r.mismatched_bytes} bytes differ" for r in results)
    print(f"{name:<9} {rounding:<7} {count} inputs  {detail}  arena {arena} B  "
          f"host C {per_inference_ms:.2f} ms/inference (incl. process start)  {'OK' if ok else 'MISMATCH'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--models", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix="mcc-bitexact-") as tmp:
        for name, file in MODELS.items():
            for rounding in ("tflm", "litert"):
                ok &= check(name, args.models / file, rounding, args.count, Path(tmp))
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
