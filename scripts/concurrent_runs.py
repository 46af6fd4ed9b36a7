#!/usr/bin/env python3
"""Acceptance check: N `mcucompress run` processes started at once on one exported tree, each with
its own random inputs, all report outputs that match the numpy reference for their own inputs.

    PYTHONPATH=. .venv/bin/python scripts/concurrent_runs.py TREE [--runs 20] [--board mps2-an386]

Runs of one tree and board share a locked workspace (mcucompress/targets/workspace.py), so they
take turns building and running; exits 1 if any run fails or prints another run's outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mcucompress.ir.serialize import load_graph
from mcucompress.reference.int8 import run_int8_batch
from mcucompress.targets.manifest import read_manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", type=Path)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--board", default="mps2-an386")
    args = parser.parse_args()
    manifest = read_manifest(args.tree)
    graph = load_graph(manifest.root / manifest.raw.get("graph", "graph.npz"))
    rounding = manifest.raw.get("rounding", "tflm")
    command = [sys.executable, "-m", "mcucompress", "run", str(args.tree), "--board", args.board,
               "--samples", str(args.samples), "--json"]
    with tempfile.TemporaryDirectory(prefix="mcc-concurrent-") as tmp:
        inputs = []
        for i in range(args.runs):
            x = np.random.default_rng(1000 + i).integers(-128, 128, (args.samples, *manifest.input.shape[1:]),
                                                         dtype=np.int8)
            np.savez(Path(tmp) / f"x{i}.npz", x=x)
            inputs.append(x)
        start = time.monotonic()
        processes = [subprocess.Popen([*command, "--data", str(Path(tmp) / f"x{i}.npz")], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=os.environ.copy())
                     for i in range(args.runs)]
        results = [p.communicate() + (p.returncode,) for p in processes]
        seconds = time.monotonic() - start
    wrong = []
    for i, ((out, err, status), x) in enumerate(zip(results, inputs)):
        expected = run_int8_batch(graph, x, rounding).reshape(len(x), -1)
        try:
            report = json.loads(out)
            got = np.array([np.frombuffer(bytes.fromhex(h), np.int8) for h in report["outputs"]])
            ok = status == 0 and report["passed"] and np.array_equal(got, expected)
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            wrong.append(f"run {i}: exit {status}, {err.strip()[-200:] or out.strip()[-200:]}")
    print(json.dumps({"runs": args.runs, "board": args.board, "samples_per_run": args.samples,
                      "correct": args.runs - len(wrong), "wall_seconds": round(seconds, 1)}))
    for line in wrong:
        print(line, file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
