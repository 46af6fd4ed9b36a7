"""A trained Keras binary network -> an IR Graph of int8 and binary ops.

Supported layer sequences (Sequential order), where BN is an optional BatchNormalization:

  Dense | Conv2D, BN, SignActivation          first layer: int8 op (BN folded) + binarize
  BinaryDense | BinaryConv2D, BN, SignActivation   binary op, BN + sign folded into integer
                                                   thresholds (channels with a negative slope
                                                   get their weight bits inverted)
  Dense, BN                                   on sign inputs: unpack_bits + int8 fully_connected
  Flatten / Reshape to a vector, Dropout, a final softmax (dropped: the graph outputs logits)

int8 layers follow TensorFlow Lite's conventions (per-channel symmetric weights, int32 biases,
asymmetric activations calibrated on ``calib_x``), so the int8 reference and kernels run them.
"""

from __future__ import annotations

import numpy as np

from mcucompress.binary import build
from mcucompress.binary.packing import pack_bits
from mcucompress.binary.params import DEFAULT_POPCOUNT, POPCOUNTS
from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor
from mcucompress.quantize.ptq import INT32_MAX, INT32_MIN, asymmetric_quant, symmetric_per_channel

NEVER, ALWAYS = 1 << 30, -(1 << 30)  # thresholds of channels whose sign is constant
ONE = QuantParams((1.0,), (0,))      # +-1 activations as int8


class _State:
    """The graph being built and where the Keras computation currently stands."""

    def __init__(self, graph_input: Tensor, calib: np.ndarray, popcount: str):
        self.tensors = {graph_input.name: graph_input}
        self.ops: list[Op] = []
        self.cur = graph_input.name
        self.domain = "int8"           # "int8" or "bits" (packed signs)
        self.shape = graph_input.shape  # logical (unpacked) shape, batch 1
        self.flattened = False          # bits whose Keras view is flat but memory per pixel
        self.act = calib                # float activations of the calibration set
        self.popcount = popcount
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def add(self, op: Op, *new: Tensor) -> None:
        for t in new:
            self.tensors[t.name] = t
        self.ops.append(op)


def _layer_type(layer) -> str:
    return type(layer).__name__


def _is_softmax(layer) -> bool:
    kind = _layer_type(layer)
    return kind == "Softmax" or (kind == "Activation" and getattr(layer.activation, "__name__", "") == "softmax")


def _bn_affine(bn, channels: int):
    """(slope, offset) per channel of an inference-mode BatchNormalization (identity if None)."""
    if bn is None:
        return np.ones(channels), np.zeros(channels)
    axis = bn.axis if isinstance(bn.axis, int) else list(bn.axis)[0]
    if axis not in (-1, len(bn.input.shape) - 1):
        raise McuError(f"layer '{bn.name}': only batch normalization over the last axis is supported")
    gamma = np.asarray(bn.gamma.numpy() if bn.gamma is not None else np.ones(channels), np.float64)
    beta = np.asarray(bn.beta.numpy() if bn.beta is not None else np.zeros(channels), np.float64)
    mean = np.asarray(bn.moving_mean.numpy(), np.float64)
    var = np.asarray(bn.moving_variance.numpy(), np.float64)
    slope = gamma / np.sqrt(var + bn.epsilon)
    return slope, beta - mean * slope


