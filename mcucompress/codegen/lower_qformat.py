"""Lowering of the Q-format op kinds (conv2d_q7, depthwise_conv2d_q7, fully_connected_q7,
add_q7) to the shift-only kernels of runtime_c/qformat.

Named by the op catalogue (``ir/ops.py``), with the kernel files each kind may call. Shifts and clamp ranges come
from ``kernel_params`` (quantize/qformat_params.py), the numbers the numpy reference runs with.
The other ops of a Q-format graph (pooling, reshape, softmax, ...) are ordinary int8 ops.
"""

from __future__ import annotations

import numpy as np

from mcucompress.errors import McuError
from mcucompress.quantize.params import kernel_params

def _op_id(index: int, op) -> str:
    return f"op{index}_{op.kind}"


def _shifts(b, oid: str, shift: np.ndarray) -> dict:
    """The shift array (one entry when every channel agrees) and the per_channel flag."""
    shift = np.asarray(shift, dtype=np.int64)
    per_channel = bool(np.any(shift != shift[0]))
    values = shift if per_channel else shift[:1]
    return {"shift": b.array(f"{oid}_shift", values.astype(np.int8), "int8_t"), "per_channel": per_channel}


def lower_conv(b, i: int, op) -> None:
    g = b.graph
    x, w, bias, out = b.weighted(op)
    p = kernel_params(g, op, b.rounding)
    oid = _op_id(i, op)
    params = b.struct("mcc_conv_q7_params", f"{oid}_params", p.c_fields(_shifts(b, oid, p.shift)))
    function = "mcc_conv2d_q7" if op.kind == "conv2d_q7" else "mcc_depthwise_conv2d_q7"
    b.call(op, function, params, b.dims_of(x.shape), b.arena(x.name), b.dims_of(w.shape),
           b.constant(oid, "weights", w), b.constant(oid, "bias", bias), b.dims_of(out.shape),
           b.arena(out.name))


def lower_fully_connected(b, i: int, op) -> None:
    g = b.graph
    x, w, bias, out = b.weighted(op)
    p = kernel_params(g, op, b.rounding)
    oid = _op_id(i, op)
    units, depth = int(w.shape[0]), int(np.prod(w.shape[1:]))
    if x.size % depth:
        raise McuError(f"op '{op.name}': input of {x.size} values does not split into rows of {depth}")
    batches = x.size // depth
    params = b.struct("mcc_fc_q7_params", f"{oid}_params", p.c_fields(_shifts(b, oid, p.shift)))
    b.call(op, "mcc_fully_connected_q7", params, b.dims_of((batches, depth)), b.arena(x.name),
           b.dims_of((units, depth)), b.constant(oid, "weights", w), b.constant(oid, "bias", bias),
           b.dims_of((batches, units)), b.arena(out.name))


def lower_add(b, i: int, op) -> None:
    g = b.graph
    x1, x2, out = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.output_tensor(op)
    if x1.shape != out.shape or x2.shape != out.shape or x1.is_constant or x2.is_constant:
        raise McuError(f"op '{op.name}' (add_q7): only adds of two activations of equal shape are "
                       f"supported, got {x1.shape} + {x2.shape}")
    p = kernel_params(g, op, b.rounding)
    params = b.struct("mcc_add_q7_params", f"{_op_id(i, op)}_params", p.c_fields())
    b.call(op, "mcc_add_q7", params, b.arena(x1.name), b.arena(x2.name), b.arena(out.name),
           str(out.size))
