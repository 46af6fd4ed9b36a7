"""Element-wise int8 ops of two tensors with TFLite's broadcasting: mul, maximum, minimum, and
add where the shapes differ. Everything about these kinds sits in this module (registered in
ir/ops.py); the C kernels share one indexing rule: a dimension of size 1 is read with stride 0.

Arithmetic, as tflite-micro's reference kernels compute it (written from their description):

- mul: out = clamp(out_zp + MultiplyByQuantizedMultiplier((a - a_zp) * (b - b_zp), M, shift))
  with M = double(a_scale) * double(b_scale) / double(out_scale), double rounding;
- maximum / minimum compare raw int8 values, so both inputs and the output share one
  quantization (the quantizer ties them; a .tflite must already have it);
- add with broadcasting runs the add kernel's per-element arithmetic (quantize.params._add);
- sub is add's arithmetic (the same parameters) with the rescaled second input subtracted;
- prelu (inputs x and alpha): x - x_zp requantized by x_scale / out_scale where it is >= 0,
  else (x - x_zp) * (alpha - alpha_zp) requantized by x_scale * alpha_scale / out_scale.

Shapes broadcast TFLite's way: right-aligned, each dimension equal or 1, at most 4 dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.activation import fused_activation
from mcucompress.ir.graph import Graph, Op
from mcucompress.ir.ops import op_kind
from mcucompress.quantize import fixedpoint as fp
from mcucompress.quantize.params import NamedAsInC

@dataclass(frozen=True)
class MulParams(NamedAsInC):
    """mcc_mul_params."""

    input1_offset: int
    input2_offset: int
    output_offset: int
    multiplier: int
    shift: int
    act_min: int
    act_max: int


@dataclass(frozen=True)
class CompareParams:
    pass


@dataclass(frozen=True)
class PreluParams(NamedAsInC):
    """mcc_prelu_params."""

    input_offset: int
    alpha_offset: int
    output_offset: int
    multiplier_positive: int
    shift_positive: int
    multiplier_negative: int
    shift_negative: int


def broadcast_shape(a, b) -> tuple[int, ...] | None:
    """TFLite's broadcast of two shapes, or None when they do not broadcast."""
    try:
        return tuple(int(d) for d in np.broadcast_shapes(tuple(a), tuple(b)))
    except ValueError:
        return None


def _check(graph: Graph, op: Op) -> None:
    names = (op.inputs[0], op.inputs[1], op.outputs[0])
    for name in names:
        t = graph.tensors[name]
        if t.dtype != "int8" or t.quant is None or t.quant.per_channel:
            raise McuError(f"op '{op.name}' ({op.kind}): tensor '{name}' must be int8 with one scale")
    a, b, out = (graph.tensors[n].shape for n in names)
    if broadcast_shape(a, b) != tuple(out) or len(out) > 4:
        raise McuError(f"op '{op.name}' ({op.kind}): shapes {a} and {b} do not broadcast to {out}")


def mul_params(graph: Graph, op: Op, rounding: str = "tflm") -> MulParams:
    from mcucompress.quantize.params import activation_range

    _check(graph, op)
    a, b, out = (graph.tensors[n] for n in (op.inputs[0], op.inputs[1], op.outputs[0]))
    real = float(np.float32(a.quant.scale[0])) * float(np.float32(b.quant.scale[0])) / \
        float(np.float32(out.quant.scale[0]))
    multiplier, shift = fp.quantize_multiplier(real)
    act_min, act_max = activation_range(op.attrs.get("activation", "none"), out)
    return MulParams(-int(a.quant.zero_point[0]), -int(b.quant.zero_point[0]), int(out.quant.zero_point[0]),
                     multiplier, shift, act_min, act_max)


def compare_params(graph: Graph, op: Op, rounding: str = "tflm") -> CompareParams:
    _check(graph, op)
    quants = {(float(np.float32(graph.tensors[n].quant.scale[0])), int(graph.tensors[n].quant.zero_point[0]))
              for n in (op.inputs[0], op.inputs[1], op.outputs[0])}
    if len(quants) != 1:
        raise McuError(f"op '{op.name}' ({op.kind}): inputs and output must share scale and zero point")
    return CompareParams()


def prelu_params(graph: Graph, op: Op, rounding: str = "tflm") -> PreluParams:
    """PReLU (inputs x, alpha): x for x >= 0, x * alpha below, as TFLM's two requantizations."""
    _check(graph, op)
    x, alpha, out = (graph.tensors[n] for n in (op.inputs[0], op.inputs[1], op.outputs[0]))
    if tuple(x.shape) != tuple(out.shape):
        raise McuError(f"op '{op.name}' (prelu): alpha {alpha.shape} must broadcast to the input {x.shape}")
    s_x, s_a, s_out = (float(np.float32(t.quant.scale[0])) for t in (x, alpha, out))
    m1, sh1 = fp.quantize_multiplier(s_x / s_out)
    m2, sh2 = fp.quantize_multiplier(s_x * s_a / s_out)
    return PreluParams(-int(x.quant.zero_point[0]), -int(alpha.quant.zero_point[0]), int(out.quant.zero_point[0]),
                       m1, sh1, m2, sh2)


