"""Inputs that exercise a model, and the check that they do, before a bit-exact comparison counts.

A comparison on inputs that leave every layer at its clamp (all outputs -128, one class) passes
whatever a kernel does with its bias, multiplier or rounding. `realistic_inputs` gives samples of
the calibration data when there is some and smooth synthetic fields otherwise
(mcucompress.data.synthetic_inputs); `assert_exercises` checks that the inputs move most output
channels of every layer and give diverse outputs.
"""

from __future__ import annotations

import numpy as np

from mcucompress.data import quantize_input, synthetic_inputs
from mcucompress.reference.int8 import outputs_of, run_int8


def realistic_inputs(graph, count: int, seed: int = 0, calibration: np.ndarray | None = None) -> np.ndarray:
    """(count, *input shape) int8. ``calibration``: float samples the model was calibrated on;
    they are cycled, each pass after the first with a little added noise."""
    spec = graph.tensors[graph.inputs[0]]
    if calibration is None:
        return synthetic_inputs(spec.shape, count, seed).reshape((count,) + spec.shape)
    rng = np.random.default_rng(seed)
    calibration = np.asarray(calibration, dtype=np.float32).reshape((-1,) + spec.shape)
    picks = [calibration[i % len(calibration)] for i in range(count)]
    spread = float(np.std(calibration))
    x = np.stack([p + (0.0 if i < len(calibration) else 0.05 * spread) * rng.standard_normal(p.shape)
                  for i, p in enumerate(picks)]).astype(np.float32)
    return quantize_input(x, spec.quant)


def live_channels(graph, inputs, rounding: str = "tflm", runs=None) -> dict[str, float]:
    """Per op output tensor: the fraction of its channels (last axis) that take at least two
    values over ``inputs`` with at least one strictly inside (-128, 127). ``runs``: the
    reference's tensors by name for each input, when the caller has them already."""
    if runs is None:
        runs = [run_int8(graph, x, rounding, intermediates=True) for x in inputs]
    fractions = {}
    for op in graph.ops:
        name = op.outputs[0]
        values = np.stack([r[name] for r in runs]).astype(np.int16)
        values = values.reshape(-1, values.shape[-1])
        varies = values.max(axis=0) > values.min(axis=0)
        inside = ((values > -128) & (values < 127)).any(axis=0)
        fractions[name] = float(np.mean(varies & inside))
    return fractions


def assert_exercises(graph, inputs, rounding: str = "tflm", min_live: float = 0.9) -> None:
    """Fail unless ``inputs`` move at least ``min_live`` of the output channels of every layer
    (averaged over layers, and at least half in each) and the outputs differ from input to input:
    more than one class for a classifier, not every byte at -128 or 127."""
    # one reference run per input: its tensors give both the layers' channels and the outputs
    runs = [run_int8(graph, x, rounding, intermediates=True) for x in inputs]
    live = live_channels(graph, inputs, rounding, runs)
    mean_live = float(np.mean(list(live.values())))
    assert mean_live >= min_live, f"inputs move only {mean_live:.0%} of the layers' output channels"
    # the model's output is judged by its classes below (a softmax keeps unlikely classes at -128)
    dead = {name: f"{f:.0%}" for name, f in live.items() if f < 0.5 and name not in graph.outputs}
    assert not dead, f"inputs leave these layers mostly clamped: {dead}"
    outs = np.stack([np.asarray(outputs_of(graph, r)).ravel() for r in runs]).astype(np.int16)
    assert ((outs > -128) & (outs < 127)).any(), "every output byte sits at a clamp"
    if outs.shape[1] > 1 and len(inputs) >= 4:
        classes = len(set(outs.argmax(axis=1).tolist()))
        assert classes >= 2, f"all {len(inputs)} inputs give the same class"
