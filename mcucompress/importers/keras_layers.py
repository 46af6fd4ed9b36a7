"""One converter per Keras layer class, in one table (LAYER_CONVERTERS).

A converter receives the builder, the layer, its config, the IR names of its input tensors and
the Keras output shape with batch 1, and returns the IR name of the layer's output. It works for
Keras 3 and tf_keras layers alike (it only uses get_config() and get_weights()).

Activations named by a layer (Dense(activation="relu")) become separate relu/relu6/softmax ops;
the fuse_activations pass folds them into their producer, as TFLite does.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from mcucompress.errors import McuError
from mcucompress.importers.keras_builder import GraphBuilder
from mcucompress.importers.keras_ops import channel_affine

ACTIVATION_OPS = {"relu": "relu", "relu6": "relu6", "softmax": "softmax",
                  # element-wise table ops (quantize/lut_ops.py)
                  "sigmoid": "logistic", "tanh": "tanh", "elu": "elu", "hard_swish": "hard_swish",
                  "hard_silu": "hard_swish", "leaky_relu": "leaky_relu",
                  "hard_sigmoid": "hard_sigmoid"}  # relu6(x + 3) / 6, from existing ops
ACTIVATION_ATTRS = {"softmax": {"beta": 1.0}, "leaky_relu": {"alpha": 0.2}}  # Keras' default slope


def _unsupported(layer, why: str) -> McuError:
    return McuError(f"layer '{layer.name}' ({type(layer).__name__}): {why}")


def _pair(value) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    return int(value[0]), int(value[1])


def _activation_name(layer, cfg) -> str:
    act = cfg.get("activation", "linear")
    if isinstance(act, dict):  # a serialized function object
        act = act.get("config", {}).get("name") or act.get("class_name", "?")
    if act is None or act == "linear":
        return "linear"
    if act in ACTIVATION_OPS:
        return act
    raise _unsupported(layer, f"activation '{act}' is not supported "
                              f"({', '.join(['linear', *ACTIVATION_OPS])} are)")


def emit_activation(b: GraphBuilder, act: str, name: str, x: str, out_name: str, **attrs) -> str:
    """The ops of a named Keras activation applied to ``x`` (not 'linear')."""
    shape = b.shape(x)
    if act == "hard_sigmoid":  # Keras 3: relu6(x + 3) / 6
        shifted = channel_affine(b, f"{name}/plus3", x, 1.0, 3.0, shape)
        clipped = b.op("relu6", f"{name}/relu6", (shifted,), f"{name}/relu6", shape)
        return channel_affine(b, out_name, clipped, 1.0 / 6.0, 0.0, shape)
    return b.op(ACTIVATION_OPS[act], name, (x,), out_name, shape, **{**ACTIVATION_ATTRS.get(act, {}), **attrs})


def _apply_activation(b: GraphBuilder, layer, act: str, x: str) -> str:
    if act == "linear":
        return x
    return emit_activation(b, act, f"{layer.name}/{act}", x, layer.name)


def _check_channels_last(layer, cfg) -> None:
    if cfg.get("data_format", "channels_last") not in (None, "channels_last"):
        raise _unsupported(layer, "only data_format='channels_last' is supported")


def _image_input(b: GraphBuilder, layer, cfg, inputs) -> str:
    """The layer's input, checked to be a channels-last batch of images."""
    _check_channels_last(layer, cfg)
    _rank4_input(b, layer, inputs[0])
    return inputs[0]