def _same_padding(size, kernel, stride) -> tuple[int, int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _conv_geometry(layer, in_hw, kernel_hw):
    strides = tuple(int(s) for s in layer.strides)
    if getattr(layer, "dilation_rate", (1, 1)) not in ((1, 1), [1, 1], 1):
        raise McuError(f"layer '{layer.name}': dilated convolutions are not supported")
    if layer.padding == "same":
        (t, b), (l, r) = (_same_padding(in_hw[i], kernel_hw[i], strides[i]) for i in range(2))
    else:
        t = b = l = r = 0
    out_hw = tuple((in_hw[i] + (t + b, l + r)[i] - kernel_hw[i]) // strides[i] + 1 for i in range(2))
    return strides, (t, b, l, r), out_hw


def _float_linear(layer, x: np.ndarray) -> np.ndarray:
    """The layer's affine output (no activation) in float64."""
    from keras import ops

    kernel = np.asarray(layer.kernel.numpy(), np.float64)
    if _layer_type(layer) == "Dense":
        y = x.reshape(len(x), -1) @ kernel
    else:
        y = np.asarray(ops.convert_to_numpy(ops.conv(x.astype(np.float32), kernel.astype(np.float32),
                                                     strides=layer.strides, padding=layer.padding)),
                       np.float64)
    return y + np.asarray(layer.bias.numpy(), np.float64) if layer.bias is not None else y


def _sign_quant(y: np.ndarray) -> QuantParams:
    """Output quantization of an int8 layer whose output only feeds a sign: zero point 0 and a
    scale 256x finer than the range needs, so that the sign of nearly every accumulator survives
    requantization (saturation does not change a sign)."""
    peak = float(np.abs(y).max()) or 1.0
    return QuantParams((float(np.float32(peak / (127 * 256))),), (0,))


def _int8_layer(s: _State, layer, bn, x_quant: QuantParams, signed: bool, last: bool) -> None:
    """Quantize a float Dense/Conv2D (+ folded BN) applied to s.cur."""
    y = _float_linear(layer, s.act)
    channels = y.shape[-1]
    slope, offset = _bn_affine(bn, channels)
    y = y * slope + offset
    kernel = np.asarray(layer.kernel.numpy(), np.float64) * slope
    bias = (np.asarray(layer.bias.numpy(), np.float64) if layer.bias is not None else 0.0) * slope + offset
    if _layer_type(layer) == "Dense":
        w_float, kind, attrs = kernel.T, "fully_connected", {}
        out_shape = (1, channels)
    else:
        w_float, kind = kernel.transpose(3, 0, 1, 2), "conv2d"  # OHWI
        strides, padding, out_hw = _conv_geometry(layer, s.shape[1:3], kernel.shape[:2])
        attrs = {"stride": strides, "dilation": (1, 1), "padding": padding}
        out_shape = (1,) + out_hw + (channels,)
    activation = getattr(layer, "activation", None)
    act_name = getattr(activation, "__name__", "linear")
    if act_name not in ("linear", "relu", "softmax") or (act_name == "softmax" and not last):
        raise McuError(f"layer '{layer.name}': activation '{act_name}' is not supported here")
    if act_name != "linear" and (bn is not None or signed):
        raise McuError(f"layer '{layer.name}': an activation before BatchNormalization or "
                       "SignActivation is not supported (use activation=None)")
    if act_name == "relu":
        y = np.maximum(y, 0.0)
    attrs["activation"] = "relu" if act_name == "relu" else "none"
    s.act = y
    q, scales = symmetric_per_channel(w_float, 0)
    bias_scales = (np.float64(x_quant.scale[0]) * scales.astype(np.float64)).astype(np.float32)
    qb = np.broadcast_to(bias, (channels,)) / bias_scales.astype(np.float64)
    qb = np.clip(np.sign(qb) * np.floor(np.abs(qb) + 0.5), INT32_MIN, INT32_MAX).astype(np.int32)
    stem = s.name(kind)
    w = Tensor(f"{stem}_w", q.shape, "int8", QuantParams(tuple(float(v) for v in scales), (0,) * channels, 0), q)
    b = Tensor(f"{stem}_b", (channels,), "int32",
               QuantParams(tuple(float(v) for v in bias_scales), (0,) * channels, 0), qb)
    quant = _sign_quant(y) if signed else asymmetric_quant(float(y.min()), float(y.max()))
    out = Tensor(f"{stem}_out", out_shape, "int8", quant)
    s.add(Op(kind, layer.name, (s.cur, w.name, b.name), (out.name,), attrs), w, b, out)
    s.cur, s.domain, s.shape = out.name, "int8", out_shape


def _binarize(s: _State, layer_name: str) -> None:
    """int8 -> signs: bit = real value >= 0, i.e. q >= zero point."""
    x = s.tensors[s.cur]
    outer = x.shape[:-1]
    out = build.packed_tensor(s.name("bits"), outer, x.shape[-1])
    s.add(build.binarize_op(f"{layer_name}_sign", s.cur, out.name, int(x.quant.zero_point[0])), out)
    s.cur, s.domain = out.name, "bits"
    s.act = np.where(s.act >= 0, 1.0, -1.0)


def _unpack(s: _State, layer_name: str) -> None:
    """Signs -> int8 +-1 (flattened when the Keras view is flat)."""
    out = Tensor(s.name("signs"), s.shape, "int8", ONE)
    s.add(build.unpack_op(f"{layer_name}_unpack", s.cur, out.name), out)
    s.cur, s.domain = out.name, "int8"
    if s.flattened:
        flat = Tensor(s.name("flat"), (1, int(np.prod(s.shape))), "int8", ONE)
        s.add(Op("reshape", f"{layer_name}_flatten", (s.cur,), (flat.name,), {}), flat)
        s.cur, s.shape, s.flattened = flat.name, flat.shape, False


def _thresholds(alpha, bias, slope, offset):
    """bit = slope * (alpha * dot + bias) + offset >= 0  ->  (flip, integer threshold) per channel,
    with dot' = -dot where flip, so that bit = dot' >= threshold."""
    k = slope * alpha
    c = slope * bias + offset
    flip = k < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        thr = np.ceil(-c / np.abs(k))
    thr = np.where(k == 0, np.where(c >= 0, ALWAYS, NEVER), np.clip(np.nan_to_num(thr), ALWAYS, NEVER))
    return flip, thr.astype(np.int64)


def _binary_layer(s: _State, layer, bn) -> None:
    if s.domain != "bits":
        raise McuError(f"layer '{layer.name}': a binary layer needs sign inputs (put SignActivation before it)")
    levels, alpha, bias = layer.deployed()
    planes = layer.bits if layer.quantizer == "dorefa" else 1
    channels = levels.shape[-1]
    slope, offset = _bn_affine(bn, channels)
    flip, thr = _thresholds(alpha.astype(np.float64), np.zeros(channels) if bias is None else bias, slope, offset)
    levels = np.where(flip, -levels, levels)
    ternary = layer.quantizer == "ternary"
    stem = s.name("binary")
    if _layer_type(layer) == "BinaryDense":
        if s.flattened:
            pixels, c = int(np.prod(s.shape[1:-1])), s.shape[-1]
        else:
            pixels, c = 1, int(np.prod(s.shape[1:]))
        rows = levels.T.reshape(channels, pixels, c)
        if ternary:
            bit_planes = [rows > 0, rows != 0]
        else:  # binary: one plane; k-bit: plane b holds bit b of (level + 2^k - 1) / 2
            q = (rows + 2 ** planes - 1) // 2
            bit_planes = [((q >> b) & 1).astype(bool) for b in range(planes)]
        packed = np.concatenate([pack_bits(p).reshape(channels, -1) for p in bit_planes], axis=-1)
        out_shape = (1, channels)
        op_fn = lambda x, w, t, o: build.fc_op(layer.name, x, w, t, o, pixels * c, ternary, s.popcount,  # noqa: E731
                                               planes)
    else:
        if s.flattened or len(s.shape) != 4:
            raise McuError(f"layer '{layer.name}': BinaryConv2D needs an NHWC input")
        ohwi = levels.transpose(3, 0, 1, 2)
        packed = build.pack_levels(ohwi, planes) if planes > 1 else build.pack_weights(ohwi, ternary)
        strides, padding, out_hw = _conv_geometry(layer, s.shape[1:3], levels.shape[:2])
        out_shape = (1,) + out_hw + (channels,)
        in_c = s.shape[-1]
        op_fn = lambda x, w, t, o: build.conv_op(layer.name, x, w, t, o, in_c, strides, padding,  # noqa: E731
                                                 ternary, s.popcount, planes)
    w = build.weights_tensor(f"{stem}_w", packed)
    t = build.thresholds_tensor(f"{stem}_t", thr)
    out = build.packed_tensor(f"{stem}_out", out_shape[:-1], channels)
    s.add(op_fn(s.cur, w.name, t.name, out.name), w, t, out)
    s.cur, s.shape, s.flattened = out.name, out_shape, False


def _keras_forward(layers, x):
    from keras import ops

    for layer in layers:
        if layer is not None:
            x = np.asarray(ops.convert_to_numpy(layer(x.astype(np.float32), training=False)))
    return x


def convert(model, calib_x, popcount: str = DEFAULT_POPCOUNT) -> Graph:
    """The IR Graph of a trained binary network (see the module docstring), calibrated on
    ``calib_x`` (float inputs, batch first, as the model takes them)."""
    if popcount not in POPCOUNTS:
        raise McuError(f"unknown popcount '{popcount}'; expected one of {', '.join(POPCOUNTS)}")
    calib = np.asarray(calib_x, dtype=np.float32)
    in_shape = tuple(int(d) for d in model.input_shape[1:])
    if calib.shape[1:] != in_shape or len(calib) == 0:
        raise McuError(f"calibration data has shape {calib.shape}; the model input needs (N, {in_shape})")
    x = Tensor("input", (1,) + in_shape, "int8", asymmetric_quant(float(calib.min()), float(calib.max())))
    s = _State(x, calib.astype(np.float64), popcount)
    layers = [layer for layer in model.layers if _layer_type(layer) not in ("InputLayer", "Dropout")]
    i = 0
    while i < len(layers):
        layer, kind = layers[i], _layer_type(layers[i])
        nxt = layers[i + 1] if i + 1 < len(layers) else None
        bn = nxt if nxt is not None and _layer_type(nxt) == "BatchNormalization" else None
        after = layers[i + (2 if bn else 1)] if i + (2 if bn else 1) < len(layers) else None
        signed = after is not None and _layer_type(after) == "SignActivation"
        if kind in ("Flatten", "Reshape"):
            if s.domain == "int8":
                flat = Tensor(s.name("flat"), (1, int(np.prod(s.shape[1:]))), "int8", s.tensors[s.cur].quant)
                s.add(Op("reshape", layer.name, (s.cur,), (flat.name,), {}), flat)
                s.cur, s.shape = flat.name, flat.shape
            else:
                s.flattened = len(s.shape) > 2
            s.act = s.act.reshape(len(s.act), -1)
            i += 1
        elif kind in ("Dense", "Conv2D"):
            if s.domain == "bits":
                _unpack(s, layer.name)
            end = i + 1 + (bn is not None) + signed
            last = end == len(layers) or (end == len(layers) - 1 and _is_softmax(layers[end]))
            _int8_layer(s, layer, bn, s.tensors[s.cur].quant, signed, last)
            if signed:
                _binarize(s, layer.name)
            i += 1 + (bn is not None) + signed
        elif kind in ("BinaryDense", "BinaryConv2D"):
            if not signed:
                raise McuError(f"layer '{layer.name}': a binary layer must be followed by "
                               "[BatchNormalization,] SignActivation (its output is binarized)")
            _binary_layer(s, layer, bn)
            s.act = _keras_forward([layer, bn, after], s.act)
            i += 2 + (bn is not None)
        elif kind == "SignActivation" and s.domain == "int8":
            _binarize(s, layer.name)
            i += 1
        elif nxt is None and _is_softmax(layer):
            i += 1  # the graph outputs logits; argmax is unchanged
        else:
            raise McuError(f"layer '{layer.name}' ({kind}) is not supported in a binary network here")
    if s.domain == "bits":
        _unpack(s, "output")
    return Graph(s.tensors, s.ops, ("input",), (s.cur,), name=getattr(model, "name", "binary"))