def sub_params(graph: Graph, op: Op, rounding: str = "tflm"):
    """TFLM's SUB prepares exactly what ADD does (left shift 20, both inputs rescaled to twice
    the larger input scale, then to the output)."""
    from mcucompress.quantize.params import _add

    _check(graph, op)
    return _add(graph, op, rounding)


# -- numpy references ------------------------------------------------------------------------

def sub_reference(op: Op, p, args, out_shape, graph) -> np.ndarray:
    def scaled(x, offset, multiplier, shift):
        shifted = (x.astype(np.int64) + offset) << p.left_shift
        return fp.multiply_by_quantized_multiplier_smaller_than_one_exp(shifted, multiplier, shift)

    a = scaled(args[0], p.input1_offset, p.input1_multiplier, p.input1_shift)
    b = scaled(args[1], p.input2_offset, p.input2_multiplier, p.input2_shift)
    v = fp.multiply_by_quantized_multiplier_smaller_than_one_exp(a - b, p.output_multiplier, p.output_shift)
    return np.broadcast_to(np.clip(v + p.output_offset, p.act_min, p.act_max), out_shape).astype(np.int8)


def sub_float(graph: Graph, op: Op, a, b) -> np.ndarray:
    return fused_activation((a - b).astype(np.float32), op.attrs.get("activation", "none"))


def mul_reference(op: Op, p: MulParams, args, out_shape, graph) -> np.ndarray:
    a = args[0].astype(np.int64) + p.input1_offset
    b = args[1].astype(np.int64) + p.input2_offset
    v = fp.multiply_by_quantized_multiplier(a * b, p.multiplier, p.shift, "tflm") + p.output_offset
    return np.broadcast_to(np.clip(v, p.act_min, p.act_max), out_shape).astype(np.int8)


def compare_reference(op: Op, p: CompareParams, args, out_shape, graph) -> np.ndarray:
    pick = np.maximum if op.kind == "maximum" else np.minimum
    return np.broadcast_to(pick(args[0], args[1]), out_shape).astype(np.int8)


def prelu_reference(op: Op, p: PreluParams, args, out_shape, graph) -> np.ndarray:
    x = np.broadcast_to(args[0].astype(np.int64) + p.input_offset, out_shape)
    alpha = np.broadcast_to(args[1].astype(np.int64) + p.alpha_offset, out_shape)
    positive = fp.multiply_by_quantized_multiplier(x, p.multiplier_positive, p.shift_positive, "tflm")
    negative = fp.multiply_by_quantized_multiplier(x * alpha, p.multiplier_negative, p.shift_negative, "tflm")
    return np.clip(np.where(x >= 0, positive, negative) + p.output_offset, -128, 127).astype(np.int8)


def prelu_float(graph: Graph, op: Op, x, alpha) -> np.ndarray:
    return np.where(x >= 0, x, x * alpha).astype(np.float32)


def mul_float(graph: Graph, op: Op, a, b) -> np.ndarray:
    return fused_activation((a * b).astype(np.float32), op.attrs.get("activation", "none"))


def maximum_float(graph: Graph, op: Op, a, b) -> np.ndarray:
    return np.maximum(a, b).astype(np.float32)


def minimum_float(graph: Graph, op: Op, a, b) -> np.ndarray:
    return np.minimum(a, b).astype(np.float32)


# -- lowering to C ---------------------------------------------------------------------------

def _operands(b, op: Op):
    x1, x2 = b.graph.tensor(op.inputs[0]), b.graph.tensor(op.inputs[1])
    out = b.graph.output_tensor(op)
    for t in (x1, x2):
        if t.is_constant:  # a constant operand lives in flash, not in the arena
            return x1, x2, out, t
    return x1, x2, out, None


def _pointer(b, i: int, op: Op, t, role: str) -> str:
    return b.constant(f"op{i}_{op.kind}", role, t) if t.is_constant else b.arena(t.name)


def lower(b, i: int, op: Op) -> None:
    from mcucompress.quantize.params import kernel_params

    x1, x2, out, _ = _operands(b, op)
    p = kernel_params(b.graph, op, b.rounding)
    oid = f"op{i}_{op.kind}"
    if op.kind == "mul":
        lead = (b.struct("mcc_mul_params", f"{oid}_params", p.c_fields()),)
    elif op.kind == "prelu":
        lead = (b.struct("mcc_prelu_params", f"{oid}_params", p.c_fields()),)
    elif op.kind in ("add", "sub"):
        lead = (b.add_params(oid, p),)
    else:
        lead = ()
    b.call(op, _broadcast_function(op.kind), *lead, _dims(b, x1), _pointer(b, i, op, x1, "input1"),
           _dims(b, x2), _pointer(b, i, op, x2, "input2"), _dims(b, out), b.arena(out.name))


def _broadcast_function(kind: str) -> str:
    """The kind's broadcasting kernel: the function of its catalogue entry's broadcast/ file."""
    return next(function for function, path in op_kind(kind).kernel_sources.items() if path.startswith("broadcast/"))


def _dims(b, t) -> str:
    """Dims right-aligned to 4 (numpy / TFLite broadcasting), not batch-first as dims_of pads."""
    return b.dims_of((1,) * (4 - len(t.shape)) + tuple(t.shape))