def resolve_padding(mode: str, in_hw, kernel, stride, dilation=(1, 1)) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) exactly as TFLite resolves 'same' (extra row/column at the end)."""
    if mode == "valid":
        return 0, 0, 0, 0
    pads = []
    for size, k, s, d in zip(in_hw, kernel, stride, dilation):
        effective = (k - 1) * d + 1
        out = math.ceil(size / s)
        total = max((out - 1) * s + effective - size, 0)
        pads += [total // 2, total - total // 2]
    return tuple(pads)


def _padding(layer, cfg, in_shape, kernel, stride, dilation=(1, 1)):
    mode = cfg.get("padding", "valid")
    if mode not in ("same", "valid"):
        raise _unsupported(layer, f"padding '{mode}' is not supported")
    return resolve_padding(mode, in_shape[1:3], kernel, stride, dilation)


def _rank4_input(b, layer, x):
    if len(b.shape(x)) != 4:
        raise _unsupported(layer, f"expects an NHWC input, got shape {b.shape(x)}")


def _bias(b, layer, weights, index, channels):
    data = weights[index] if len(weights) > index else np.zeros(channels, np.float32)
    return b.constant(f"{layer.name}/bias", data)


def convert_conv2d(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    x = _image_input(b, layer, cfg, inputs)
    if cfg.get("groups", 1) != 1:
        raise _unsupported(layer, "grouped convolution is not supported")
    act = _activation_name(layer, cfg)
    weights = layer.get_weights()
    kernel = np.transpose(weights[0], (3, 0, 1, 2))  # HWIO -> OHWI
    stride, dilation = _pair(cfg["strides"]), _pair(cfg.get("dilation_rate", 1))
    w = b.constant(f"{layer.name}/weights", kernel)
    bias = _bias(b, layer, weights, 1, kernel.shape[0])
    name = layer.name if act == "linear" else f"{layer.name}/linear"
    y = b.op("conv2d", layer.name, (x, w, bias), name, out_shape, stride=stride, dilation=dilation,
             padding=_padding(layer, cfg, b.shape(x), kernel.shape[1:3], stride, dilation),
             activation="none")
    return _apply_activation(b, layer, act, y)


def convert_conv2d_transpose(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    from mcucompress.quantize.transpose_conv_ops import transpose_padding

    x = _image_input(b, layer, cfg, inputs)
    if cfg.get("output_padding") is not None or _pair(cfg.get("dilation_rate", 1)) != (1, 1):
        raise _unsupported(layer, "output_padding and dilation_rate other than 1 are not supported")
    if cfg.get("padding", "valid") not in ("same", "valid"):
        raise _unsupported(layer, f"padding '{cfg.get('padding')}' is not supported")
    act = _activation_name(layer, cfg)
    weights = layer.get_weights()
    kernel = np.transpose(weights[0], (2, 0, 1, 3))  # (kh, kw, out, in) -> OHWI
    stride = _pair(cfg["strides"])
    same = cfg["padding"] == "same"
    top, left = (transpose_padding(b.shape(x)[d], out_shape[d], kernel.shape[d], stride[d - 1], same)
                 for d in (1, 2))
    w = b.constant(f"{layer.name}/weights", kernel)
    bias = _bias(b, layer, weights, 1, kernel.shape[0])
    name = layer.name if act == "linear" else f"{layer.name}/linear"
    y = b.op("transpose_conv2d", layer.name, (x, w, bias), name, out_shape, stride=stride,
             padding=(top, 0, left, 0), activation="none")
    return _apply_activation(b, layer, act, y)


def _depthwise(b, layer, name, x, kernel_hwim, bias, stride, dilation, padding, out_shape):
    kh, kw, cin, mult = kernel_hwim.shape
    w = b.constant(f"{name}/weights", kernel_hwim.reshape(1, kh, kw, cin * mult))
    return b.op("depthwise_conv2d", name, (x, w, bias), name, out_shape, stride=stride,
                dilation=dilation, padding=padding, depth_multiplier=int(mult), activation="none")


def convert_depthwise_conv2d(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    x = _image_input(b, layer, cfg, inputs)
    act = _activation_name(layer, cfg)
    weights = layer.get_weights()
    kernel = weights[0]
    stride, dilation = _pair(cfg["strides"]), _pair(cfg.get("dilation_rate", 1))
    bias = _bias(b, layer, weights, 1, kernel.shape[2] * kernel.shape[3])
    padding = _padding(layer, cfg, b.shape(x), kernel.shape[:2], stride, dilation)
    name = layer.name if act == "linear" else f"{layer.name}/linear"
    y = _depthwise(b, layer, name, x, kernel, bias, stride, dilation, padding, out_shape)
    return _apply_activation(b, layer, act, y)


def convert_separable_conv2d(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    """Depthwise (no bias) followed by a 1x1 convolution, the way TFLite lowers it."""
    x = _image_input(b, layer, cfg, inputs)
    act = _activation_name(layer, cfg)
    weights = layer.get_weights()
    dw, pw = weights[0], weights[1]
    stride, dilation = _pair(cfg["strides"]), _pair(cfg.get("dilation_rate", 1))
    padding = _padding(layer, cfg, b.shape(x), dw.shape[:2], stride, dilation)
    mid_channels = dw.shape[2] * dw.shape[3]
    zero_bias = b.constant(f"{layer.name}/depthwise/bias", np.zeros(mid_channels, np.float32))
    mid = _depthwise(b, layer, f"{layer.name}/depthwise", x, dw, zero_bias, stride, dilation,
                     padding, tuple(out_shape[:3]) + (mid_channels,))
    w = b.constant(f"{layer.name}/pointwise/weights", np.transpose(pw, (3, 0, 1, 2)))
    bias = _bias(b, layer, weights, 2, pw.shape[3])
    name = layer.name if act == "linear" else f"{layer.name}/linear"
    y = b.op("conv2d", f"{layer.name}/pointwise", (mid, w, bias), name, out_shape, stride=(1, 1),
             dilation=(1, 1), padding=(0, 0, 0, 0), activation="none")
    return _apply_activation(b, layer, act, y)


def convert_dense(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    x = inputs[0]
    if len(b.shape(x)) != 2:
        raise _unsupported(layer, f"Dense on a rank-{len(b.shape(x))} input is not supported; "
                                  "add a Flatten before it")
    act = _activation_name(layer, cfg)
    weights = layer.get_weights()
    w = b.constant(f"{layer.name}/weights", weights[0].T)  # (in, out) -> (out, in)
    bias = _bias(b, layer, weights, 1, weights[0].shape[1])
    name = layer.name if act == "linear" else f"{layer.name}/linear"
    y = b.op("fully_connected", layer.name, (x, w, bias), name, out_shape, activation="none")
    return _apply_activation(b, layer, act, y)


def _named_weights(layer) -> dict[str, np.ndarray]:
    """A layer's weights by variable name ("values", "codes", "bias", ...)."""
    return {v.name.split("/")[-1].split(":")[0]: np.asarray(v.numpy() if hasattr(v, "numpy") else v)
            for v in layer.weights}


