#!/usr/bin/env python3
"""Acceptance check: the host-compiled C of ResNet-8 and DS-CNN is byte-identical to TFLM
(--rounding tflm) and to LiteRT (--rounding litert), and to the numpy reference, on N random
int8 inputs per model (default 100). Also reports the planned arena, the host C time per
inference and, with --footprint, the library's size compiled for Cortex-M4 (arm-none-eabi-gcc -Os).

    PYTHONPATH=. .venv/bin/python scripts/check_host_bitexact.py [--count 100] [--models DIR] [--footprint]

Exits 1 if any byte differs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from mcucompress.data import synthetic_inputs  # noqa: E402
from mcucompress.build.host import build_host  # noqa: E402
from mcucompress.build.runner import run_host  # noqa: E402
from mcucompress.export import export  # noqa: E402
from mcucompress.ir.serialize import load_graph  # noqa: E402
from mcucompress.reference.int8 import run_int8_batch  # noqa: E402
from mcucompress.reference.interpreters import interpreter_outputs  # noqa: E402
from mcucompress.targets.manifest import manifest_json  # noqa: E402
from mcucompress.verify import compare  # noqa: E402

MODELS = {"ResNet-8": "pretrainedResnet_quant.tflite", "DS-CNN": "kws_ref_model.tflite"}
DEFAULT_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "models" / "mlperf-tiny"


def cortex_m4_footprint(tree: Path, workdir: Path) -> str:
    """text(+rodata) / data / bss bytes of the model library for Cortex-M4F at -Os."""
    manifest = manifest_json(tree)
    flags = ["-std=c99", "-mthumb", "-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os"]
    flags += [f"-I{tree / d}" for d in manifest["include_dirs"]]
    flags += [f"-D{k}={v}" for k, v in manifest["defines"].items()]
    objects = []
    for i, source in enumerate(manifest["sources"]):
        obj = workdir / f"{tree.name}_{i}.o"
        subprocess.run(["arm-none-eabi-gcc", *flags, "-c", str(tree / source), "-o", str(obj)], check=True)
        objects.append(str(obj))
    total = subprocess.run(["arm-none-eabi-size", "-t", *objects], capture_output=True, text=True,
                           check=True).stdout.splitlines()[-1].split()
    return f"Cortex-M4 -Os: text {total[0]} B, data {total[1]} B, bss {total[2]} B"


def check(name: str, model: Path, rounding: str, count: int, workdir: Path, footprint: bool) -> bool:
    tree = export(model, workdir / f"{model.stem}_{rounding}", rounding=rounding)
    graph = load_graph(tree / "graph.npz")
    shape = graph.tensor(graph.inputs[0]).shape
    out_bytes = graph.tensor(graph.outputs[0]).nbytes
    x = synthetic_inputs(shape, count, seed=2024).reshape((count,) + shape)  # data-like, not noise
    exe = build_host(tree)
    run_host(exe, x[:2], out_bytes)  # warm the file cache
    start = time.perf_counter()
    c_out = run_host(exe, x, out_bytes)
    per_inference_ms = 1000 * (time.perf_counter() - start) / count
    results = [compare("numpy reference", c_out, run_int8_batch(graph, x, rounding))]
    interp, outs = interpreter_outputs(tree / "source.tflite", x, rounding)
    results.append(compare(interp, c_out, outs))
    arena = int(manifest_json(tree)["arena_bytes"])
    ok = all(r.exact for r in results)
    detail = ", ".join(f"vs {r.against}: {r.mismatched_bytes} bytes differ" for r in results)
    print(f"{name:<9} {rounding:<7} {count} inputs  {detail}  arena {arena} B  "
          f"host C {per_inference_ms:.2f} ms/inference  {'OK' if ok else 'MISMATCH'}")
    if footprint:
        print(f"{'':<17} {cortex_m4_footprint(tree, workdir)}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--models", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--footprint", action="store_true", help="also report Cortex-M4 library size")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory(prefix="mcc-bitexact-") as tmp:
        for name, file in MODELS.items():
            for rounding in ("tflm", "litert"):
                ok &= check(name, args.models / file, rounding, args.count, Path(tmp), args.footprint)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
