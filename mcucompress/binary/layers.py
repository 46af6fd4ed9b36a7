"""Keras 3 layers for training binary, ternary and low-bit networks.

- ``SignActivation``: BNN activation, sign in the forward pass (sign(0) = +1) and the hard-tanh
  straight-through estimator in the backward pass (gradient passed where |x| <= 1, cancelled
  elsewhere).
- ``BinaryDense`` / ``BinaryConv2D``: a full-precision kernel is trained (BinaryConnect: clipped
  to [-1, 1] after every update) and quantized in the forward pass with a straight-through
  gradient. Weight quantizers: ``"binary"`` sign(W), scaled per output channel by
  alpha = mean|W| (XNOR-Net) when ``scale=True``; ``"ternary"`` (TWN) 0 where
  |W| <= 0.7 mean|W|, else +-alpha with alpha the mean |W| above that threshold; ``"dorefa"``
  k-bit DoReFa weights (``bits``), deployed as k sign planes (see binary/kernel_params.py).
- ``rounding="stochastic"`` (Gupta et al. 2015) rounds while training up or down at random with
  the probability of the distance to the other level, so the rounding is unbiased
  (E[round(x)] = x) and updates smaller than one step still move the weights on average: DoReFa
  levels are floor(t * (2^k - 1) + u) with u ~ U[0, 1); binary weights are +1 with probability
  clip((w + 1) / 2, 0, 1) (BinaryConnect's stochastic binarization). Inference and deployment
  always round to nearest. Ternary weights have no stochastic form here.

The first and last layers of a binary network stay ordinary Keras layers (int8 once deployed).
"""

from __future__ import annotations

import keras
from keras import ops

WEIGHT_QUANTIZERS = ("binary", "ternary", "dorefa")
ROUNDINGS = ("nearest", "stochastic")
TWN_DELTA = 0.7


def sign(x):
    """+1 where x >= 0, else -1 (never 0, unlike ops.sign)."""
    return ops.where(x >= 0, ops.ones_like(x), -ops.ones_like(x))


def ste_sign(x):
    """Sign forward; backward the gradient of hard-tanh, clip(x, -1, 1)."""
    clipped = ops.clip(x, -1.0, 1.0)
    return clipped + ops.stop_gradient(sign(x) - clipped)


def _channel_mean(values, axes):
    return ops.mean(values, axis=axes, keepdims=True)


def quantize_weights(w, quantizer: str, scale: bool = True, bits: int = 2, noise=None):
    """(quantized weights as real values, integer levels) of a kernel whose last axis is the
    output channel. Levels: binary {-1, +1}, ternary {-1, 0, +1}, dorefa odd integers.

    `noise` (uniform [0, 1), the kernel's shape) makes the rounding stochastic."""
    axes = tuple(range(len(w.shape) - 1))
    magnitude = ops.abs(w)
    if noise is not None and quantizer == "ternary":
        raise ValueError("stochastic rounding applies to binary and dorefa weights, not ternary")
    if quantizer == "binary":
        if noise is None:
            levels = sign(w)
        else:  # +1 with probability clip((w + 1) / 2, 0, 1)
            levels = sign(ops.clip((w + 1.0) / 2.0, 0.0, 1.0) - noise - 1e-7)
        alpha = _channel_mean(magnitude, axes) if scale else ops.ones_like(_channel_mean(w, axes))
        return levels * alpha, levels
    if quantizer == "ternary":
        delta = TWN_DELTA * _channel_mean(magnitude, axes)
        mask = ops.cast(magnitude > delta, w.dtype)
        alpha = ops.sum(magnitude * mask, axis=axes, keepdims=True) / ops.maximum(
            ops.sum(mask, axis=axes, keepdims=True), 1.0)
        levels = ops.sign(w) * mask
        return levels * (alpha if scale else ops.ones_like(alpha)), levels
    if quantizer == "dorefa":
        steps = float(2 ** bits - 1)
        t = ops.tanh(w)
        t = t / (2.0 * ops.max(ops.abs(t))) + 0.5
        q = ops.round(t * steps) if noise is None else ops.minimum(ops.floor(t * steps + noise), steps)
        return 2.0 * q / steps - 1.0, 2.0 * q - steps
    raise ValueError(f"unknown weight quantizer '{quantizer}'; expected one of {WEIGHT_QUANTIZERS}")


def _straight_through(w, quantized):
    return w + ops.stop_gradient(quantized - w)


@keras.saving.register_keras_serializable(package="mcucompress")
class ClipWeights(keras.constraints.Constraint):
    """BinaryConnect: keep the full-precision weights in [-limit, limit]."""

    def __init__(self, limit: float = 1.0):
        self.limit = float(limit)

    def __call__(self, w):
        return ops.clip(w, -self.limit, self.limit)

    def get_config(self):
        return {"limit": self.limit}