def _shared_dense(kind: str, shared: str, extra: tuple[str, ...], attrs):
    """HashedDense / ProductQuantizedDense (compression/shared_layers.py): their shared values
    (and codes) as they are; the op kind expands them (ir/shared_weights.py)."""
    def convert(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
        x = inputs[0]
        if len(b.shape(x)) != 2:
            raise _unsupported(layer, f"a rank-{len(b.shape(x))} input is not supported; add a Flatten before it")
        act = _activation_name(layer, cfg)
        weights = _named_weights(layer)
        missing = [name for name in (shared, *extra) if name not in weights]
        if missing:
            raise _unsupported(layer, f"weight '{missing[0]}' not found")
        names = [x, b.constant(f"{layer.name}/{shared}", weights[shared]),
                 b.constant(f"{layer.name}/bias", weights["bias"]) if "bias" in weights else None]
        for name in extra:  # integer constants, kept exact
            names.append(b.integer_constant(f"{layer.name}/{name}", weights[name]))
        out = layer.name if act == "linear" else f"{layer.name}/linear"
        y = b.op(kind, layer.name, names, out, out_shape, activation="none", **attrs(cfg))
        return _apply_activation(b, layer, act, y)
    return convert


def convert_sign_activation(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    """binary/layers.py's SignActivation (for the binary scheme)."""
    return b.op("sign", layer.name, inputs[:1], layer.name, out_shape)


def convert_lowbit(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    """binary/layers.py's BinaryDense / BinaryConv2D: the weights they deploy (``deployed()``:
    integer levels and a scale per output channel) as a float layer over levels x scale, the
    levels kept as a fourth input for the binary scheme's quantizer."""
    x = inputs[0]
    levels, scale, bias = layer.deployed()
    dense = type(layer).__name__ == "BinaryDense"
    if dense and len(b.shape(x)) != 2:
        raise _unsupported(layer, f"on a rank-{len(b.shape(x))} input is not supported; add a Flatten before it")
    levels = levels.T if dense else np.transpose(levels, (3, 0, 1, 2))  # to (out, in) / OHWI
    scale = np.asarray(scale, np.float32).reshape((-1,) + (1,) * (levels.ndim - 1))
    w = b.constant(f"{layer.name}/weights", levels.astype(np.float32) * scale)
    lv = b.constant(f"{layer.name}/levels", levels)
    bias = b.constant(f"{layer.name}/bias", bias) if bias is not None else None
    attrs = {"quantizer": layer.quantizer, "bits": int(layer.bits)}
    if dense:
        return b.op("lowbit_fully_connected", layer.name, (x, w, bias, lv), layer.name, out_shape, **attrs)
    _rank4_input(b, layer, x)
    stride = _pair(cfg["strides"])
    padding = _padding(layer, cfg, b.shape(x), levels.shape[1:3], stride)
    return b.op("lowbit_conv2d", layer.name, (x, w, bias, lv), layer.name, out_shape, stride=stride,
                dilation=(1, 1), padding=padding, **attrs)


def _pool(kind):
    def convert(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
        x = _image_input(b, layer, cfg, inputs)
        pool = _pair(cfg["pool_size"])
        stride = _pair(cfg.get("strides") or pool)
        padding = _padding(layer, cfg, b.shape(x), pool, stride)
        return b.op(kind, layer.name, (x,), layer.name, out_shape, pool=pool, stride=stride,
                    padding=padding, activation="none")
    convert.__name__ = f"convert_{kind}"
    return convert


def convert_global_average_pooling2d(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    _image_input(b, layer, cfg, inputs)
    keepdims = bool(cfg.get("keepdims", False))
    return b.op("mean", layer.name, inputs[:1], layer.name, out_shape, axes=(1, 2), keepdims=keepdims)


def convert_global_max_pooling2d(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    """A max pool whose window is the whole plane, then a reshape unless keepdims."""
    x = _image_input(b, layer, cfg, inputs)
    _, h, w, c = b.shape(x)
    keepdims = bool(cfg.get("keepdims", False))
    name = f"{layer.name}/max" if not keepdims else layer.name
    y = b.op("max_pool2d", name, (x,), name, (1, 1, 1, c), pool=(h, w), stride=(h, w),
             padding=(0, 0, 0, 0), activation="none")
    return y if keepdims else b.op("reshape", layer.name, (y,), layer.name, out_shape)


def convert_normalization(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    """(x - mean) / max(sqrt(variance), epsilon) per channel (or its inverse), as an affine map
    that the passes fold into the first layer."""
    mean = np.asarray(layer.mean, np.float64)
    std = np.maximum(np.sqrt(np.asarray(layer.variance, np.float64)), 1e-7)
    channels = out_shape[-1]
    if mean.size not in (1, channels) or std.size not in (1, channels) or \
            (mean.size == channels and mean.shape[-1] != channels):
        raise _unsupported(layer, f"normalization over axes other than the channels (mean of shape "
                                  f"{mean.shape}) is not supported")
    mean, std = mean.reshape(-1), std.reshape(-1)
    if cfg.get("invert", False):
        return channel_affine(b, layer.name, inputs[0], std, mean, out_shape)
    return channel_affine(b, layer.name, inputs[0], 1.0 / std, -mean / std, out_shape)


def convert_add(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    if len(inputs) < 2:
        raise _unsupported(layer, f"Add of {len(inputs)} tensor(s); it needs at least two")
    return _chain(b, layer, "add", inputs, out_shape, activation="none")


def convert_subtract(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    from mcucompress.quantize.broadcast_ops import broadcast_shape

    if len(inputs) != 2:
        raise _unsupported(layer, f"Subtract of {len(inputs)} tensor(s); it takes exactly two")
    if broadcast_shape(b.shape(inputs[0]), b.shape(inputs[1])) != tuple(out_shape) or len(out_shape) > 4:
        raise _unsupported(layer, f"inputs of shapes {b.shape(inputs[0])} and {b.shape(inputs[1])} do not broadcast")
    return b.op("sub", layer.name, tuple(inputs), layer.name, out_shape, activation="none")


def _chain(b: GraphBuilder, layer, kind: str, inputs, out_shape, **attrs) -> str:
    """Keras merges N inputs at once; TFLite's ops take two (broadcasting), so chain them."""
    from mcucompress.quantize.broadcast_ops import broadcast_shape

    acc = inputs[0]
    for i, other in enumerate(inputs[1:], start=1):
        shape = broadcast_shape(b.shape(acc), b.shape(other))
        if shape is None or len(shape) > 4:
            raise _unsupported(layer, f"inputs of shapes {b.shape(acc)} and {b.shape(other)} do not broadcast")
        last = i == len(inputs) - 1
        name = layer.name if last else f"{layer.name}/partial{i}"
        acc = b.op(kind, name, (acc, other), name, out_shape if last else shape, **attrs)
    return acc


def _merge(kind: str, **attrs):
    def convert(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
        if len(inputs) < 2:
            raise _unsupported(layer, f"merge of {len(inputs)} tensor(s); it needs at least two")
        return _chain(b, layer, kind, inputs, out_shape, **attrs)
    convert.__name__ = f"convert_{kind}"
    return convert


def convert_relu(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    slope = float(cfg.get("negative_slope") or 0.0)
    threshold = float(cfg.get("threshold") or 0.0)
    max_value = cfg.get("max_value")
    if slope > 0.0 and threshold == 0.0 and max_value is None:
        return b.op("leaky_relu", layer.name, inputs[:1], layer.name, out_shape, alpha=slope)
    if slope != 0.0 or threshold != 0.0 or max_value not in (None, 6, 6.0):
        raise _unsupported(layer, "only plain ReLU, ReLU6 (max_value=6) and leaky ReLU are supported")
    kind = "relu" if max_value is None else "relu6"
    return b.op(kind, layer.name, inputs[:1], layer.name, out_shape)


def convert_activation(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    act = _activation_name(layer, cfg)
    if act == "linear":
        return inputs[0]
    return emit_activation(b, act, layer.name, inputs[0], layer.name)


def convert_leaky_relu(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    slope = cfg.get("negative_slope", cfg.get("alpha", 0.3))
    if slope is None or float(slope) < 0:
        raise _unsupported(layer, f"negative slope {slope} is not supported")
    return b.op("leaky_relu", layer.name, inputs[:1], layer.name, out_shape, alpha=float(slope))


def convert_upsampling2d(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    """UpSampling2D with nearest interpolation: TFLite's RESIZE_NEAREST_NEIGHBOR as TF writes it."""
    _check_channels_last(layer, cfg)
    _rank4_input(b, layer, inputs[0])
    if cfg.get("interpolation", "nearest") != "nearest":
        raise _unsupported(layer, f"interpolation '{cfg.get('interpolation')}' is not supported (nearest is)")
    return b.op("resize_nearest", layer.name, inputs[:1], layer.name, out_shape, align_corners=False,
                half_pixel_centers=True)


def convert_prelu(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    """PReLU with its learned alpha as a constant second input (one per position, or per channel
    when shared_axes cover the spatial axes), broadcast the way TFLite's PRELU reads it."""
    alpha = np.asarray(layer.get_weights()[0], np.float32)
    return b.op("prelu", layer.name, (inputs[0], b.constant(f"{layer.name}/alpha", alpha[None])),
                layer.name, out_shape)


def convert_elu(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    if float(cfg.get("alpha", 1.0)) != 1.0:
        raise _unsupported(layer, "only alpha=1 is supported (TFLite's ELU)")
    return b.op("elu", layer.name, inputs[:1], layer.name, out_shape)


def convert_softmax(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    axis = cfg.get("axis", -1)
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if axis not in (-1, len(out_shape) - 1):
        raise _unsupported(layer, f"softmax over axis {axis} is not supported (only the last axis)")
    return b.op("softmax", layer.name, inputs[:1], layer.name, out_shape, beta=1.0)


def convert_reshape(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    return b.op("reshape", layer.name, inputs[:1], layer.name, out_shape)


def convert_zero_padding2d(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    _check_channels_last(layer, cfg)
    _rank4_input(b, layer, inputs[0])
    pad = cfg["padding"]
    (top, bottom), (left, right) = (_pair(pad[0]), _pair(pad[1])) if not isinstance(pad, int) \
        else ((pad, pad), (pad, pad))
    paddings = ((0, 0), (top, bottom), (left, right), (0, 0))
    return b.op("pad", layer.name, inputs[:1], layer.name, out_shape, paddings=paddings)


def convert_concatenate(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    axis = int(cfg.get("axis", -1)) % len(out_shape)
    return b.op("concat", layer.name, inputs, layer.name, out_shape, axis=axis)


def convert_batch_normalization(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    axis = cfg.get("axis", -1)
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if not isinstance(axis, int) or axis % len(out_shape) != len(out_shape) - 1:
        raise _unsupported(layer, "only normalization over the last (channel) axis is supported")
    channels = out_shape[-1]

    def value(var, default):
        return np.asarray(var.numpy(), np.float32) if var is not None else np.full(channels, default, np.float32)

    params = [b.constant(f"{layer.name}/{n}", value(v, d)) for n, v, d in (
        ("gamma", getattr(layer, "gamma", None), 1.0), ("beta", getattr(layer, "beta", None), 0.0),
        ("mean", layer.moving_mean, 0.0), ("var", layer.moving_variance, 1.0))]
    return b.op("batch_norm", layer.name, (inputs[0], *params), layer.name, out_shape,
                epsilon=float(cfg.get("epsilon", 1e-3)))


def convert_rescaling(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    """x * scale + offset per channel, as a channel affine map the passes fold into a neighbour."""
    return channel_affine(b, layer.name, inputs[0], cfg.get("scale", 1.0), cfg.get("offset", 0.0),
                          out_shape)


def convert_identity(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    """Layers that do nothing at inference time (Dropout and friends)."""
    return inputs[0]


Converter = Callable[..., str]

# Layer classes whose converters read several input tensors; every other layer takes one.
MULTI_INPUT_LAYERS = frozenset({"Add", "Subtract", "Concatenate", "Multiply", "Maximum", "Minimum", "EarlyExit"})

LAYER_CONVERTERS: dict[str, Converter] = {
    "Conv2D": convert_conv2d,
    "Conv2DTranspose": convert_conv2d_transpose,
    "DepthwiseConv2D": convert_depthwise_conv2d,
    "SeparableConv2D": convert_separable_conv2d,
    "Dense": convert_dense,
    "HashedDense": _shared_dense("fully_connected_hashed", "values", (), lambda cfg: {"seed": int(cfg["seed"])}),
    "ProductQuantizedDense": _shared_dense("fully_connected_pq", "codebooks", ("codes",), lambda cfg: {}),
    "MaxPooling2D": _pool("max_pool2d"),
    "AveragePooling2D": _pool("avg_pool2d"),
    "GlobalAveragePooling2D": convert_global_average_pooling2d,
    "Add": convert_add,
    "Subtract": convert_subtract,
    "ReLU": convert_relu,
    "Activation": convert_activation,
    "Softmax": convert_softmax,
    "Flatten": convert_reshape,
    "Reshape": convert_reshape,
    "ZeroPadding2D": convert_zero_padding2d,
    "Concatenate": convert_concatenate,
    "BatchNormalization": convert_batch_normalization,
    "Rescaling": convert_rescaling,
    "Normalization": convert_normalization,
    "GlobalMaxPooling2D": convert_global_max_pooling2d,
    "LeakyReLU": convert_leaky_relu,
    "Multiply": _merge("mul", activation="none"),
    "Maximum": _merge("maximum"),
    "Minimum": _merge("minimum"),
    "ELU": convert_elu,
    "PReLU": convert_prelu,
    "UpSampling2D": convert_upsampling2d,
    "Dropout": convert_identity,
    "SpatialDropout2D": convert_identity,
    "GaussianNoise": convert_identity,
    "GaussianDropout": convert_identity,
    "AlphaDropout": convert_identity,
    "ActivityRegularization": convert_identity,
    "Identity": convert_identity,
    # binary/layers.py (the binary scheme; int8 and Q-format refuse their ops)
    "SignActivation": convert_sign_activation,
    "BinaryDense": convert_lowbit,
    "BinaryConv2D": convert_lowbit,
}

def convert_early_exit(b: GraphBuilder, layer, config, inputs, out_shape) -> str:
    """EarlyExit([features, probs]) (compression/exit_layer.py) -> the early_exit op."""
    if len(inputs) != 2:
        raise McuError(f"layer '{layer.name}' (EarlyExit) takes [features, exit probabilities], got "
                       f"{len(inputs)} tensors")
    return b.op("early_exit", layer.name, inputs, layer.name, out_shape, threshold=float(config["threshold"]))


LAYER_CONVERTERS["EarlyExit"] = convert_early_exit

# 1-D layers as 2-D ops on a 1-high plane (importers/keras_layers_1d.py).
from mcucompress.importers.keras_layers_1d import LAYER_CONVERTERS_1D  # noqa: E402

LAYER_CONVERTERS.update(LAYER_CONVERTERS_1D)
