"""resize_nearest: TFLite's RESIZE_NEAREST_NEIGHBOR (Keras UpSampling2D, interpolation
"nearest"). Everything about the kind sits here (registered in ir/ops.py).

Each output row and column copies one input row and column; which one is TFLM's float32 rule
(scale = in / out, or (in - 1) / (out - 1) with align_corners; +0.5 with half_pixel_centers;
floor, or round with align_corners; clamped to the input). The index tables are computed once at
export with that rule, so the C kernel only copies bytes and never touches a float.

Attributes: ``align_corners`` and ``half_pixel_centers`` (bools). Inputs and output share one
quantization (the values are copied, not requantized).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op
from mcucompress.quantize.fixedpoint import round_half_away


@dataclass(frozen=True)
class ResizeParams:
    rows: np.ndarray  # int32: input row of each output row
    cols: np.ndarray  # int32: input column of each output column


def nearest_indices(in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool) -> np.ndarray:
    if align_corners and out_size > 1:
        scale = np.float32(in_size - 1) / np.float32(out_size - 1)
    else:
        scale = np.float32(in_size) / np.float32(out_size)
    offset = np.float32(0.5 if half_pixel_centers else 0.0)
    position = (np.arange(out_size, dtype=np.float32) + offset) * np.float32(scale)
    index = round_half_away(position) if align_corners else np.floor(position)
    index = np.minimum(index.astype(np.int64), in_size - 1)
    if half_pixel_centers:
        index = np.maximum(index, 0)
    return index.astype(np.int32)


def _tables(graph: Graph, op: Op) -> ResizeParams:
    x, out = graph.tensors[op.inputs[0]], graph.output_tensor(op)
    if len(x.shape) != 4 or len(out.shape) != 4 or x.shape[0] != out.shape[0] or x.shape[3] != out.shape[3]:
        raise McuError(f"op '{op.name}' (resize_nearest): needs NHWC input and output with equal batch and "
                       f"channels, got {x.shape} -> {out.shape}")
    align, half = bool(op.attrs.get("align_corners", False)), bool(op.attrs.get("half_pixel_centers", False))
    return ResizeParams(nearest_indices(x.shape[1], out.shape[1], align, half),
                        nearest_indices(x.shape[2], out.shape[2], align, half))


def resize_params(graph: Graph, op: Op, rounding: str = "tflm") -> ResizeParams:
    x, out = graph.tensors[op.inputs[0]], graph.output_tensor(op)
    if x.dtype != "int8" or out.dtype != "int8" or x.quant is None or out.quant is None or \
            np.float32(x.quant.scale[0]) != np.float32(out.quant.scale[0]) or \
            x.quant.zero_point[0] != out.quant.zero_point[0]:
        raise McuError(f"op '{op.name}' (resize_nearest): input and output must be int8 with one "
                       "scale and zero point")
    return _tables(graph, op)


def int8_reference(op: Op, p: ResizeParams, args, out_shape, graph) -> np.ndarray:
    return args[0][:, p.rows][:, :, p.cols].reshape(out_shape)


def float_reference(graph: Graph, op: Op, x) -> np.ndarray:
    p = _tables(graph, op)
    return x[:, p.rows][:, :, p.cols]


def lower(b, i: int, op: Op) -> None:
    from mcucompress.quantize.params import kernel_params

    x, out = b.graph.tensor(op.inputs[0]), b.graph.output_tensor(op)
    p = kernel_params(b.graph, op, b.rounding)
    oid = f"op{i}_{op.kind}"
    b.call(op, "mcc_resize_nearest_s8", b.dims_of(x.shape), b.arena(x.name),
           b.array(f"{oid}_rows", p.rows, "int32_t"), b.array(f"{oid}_cols", p.cols, "int32_t"),
           b.dims_of(out.shape), b.arena(out.name))
