"""The binary scheme's quantizer: a float Graph of a binary network -> int8 and binary ops.

The Keras importer turns the layers of binary/layers.py into float ops (``sign``,
``lowbit_fully_connected``, ``lowbit_conv2d``: weights = integer levels x per-channel scale, the
levels kept as a fourth input) and passes.optimize folds every BatchNormalization into the layer
before it, as for int8. Supported sequences of the optimized graph (one chain):

  fully_connected | conv2d, sign           first layer: int8 op + binarize
  lowbit_*, sign                           binary op; the folded scale and bias become integer
                                           thresholds (channels with a negative scale get their
                                           weight bits inverted)
  fully_connected, after sign              unpack_bits + int8 fully_connected
  reshape, a final softmax (dropped: the graph outputs logits)

int8 layers follow TensorFlow Lite's conventions (per-channel symmetric weights, int32 biases,
asymmetric activations calibrated on ``calib_x``), so the int8 reference and kernels run them.
"""

from __future__ import annotations

import numpy as np

from mcucompress.binary import constructors
from mcucompress.binary.packing import pack_bits
from mcucompress.binary.kernel_params import DEFAULT_POPCOUNT, POPCOUNTS
from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor
from mcucompress.ir.ops import op_kind
from mcucompress.quantize.calibrate import check_calibration
from mcucompress.quantize.ptq import INT32_MAX, INT32_MIN, asymmetric_quant, symmetric_per_channel

NEVER, ALWAYS = 1 << 30, -(1 << 30)  # thresholds of channels whose sign is constant
ONE = QuantParams((1.0,), (0,))      # +-1 activations as int8
INT8_LAYERS = ("fully_connected", "conv2d")
LOWBIT_LAYERS = ("lowbit_fully_connected", "lowbit_conv2d")
ACTIVATION_KINDS = ("relu", "relu6", "logistic", "tanh", "elu", "hard_swish", "leaky_relu", "prelu")


class _State:
    """The graph being built and where the float graph's chain currently stands."""

    def __init__(self, graph_input: Tensor, calib: np.ndarray, popcount: str):
        self.tensors = {graph_input.name: graph_input}
        self.ops: list[Op] = []
        self.cur = graph_input.name
        self.domain = "int8"           # "int8" or "bits" (packed signs)
        self.shape = graph_input.shape  # logical (unpacked) shape, batch 1
        self.flattened = False          # bits whose float view is flat but memory per pixel
        self.act = calib                # activations of the calibration set (signs: as deployed)
        self.popcount = popcount
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def add(self, op: Op, *new: Tensor) -> None:
        for t in new:
            self.tensors[t.name] = t
        self.ops.append(op)


def _sign_quant(y: np.ndarray) -> QuantParams:
    """Output quantization of an int8 layer whose output only feeds a sign: zero point 0 and a
    scale 256x finer than the range needs, so that the sign of nearly every accumulator survives
    requantization (saturation does not change a sign)."""
    peak = float(np.abs(y).max()) or 1.0
    return QuantParams((float(np.float32(peak / (127 * 256))),), (0,))


def _int8_layer(s: _State, graph: Graph, op: Op, signed: bool) -> None:
    """Quantize a float fully_connected / conv2d (batch norm already folded) applied to s.cur."""
    activation = op.attrs.get("activation", "none")
    if activation not in ("none", "relu"):
        raise McuError(f"layer '{op.name}': activation '{activation}' is not supported here")
    if activation != "none" and signed:
        raise McuError(f"layer '{op.name}': an activation before BatchNormalization or "
                       "SignActivation is not supported (use activation=None)")
    w_float = graph.tensor(op.inputs[1]).data
    channels = w_float.shape[0]
    has_bias = len(op.inputs) > 2 and op.inputs[2] is not None
    bias = graph.tensor(op.inputs[2]).data.astype(np.float64) if has_bias else np.zeros(channels)
    if op.kind == "fully_connected":
        attrs, out_shape = {}, (1, channels)
    else:
        attrs = {"stride": tuple(op.attrs["stride"]), "dilation": (1, 1), "padding": tuple(op.attrs["padding"])}
        out_shape = (1,) + tuple(graph.output_tensor(op).shape[1:3]) + (channels,)
    attrs["activation"] = activation
    if op.kind == "fully_connected":  # in float64: the signs before it are exact
        y = s.act.reshape(len(s.act), -1).astype(np.float64) @ w_float.T.astype(np.float64) + bias
        y = np.maximum(y, 0.0) if activation == "relu" else y
    else:
        y = op_kind(op.kind).resolve("float_reference")(graph, op, s.act.astype(np.float32), w_float,
                                                        graph.tensor(op.inputs[2]).data if has_bias else None)
    s.act = y
    x_quant = s.tensors[s.cur].quant
    q, scales = symmetric_per_channel(w_float, 0)
    bias_scales = (np.float64(x_quant.scale[0]) * scales.astype(np.float64)).astype(np.float32)
    qb = bias / bias_scales.astype(np.float64)
    qb = np.clip(np.sign(qb) * np.floor(np.abs(qb) + 0.5), INT32_MIN, INT32_MAX).astype(np.int32)
    stem = s.name(op.kind)
    w = Tensor(f"{stem}_w", q.shape, "int8", QuantParams(tuple(float(v) for v in scales), (0,) * channels, 0), q)
    b = Tensor(f"{stem}_b", (channels,), "int32",
               QuantParams(tuple(float(v) for v in bias_scales), (0,) * channels, 0), qb)
    quant = _sign_quant(y) if signed else asymmetric_quant(float(y.min()), float(y.max()))
    out = Tensor(f"{stem}_out", out_shape, "int8", quant)
    s.add(Op(op.kind, op.name, (s.cur, w.name, b.name), (out.name,), attrs), w, b, out)
    s.cur, s.domain, s.shape = out.name, "int8", out_shape


