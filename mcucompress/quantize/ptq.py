"""Post-training int8 quantization of a float Graph, with TensorFlow Lite's conventions.

- Weights: symmetric int8 per output channel, values in [-127, 127], scale = max|w| / 127
  (conv2d and fully_connected along axis 0, depthwise_conv2d along axis 3).
- Biases: int32, scale = input_scale * weight_scale[c], zero point 0.
- Activations: asymmetric int8 per tensor, from the calibrated [min, max] widened to include 0.
- Softmax outputs: scale 1/256, zero point -128.
- max/avg pool, reshape, pad, concat (and a stand-alone relu6) keep one quantization for their
  inputs and output, as TFLite's kernels require: those tensors are tied and share the union of
  their calibrated ranges.

The result is an int8 Graph that ``reference.int8.run_int8`` and code generation accept as they
accept an imported int8 .tflite.
"""

from __future__ import annotations


import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, QuantParams, Tensor
from mcucompress.ir.ops import kinds, shared_weight_kinds, tied_kinds, weight_axes
from mcucompress.quantize.calibrate import DEFAULT_MAX_SAMPLES, activation_ranges, check_calibration, tied_groups
from mcucompress.quantize.fixedpoint import round_half_away
from mcucompress.quantize.lut_ops import FIXED_OUTPUT_QUANT

QMIN, QMAX = -128, 127
WEIGHT_MAX = 127  # narrow range: -128 is never used by weights
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1

# Output-channel axis of the weights of each op with weights.
WEIGHT_AXIS = weight_axes("int8")
# Ops whose inputs and output must share one quantization.
TIED_OPS = tied_kinds("int8")
# Ops whose weights are shared values (hashed, product-quantized): one scale per tensor.
SHARED_WEIGHT_OPS = shared_weight_kinds("int8")
SOFTMAX_OUTPUT = QuantParams((1.0 / 256.0,), (-128,))
QUANTIZABLE_OPS = frozenset(k.name for k in kinds("int8"))


def quantize_graph(float_graph: Graph, calib_x: np.ndarray, max_samples: int = DEFAULT_MAX_SAMPLES) -> Graph:
    """An int8 Graph calibrated on (at most ``max_samples`` of) ``calib_x``, batch first.
    ``float_graph`` has been through passes.optimize (the Keras importer and load.load run it)."""
    if float_graph.is_quantized or float_graph.tensor(float_graph.inputs[0]).dtype != "float32":
        raise McuError("model is already quantized; post-training quantization needs a float model")
    graph = float_graph
    for op in graph.ops:
        if op.kind not in QUANTIZABLE_OPS:
            raise McuError(f"op '{op.name}' ({op.kind}) cannot be quantized to int8")
    x = check_calibration(graph, calib_x)
    ranges = activation_ranges(graph, x, max_samples)
    act_quant = _activation_quant(graph, ranges)
    tensors: dict[str, Tensor] = {}
    for name, t in graph.tensors.items():
        if not t.is_constant:
            tensors[name] = Tensor(name, t.shape, "int8", act_quant[name])
    for op in graph.ops:
        if op.kind in WEIGHT_AXIS:
            _quantize_weights(graph, op, tensors)
        elif op.kind in SHARED_WEIGHT_OPS:
            _quantize_weights(graph, op, tensors, per_tensor=True)
        else:
            _quantize_constant_operands(graph, op, tensors)
    return graph.replace(tensors=tensors)


def _quantize_constant_operands(graph: Graph, op, tensors: dict[str, Tensor]) -> None:
    """Constant inputs of element-wise ops (PReLU's alpha): int8 per tensor over their range."""
    for name in op.inputs:
        t = graph.tensors.get(name) if name is not None else None
        if t is None or not t.is_constant or name in tensors:
            continue
        quant = asymmetric_quant(float(t.data.min()), float(t.data.max()))
        q = round_half_away(t.data.astype(np.float64) / quant.scale[0]) + quant.zero_point[0]
        tensors[name] = Tensor(name, t.shape, "int8", quant, np.clip(q, QMIN, QMAX).astype(np.int8))


