"""Weights re-quantized to 4 bits (TFLite's INT4: symmetric per output channel, zero point 0),
stored packed (encode/int4.py) and run by the int4 kernels.

Opt-in and lossy: scale[c] = max|w[c]| / 7 (narrow range like int8's 127: -8 is never made,
but an imported INT4 tensor may hold it), values round(w / scale) half away from zero, the bias
re-quantized to input scale * new weight scale. The float weights are those of the Keras model
when it is given, else the int8 weights times their scales (an int8 .tflite): 4 bits from 8.
Each op gets ``attrs["weight_encoding"] = "int4"``, which --optimize leaves alone.
"""

from __future__ import annotations

import numpy as np

from mcucompress.encode.choose import ATTR
from mcucompress.encode.int4 import INT4_MAX
from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, QuantParams, Tensor
from mcucompress.quantize.fixedpoint import round_half_away
from mcucompress.quantize.ptq import INT32_MAX, INT32_MIN

INT4_KINDS = ("fully_connected", "conv2d")


def int4_layers(graph: Graph, names) -> set[str]:
    """The ops ``names`` picks: "all" (every fully connected and conv2d op) or op names; McuError
    for a name that is no such op."""
    eligible = {op.name for op in graph.ops if op.kind in INT4_KINDS and len(op.inputs) > 1
                and graph.tensor(op.inputs[1]).is_constant}
    if names == "all":
        return eligible
    chosen = {str(n) for n in names}
    unknown = sorted(chosen - eligible)
    if unknown:
        raise McuError(f"--int4: no fully connected or conv2d layer named {', '.join(repr(n) for n in unknown)}; "
                       f"layers: {', '.join(sorted(eligible)) or 'none'}")
    return chosen


def _float_weights(graph: Graph, float_graph: Graph | None, name: str) -> np.ndarray:
    if float_graph is not None and name in float_graph.tensors and float_graph.tensor(name).is_constant:
        return np.asarray(float_graph.tensor(name).data, dtype=np.float64)
    t = graph.tensor(name)
    if t.quant is None or set(t.quant.zero_point) != {0}:
        raise McuError(f"weights '{name}': int4 needs symmetric int8 weights (zero point 0)")
    scales = np.asarray(t.quant.scale, dtype=np.float64)
    w = np.asarray(t.data, dtype=np.float64).reshape(t.shape[0], -1)
    return (w * (scales[:, None] if scales.size == t.shape[0] else scales[0])).reshape(t.shape)


def _float_bias(graph: Graph, float_graph: Graph | None, name: str) -> np.ndarray:
    if float_graph is not None and name in float_graph.tensors and float_graph.tensor(name).is_constant:
        return np.asarray(float_graph.tensor(name).data, dtype=np.float64)
    t = graph.tensor(name)
    scales = np.asarray(t.quant.scale, dtype=np.float64)
    return np.asarray(t.data, dtype=np.float64) * scales


def int4_weights(graph: Graph, layers="all", float_graph: Graph | None = None) -> Graph:
    """``graph`` (int8) with the weights of ``layers`` (see int4_layers) re-quantized to int4
    per output channel (values kept as int8 in -8..7) and their biases to the new scales."""
    chosen = int4_layers(graph, layers)
    tensors, ops = dict(graph.tensors), []
    for op in graph.ops:
        if op.name not in chosen:
            ops.append(op)
            continue
        w_name = op.inputs[1]
        w = _float_weights(graph, float_graph, w_name)
        rows = w.reshape(w.shape[0], -1)
        peak = np.abs(rows).max(axis=1)
        scales = np.where(peak > 0, peak / INT4_MAX, 1.0).astype(np.float32)
        q = np.clip(round_half_away(rows / scales.astype(np.float64)[:, None]), -INT4_MAX, INT4_MAX)
        tensors[w_name] = Tensor(w_name, tuple(w.shape), "int8",
                                 QuantParams(tuple(float(s) for s in scales), (0,) * len(scales), 0),
                                 q.astype(np.int8).reshape(w.shape))
        b_name = op.inputs[2] if len(op.inputs) > 2 else None
        if b_name is not None:
            in_scale = np.float64(graph.tensor(op.inputs[0]).quant.scale[0])
            bias_scales = (in_scale * scales.astype(np.float64)).astype(np.float32)
            qb = round_half_away(_float_bias(graph, float_graph, b_name) / bias_scales.astype(np.float64))
            tensors[b_name] = Tensor(b_name, (len(scales),), "int32",
                                     QuantParams(tuple(float(s) for s in bias_scales), (0,) * len(scales), 0),
                                     np.clip(qb, INT32_MIN, INT32_MAX).astype(np.int32))
        ops.append(op.with_attrs(**{ATTR: "int4"}))
    return graph.replace(tensors=tensors, ops=tuple(ops))