def _binarize(s: _State, layer_name: str) -> None:
    """int8 -> signs: bit = real value >= 0, i.e. q >= zero point."""
    x = s.tensors[s.cur]
    outer = x.shape[:-1]
    out = constructors.packed_tensor(s.name("bits"), outer, x.shape[-1])
    s.add(constructors.binarize_op(f"{layer_name}_sign", s.cur, out.name, int(x.quant.zero_point[0])), out)
    s.cur, s.domain = out.name, "bits"
    s.act = np.where(s.act >= 0, 1.0, -1.0)


def _unpack(s: _State, layer_name: str) -> None:
    """Signs -> int8 +-1 (flattened when the float view is flat)."""
    out = Tensor(s.name("signs"), s.shape, "int8", ONE)
    s.add(constructors.unpack_op(f"{layer_name}_unpack", s.cur, out.name), out)
    s.cur, s.domain = out.name, "int8"
    if s.flattened:
        flat = Tensor(s.name("flat"), (1, int(np.prod(s.shape))), "int8", ONE)
        s.add(Op("reshape", f"{layer_name}_flatten", (s.cur,), (flat.name,), {}), flat)
        s.cur, s.shape, s.flattened = flat.name, flat.shape, False


def _thresholds(scale, bias):
    """bit = scale * dot + bias >= 0  ->  (flip, integer threshold) per channel, with
    dot' = -dot where flip, so that bit = dot' >= threshold."""
    flip = scale < 0
    with np.errstate(divide="ignore", invalid="ignore"):
        thr = np.ceil(-bias / np.abs(scale))
    thr = np.where(scale == 0, np.where(bias >= 0, ALWAYS, NEVER), np.clip(np.nan_to_num(thr), ALWAYS, NEVER))
    return flip, thr.astype(np.int64)