def asymmetric_quant(lo: float, hi: float) -> QuantParams:
    """Per-tensor int8 (scale, zero point) for a float range, nudged the way TFLite's converter
    does it: the range is widened to hold 0, and the zero point (from whichever end gives the
    smaller error) is rounded to an integer in [-128, 127]."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    if hi - lo < np.finfo(np.float64).eps:  # all zeros: any scale represents them exactly
        return QuantParams((1.0,), (0,))
    scale = (hi - lo) / (QMAX - QMIN)
    from_min, from_min_error = QMIN - lo / scale, abs(QMIN) + abs(lo / scale)
    from_max, from_max_error = QMAX - hi / scale, abs(QMAX) + abs(hi / scale)
    zp = from_min if from_min_error < from_max_error else from_max
    zero_point = QMIN if zp < QMIN else QMAX if zp > QMAX else int(round_half_away(zp))
    return QuantParams((float(np.float32(scale)),), (zero_point,))


def _activation_quant(graph: Graph, ranges: dict[str, tuple[float, float]]) -> dict[str, QuantParams]:
    groups = tied_groups(graph, TIED_OPS)
    union: dict[str, tuple[float, float]] = {}
    for name, root in groups.items():
        lo, hi = ranges[name]
        old = union.get(root, (lo, hi))
        union[root] = (min(old[0], lo), max(old[1], hi))
    fixed = {groups[op.outputs[0]]: SOFTMAX_OUTPUT for op in graph.ops if op.kind == "softmax"}
    fixed.update({groups[op.outputs[0]]: FIXED_OUTPUT_QUANT[op.kind] for op in graph.ops
                  if op.kind in FIXED_OUTPUT_QUANT})
    return {name: fixed.get(root) or asymmetric_quant(*union[root]) for name, root in groups.items()}


def symmetric_per_channel(weights: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(int8 weights, float32 scales): scale[c] = max|w[c]| / 127; all-zero channels get 1.0."""
    w = np.asarray(weights, dtype=np.float32)
    other = tuple(a for a in range(w.ndim) if a != axis)
    peak = np.max(np.abs(w), axis=other).astype(np.float64)
    scales = np.where(peak > 0, peak / WEIGHT_MAX, 1.0).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = round_half_away(w.astype(np.float64) / scales.astype(np.float64).reshape(shape))
    return np.clip(q, -WEIGHT_MAX, WEIGHT_MAX).astype(np.int8), scales


def _quantize_weights(graph: Graph, op, tensors: dict[str, Tensor], per_tensor: bool = False) -> None:
    """Weights per output channel (or per tensor), the bias to int32; further constant inputs
    (the codes of a product-quantized layer) are kept as they are."""
    x_name, w_name = op.inputs[0], op.inputs[1]
    axis = 0 if per_tensor else WEIGHT_AXIS[op.kind]
    w = graph.tensor(w_name)
    q, scales = symmetric_per_channel(w.data.reshape(1, -1) if per_tensor else w.data, axis)
    tensors[w_name] = Tensor(w_name, w.shape, "int8",
                             QuantParams(tuple(float(s) for s in scales), (0,) * len(scales), axis),
                             q.reshape(w.shape))
    for name in op.inputs[3:]:
        if name is not None:
            tensors[name] = graph.tensor(name)
    b_name = op.inputs[2] if len(op.inputs) > 2 else None
    if b_name is None:
        return
    # float32 input scale times float32 weight scale, rounded to float32: the converter's bias
    # scales equal this bit for bit when given the same input and weight scales.
    input_scale = np.float64(tensors[x_name].quant.scale[0])
    bias_scales = (input_scale * scales.astype(np.float64)).astype(np.float32)
    bias = graph.tensor(b_name).data.astype(np.float64)
    qb = np.clip(round_half_away(bias / bias_scales.astype(np.float64)), INT32_MIN, INT32_MAX)
    tensors[b_name] = Tensor(b_name, (len(bias),), "int32",
                             QuantParams(tuple(float(s) for s in bias_scales), (0,) * len(bias_scales), 0),
                             qb.astype(np.int32))


__all__ = ["quantize_graph", "asymmetric_quant", "symmetric_per_channel"]
