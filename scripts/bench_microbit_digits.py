"""The digits CNN of `mcucompress demo` on the BBC micro:bit (Cortex-M0, 16 KB RAM; QEMU
`microbit`): trained briefly on scikit-learn's 8x8 digits, exported int8, run on the emulated M0
for the whole test set. Prints accuracy from the target's own outputs, flash, RAM (arena + stack
measured + harness) and exact instructions per inference with the ARMv6-M paths and with the
portable path (MCC_FORCE_REFERENCE=1), per layer.

    PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python scripts/bench_microbit_digits.py [--epochs 8] [--work DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from mcucompress.demo import load_digits_data, train_digits_cnn
from mcucompress.export import export
from mcucompress.targets.bench import bench_model, format_text, with_defines
from mcucompress.targets.runner import run_model

BOARD = "microbit"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcc-microbit-") as tmp:
        root = args.work or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        data = load_digits_data()
        model = train_digits_cnn(data, epochs=args.epochs)
        float_accuracy = float(np.mean(model.predict(data.x_test, verbose=0).argmax(-1) == data.y_test))
        model.save(root / "digits.keras")
        np.savez(root / "calib.npz", x=data.x_train[:200])
        np.savez(root / "test.npz", x=data.x_test, y=data.y_test)
        tree = export(root / "digits.keras", root / "digits_c", calib=root / "calib.npz", prefix="digits",
                      board=BOARD)
        run = run_model(tree, BOARD, data=root / "test.npz", samples=len(data.y_test))
        accuracy = float(np.mean(run.outputs.argmax(axis=1) == data.y_test))
        fp = run.footprint
        print(f"float accuracy {float_accuracy:.2%}; on the M0 {accuracy:.2%} over {run.samples} test digits "
              f"(outputs identical to {', '.join(k for k, v in run.checks.items() if v)})")
        print(f"arena {json.loads((tree / 'manifest.json').read_text())['arena_bytes']:,} B; RAM {fp.ram_bytes:,} B "
              f"of {run.board.ram.size:,} B ({fp.static_ram_bytes:,} B data+bss + {fp.stack_used:,} B stack "
              f"measured); flash {fp.flash_bytes:,} B")
        figures = {"float_accuracy": float_accuracy, "accuracy": accuracy, "samples": run.samples,
                   "identical_to": run.checks, "arena_bytes": json.loads((tree / "manifest.json").read_text())["arena_bytes"],
                   "ram_bytes": fp.ram_bytes, "static_ram_bytes": fp.static_ram_bytes, "stack_used": fp.stack_used,
                   "flash_bytes": fp.flash_bytes}
        for key, label, variant in (("v6m", "ARMv6-M paths", tree),
                                    ("portable", "portable path (MCC_FORCE_REFERENCE=1)",
                                     with_defines(tree, root, {"MCC_FORCE_REFERENCE": 1}))):
            print(f"\n{label}:")
            bench = bench_model(variant, [BOARD], layers=True)
            print("\n".join(format_text(bench)))
            figures[key] = bench.as_dict()
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
