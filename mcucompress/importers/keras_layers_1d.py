"""Keras 1-D layers (Conv1D, SeparableConv1D, DepthwiseConv1D, 1-D pools) as the 2-D ops of a
1-high plane, the way TFLite lowers them: a (1, T, C) tensor is viewed as (1, 1, T, C), the
2-D op runs, and the result is viewed back as (1, T', C')."""

from __future__ import annotations

import numpy as np

from mcucompress.importers.keras_builder import GraphBuilder
from mcucompress.importers.keras_layers import (
    _activation_name, _apply_activation, _bias, _check_channels_last, _unsupported, resolve_padding)


def _single(value) -> int:
    return int(value[0]) if isinstance(value, (list, tuple)) else int(value)


def _as_plane(b: GraphBuilder, layer, x: str) -> str:
    shape = b.shape(x)
    if len(shape) != 3:
        raise _unsupported(layer, f"expects a (batch, steps, channels) input, got shape {shape}")
    return b.op("reshape", f"{layer.name}/as_plane", (x,), f"{layer.name}/as_plane",
                (1, 1, shape[1], shape[2]))


def _from_plane(b: GraphBuilder, layer, y: str, out_shape) -> str:
    return b.op("reshape", layer.name, (y,), layer.name, out_shape)


def _padding_1d(layer, cfg, steps: int, kernel: int, stride: int, dilation: int):
    mode = cfg.get("padding", "valid")
    if mode == "causal":  # everything on the left: output t sees inputs up to t
        return 0, 0, (kernel - 1) * dilation, 0
    if mode not in ("same", "valid"):
        raise _unsupported(layer, f"padding '{mode}' is not supported")
    return resolve_padding(mode, (1, steps), (1, kernel), (1, stride), (1, dilation))


def _geometry(layer, cfg, steps: int, kernel: int):
    stride, dilation = _single(cfg.get("strides", 1)), _single(cfg.get("dilation_rate", 1))
    return (1, stride), (1, dilation), _padding_1d(layer, cfg, steps, kernel, stride, dilation)


def _plane_shape(out_shape) -> tuple[int, int, int, int]:
    return (1, 1, int(out_shape[1]), int(out_shape[2]))


def convert_conv1d(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    _check_channels_last(layer, cfg)
    if cfg.get("groups", 1) != 1:
        raise _unsupported(layer, "grouped convolution is not supported")
    x = _as_plane(b, layer, inputs[0])
    act = _activation_name(layer, cfg)
    weights = layer.get_weights()
    kernel = np.transpose(weights[0], (2, 0, 1))[:, None]  # (K, I, O) -> (O, 1, K, I)
    stride, dilation, padding = _geometry(layer, cfg, b.shape(x)[2], kernel.shape[2])
    w = b.constant(f"{layer.name}/weights", kernel)
    bias = _bias(b, layer, weights, 1, kernel.shape[0])
    y = b.op("conv2d", f"{layer.name}/conv2d", (x, w, bias), f"{layer.name}/conv2d", _plane_shape(out_shape),
             stride=stride, dilation=dilation, padding=padding, activation="none")
    return _from_plane(b, layer, _apply_activation(b, layer, act, y), out_shape)


def _depthwise_1d(b, layer, cfg, x, kernel_kcm, bias, name, out_plane):
    k, cin, mult = kernel_kcm.shape
    stride, dilation, padding = _geometry(layer, cfg, b.shape(x)[2], k)
    w = b.constant(f"{name}/weights", kernel_kcm.reshape(1, 1, k, cin * mult))
    return b.op("depthwise_conv2d", name, (x, w, bias), name, out_plane, stride=stride, dilation=dilation,
                padding=padding, depth_multiplier=int(mult), activation="none")


def convert_depthwise_conv1d(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    _check_channels_last(layer, cfg)
    x = _as_plane(b, layer, inputs[0])
    act = _activation_name(layer, cfg)
    weights = layer.get_weights()
    kernel = weights[0]  # (K, C, mult)
    bias = _bias(b, layer, weights, 1, kernel.shape[1] * kernel.shape[2])
    y = _depthwise_1d(b, layer, cfg, x, kernel, bias, f"{layer.name}/depthwise", _plane_shape(out_shape))
    return _from_plane(b, layer, _apply_activation(b, layer, act, y), out_shape)


def convert_separable_conv1d(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
    _check_channels_last(layer, cfg)
    x = _as_plane(b, layer, inputs[0])
    act = _activation_name(layer, cfg)
    weights = layer.get_weights()
    dw, pw = weights[0], weights[1]  # (K, C, mult), (1, C * mult, O)
    mid = dw.shape[1] * dw.shape[2]
    zero = b.constant(f"{layer.name}/depthwise/bias", np.zeros(mid, np.float32))
    y = _depthwise_1d(b, layer, cfg, x, dw, zero, f"{layer.name}/depthwise", (1, 1, out_shape[1], mid))
    w = b.constant(f"{layer.name}/pointwise/weights", np.transpose(pw, (2, 0, 1))[:, None])
    bias = _bias(b, layer, weights, 2, pw.shape[2])
    y = b.op("conv2d", f"{layer.name}/pointwise", (y, w, bias), f"{layer.name}/pointwise",
             _plane_shape(out_shape), stride=(1, 1), dilation=(1, 1), padding=(0, 0, 0, 0), activation="none")
    return _from_plane(b, layer, _apply_activation(b, layer, act, y), out_shape)


def _pool_1d(kind: str):
    def convert(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
        _check_channels_last(layer, cfg)
        x = _as_plane(b, layer, inputs[0])
        pool = _single(cfg["pool_size"])
        stride = _single(cfg.get("strides") or pool)
        mode = cfg.get("padding", "valid")
        if mode not in ("same", "valid"):
            raise _unsupported(layer, f"padding '{mode}' is not supported")
        padding = resolve_padding(mode, (1, b.shape(x)[2]), (1, pool), (1, stride))
        y = b.op(kind, f"{layer.name}/{kind}", (x,), f"{layer.name}/{kind}", _plane_shape(out_shape),
                 pool=(1, pool), stride=(1, stride), padding=padding, activation="none")
        return _from_plane(b, layer, y, out_shape)
    convert.__name__ = f"convert_{kind}_1d"
    return convert


def _global_1d(kind: str):
    def convert(b: GraphBuilder, layer, cfg, inputs, out_shape) -> str:
        _check_channels_last(layer, cfg)
        x = _as_plane(b, layer, inputs[0])
        _, _, steps, channels = b.shape(x)
        plane_out = (1, 1, 1, channels)
        if kind == "mean":
            y = b.op("mean", f"{layer.name}/mean", (x,), f"{layer.name}/mean", plane_out, axes=(1, 2),
                     keepdims=True)
        else:
            y = b.op("max_pool2d", f"{layer.name}/max", (x,), f"{layer.name}/max", plane_out,
                     pool=(1, steps), stride=(1, steps), padding=(0, 0, 0, 0), activation="none")
        return _from_plane(b, layer, y, out_shape)
    convert.__name__ = f"convert_global_{kind}_1d"
    return convert




LAYER_CONVERTERS_1D = {
    "Conv1D": convert_conv1d,
    "DepthwiseConv1D": convert_depthwise_conv1d,
    "SeparableConv1D": convert_separable_conv1d,
    "MaxPooling1D": _pool_1d("max_pool2d"),
    "AveragePooling1D": _pool_1d("avg_pool2d"),
    "GlobalAveragePooling1D": _global_1d("mean"),
    "GlobalMaxPooling1D": _global_1d("max"),
}
