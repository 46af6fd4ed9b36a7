"""Calibration: the float range each activation tensor takes over a calibration set.

Like the TFLite converter's calibrator, the range is the overall min and max seen over all
samples (not an average of per-batch ranges). Samples run through the float reference in
batches so that memory stays small.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph
from mcucompress.ir.ops import float_activations, op_kind

DEFAULT_MAX_SAMPLES = 500
BATCH = 64


def activation_ranges(graph: Graph, calib_x: np.ndarray, max_samples: int = DEFAULT_MAX_SAMPLES,
                      ) -> dict[str, tuple[float, float]]:
    """{activation tensor name: (min, max)} over the first ``max_samples`` samples.
    Several inputs: ``calib_x`` is a sequence of batches, one per input."""
    several = len(graph.inputs) > 1
    xs = [np.asarray(b, dtype=np.float32)[:max_samples] for b in (calib_x if several else [calib_x])]
    lows: dict[str, float] = {}
    highs: dict[str, float] = {}
    for start in range(0, len(xs[0]), BATCH):
        chunk = [b[start:start + BATCH] for b in xs]
        values = float_activations(graph, chunk if several else chunk[0])
        for name, value in values.items():
            lo, hi = float(np.min(value)), float(np.max(value))
            lows[name] = min(lows.get(name, lo), lo)
            highs[name] = max(highs.get(name, hi), hi)
    return {name: (lows[name], highs[name]) for name in lows}


def check_calibration(graph: Graph, calib_x):
    """Calibration samples as float32 (N, *input shape), or a one-line McuError saying why not.
    Several inputs: a list of such batches (one per input, equal sample counts) from a sequence."""
    if len(graph.inputs) > 1:
        if isinstance(calib_x, np.ndarray) or len(calib_x) != len(graph.inputs):
            raise McuError(f"the model has {len(graph.inputs)} inputs; calibration data needs one array "
                           "per input (NPZ arrays x0, x1, ...)")
        xs = [_check_port_calibration(graph.tensor(n).shape, b) for n, b in zip(graph.inputs, calib_x)]
        if len({len(b) for b in xs}) != 1:
            raise McuError("calibration arrays of the model's inputs hold different numbers of samples")
        return xs
    return _check_port_calibration(graph.tensor(graph.inputs[0]).shape, calib_x)


def _check_port_calibration(expected, calib_x) -> np.ndarray:
    try:
        x = np.asarray(calib_x, dtype=np.float32)
    except (TypeError, ValueError):
        raise McuError("calibration data is not a numeric array") from None
    if x.shape == expected[1:]:
        x = x[None]
    if x.shape[1:] != expected[1:] or x.ndim != len(expected):
        raise McuError(f"calibration data has shape {x.shape}; the model input needs "
                       f"(N, {', '.join(map(str, expected[1:]))})")
    if len(x) == 0:
        raise McuError("calibration data holds no samples")
    if not np.all(np.isfinite(x)):
        raise McuError("calibration data contains NaN or infinite values")
    return x


def tied_groups(graph: Graph, tied_ops: Collection[str]) -> dict[str, str]:
    """Activation tensor -> representative of its group: the inputs and output of every op whose
    kind is in ``tied_ops`` must share one quantization (union-find over the graph)."""
    parent = {name: name for name, t in graph.tensors.items() if not t.is_constant}

    def find(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for op in graph.ops:
        if op.kind in tied_ops:
            root = find(op.outputs[0])
            kind = op_kind(op.kind)
            # an output that IS its first input's bytes shares that input's quantization only
            for name in op.inputs[:1] if kind is not None and kind.aliases_input else op.inputs:
                if name in parent:
                    parent[find(name)] = root
    return {name: find(name) for name in parent}
