"""Check the numpy int8 reference byte for byte against the real interpreters.

    python scripts/check_reference.py [-n 100] [--seed 0] [MODEL.tflite ...]

For each model (default: the MLPerf Tiny ResNet-8 and DS-CNN in ../shared/models) and each of
N random int8 inputs: tflm mode vs tflite-micro, litert mode vs the default LiteRT interpreter
(XNNPACK). Also reported, for information: LiteRT with its delegates switched off (built-in
kernels only) vs tflm mode. Prints one line per comparison; exit status 1 on any mismatch of
the two required comparisons.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mcucompress.data import synthetic_inputs  # noqa: E402
from mcucompress.importers.tflite import load_tflite  # noqa: E402
from mcucompress.reference.interpreters import LiteRT, Tflm  # noqa: E402
from mcucompress.reference.int8 import run_int8  # noqa: E402

DEFAULT_MODELS = [REPO.parent / "shared/models/mlperf-tiny/pretrainedResnet_quant.tflite",
                  REPO.parent / "shared/models/mlperf-tiny/kws_ref_model.tflite"]


class Tally:
    def __init__(self, label: str, required: bool):
        self.label, self.required = label, required
        self.samples = self.bad_samples = self.bad_bytes = self.max_diff = 0

    def add(self, ours: np.ndarray, theirs: np.ndarray) -> None:
        diff = np.abs(ours.astype(np.int32) - theirs.astype(np.int32))
        self.samples += 1
        self.bad_samples += int(diff.any())
        self.bad_bytes += int(np.count_nonzero(diff))
        self.max_diff = max(self.max_diff, int(diff.max()))

    def line(self, model: str) -> str:
        tag = "" if self.required else " (informational)"
        return (f"{model}: {self.label}{tag}: {self.bad_samples}/{self.samples} samples differ, "
                f"{self.bad_bytes} bytes, max |diff| {self.max_diff}")


def check(path: Path, n: int, seed: int) -> list[Tally]:
    graph = load_tflite(path)
    shape = graph.tensors[graph.inputs[0]].shape
    tflm, litert, builtin = Tflm(path), LiteRT(path), LiteRT(path, delegates=False)
    tallies = [Tally("tflm mode vs tflite-micro", True), Tally("litert mode vs LiteRT (default)", True),
               Tally("tflm mode vs LiteRT built-in kernels", False)]
    elapsed = 0.0
    for x in synthetic_inputs(shape, n, seed).reshape((n,) + shape):  # data-like, not noise
        start = time.perf_counter()
        ours_tflm = run_int8(graph, x, "tflm")
        ours_litert = run_int8(graph, x, "litert")
        elapsed += time.perf_counter() - start
        tallies[0].add(ours_tflm, tflm(x))
        tallies[1].add(ours_litert, litert(x))
        tallies[2].add(ours_tflm, builtin(x))
    print(f"{path.name}: numpy reference {elapsed / (2 * n) * 1000:.1f} ms per inference")
    return tallies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, default=DEFAULT_MODELS)
    parser.add_argument("-n", type=int, default=100, help="random inputs per model (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    failed = False
    for path in args.models:
        for tally in check(path, args.n, args.seed):
            print(tally.line(path.name))
            failed |= tally.required and tally.bad_samples > 0
    print("FAIL" if failed else "OK: byte-identical on every required comparison")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
