"""Calibration: the float range each activation tensor takes over a calibration set.

Like the TFLite converter's calibrator, the range is the overall min and max seen over all
samples (not an average of per-batch ranges). Samples run through the float reference in
batches so that memory stays small.
"""

from __future__ import annotations

import numpy as np

from mcucompress.ir.graph import Graph
from mcucompress.reference.float import run_float

DEFAULT_MAX_SAMPLES = 500
BATCH = 64


def activation_ranges(graph: Graph, calib_x: np.ndarray, max_samples: int = DEFAULT_MAX_SAMPLES,
                      ) -> dict[str, tuple[float, float]]:
    """{activation tensor name: (min, max)} over the first ``max_samples`` samples."""
    x = np.asarray(calib_x, dtype=np.float32)[:max_samples]
    lows: dict[str, float] = {}
    highs: dict[str, float] = {}
    for start in range(0, len(x), BATCH):
        values = run_float(graph, x[start:start + BATCH], intermediates=True)
        for name, value in values.items():
            lo, hi = float(np.min(value)), float(np.max(value))
            lows[name] = min(lows.get(name, lo), lo)
            highs[name] = max(highs.get(name, hi), hi)
    return {name: (lows[name], highs[name]) for name in lows}
