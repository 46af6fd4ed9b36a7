#!/usr/bin/env python3
"""Acceptance check: an export is byte-identical across processes and PYTHONHASHSEED values.

    PYTHONPATH=. .venv/bin/python scripts/check_reproducible.py MODEL... [--seeds 0 1 2 3] [--calib NPZ]
        [--option board=mps2-an386] [--option quantize=qformat]

Each (model, seed) exports in a fresh process through `mcucompress.export.export` (options are
its keyword arguments); every file of the trees is compared. Exits 1 if any byte differs, naming
the first file that does.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def tree_digest(tree: Path) -> dict[str, str]:
    return {p.relative_to(tree).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(tree.rglob("*")) if p.is_file()}


EXPORT = "import json, sys; from mcucompress.export import export; export(sys.argv[1], sys.argv[2], **json.loads(sys.argv[3]))"


def export_in_process(model: Path, out: Path, seed: int, options: dict) -> None:
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    command = [sys.executable, "-c", EXPORT, str(model), str(out), json.dumps(options)]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise SystemExit(f"export of {model} with seed {seed} failed: {result.stderr.strip()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3])
    parser.add_argument("--calib", type=Path, default=None, help="calibration NPZ for Keras models")
    parser.add_argument("--option", action="append", default=[], help="export keyword NAME=VALUE, e.g. quantize=qformat")
    args = parser.parse_args()
    failures = 0
    with tempfile.TemporaryDirectory(prefix="mcc-repro-") as tmp:
        for model in args.models:
            extra = dict(option.split("=", 1) for option in args.option)
            if model.suffix != ".tflite" and args.calib is not None:
                extra["calib"] = str(args.calib)
            digests = {}
            for seed in args.seeds:
                out = Path(tmp) / f"{model.stem}-{seed}"
                export_in_process(model, out, seed, extra)
                digests[seed] = tree_digest(out)
            first = digests[args.seeds[0]]
            differing = sorted({rel for d in digests.values() for rel in set(d) ^ set(first)}
                               | {rel for d in digests.values() for rel in d if rel in first and d[rel] != first[rel]})
            failures += bool(differing)
            print(json.dumps({"model": model.name, "seeds": args.seeds, "files": len(first),
                              "identical": not differing, "first_difference": differing[0] if differing else None}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
