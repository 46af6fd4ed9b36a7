"""Q-format (power-of-two) post-training quantization of a float Graph, for cores without DSP.

Every int8 tensor gets a format <IL, FL>: scale 2^-FL, zero point 0 (symmetric), saturating.

- Activations: FL from calibration. With m = max|x| over the calibration set (a tied group's
  union), f0 = floor(log2(127 / m)) is the finest format that does not clip; f0 + 1 halves the
  step but saturates the largest values. Whichever of the two gives the smaller squared error
  over the calibration values wins (ties: f0).
- Weights: FL per output channel (``per_channel=True``) or per layer, chosen the same way on
  the weight values; stored in [-128, 127].
- Biases: int32 at 2^-(FL_in + FL_w[c]), rounded half away from zero.
- Shift constraints (see ``qformat_params``): an output never gets a finer format than its
  producer's products (FL_out <= FL_in + FL_w[c], so every requantization shift is >= 0),
  shifts stay <= 31 (weights of such channels get a coarser format), and an add's inputs
  differ by at most 22 fraction bits. Formats only ever get coarser while these are enforced.
- conv2d, depthwise_conv2d, fully_connected and add become their ``*_q7`` kinds; max/avg pool,
  reshape, pad, concat, relu and relu6 share one format between inputs and output (no
  requantization at all); softmax stays TFLite's int8 softmax (its input multiplier is derived
  from the power-of-two input scale as usual; output scale 1/256, zero point -128); mean keeps
  the int8 kernel.

The result is an int8 Graph that ``run_int8`` and code generation accept unchanged.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, QuantParams, Tensor
from mcucompress.ir.ops import float_activations, kinds, tied_kinds, weight_axes
from mcucompress.quantize.calibrate import BATCH, DEFAULT_MAX_SAMPLES, activation_ranges, check_calibration, tied_groups
from mcucompress.quantize.fixedpoint import round_half_away
from mcucompress.quantize.qformat_params import (
    INT32_MAX, MAX_ADD_ALIGN, MAX_PRODUCT, MAX_SHIFT)

QMIN, QMAX = -128, 127
WEIGHT_AXIS = weight_axes("int8")
TO_Q7 = {k.twin: k.name for k in kinds("qformat") if k.twin is not None}
# Ops whose inputs and output share one format: their kernels copy or compare values only.
TIED_OPS = tied_kinds("qformat")
# int8 kinds without a Q-format twin run as they are on Q-format tensors (pooling, softmax, ...)
KEPT_INT8_OPS = frozenset(k.name for k in kinds("int8") if k.name not in TO_Q7)
SOFTMAX_OUTPUT = QuantParams((1.0 / 256.0,), (-128,))
DEFAULT_FRACTION_BITS = 7  # format of an all-zero tensor (any format represents it)


def pot_scale(fraction_bits: int) -> float:
    return math.ldexp(1.0, -int(fraction_bits))


def quantize_values(values: np.ndarray, fraction_bits) -> np.ndarray:
    """Round half away from zero of values * 2^FL, saturated to int8 (FL broadcasts)."""
    scaled = np.asarray(values, dtype=np.float64) * np.exp2(np.asarray(fraction_bits, dtype=np.float64))
    return np.clip(round_half_away(scaled), QMIN, QMAX).astype(np.int8)


def unclipped_fraction_bits(peak: float) -> int:
    """The finest FL with peak * 2^FL <= 127."""
    if not peak > 0:
        return DEFAULT_FRACTION_BITS
    fl = math.floor(math.log2(QMAX / peak))
    while peak * math.ldexp(1.0, fl) > QMAX:  # guard log2's last-bit rounding
        fl -= 1
    return fl


def squared_error(values: np.ndarray, fraction_bits: int) -> float:
    v = np.asarray(values, dtype=np.float64)
    back = quantize_values(v, fraction_bits).astype(np.float64) * pot_scale(fraction_bits)
    return float(np.sum((back - v) ** 2))


def choose_fraction_bits(values: np.ndarray) -> int:
    """FL of the smaller squared error of f0 (no clipping) and f0 + 1 (see module docs)."""
    values = np.asarray(values, dtype=np.float64)
    f0 = unclipped_fraction_bits(float(np.max(np.abs(values), initial=0.0)))
    return min((f0, f0 + 1), key=lambda f: (squared_error(values, f), f))


def quantize_qformat(float_graph: Graph, calib_x: np.ndarray, per_channel: bool = True,
                     max_samples: int = DEFAULT_MAX_SAMPLES) -> Graph:
    """A Q-format int8 Graph calibrated on (at most ``max_samples`` of) ``calib_x``, batch first.
    ``float_graph`` has been through passes.optimize (the Keras importer and load.load run it)."""
    if float_graph.is_quantized or float_graph.tensor(float_graph.inputs[0]).dtype != "float32":
        raise McuError("model is already quantized; Q-format quantization needs a float model")
    graph = float_graph
    for op in graph.ops:
        if op.kind not in TO_Q7 and op.kind not in KEPT_INT8_OPS:
            raise McuError(f"op '{op.name}' ({op.kind}) cannot be quantized to Q format")
    if len(graph.inputs) > 1:
        raise McuError(f"Q-format quantization takes models with one input, not {len(graph.inputs)}")
    x = check_calibration(graph, calib_x)[:max_samples]
    groups = tied_groups(graph, TIED_OPS)
    fixed = {groups[op.outputs[0]] for op in graph.ops if op.kind == "softmax"}
    frac = _activation_fraction_bits(graph, x, groups, fixed)
    weight_frac = {op.name: _weight_fraction_bits(graph, op, per_channel)
                   for op in graph.ops if op.kind in WEIGHT_AXIS}
    _enforce_shift_limits(graph, groups, fixed, frac, weight_frac)

    tensors: dict[str, Tensor] = {}
    for name, t in graph.tensors.items():
        if not t.is_constant:
            root = groups[name]
            quant = SOFTMAX_OUTPUT if root in fixed else QuantParams((pot_scale(frac[root]),), (0,))
            tensors[name] = Tensor(name, t.shape, "int8", quant)
    ops = []
    for op in graph.ops:
        if op.kind in WEIGHT_AXIS:
            fl_in = frac[groups[op.inputs[0]]]
            fl_out = frac[groups[op.outputs[0]]]
            _quantize_weights(graph, op, fl_in, _cap_weights(weight_frac[op.name], fl_in, fl_out), tensors)
        ops.append(replace(op, kind=TO_Q7[op.kind]) if op.kind in TO_Q7 else op)
    return graph.with_ops(ops, tensors)


def _activation_fraction_bits(graph: Graph, x: np.ndarray, groups: dict[str, str],
                              fixed: set[str]) -> dict[str, int]:
    """FL per tied group: f0 or f0 + 1, by squared error summed over the calibration set."""
    ranges = activation_ranges(graph, x, len(x))
    peaks: dict[str, float] = {}
    for name, (lo, hi) in ranges.items():
        root = groups[name]
        peaks[root] = max(peaks.get(root, 0.0), abs(lo), abs(hi))
    base = {root: unclipped_fraction_bits(peak) for root, peak in peaks.items()}
    errors = {root: [0.0, 0.0] for root in base}
    for start in range(0, len(x), BATCH):
        values = float_activations(graph, x[start:start + BATCH])
        for name, value in values.items():
            root = groups.get(name)
            if root is None or root in fixed:
                continue
            for k in (0, 1):
                errors[root][k] += squared_error(value, base[root] + k)
    return {root: base[root] + (1 if errors[root][1] < errors[root][0] else 0) for root in base}


def _weight_fraction_bits(graph: Graph, op, per_channel: bool) -> np.ndarray:
    w = graph.tensor(op.inputs[1]).data.astype(np.float64)
    axis = WEIGHT_AXIS[op.kind]
    if not per_channel:
        return np.full(w.shape[axis], choose_fraction_bits(w), dtype=np.int64)
    channels = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    return np.array([choose_fraction_bits(c) for c in channels], dtype=np.int64)


def _cap_weights(fl_w: np.ndarray, fl_in: int, fl_out: int) -> np.ndarray:
    """Coarser weight formats where a shift would exceed 31 (only tiny or zero channels)."""
    return np.minimum(fl_w, fl_out - fl_in + MAX_SHIFT)


def _enforce_shift_limits(graph: Graph, groups, fixed, frac: dict[str, int], weight_frac) -> None:
    """Make formats coarser until every shift is in range; formats only decrease, so it ends."""
    changed = True
    while changed:
        changed = False

        def cap(name: str, limit: int) -> None:
            nonlocal changed
            root = groups[name]
            if root not in fixed and frac[root] > limit:
                frac[root] = limit
                changed = True

        for op in graph.ops:
            if op.kind in WEIGHT_AXIS:
                cap(op.outputs[0], frac[groups[op.inputs[0]]] + int(weight_frac[op.name].min()))
            elif op.kind == "add":
                fl_a, fl_b = (frac[groups[n]] for n in op.inputs)
                cap(op.inputs[0], min(fl_a, fl_b) + MAX_ADD_ALIGN)
                cap(op.inputs[1], min(fl_a, fl_b) + MAX_ADD_ALIGN)
                cap(op.outputs[0], max(fl_a, fl_b))
    for op in graph.ops:
        if op.kind == "add":
            top = max(frac[groups[n]] for n in op.inputs)
            root = groups[op.outputs[0]]
            if top - frac.get(root, top) > MAX_SHIFT:
                raise McuError(f"op '{op.name}' (add): output range is too wide for its inputs' formats")


def _quantize_weights(graph: Graph, op, fl_in: int, fl_w: np.ndarray, tensors: dict[str, Tensor]) -> None:
    w_name = op.inputs[1]
    w = graph.tensor(w_name)
    axis = WEIGHT_AXIS[op.kind]
    shape = [1] * w.data.ndim
    shape[axis] = -1
    q = quantize_values(w.data, fl_w.reshape(shape))
    tensors[w_name] = Tensor(w_name, w.shape, "int8",
                             QuantParams(tuple(pot_scale(f) for f in fl_w), (0,) * len(fl_w), axis), q)
    b_name = op.inputs[2] if len(op.inputs) > 2 else None
    if b_name is None:
        return
    products = int(w.data.size // w.shape[axis])  # per output: kh*kw*cin, kh*kw or depth
    limit = INT32_MAX - products * MAX_PRODUCT  # the accumulator can never overflow
    bias = graph.tensor(b_name).data.astype(np.float64) * np.exp2((fl_in + fl_w).astype(np.float64))
    qb = np.clip(round_half_away(bias), -limit, limit).astype(np.int32)
    tensors[b_name] = Tensor(b_name, (len(qb),), "int32",
                             QuantParams(tuple(pot_scale(fl_in + f) for f in fl_w), (0,) * len(qb), 0), qb)


__all__ = ["quantize_qformat", "choose_fraction_bits", "quantize_values", "pot_scale"]
