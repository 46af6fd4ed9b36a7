"""Issue 4 benchmark: the MLPerf Tiny models on M4 / M7 / M55 (QEMU, exact instruction counts)
with the fast kernels, the portable path (MCC_FORCE_REFERENCE=1) on the M4 and the DSP path on
the M55 (MCC_NO_MVE=1), next to TensorFlow Lite Micro + CMSIS-NN; prints Markdown tables and
the per-layer breakdowns.

    PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python scripts/bench_kernels.py [--models DIR] [--work DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from mcucompress.targets.bench import bench_model, format_text, prepare_tree, with_defines

MODELS = {"ResNet-8": "pretrainedResnet_quant.tflite", "DS-CNN": "kws_ref_model.tflite"}
BOARDS = ["mps2-an386", "mps2-an500", "mps3-an547"]
BASELINES = Path(__file__).resolve().parents[1] / "docs" / "baselines.yaml"


def quoted_tflm_m4() -> dict[str, tuple[int, int, int]]:
    """TensorFlow Lite Micro + CMSIS-NN on mps2-an386 (instructions, flash, RAM): quoted, not measured here."""
    import yaml

    models = yaml.safe_load(BASELINES.read_text())["tflm_cmsis_nn_m4"]["models"]
    return {label: (m["instructions"], m["flash_bytes"], m["ram_bytes"]) for label, m in models.items()
            if label in MODELS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=str(Path(__file__).resolve().parents[2] / "shared/models/mlperf-tiny"))
    parser.add_argument("--work", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcc-bench-kernels-") as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        rows, details = [], []
        for label, file in MODELS.items():
            tree = prepare_tree(Path(args.models) / file, work)
            fast = bench_model(tree, BOARDS, layers=True)
            portable = bench_model(with_defines(tree, work, {"MCC_FORCE_REFERENCE": 1}), ["mps2-an386"],
                                   layers=False)
            dsp = bench_model(with_defines(tree, work, {"MCC_NO_MVE": 1}), ["mps3-an547"], layers=True)
            tflm = quoted_tflm_m4()[label]
            rows.append(f"| {label} | TFLM + CMSIS-NN (quoted baseline) | Cortex-M4 | {tflm[0]:,} | "
                        f"{fast.macs / tflm[0]:.3f} | {tflm[1]:,} | {tflm[2]:,} |")
            for core in fast.cores:
                rows.append(f"| {label} | mcucompress fast kernels | {core.cpu} | {core.instructions:,} | "
                            f"{core.macs_per_instruction:.3f} | {core.flash_bytes:,} | {core.ram_bytes:,} |")
            for variant, name in ((dsp, "DSP path only (MCC_NO_MVE=1)"),
                                  (portable, "portable path (MCC_FORCE_REFERENCE=1)")):
                core = variant.cores[0]
                rows.append(f"| {label} | {name} | {core.cpu} | {core.instructions:,} | "
                            f"{core.macs_per_instruction:.3f} | {core.flash_bytes:,} | {core.ram_bytes:,} |")
            details += format_text(fast) + [""] + format_text(dsp) + [""]
    print("| model | build | core | instructions / inference | MACs / instruction | flash (B) | RAM (B) |")
    print("|---|---|---|---:|---:|---:|---:|")
    print("\n".join(rows))
    print()
    print("\n".join(details))


if __name__ == "__main__":
    main()