def _channel_scales(weights: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """The per-channel factor of weights = levels x scale (batch norm folded into the scale,
    so it may be negative or zero), per output channel (axis 0)."""
    w = weights.reshape(len(weights), -1).astype(np.float64)
    lv = levels.reshape(len(levels), -1).astype(np.float64)
    return (w * lv).sum(axis=1) / np.maximum((lv * lv).sum(axis=1), 1.0)


def _lowbit_layer(s: _State, graph: Graph, op: Op) -> None:
    if s.domain != "bits":
        raise McuError(f"layer '{op.name}': a binary layer needs sign inputs (put SignActivation before it)")
    weights, levels = graph.tensor(op.inputs[1]).data, graph.tensor(op.inputs[3]).data
    levels = np.rint(levels).astype(np.int64)
    channels = levels.shape[0]
    bias = graph.tensor(op.inputs[2]).data if op.inputs[2] is not None else np.zeros(channels)
    flip, thr = _thresholds(_channel_scales(weights, levels), np.asarray(bias, np.float64))
    flip = flip.reshape((-1,) + (1,) * (levels.ndim - 1))
    levels = np.where(flip, -levels, levels)
    s.act = _deployed_signs(graph, op, s.act, levels, thr)
    quantizer = op.attrs["quantizer"]
    planes = int(op.attrs.get("bits", 1)) if quantizer == "dorefa" else 1
    ternary = quantizer == "ternary"
    stem = s.name("binary")
    if op.kind == "lowbit_fully_connected":
        if s.flattened:
            pixels, c = int(np.prod(s.shape[1:-1])), s.shape[-1]
        else:
            pixels, c = 1, int(np.prod(s.shape[1:]))
        rows = levels.reshape(channels, pixels, c)
        if ternary:
            bit_planes = [rows > 0, rows != 0]
        else:  # binary: one plane; k-bit: plane b holds bit b of (level + 2^k - 1) / 2
            q = (rows + 2 ** planes - 1) // 2
            bit_planes = [((q >> b) & 1).astype(bool) for b in range(planes)]
        packed = np.concatenate([pack_bits(p).reshape(channels, -1) for p in bit_planes], axis=-1)
        out_shape = (1, channels)
    else:
        if s.flattened or len(s.shape) != 4:
            raise McuError(f"layer '{op.name}': BinaryConv2D needs an NHWC input")
        packed = constructors.pack_levels(levels, planes) if planes > 1 else constructors.pack_weights(levels, ternary)
        out_shape = (1,) + tuple(graph.output_tensor(op).shape[1:3]) + (channels,)
    w = constructors.weights_tensor(f"{stem}_w", packed)
    t = constructors.thresholds_tensor(f"{stem}_t", thr)
    out = constructors.packed_tensor(f"{stem}_out", out_shape[:-1], channels)
    if op.kind == "lowbit_fully_connected":
        binary_op = constructors.fc_op(op.name, s.cur, w.name, t.name, out.name, pixels * c, ternary, s.popcount,
                                       planes)
    else:
        binary_op = constructors.conv_op(op.name, s.cur, w.name, t.name, out.name, s.shape[-1], op.attrs["stride"],
                                         op.attrs["padding"], ternary, s.popcount, planes)
    s.add(binary_op, w, t, out)
    s.cur, s.shape, s.flattened = out.name, out_shape, False


def _deployed_signs(graph: Graph, op: Op, signs: np.ndarray, levels: np.ndarray, thr: np.ndarray) -> np.ndarray:
    """The +-1 outputs of a binary layer on the calibration set exactly as its kernel computes
    them: the integer dot product of signs and (flipped) levels against the thresholds (a float
    forward pass can break ties at 0 either way)."""
    if op.kind == "lowbit_fully_connected":
        dots = signs.reshape(len(signs), -1) @ levels.reshape(len(levels), -1).T.astype(np.float64)
    else:
        probe = Op("conv2d", op.name, op.inputs[:3], op.outputs, {**op.attrs, "activation": "none"})
        dots = op_kind("conv2d").resolve("float_reference")(graph, probe, signs.astype(np.float32),
                                                           levels.astype(np.float32), None)
    return np.where(np.rint(dots) >= thr, 1.0, -1.0)


def _check_conv(op: Op) -> None:
    if tuple(op.attrs.get("dilation", (1, 1))) != (1, 1):
        raise McuError(f"layer '{op.name}': dilated convolutions are not supported")


def quantize_binary(float_graph: Graph, calib_x, popcount: str = DEFAULT_POPCOUNT) -> Graph:
    """The IR Graph of a binary network from its optimized float graph (see the module
    docstring), calibrated on ``calib_x`` (float inputs, batch first)."""
    if popcount not in POPCOUNTS:
        raise McuError(f"unknown popcount '{popcount}'; expected one of {', '.join(POPCOUNTS)}")
    calib = check_calibration(float_graph, calib_x)
    in_shape = float_graph.tensor(float_graph.inputs[0]).shape
    x = Tensor("input", in_shape, "int8", asymmetric_quant(float(calib.min()), float(calib.max())))
    s = _State(x, calib, popcount)
    ops = float_graph.ops
    at = float_graph.inputs[0]  # the float tensor s.cur stands for
    i = 0
    while i < len(ops):
        op = ops[i]
        if op.inputs[0] != at:
            raise McuError(f"layer '{op.name}' ({op.kind}): binary networks must be one chain of layers")
        nxt = ops[i + 1] if i + 1 < len(ops) and ops[i + 1].inputs[0] == op.outputs[0] else None
        signed = nxt is not None and nxt.kind == "sign"
        if op.kind == "reshape":
            if s.domain == "int8":
                flat = Tensor(s.name("flat"), (1, int(np.prod(s.shape[1:]))), "int8", s.tensors[s.cur].quant)
                s.add(Op("reshape", op.name, (s.cur,), (flat.name,), {}), flat)
                s.cur, s.shape = flat.name, flat.shape
            else:
                s.flattened = len(s.shape) > 2
            s.act = s.act.reshape(len(s.act), -1)
            step = 1
        elif op.kind in INT8_LAYERS:
            if op.kind == "conv2d":
                _check_conv(op)
            if s.domain == "bits":
                _unpack(s, op.name)
            _int8_layer(s, float_graph, op, signed)
            if signed:
                _binarize(s, op.name)
            step = 1 + signed
        elif op.kind in LOWBIT_LAYERS:
            if not signed:
                raise McuError(f"layer '{op.name}': a binary layer must be followed by "
                               "[BatchNormalization,] SignActivation (its output is binarized)")
            _lowbit_layer(s, float_graph, op)
            step = 2
        elif op.kind == "sign" and s.domain == "int8":
            _binarize(s, op.name)
            step = 1
        elif op.kind == "softmax" and i == len(ops) - 1:
            step = 1  # the graph outputs logits; argmax is unchanged
        elif op.kind in ACTIVATION_KINDS:
            raise McuError(f"layer '{op.name}': activation '{op.kind}' is not supported here")
        else:
            raise McuError(f"layer '{op.name}' ({op.kind}) is not supported in a binary network here")
        at = ops[i + step - 1].outputs[0]
        i += step
    if s.domain == "bits":
        _unpack(s, "output")
    return Graph(s.tensors, s.ops, ("input",), (s.cur,), name=float_graph.name)


def convert(model, calib_x, popcount: str = DEFAULT_POPCOUNT) -> Graph:
    """A trained Keras binary network (built with binary/layers.py) through the Keras importer
    and passes.optimize, then quantize_binary."""
    from mcucompress.importers.keras import load_keras

    return quantize_binary(load_keras(model), calib_x, popcount)
