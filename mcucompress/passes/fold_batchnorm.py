"""Fold inference-mode BatchNormalization into the layer before it, as the TFLite converter does.

BN(y) = gamma * (y - mean) / sqrt(var + eps) + beta is a per-channel affine map, so after a
convolution or dense layer it scales that layer's output channels and shifts its bias. A BN with
no such producer (after an Add, or at the input) becomes a 1x1 depthwise convolution (or a
diagonal dense layer on vectors) so that every quantized graph is free of batch_norm ops.
"""

from __future__ import annotations

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op, Tensor
from mcucompress.ir.ops import weight_axes
from mcucompress.passes.fold_affine_forward import affine_of, fold_forward, forward_consumer
from mcucompress.passes.op_merging import merge_into_producer, sole_consumer

# Which weight axis holds the output channels, per foldable producer kind (the float kinds: the
# binary scheme's training layers, whose extra inputs are kept).
OUTPUT_CHANNEL_AXIS = weight_axes("int8") | weight_axes("float")


def _constant(tensors: dict, name: str, data: np.ndarray) -> str:
    while name in tensors:
        name += "_"
    data = np.ascontiguousarray(data, dtype=np.float32)
    tensors[name] = Tensor(name, tuple(data.shape), "float32", None, data)
    return name


def _can_fold(graph: Graph, bn: Op) -> Op | None:
    producer = graph.producer(bn.inputs[0])
    if producer is None or producer.kind not in OUTPUT_CHANNEL_AXIS:
        return None
    if producer.attrs.get("activation", "none") != "none" or sole_consumer(graph, bn.inputs[0]) is not bn:
        return None
    if not graph.tensor(producer.inputs[1]).is_constant:
        return None
    return producer


def _fold(graph: Graph, ops: list[Op], tensors: dict, producer: Op, bn: Op) -> list[Op]:
    scale, shift = affine_of(graph, bn)
    weights = graph.tensor(producer.inputs[1]).data.astype(np.float64)
    axis = OUTPUT_CHANNEL_AXIS[producer.kind]
    shape = [1] * weights.ndim
    shape[axis] = -1
    bias_name = producer.inputs[2] if len(producer.inputs) > 2 else None
    bias = graph.tensor(bias_name).data.astype(np.float64) if bias_name else np.zeros_like(scale)
    w = _constant(tensors, f"{producer.name}/weights_bn", weights * scale.reshape(shape))
    b = _constant(tensors, f"{producer.name}/bias_bn", bias * scale + shift)
    folded = Op(producer.kind, producer.name, (producer.inputs[0], w, b) + tuple(producer.inputs[3:]),
                producer.outputs, producer.attrs)
    ops = [folded if op is producer else op for op in ops]
    return merge_into_producer(ops, folded, bn)


def _as_layer(graph: Graph, tensors: dict, bn: Op) -> Op:
    """A stand-alone BN as an equivalent 1x1 depthwise conv (NHWC) or diagonal dense (vectors)."""
    scale, shift = affine_of(graph, bn)
    x = graph.tensor(bn.inputs[0])
    b = _constant(tensors, f"{bn.name}/bias", shift)
    if len(x.shape) == 4:
        w = _constant(tensors, f"{bn.name}/weights", scale.reshape(1, 1, 1, -1))
        return Op("depthwise_conv2d", bn.name, (x.name, w, b), bn.outputs,
                  {"stride": (1, 1), "dilation": (1, 1), "padding": (0, 0, 0, 0),
                   "depth_multiplier": 1, "activation": "none"})
    if len(x.shape) == 2:
        w = _constant(tensors, f"{bn.name}/weights", np.diag(scale))
        return Op("fully_connected", bn.name, (x.name, w, b), bn.outputs, {"activation": "none"})
    raise McuError(f"layer '{bn.name}' (BatchNormalization): rank-{len(x.shape)} input is not supported")


def fold_batchnorm(graph: Graph) -> Graph:
    """Each BN into its producer, else forward into its reader (fold_affine_forward.py), else
    a layer of its own; first to last, as folding one may make the next one foldable."""
    ops = list(graph.ops)
    tensors = dict(graph.tensors)
    while (bn := next((op for op in ops if op.kind == "batch_norm"), None)) is not None:
        current = graph.with_ops(ops, tensors)
        producer = _can_fold(current, bn)
        consumer = forward_consumer(current, bn) if producer is None else None
        if producer is not None:
            ops = _fold(current, ops, tensors, producer, bn)
        elif consumer is not None:
            ops = fold_forward(current, ops, tensors, bn, consumer, _constant)
        else:
            ops = [_as_layer(current, tensors, bn) if op is bn else op for op in ops]
    return graph.with_ops(ops, tensors)