@keras.saving.register_keras_serializable(package="mcucompress")
class SignActivation(keras.layers.Layer):
    """Binary activation (BNN): sign forward, hard-tanh straight-through gradient."""

    def call(self, x):
        return ste_sign(x)


class _QuantizedKernel(keras.layers.Layer):
    def __init__(self, quantizer: str = "binary", scale: bool = True, bits: int = 2,
                 use_bias: bool = False, rounding: str = "nearest", seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if quantizer not in WEIGHT_QUANTIZERS:
            raise ValueError(f"unknown weight quantizer '{quantizer}'; expected one of {WEIGHT_QUANTIZERS}")
        if rounding not in ROUNDINGS or (rounding == "stochastic" and quantizer == "ternary"):
            raise ValueError(f"rounding must be one of {ROUNDINGS} (stochastic: binary and dorefa only), "
                             f"got '{rounding}' for '{quantizer}'")
        self.quantizer, self.scale, self.bits, self.use_bias = quantizer, bool(scale), int(bits), bool(use_bias)
        self.rounding, self.seed = rounding, seed
        self.seed_generator = keras.random.SeedGenerator(seed) if rounding == "stochastic" else None

    def _add_kernel(self, shape, units):
        self.kernel = self.add_weight(name="kernel", shape=shape, initializer="glorot_uniform",
                                      constraint=ClipWeights(1.0))
        self.bias = self.add_weight(name="bias", shape=(units,), initializer="zeros") if self.use_bias else None

    def quantized_kernel(self, training=False):
        noise = None
        if training and self.seed_generator is not None:
            noise = keras.random.uniform(ops.shape(self.kernel), seed=self.seed_generator, dtype=self.kernel.dtype)
        quantized, _ = quantize_weights(self.kernel, self.quantizer, self.scale, self.bits, noise)
        return _straight_through(self.kernel, quantized)

    def deployed(self):
        """numpy (integer levels, per-channel scale, bias or None) of the trained kernel."""
        quantized, levels = quantize_weights(ops.convert_to_tensor(self.kernel), self.quantizer,
                                             self.scale, self.bits)
        q, lv = ops.convert_to_numpy(quantized), ops.convert_to_numpy(levels)
        axes = tuple(range(lv.ndim - 1))
        nonzero = (lv != 0).sum(axis=axes)
        alpha = (q * lv).sum(axis=axes) / (lv * lv).sum(axis=axes).clip(min=1)
        alpha[nonzero == 0] = 0.0
        bias = ops.convert_to_numpy(self.bias) if self.bias is not None else None
        return lv.astype("int64"), alpha, bias

    def get_config(self):
        return {**super().get_config(), "quantizer": self.quantizer, "scale": self.scale,
                "bits": self.bits, "use_bias": self.use_bias, "rounding": self.rounding, "seed": self.seed}


@keras.saving.register_keras_serializable(package="mcucompress")
class BinaryDense(_QuantizedKernel):
    """Dense layer with binary (default), ternary or DoReFa k-bit weights."""

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape):
        self._add_kernel((int(input_shape[-1]), self.units), self.units)

    def call(self, x, training=False):
        y = ops.matmul(x, self.quantized_kernel(training))
        return y + self.bias if self.bias is not None else y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="mcucompress")
class BinaryConv2D(_QuantizedKernel):
    """2-D convolution (NHWC) with binary (default), ternary or DoReFa k-bit weights."""

    def __init__(self, filters: int, kernel_size, strides=(1, 1), padding: str = "valid", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = tuple(kernel_size) if isinstance(kernel_size, (tuple, list)) else (kernel_size,) * 2
        self.strides = tuple(strides) if isinstance(strides, (tuple, list)) else (strides,) * 2
        if padding not in ("valid", "same"):
            raise ValueError("padding must be 'valid' or 'same'")
        self.padding = padding

    def build(self, input_shape):
        self._add_kernel(self.kernel_size + (int(input_shape[-1]), self.filters), self.filters)

    def call(self, x, training=False):
        y = ops.conv(x, self.quantized_kernel(training), strides=self.strides, padding=self.padding)
        return y + self.bias if self.bias is not None else y

    def compute_output_shape(self, input_shape):
        size = []
        for n, k, s in zip(input_shape[1:3], self.kernel_size, self.strides):
            size.append(None if n is None else (-(-n // s) if self.padding == "same" else (n - k) // s + 1))
        return (input_shape[0], *size, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding}
