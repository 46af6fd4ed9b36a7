"""Per-tensor weight scales for clustered layers.

PTQ quantizes weights per output channel, which turns k shared float values into up to k values
*per row* - clustering's savings would not survive into int8. Re-quantizing a layer's weights
with one scale for the whole tensor keeps at most k distinct int8 values (one per centroid), so
codebook and Huffman encodings see the clustering. Same conventions as quantize/ptq.py:
symmetric, [-127, 127], scale = max|w| / 127, bias scale = input scale * weight scale.
"""

from __future__ import annotations

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, QuantParams, Tensor
from mcucompress.quantize.fixedpoint import round_half_away
from mcucompress.quantize.ptq import INT32_MAX, INT32_MIN, symmetric_per_channel


def per_tensor_weights(int8_graph: Graph, float_graph: Graph, layers=None) -> Graph:
    """``int8_graph`` with the weights (and biases) of its fully connected / conv2d ops - or of
    the ops named in ``layers`` - quantized with one scale per tensor from ``float_graph``'s
    float weights (matched by tensor name)."""
    tensors = dict(int8_graph.tensors)
    for op in int8_graph.ops:
        if op.kind not in ("fully_connected", "conv2d") or (layers is not None and op.name not in layers):
            continue
        w_name = op.inputs[1]
        if w_name not in float_graph.tensors or not float_graph.tensor(w_name).is_constant:
            raise McuError(f"op '{op.name}': float weights '{w_name}' not found in the float graph")
        w = np.asarray(float_graph.tensor(w_name).data, dtype=np.float32)
        q, scales = symmetric_per_channel(w.reshape(1, -1), 0)
        scale = float(scales[0])
        tensors[w_name] = Tensor(w_name, tensors[w_name].shape, "int8", QuantParams((scale,), (0,), 0),
                                 q.reshape(tensors[w_name].shape))
        b_name = op.inputs[2] if len(op.inputs) > 2 else None
        if b_name is None:
            continue
        bias_scale = np.float32(np.float64(tensors[op.inputs[0]].quant.scale[0]) * np.float64(scale))
        bias = np.asarray(float_graph.tensor(b_name).data, dtype=np.float64)
        qb = np.clip(round_half_away(bias / np.float64(bias_scale)), INT32_MIN, INT32_MAX).astype(np.int32)
        tensors[b_name] = Tensor(b_name, (len(bias),), "int32", QuantParams((float(bias_scale),), (0,), 0), qb)
    return int8_graph.replace(tensors=tensors)


def clustered_layers(float_graph: Graph, max_values: int = 256, min_sharing: int = 8) -> set[str]:
    """Names of the fully connected / conv2d ops whose float weights hold at most ``max_values``
    distinct values, each shared by ``min_sharing`` weights on average (clustered layers, not just
    small ones), for which per-tensor scales keep the clustering."""
    names = set()
    for op in float_graph.ops:
        if op.kind in ("fully_connected", "conv2d") and len(op.inputs) > 1:
            w = float_graph.tensor(op.inputs[1])
            if not w.is_constant:
                continue
            distinct = np.unique(np.asarray(w.data)).size
            if distinct <= max_values and w.size >= min_sharing * distinct:
                names.add(op.name)
    return names
