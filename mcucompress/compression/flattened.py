"""Flattened convolutions (Jin, Dundar & Culurciello 2014).

A kh x kw x C -> N convolution becomes three one-dimensional filters per output channel n:
lateral (1x1 across the C input channels, l_n), vertical (kh x 1, v_n) and horizontal (1 x kw,
h_n), i.e. each 3-D filter is the rank-1 tensor v_n (x) h_n (x) l_n. As layers: Conv2D 1x1
C -> N (no bias), DepthwiseConv2D kh x 1 (stride 1), DepthwiseConv2D 1 x kw (the stride in
both directions -- TensorFlow's depthwise convolution takes equal strides only -- the bias and
the activation), all with the original padding: kernels the exporter already has.
Multiply-accumulates per output position drop from kh kw C N to about C N + (kh + kw) N.
A strided convolution is flattened only with 'valid' padding ('same' would pad the rows
differently at stride 1).

Each filter is fitted from the original by alternating least squares (the best rank-1
approximation, started from the leading singular vectors), then the model is fine-tuned.
A layer is flattened only when that saves MACs; dilated and grouped convolutions are left alone.
"""

from __future__ import annotations

import keras
import numpy as np

from mcucompress.compression.finetune import fine_tune
from mcucompress.compression.layers import to_numpy
from mcucompress.compression.options import whole_number
from mcucompress.compression.rewrite import Replacement, rebuild
from mcucompress.errors import McuError

VERTICAL, HORIZONTAL = "_v", "_h"


def rank1_filters(kernel: np.ndarray, iterations: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vertical (kh, N), horizontal (kw, N), lateral (C, N)) with v (x) h (x) l the best rank-1
    approximation of each filter kernel[..., n] (shape kh x kw x C) found by ALS."""
    kh, kw, c, n = kernel.shape
    v, h, lat = np.zeros((kh, n)), np.zeros((kw, n)), np.zeros((c, n))
    for j in range(n):
        t = kernel[..., j].astype(np.float64)
        a = np.linalg.svd(t.reshape(kh, -1), full_matrices=False)[0][:, 0]
        b = np.linalg.svd(t.transpose(1, 0, 2).reshape(kw, -1), full_matrices=False)[0][:, 0]
        for _ in range(iterations):
            ll = np.einsum("ijk,i,j->k", t, a, b) / max((a @ a) * (b @ b), 1e-30)
            a = np.einsum("ijk,j,k->i", t, b, ll) / max((b @ b) * (ll @ ll), 1e-30)
            b = np.einsum("ijk,i,k->j", t, a, ll) / max((a @ a) * (ll @ ll), 1e-30)
        ll = np.einsum("ijk,i,j->k", t, a, b) / max((a @ a) * (b @ b), 1e-30)
        v[:, j], h[:, j], lat[:, j] = a, b, ll
    return v.astype(np.float32), h.astype(np.float32), lat.astype(np.float32)


def _positions(shape) -> int:
    return int(np.prod(shape[1:-1]))


def flattening_macs(layer) -> tuple[int, int]:
    """(MACs of the layer, MACs once flattened) per inference."""
    kh, kw = layer.kernel_size
    c, n = int(layer.input.shape[-1]), layer.filters
    h_in, w_in = int(layer.input.shape[1]), int(layer.input.shape[2])
    h_out, w_out = int(layer.output.shape[1]), int(layer.output.shape[2])
    h_vertical = h_in if layer.padding == "same" else h_in - kh + 1
    original = kh * kw * c * n * h_out * w_out
    flat = c * n * h_in * w_in + kh * n * h_vertical * w_in + kw * n * h_out * w_out
    return original, flat


def _flattenable(layer) -> bool:
    return (type(layer) is keras.layers.Conv2D and layer.groups == 1 and tuple(layer.dilation_rate) == (1, 1)
            and layer.kernel_size != (1, 1) and layer.data_format == "channels_last"
            and (layer.padding == "valid" or tuple(layer.strides) == (1, 1)))


def flattenable_layers(model) -> list[str]:
    """Conv2D layers whose flattened form needs fewer MACs."""
    return [layer.name for layer in model.layers
            if _flattenable(layer) and flattening_macs(layer)[1] < flattening_macs(layer)[0]]


def _flatten_layer(layer, iterations: int) -> Replacement:
    kernel = to_numpy(layer.kernel)
    v, h, lat = rank1_filters(kernel, iterations)
    n = layer.filters
    lateral = keras.layers.Conv2D(n, 1, use_bias=False, name=f"{layer.name}_l")
    vertical = keras.layers.DepthwiseConv2D((kernel.shape[0], 1), padding=layer.padding, use_bias=False,
                                            name=f"{layer.name}{VERTICAL}")
    horizontal = keras.layers.DepthwiseConv2D((1, kernel.shape[1]), strides=layer.strides, padding=layer.padding,
                                              use_bias=layer.use_bias, activation=layer.activation,
                                              name=layer.name)
    bias = [to_numpy(layer.bias)] if layer.use_bias else []
    return Replacement([lateral, vertical, horizontal],
                       [[lat.reshape(1, 1, -1, n)], [v.reshape(v.shape[0], 1, n, 1)],
                        [h.reshape(1, h.shape[0], n, 1)] + bias])


def flatten_convolutions(model, layers=None, iterations: int = 30):
    """The model with each named Conv2D (default: every one where it saves MACs) flattened."""
    names = flattenable_layers(model) if layers is None else list(layers)
    for name in names:
        try:
            layer = model.get_layer(name)
        except ValueError:
            raise McuError(f"no layer named {name!r} in model '{model.name}'") from None
        if not _flattenable(layer):
            raise McuError(f"layer {name!r} cannot be flattened (plain undilated Conv2D with a kernel larger "
                           "than 1x1, strided only with 'valid' padding)")
    iterations = whole_number(iterations, "flattening iterations")
    return rebuild(model, {name: _flatten_layer(model.get_layer(name), iterations) for name in names})


def flatten_pass(model, data=None, *, layers=None, iterations=30, epochs=2, **fit_options):
    """Flatten convolutions (fitted from the original filters) and fine-tune on `data`."""
    flat = flatten_convolutions(model, layers, iterations)
    return fine_tune(flat, data, epochs=epochs if data is not None else 0, **fit_options)
