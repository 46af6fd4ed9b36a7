"""Converters for Keras 3 operation nodes: ``x + 3.0``, ``keras.ops.multiply(x, c)``, ...

In a functional Keras 3 model an operator or a ``keras.ops`` call on a symbolic tensor becomes an
operation node of its own (class ``keras.src.ops.numpy.Add``, ...), whose class name may equal a
layer's (``Add``). Unlike a layer it can take constants as arguments, so its converter reads the
call's arguments in order, tensors and constants alike, and never guesses: whatever is not
understood is refused with the node's name.

Arithmetic between a tensor and a constant that is one value, or one value per channel, is a
per-channel affine map ``scale * x + shift``; it is emitted as a ``batch_norm`` op, which the
passes fold into the neighbouring convolution or dense layer (or turn into a 1x1 depthwise conv).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from mcucompress.errors import McuError
from mcucompress.importers.keras_builder import GraphBuilder


class TensorArg(str):
    """An argument that is a graph tensor (its IR name), as opposed to a constant."""


def is_keras_op(layer) -> bool:
    """A Keras 3 operation node (keras.ops.* or an operator on a KerasTensor), not a layer."""
    return type(layer).__module__.startswith("keras.src.ops.")


def op_label(layer) -> str:
    return f"layer '{layer.name}' (keras.ops.{type(layer).__name__})"


def _refuse(layer, why: str) -> McuError:
    return McuError(f"{op_label(layer)}: {why}")


def channel_affine(b: GraphBuilder, name: str, x: str, scale, shift, out_shape) -> str:
    """y = scale * x + shift with one scale and shift per channel (last axis), as a batch_norm
    (mean 0, variance 1, epsilon 0) that fold_batchnorm merges into a neighbour."""
    channels = out_shape[-1]
    scale = np.broadcast_to(np.asarray(scale, np.float32), (channels,))
    shift = np.broadcast_to(np.asarray(shift, np.float32), (channels,))
    params = [b.constant(f"{name}/{n}", v) for n, v in (
        ("gamma", scale), ("beta", shift), ("mean", np.zeros(channels)), ("var", np.ones(channels)))]
    return b.op("batch_norm", name, (x, *params), name, out_shape, epsilon=0.0)


def _per_channel(layer, value, out_shape) -> np.ndarray:
    """A constant operand as one float per channel, or a refusal if it varies along other axes."""
    try:
        c = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise _refuse(layer, f"constant operand of type {type(value).__name__} is not supported") from None
    if c.ndim > len(out_shape) or any(d != 1 for d in c.shape[:-1]) or \
            (c.ndim and c.shape[-1] not in (1, out_shape[-1])):
        raise _refuse(layer, f"a constant of shape {c.shape} that varies along other axes than the "
                             f"channels (output {tuple(out_shape)}) is not supported")
    if not np.isfinite(c).all():
        raise _refuse(layer, "constant operand is not finite")
    return np.broadcast_to(c.reshape(-1) if c.ndim else c, (out_shape[-1],))


def _operands(layer, args, kwargs, count: int) -> list:
    if kwargs:
        raise _refuse(layer, f"keyword arguments {sorted(kwargs)} are not supported")
    if len(args) != count:
        raise _refuse(layer, f"expected {count} arguments, got {len(args)}")
    return list(args)


def _tensor_and_constant(b, layer, args, kwargs, out_shape):
    """(tensor, constant per channel, tensor_first) for a binary op with exactly one tensor."""
    lhs, rhs = _operands(layer, args, kwargs, 2)
    tensors = [a for a in (lhs, rhs) if isinstance(a, TensorArg)]
    if len(tensors) != 1:
        return None
    x = tensors[0]
    if b.shape(x) != tuple(out_shape):
        raise _refuse(layer, f"the constant operand broadcasts the tensor {b.shape(x)} to "
                             f"{tuple(out_shape)}; this is not supported")
    tensor_first = isinstance(lhs, TensorArg)
    return x, _per_channel(layer, rhs if tensor_first else lhs, out_shape), tensor_first


def _two_tensor_op(b, layer, args, kwargs, out_shape, kind: str, what: str, **attrs) -> str:
    """Op ``kind`` on two tensor operands that broadcast (TFLite's rules) to the output shape."""
    from mcucompress.quantize.broadcast_ops import broadcast_shape

    lhs, rhs = _operands(layer, args, kwargs, 2)
    if not (isinstance(lhs, TensorArg) and isinstance(rhs, TensorArg)):
        raise _refuse(layer, f"{what} needs two tensors or a tensor and a constant")
    if broadcast_shape(b.shape(lhs), b.shape(rhs)) != tuple(out_shape) or len(out_shape) > 4:
        raise _refuse(layer, f"{what} of tensors of shapes {b.shape(lhs)} and {b.shape(rhs)} "
                             f"does not broadcast to {tuple(out_shape)}")
    return b.op(kind, layer.name, (lhs, rhs), layer.name, out_shape, **attrs)


def convert_add(b: GraphBuilder, layer, args, kwargs, out_shape) -> str:
    found = _tensor_and_constant(b, layer, args, kwargs, out_shape)
    if found is not None:
        x, c, _ = found
        return channel_affine(b, layer.name, x, 1.0, c, out_shape)
    return _two_tensor_op(b, layer, args, kwargs, out_shape, "add", "addition", activation="none")


def convert_subtract(b: GraphBuilder, layer, args, kwargs, out_shape) -> str:
    found = _tensor_and_constant(b, layer, args, kwargs, out_shape)
    if found is None:
        return _two_tensor_op(b, layer, args, kwargs, out_shape, "sub", "subtraction", activation="none")
    x, c, tensor_first = found
    if tensor_first:  # x - c
        return channel_affine(b, layer.name, x, 1.0, -c, out_shape)
    return channel_affine(b, layer.name, x, -1.0, c, out_shape)  # c - x


def convert_multiply(b: GraphBuilder, layer, args, kwargs, out_shape) -> str:
    found = _tensor_and_constant(b, layer, args, kwargs, out_shape)
    if found is None:
        return _two_tensor_op(b, layer, args, kwargs, out_shape, "mul", "multiplication", activation="none")
    x, c, _ = found
    return channel_affine(b, layer.name, x, c, 0.0, out_shape)


def convert_divide(b: GraphBuilder, layer, args, kwargs, out_shape) -> str:
    found = _tensor_and_constant(b, layer, args, kwargs, out_shape)
    if found is None or not found[2]:
        raise _refuse(layer, "only division of a tensor by a constant is supported")
    x, c, _ = found
    if np.any(c == 0):
        raise _refuse(layer, "division by zero")
    return channel_affine(b, layer.name, x, 1.0 / c, 0.0, out_shape)


def convert_negative(b: GraphBuilder, layer, args, kwargs, out_shape) -> str:
    (x,) = _operands(layer, args, kwargs, 1)
    if not isinstance(x, TensorArg):
        raise _refuse(layer, "negation of a constant is not supported")
    return channel_affine(b, layer.name, x, -1.0, 0.0, out_shape)


def _compare(kind: str):
    def convert(b: GraphBuilder, layer, args, kwargs, out_shape) -> str:
        lhs, rhs = _operands(layer, args, kwargs, 2)
        constants = [a for a in (lhs, rhs) if not isinstance(a, TensorArg)]
        if constants:  # maximum(x, 0) is a ReLU; other constants would need a constant tensor
            x = lhs if isinstance(lhs, TensorArg) else rhs
            c = np.asarray(constants[0], np.float64)
            if kind == "maximum" and c.size == 1 and float(c) == 0.0 and b.shape(x) == tuple(out_shape):
                return b.op("relu", layer.name, (x,), layer.name, out_shape)
            raise _refuse(layer, f"{kind} with a constant other than maximum(x, 0) is not supported")
        return _two_tensor_op(b, layer, args, kwargs, out_shape, kind, kind)
    convert.__name__ = f"convert_{kind}"
    return convert


def _unary(kind: str, **attrs):
    def convert(b: GraphBuilder, layer, args, kwargs, out_shape) -> str:
        (x,) = _operands(layer, args, kwargs, 1)
        if not isinstance(x, TensorArg):
            raise _refuse(layer, "expects a tensor argument")
        return b.op(kind, layer.name, (x,), layer.name, out_shape, **attrs)
    convert.__name__ = f"convert_{kind}"
    return convert


def convert_softmax(b: GraphBuilder, layer, args, kwargs, out_shape) -> str:
    axis = kwargs.pop("axis", -1) if isinstance(kwargs, dict) else -1
    if len(args) == 2:
        args, axis = args[:1], args[1]
    if axis not in (-1, len(out_shape) - 1):
        raise _refuse(layer, f"softmax over axis {axis} is not supported (only the last axis)")
    return _unary("softmax", beta=1.0)(b, layer, args, kwargs, out_shape)


Converter = Callable[..., str]

OP_CONVERTERS: dict[str, Converter] = {
    "Add": convert_add,
    "Subtract": convert_subtract,
    "Multiply": convert_multiply,
    "Divide": convert_divide,
    "TrueDivide": convert_divide,
    "Negative": convert_negative,
    "Relu": _unary("relu"),
    "Relu6": _unary("relu6"),
    "Softmax": convert_softmax,
    # element-wise table ops (quantize/lut_ops.py)
    "Sigmoid": _unary("logistic"),
    "Tanh": _unary("tanh"),
    "HardSwish": _unary("hard_swish"),
    "HardSilu": _unary("hard_swish"),
    "Elu": _unary("elu"),
    "Maximum": _compare("maximum"),
    "Minimum": _compare("minimum"),
}


def convert_keras_op(b: GraphBuilder, layer, node, tensor_names: dict, out_shape) -> str:
    """Converts one operation node; ``tensor_names`` maps id(KerasTensor) -> IR name."""
    converter = OP_CONVERTERS.get(type(layer).__name__)
    if converter is None:
        raise McuError(f"{op_label(layer)} is not supported")
    arguments = getattr(node, "arguments", None)
    if arguments is None:
        raise McuError(f"{op_label(layer)}: its call arguments are not recorded by this Keras version")

    def arg(value):
        if id(value) in tensor_names:
            return TensorArg(tensor_names[id(value)])
        if hasattr(value, "_keras_history"):
            raise _refuse(layer, "a tensor argument could not be traced")
        if isinstance(value, (list, tuple, dict)):
            raise _refuse(layer, f"a {type(value).__name__} argument is not supported")
        return value

    args = [arg(a) for a in arguments.args]
    kwargs = {k: arg(v) for k, v in arguments.kwargs.items()}
    return converter(b, layer, args, kwargs, out_shape)
