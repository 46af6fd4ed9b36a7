"""Fold a per-channel affine map (a batch_norm op: BatchNormalization, Rescaling, Normalization,
``x * c + d``) forward into the layer that reads it, when nothing before it can absorb it.

This is what puts Rescaling(1/127.5, -1) or Normalization at a model's input into the first
convolution: conv(scale * x + shift) = conv'(x) with each input channel's weights scaled and the
shift's contribution added to the bias. It is exact in float only where the layer never reads
padding (a padded zero of the affine's output is not the affine of a padded zero), so a shift
is folded into a padded convolution only when it is zero. Two affine maps in a row become one.
"""

from __future__ import annotations

import numpy as np

from mcucompress.ir.graph import Graph, Op
from mcucompress.passes.op_merging import sole_consumer

CONSUMERS = ("conv2d", "depthwise_conv2d", "fully_connected", "batch_norm")


def affine_of(graph: Graph, bn: Op) -> tuple[np.ndarray, np.ndarray]:
    """(scale, shift) per channel of a batch_norm op."""
    gamma, beta, mean, var = (graph.tensor(n).data.astype(np.float64) for n in bn.inputs[1:5])
    scale = gamma / np.sqrt(var + float(bn.attrs.get("epsilon", 1e-3)))
    return scale, beta - mean * scale


def forward_consumer(graph: Graph, bn: Op) -> Op | None:
    """The op ``bn`` can be folded into exactly, or None."""
    consumer = sole_consumer(graph, bn.outputs[0])
    if consumer is None or consumer.kind not in CONSUMERS or consumer.inputs[0] != bn.outputs[0]:
        return None
    if consumer.kind == "batch_norm":
        return consumer
    if not graph.tensor(consumer.inputs[1]).is_constant:
        return None
    x = graph.tensor(bn.inputs[0])
    if consumer.kind == "fully_connected" and len(x.shape) != 2:
        return None  # a flattened NHWC input interleaves the channels
    if any(consumer.attrs.get("padding", (0,))) and np.any(affine_of(graph, bn)[1] != 0):
        return None
    return consumer


def fold_forward(graph: Graph, ops: list[Op], tensors: dict, bn: Op, consumer: Op, constant) -> list[Op]:
    """``ops`` with ``bn`` removed and ``consumer`` reading bn's input; ``constant(tensors, name,
    data)`` adds a float constant and returns its name."""
    scale, shift = affine_of(graph, bn)
    x = bn.inputs[0]
    if consumer.kind == "batch_norm":
        scale2, shift2 = affine_of(graph, consumer)
        channels = len(scale)
        params = [constant(tensors, f"{consumer.name}/{n}", v) for n, v in (
            ("gamma", scale * scale2), ("beta", shift * scale2 + shift2),
            ("mean", np.zeros(channels)), ("var", np.ones(channels)))]
        merged = Op("batch_norm", consumer.name, (x, *params), consumer.outputs, {"epsilon": 0.0})
    else:
        w = graph.tensor(consumer.inputs[1]).data.astype(np.float64)
        b_name = consumer.inputs[2] if len(consumer.inputs) > 2 else None
        bias = graph.tensor(b_name).data.astype(np.float64) if b_name else np.zeros(w.shape[0 if consumer.kind != "depthwise_conv2d" else 3])
        if consumer.kind == "depthwise_conv2d":  # output channel c * mult + j reads input channel c
            mult = int(consumer.attrs.get("depth_multiplier", 1))
            scale, shift = np.repeat(scale, mult), np.repeat(shift, mult)
            new_w, new_b = w * scale, bias + (w * shift).sum(axis=(0, 1, 2))
        elif consumer.kind == "conv2d":
            new_w, new_b = w * scale, bias + (w * shift).sum(axis=(1, 2, 3))
        else:
            new_w, new_b = w * scale, bias + w @ shift
        w_name = constant(tensors, f"{consumer.name}/weights_affine", new_w)
        b_new = constant(tensors, f"{consumer.name}/bias_affine", new_b)
        merged = Op(consumer.kind, consumer.name, (x, w_name, b_new), consumer.outputs, consumer.attrs)
    return [merged if op is consumer else op for op in ops if op is not bn]
