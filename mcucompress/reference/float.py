"""Vectorized numpy interpreter for float32 graphs: the float oracle and the calibration engine.

It runs a whole batch at once: ``x`` has the graph input's shape with any batch size in front.
Convolutions and pools loop over the (small) kernel window and do one matmul / reduction per
window position over the whole batch, which keeps memory flat and calibration fast.
"""

from __future__ import annotations

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.activation import fused_activation
from mcucompress.ir.graph import Graph, Op
from mcucompress.ir.ops import float_activations


def run_float(graph: Graph, x: np.ndarray, intermediates: bool = False):
    """Runs ``graph`` on ``x``; returns the output batch, or every tensor by name if asked.
    Several inputs: ``x`` is a sequence of batches, one per input; several outputs: a tuple."""
    xs = list(x) if len(graph.inputs) > 1 else [x]
    batches = []
    for name, batch in zip(graph.inputs, xs):
        spec = graph.tensor(name)
        batch = np.asarray(batch, dtype=np.float32)
        if batch.shape[1:] != spec.shape[1:]:
            if batch.shape == spec.shape[1:]:
                batch = batch[None]
            else:
                raise McuError(f"input of shape {batch.shape} does not match the model input {spec.shape}")
        batches.append(batch)
    values = float_activations(graph, batches if len(batches) > 1 else batches[0])
    if intermediates:
        return values
    if len(graph.outputs) > 1:
        return tuple(values[n] for n in graph.outputs)
    return values[graph.outputs[0]]


def _pad_spatial(x: np.ndarray, padding, value: float = 0.0) -> np.ndarray:
    top, bottom, left, right = padding
    if not any(padding):
        return x
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _windows(graph: Graph, op: Op, kh: int, kw: int, dilation=(1, 1)):
    """Yields (i, j, slicer) for each kernel tap; slicer picks that tap's input for every output."""
    sh, sw = op.attrs["stride"]
    dh, dw = dilation
    _, oh, ow, _ = graph.output_tensor(op).shape
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
            cols = slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)
            yield i, j, (slice(None), rows, cols)


def conv2d(graph, op, x, w, b):
    xp = _pad_spatial(x, op.attrs["padding"])
    out_c, kh, kw, _ = w.shape
    _, oh, ow, _ = graph.output_tensor(op).shape
    y = np.zeros((x.shape[0], oh, ow, out_c), np.float32)
    for i, j, tap in _windows(graph, op, kh, kw, op.attrs.get("dilation", (1, 1))):
        y += xp[tap] @ w[:, i, j, :].T
    if b is not None:
        y += b
    return fused_activation(y, op.attrs.get("activation", "none"))


def depthwise_conv2d(graph, op, x, w, b):
    xp = _pad_spatial(x, op.attrs["padding"])
    mult = int(op.attrs.get("depth_multiplier", 1))
    _, kh, kw, out_c = w.shape
    _, oh, ow, _ = graph.output_tensor(op).shape
    y = np.zeros((x.shape[0], oh, ow, out_c), np.float32)
    for i, j, tap in _windows(graph, op, kh, kw, op.attrs.get("dilation", (1, 1))):
        patch = xp[tap]
        if mult > 1:  # output channel c*mult + m reads input channel c
            patch = np.repeat(patch, mult, axis=-1)
        y += patch * w[0, i, j, :]
    if b is not None:
        y += b
    return fused_activation(y, op.attrs.get("activation", "none"))


def fully_connected(graph, op, x, w, b):
    y = x.reshape(x.shape[0], -1) @ w.T
    if b is not None:
        y = y + b
    return fused_activation(y.astype(np.float32), op.attrs.get("activation", "none"))


def max_pool2d(graph, op, x):
    xp = _pad_spatial(x, op.attrs["padding"], value=-np.inf)
    ph, pw = op.attrs["pool"]
    y = None
    for _, _, tap in _windows(graph, op, ph, pw):
        y = xp[tap] if y is None else np.maximum(y, xp[tap])
    return fused_activation(y, op.attrs.get("activation", "none"))


def avg_pool2d(graph, op, x):
    """Padding cells are left out of the average (TensorFlow and TFLite count only real cells)."""
    xp = _pad_spatial(x, op.attrs["padding"])
    ones = _pad_spatial(np.ones((1,) + x.shape[1:3] + (1,), np.float32), op.attrs["padding"])
    ph, pw = op.attrs["pool"]
    total, count = 0.0, 0.0
    for _, _, tap in _windows(graph, op, ph, pw):
        total = total + xp[tap]
        count = count + ones[tap]
    return fused_activation((total / count).astype(np.float32), op.attrs.get("activation", "none"))


def mean(graph, op, x):
    return np.mean(x, axis=tuple(op.attrs["axes"]), keepdims=bool(op.attrs.get("keepdims", False)),
                   dtype=np.float32)


def add(graph, op, a, b):
    return fused_activation(a + b, op.attrs.get("activation", "none"))


def softmax(graph, op, x):
    z = (x - np.max(x, axis=-1, keepdims=True)) * float(op.attrs.get("beta", 1.0))
    e = np.exp(z)
    return (e / np.sum(e, axis=-1, keepdims=True)).astype(np.float32)


def reshape(graph, op, x):
    return x.reshape((x.shape[0],) + graph.output_tensor(op).shape[1:])


def pad(graph, op, x):
    paddings = [tuple(p) for p in op.attrs["paddings"]]
    return np.pad(x, [(0, 0)] + paddings[1:])


def concat(graph, op, *xs):
    return np.concatenate(xs, axis=int(op.attrs["axis"]))


def relu(graph, op, x):
    return np.maximum(x, 0.0)


def relu6(graph, op, x):
    return np.clip(x, 0.0, 6.0)


def batch_norm(graph, op, x, gamma, beta, mean_, var):
    return ((x - mean_) / np.sqrt(var + float(op.attrs.get("epsilon", 1e-3))) * gamma + beta).astype(np.float32)


def sign(graph, op, x):
    """binary/layers.py's SignActivation: +1 where x >= 0, else -1 (never 0)."""
    return np.where(x >= 0, 1.0, -1.0).astype(np.float32)


def lowbit_fully_connected(graph, op, x, w, b, levels):
    """BinaryDense: an ordinary dense layer over its deployed weights (levels x scale)."""
    return fully_connected(graph, op, x, w, b)


def lowbit_conv2d(graph, op, x, w, b, levels):
    """BinaryConv2D: an ordinary convolution over its deployed weights (levels x scale)."""
    return conv2d(graph, op, x, w, b)
