"""reduce_max: TFLite's REDUCE_MAX over the spatial axes (GlobalMaxPooling as the converter writes
it). TFLM's int8 kernel takes the raw maximum and requires equal input and output quantization,
so the kind is a max pool whose window is the whole plane: lowered onto mcc_maxpool_s8 with the
(1, T, C) or (1, H, W, C) input viewed as an NHWC plane. Registered in ir/ops.py.

Attributes: ``axes`` (tuple) and ``keepdims`` (bool), as for mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op


@dataclass(frozen=True)
class ReduceMaxParams:
    axes: tuple[int, ...]
    plane: tuple[int, int, int, int]  # the input viewed as (1, H, W, C), reduced over H and W


def spatial_plane(shape, axes) -> tuple[int, int, int, int] | None:
    """(1, H, W, C) view of an input whose reduced axes are exactly its spatial ones, else None."""
    shape, axes = tuple(shape), tuple(sorted(axes))
    if len(shape) == 4 and axes == (1, 2) and shape[0] == 1:
        return shape
    if len(shape) == 3 and axes == (1,) and shape[0] == 1:
        return (1, 1, shape[1], shape[2])
    return None


def reduce_max_params(graph: Graph, op: Op, rounding: str = "tflm") -> ReduceMaxParams:
    x, out = graph.tensors[op.inputs[0]], graph.output_tensor(op)
    if x.dtype != "int8" or out.dtype != "int8" or x.quant is None or out.quant is None or \
            np.float32(x.quant.scale[0]) != np.float32(out.quant.scale[0]) or \
            x.quant.zero_point[0] != out.quant.zero_point[0]:
        raise McuError(f"op '{op.name}' (reduce_max): input and output must be int8 with one scale and zero point")
    axes = tuple(sorted({int(a) % len(x.shape) for a in op.attrs["axes"]}))
    plane = spatial_plane(x.shape, axes)
    if plane is None:
        raise McuError(f"op '{op.name}' (reduce_max): only the maximum over the spatial axes is supported, "
                       f"got axes {axes} of shape {x.shape}")
    return ReduceMaxParams(axes, plane)


def int8_reference(op: Op, p: ReduceMaxParams, args, out_shape, graph) -> np.ndarray:
    return args[0].max(axis=p.axes).reshape(out_shape)


def float_reference(graph: Graph, op: Op, x) -> np.ndarray:
    axes = tuple(sorted({int(a) % (len(graph.tensor(op.inputs[0]).shape)) for a in op.attrs["axes"]}))
    return x.max(axis=axes, keepdims=bool(op.attrs.get("keepdims", False)))


def lower(b, i: int, op: Op) -> None:
    from mcucompress.quantize.params import PoolParams, kernel_params

    x, out = b.graph.tensor(op.inputs[0]), b.graph.output_tensor(op)
    p = kernel_params(b.graph, op, b.rounding)
    _, h, w, c = p.plane
    window = PoolParams("max", (h, w), (h, w), (0, 0, 0, 0), -128, 127)  # one window over the plane
    params = b.struct("mcc_pool_params", f"op{i}_{op.kind}_params", window.c_fields())
    b.call(op, "mcc_maxpool_s8", params, b.dims_of(p.plane), b.arena(x.name), b.dims_of((1, 1, 1, c)),
           b.arena(out.name))
