"""lstm: TFLite's integer UNIDIRECTIONAL_SEQUENCE_LSTM (int8 activations and weights, int32
biases, int16 cell state and gate activations), bit-exact with tflite-micro's reference kernel.
Everything about the kind sits here (registered in ir/ops.py).

Inputs (IR order): x (1, T, I) int8; the input weights (U, I) and recurrent weights (U, U) of
the gates input, forget, cell, output (int8, one symmetric scale each); their int32 biases (U,);
the hidden state h (1, U) int8 and the cell state c (1, U) int16 (power-of-two scale, zero point
0). h and c are variable tensors: each invocation starts from what the previous one left
(tflite-micro's semantics; they start at h's zero point and 0, and ``<prefix>_reset`` restores
that). Output (1, T, U) int8: h after each step. Attributes: ``cell_clip`` (float, 0 = none),
``cell_activation`` ("tanh" | "sigmoid", the cell gate's function).

One step, per unit j (``MBQM`` = fixedpoint.multiply_by_quantized_multiplier, double rounding;
``sat16`` clamps to int16):

    gate_g[j] = sat16(sat16(MBQM(b_g[j] + sum_k W_g[j,k] (x[k] + input_offset), m_g, s_g))
                      + sat16(MBQM(sum_k R_g[j,k] (h[k] + hidden_offset), rm_g, rs_g)))
        (both products land in Q3.12: multipliers from x_scale * w_scale / 2^-12)
    forget, input, output gates: sigmoid_q15(gate); cell gate: tanh_q15 (or sigmoid_q15)
    c = sat16(MBQM(forget * c, fm, fs))                   (2^-15 * c_scale / c_scale)
    c = sat16(c + sat16(MBQM(input * cell, im, is)))      (2^-15 * 2^-15 / c_scale)
    c = clamp(c, -clip, clip) when cell_clip > 0          (clip = int16(cell_clip / c_scale))
    h = clamp8(MBQM(tanh_q15(c) * output, hm, hs) + h_zero_point)   (2^-15 * 2^-15 / h_scale)

``sigmoid_q15`` / ``tanh_q15`` are TFLite's int16 Logistic and Tanh: the input is scaled by
3/4 of a power of two (``_scaled``) and the result interpolated in SIGMOID_TABLE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op
from mcucompress.quantize import fixedpoint as fp

GATES = ("input", "forget", "cell", "output")
# IR input positions
X, INPUT_WEIGHTS, RECURRENT_WEIGHTS, BIASES, HIDDEN, CELL = 0, 1, 5, 9, 13, 14
INPUT_COUNT = 15
# what each input must be (the importer's type check)
INPUT_DTYPES = ("int8",) * 9 + ("int32",) * 4 + ("int8", "int16")

GATE_SCALE = 2.0 ** -12        # gate pre-activations: Q3.12
ACTIVATION_SCALE = 2.0 ** -15  # sigmoid / tanh outputs: Q0.15
INT16_MIN, INT16_MAX = -32768, 32767

# sigmoid(i / 24) in unsigned Q0.16 for i = 0..255: the points TFLite's int16 sigmoid and tanh
# interpolate between (tanh(x) = 2 sigmoid(2x) - 1). Stated, not computed: a few entries differ
# by one from rounding the function, and the results must be TFLite's.
SIGMOID_TABLE = np.array([
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794, 41432,
    42064, 42688, 43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443, 48964, 49475,
    49975, 50464, 50942, 51409, 51865, 52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485,
    55834, 56174, 56503, 56823, 57133, 57433, 57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519,
    59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110, 61279, 61441, 61599, 61750, 61896, 62036,
    62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186, 63279, 63368, 63454, 63536,
    63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308, 64357, 64405,
    64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900,
    64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179,
    65194, 65208, 65221, 65234, 65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337,
    65345, 65352, 65360, 65367, 65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425,
    65429, 65433, 65438, 65442, 65445, 65449, 65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474,
    65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491, 65493, 65495, 65497, 65498, 65500, 65501,
    65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513, 65514, 65515, 65516, 65517,
    65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524, 65525, 65525,
    65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530,
    65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533,
    65533, 65533, 65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534,
    65534, 65534, 65534, 65535], dtype=np.int64)


@dataclass(frozen=True, eq=False)
class GateParams:
    """One gate's two requantizations into Q3.12."""

    input_multiplier: int
    input_shift: int
    recurrent_multiplier: int
    recurrent_shift: int


@dataclass(frozen=True, eq=False)
class LstmParams:
    steps: int
    input_size: int
    units: int
    input_offset: int
    hidden_offset: int
    gates: tuple[GateParams, ...]    # in GATES order
    cell_sigmoid: bool               # the cell gate's function is sigmoid (else tanh)
    forget_multiplier: int
    forget_shift: int
    update_multiplier: int           # input gate x cell gate -> cell state
    update_shift: int
    hidden_multiplier: int
    hidden_shift: int
    hidden_zero_point: int
    cell_clip: int                   # 0: no clipping
    tanh_multiplier: int             # tanh of the cell state: (c * m + round) >> shift
    tanh_shift: int
    rounding: str

    def c_fields(self, weights: dict, table: str) -> dict:
        """mcc_lstm_params; ``weights``: gate -> (input weights, recurrent weights, bias) array names."""
        gates = {}
        for name, g in zip(GATES, self.gates):
            w, r, bias = weights[name]
            gates[f"{name}_gate"] = {
                "input_weights": w, "recurrent_weights": r, "bias": bias,
                "input_multiplier": g.input_multiplier, "input_shift": g.input_shift,
                "recurrent_multiplier": g.recurrent_multiplier, "recurrent_shift": g.recurrent_shift}
        return {"steps": self.steps, "input_size": self.input_size, "units": self.units,
                "input_offset": self.input_offset, "hidden_offset": self.hidden_offset, **gates,
                "cell_sigmoid": int(self.cell_sigmoid),
                "forget_multiplier": self.forget_multiplier, "forget_shift": self.forget_shift,
                "update_multiplier": self.update_multiplier, "update_shift": self.update_shift,
                "hidden_multiplier": self.hidden_multiplier, "hidden_shift": self.hidden_shift,
                "hidden_zero_point": self.hidden_zero_point, "cell_clip": self.cell_clip,
                "tanh_multiplier": self.tanh_multiplier, "tanh_shift": self.tanh_shift,
                "sigmoid_table": table}


def _fail(op: Op, message: str) -> McuError:
    return McuError(f"op '{op.name}' (lstm): {message}")


def _scale(op: Op, t) -> float:
    if t.quant is None or len(t.quant.scale) != 1:
        raise _fail(op, f"tensor '{t.name}' needs one quantization scale")
    return float(np.float32(t.quant.scale[0]))


def _multiplier(real: float) -> tuple[int, int]:
    return fp.quantize_multiplier(real)


def output_shape(graph: Graph, op: Op) -> tuple[int, ...]:
    if len(op.inputs) != INPUT_COUNT or any(n is None for n in op.inputs):
        raise _fail(op, f"needs {INPUT_COUNT} inputs (no optional one may be absent)")
    x, w = graph.tensors[op.inputs[X]].shape, graph.tensors[op.inputs[INPUT_WEIGHTS]].shape
    if len(x) != 3 or len(w) != 2:
        raise _fail(op, f"input {list(x)} and input weights {list(w)} are not (batch, steps, features) "
                        "and (units, features)")
    return (x[0], x[1], w[0])


def lstm_params(graph: Graph, op: Op, rounding: str = "tflm") -> LstmParams:
    if len(op.inputs) != INPUT_COUNT or any(n is None for n in op.inputs):
        raise _fail(op, f"needs {INPUT_COUNT} inputs (no optional one may be absent)")
    t = [graph.tensors[n] for n in op.inputs]
    out = graph.output_tensor(op)
    for k, (tensor, dtype) in enumerate(zip(t, INPUT_DTYPES)):
        if tensor.dtype != dtype:
            raise _fail(op, f"input {k} '{tensor.name}' is {tensor.dtype}, expected {dtype}")
    if out.dtype != "int8":
        raise _fail(op, f"output '{out.name}' is {out.dtype}, expected int8")
    x, h, c = t[X], t[HIDDEN], t[CELL]
    if len(x.shape) != 3 or x.shape[0] != 1:
        raise _fail(op, f"input has shape {list(x.shape)}; only (1, steps, features) is supported")
    steps, features = int(x.shape[1]), int(x.shape[2])
    units = int(t[INPUT_WEIGHTS].shape[0]) if len(t[INPUT_WEIGHTS].shape) == 2 else -1
    for g in range(4):
        w, r, b = t[INPUT_WEIGHTS + g], t[RECURRENT_WEIGHTS + g], t[BIASES + g]
        if w.shape != (units, features) or r.shape != (units, units) or b.shape != (units,):
            raise _fail(op, f"{GATES[g]} gate weights {list(w.shape)}, {list(r.shape)} and bias "
                            f"{list(b.shape)} do not fit {features} features and {units} units")
        for tensor in (w, r, b):
            if tensor.data is None:
                raise _fail(op, f"'{tensor.name}' must be constant")
            if tensor.quant is None or len(tensor.quant.scale) != 1 or int(tensor.quant.zero_point[0]) != 0:
                raise _fail(op, f"'{tensor.name}' needs one symmetric scale (zero point 0)")
    if h.size != units or c.size != units or out.shape != (1, steps, units):
        raise _fail(op, f"states {list(h.shape)} / {list(c.shape)} and output {list(out.shape)} do not "
                        f"fit {units} units and {steps} steps")
    if not (h.variable and c.variable):
        raise _fail(op, "the hidden and cell states must be variable tensors")
    if c.quant is None or int(c.quant.zero_point[0]) != 0:
        raise _fail(op, f"cell state '{c.name}' needs zero point 0")
    cell_scale = _scale(op, c)
    power = math.log2(cell_scale)
    if power != round(power) or not -30 <= power <= 0:
        raise _fail(op, f"cell state scale {cell_scale} is not a power of two in [2^-30, 1]")
    activation = op.attrs.get("cell_activation", "tanh")
    if activation not in ("tanh", "sigmoid"):
        raise _fail(op, f"cell activation '{activation}' is not supported (tanh or sigmoid)")

    x_scale, h_scale = _scale(op, x), _scale(op, h)
    gates = []
    for g in range(4):
        im, ishift = _multiplier(x_scale * _scale(op, t[INPUT_WEIGHTS + g]) / GATE_SCALE)
        rm, rshift = _multiplier(h_scale * _scale(op, t[RECURRENT_WEIGHTS + g]) / GATE_SCALE)
        gates.append(GateParams(im, ishift, rm, rshift))
    fm, fs = _multiplier(ACTIVATION_SCALE * cell_scale / cell_scale)
    um, us = _multiplier(ACTIVATION_SCALE * ACTIVATION_SCALE / cell_scale)
    hm, hs = _multiplier(ACTIVATION_SCALE * ACTIVATION_SCALE / h_scale)
    clip = float(np.float32(op.attrs.get("cell_clip", 0.0)))
    quantized_clip = int(min(max(clip / cell_scale, -32768.0), 32767.0)) if clip > 0 else 0
    tanh_m, tanh_s = _tanh_scaling(int(round(power)))
    return LstmParams(steps, features, units, -int(x.quant.zero_point[0]), -int(h.quant.zero_point[0]),
                      tuple(gates), activation == "sigmoid", fm, fs, um, us, hm, hs,
                      int(h.quant.zero_point[0]), quantized_clip, tanh_m, tanh_s, rounding)


def _tanh_scaling(cell_scale_power: int) -> tuple[int, int]:
    """(multiplier, right shift) taking a cell state of scale 2^power to tanh's input: a left
    shift of 15 + power - 3 is folded into the multiplier 3 (TFLite's power-of-two case)."""
    left = 15 + cell_scale_power - 3
    if left >= 0:
        return 3 << left, 0
    return 3, -left


# -- integer sigmoid and tanh on int16 ---------------------------------------------------------

def _scaled(x, multiplier: int, shift: int) -> np.ndarray:
    rounding = (1 << (shift - 1)) if shift > 0 else 0
    return (np.asarray(x, dtype=np.int64) * multiplier + rounding) >> shift


def _interpolate(magnitude: np.ndarray, fraction_bits: int, saturated: int) -> np.ndarray:
    step = magnitude >> fraction_bits
    index = np.minimum(step, 254)
    low, high = SIGMOID_TABLE[index], SIGMOID_TABLE[index + 1]
    fraction = magnitude & ((1 << fraction_bits) - 1)
    return np.where(step >= 255, saturated, (low << fraction_bits) + fraction * (high - low))


def sigmoid_q15(x, multiplier: int = 3, shift: int = 0) -> np.ndarray:
    """TFLite's int16 Logistic: Q3.12 (times 3/4 by the default scaling) in, Q0.15 out."""
    v = _scaled(x, multiplier, shift)
    r = _interpolate(np.abs(v), 9, 0x7FFF << 10)
    r = np.where(v >= 0, r + (1 << 9), (1 << 25) - r + (1 << 9) - 1)
    return (r >> 10).astype(np.int16)


def tanh_q15(x, multiplier: int = 3, shift: int = 0) -> np.ndarray:
    """TFLite's int16 Tanh (2 sigmoid(2x) - 1 from the same table), Q0.15 out."""
    v = _scaled(x, multiplier, shift)
    r = _interpolate(np.abs(v), 8, 0xFFFF << 8)
    r = np.where(v >= 0, r - (1 << 23) + (1 << 7), -r + (1 << 23) + (1 << 7) - 1)
    return (r >> 8).astype(np.int16)


# -- numpy reference ---------------------------------------------------------------------------

def _sat16(v) -> np.ndarray:
    return np.clip(v, INT16_MIN, INT16_MAX).astype(np.int64)


def _mbqm(v, multiplier: int, shift: int) -> np.ndarray:
    return fp.multiply_by_quantized_multiplier(np.asarray(v, dtype=np.int64), multiplier, shift, "tflm")


def _check_rounding(op: Op, rounding: str) -> None:
    if rounding != "tflm":
        raise _fail(op, f"only tflite-micro's arithmetic (rounding 'tflm') is implemented, not '{rounding}'")


def int8_reference(op: Op, p: LstmParams, args, out_shape, graph) -> np.ndarray:
    """The output sequence; the state arrays (args[HIDDEN], args[CELL]) are updated in place."""
    _check_rounding(op, p.rounding)
    x = np.asarray(args[X], dtype=np.int64).reshape(p.steps, p.input_size) + p.input_offset
    weights = [(np.asarray(args[INPUT_WEIGHTS + g], np.int64), np.asarray(args[RECURRENT_WEIGHTS + g], np.int64),
                np.asarray(args[BIASES + g], np.int64)) for g in range(4)]
    h_state, c_state = args[HIDDEN], args[CELL]
    h = h_state.reshape(-1).astype(np.int64)
    c = c_state.reshape(-1).astype(np.int64)
    out = np.empty((p.steps, p.units), dtype=np.int8)
    for step in range(p.steps):
        pre = []
        for (w, r, b), g in zip(weights, p.gates):
            from_input = _sat16(_mbqm(w @ x[step] + b, g.input_multiplier, g.input_shift))
            from_hidden = _sat16(_mbqm(r @ (h + p.hidden_offset), g.recurrent_multiplier, g.recurrent_shift))
            pre.append(_sat16(from_input + from_hidden))
        i_gate, f_gate, o_gate = (sigmoid_q15(pre[k]).astype(np.int64) for k in (0, 1, 3))
        g_gate = (sigmoid_q15 if p.cell_sigmoid else tanh_q15)(pre[2]).astype(np.int64)
        c = _sat16(_mbqm(f_gate * c, p.forget_multiplier, p.forget_shift))
        c = _sat16(c + _sat16(_mbqm(i_gate * g_gate, p.update_multiplier, p.update_shift)))
        if p.cell_clip > 0:
            c = np.clip(c, -p.cell_clip, p.cell_clip)
        t = tanh_q15(c, p.tanh_multiplier, p.tanh_shift).astype(np.int64)
        h = np.clip(_mbqm(t * o_gate, p.hidden_multiplier, p.hidden_shift) + p.hidden_zero_point, -128, 127)
        out[step] = h
    h_state[...] = h.reshape(h_state.shape)
    c_state[...] = c.reshape(c_state.shape)
    return out.reshape(out_shape)


def float_reference(graph: Graph, op: Op, *args) -> np.ndarray:
    """The float LSTM of one invocation from zero state (float graphs carry no state)."""
    x = np.asarray(args[X], np.float64)
    units = graph.tensors[op.inputs[INPUT_WEIGHTS]].shape[0]
    h, c = np.zeros(units), np.zeros(units)
    sigmoid = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    cell_fn = sigmoid if op.attrs.get("cell_activation", "tanh") == "sigmoid" else np.tanh
    clip = float(op.attrs.get("cell_clip", 0.0))
    out = []
    for step in x.reshape(-1, x.shape[-1]):
        pre = [np.asarray(args[INPUT_WEIGHTS + g], np.float64) @ step
               + np.asarray(args[RECURRENT_WEIGHTS + g], np.float64) @ h + np.asarray(args[BIASES + g], np.float64)
               for g in range(4)]
        c = sigmoid(pre[1]) * c + sigmoid(pre[0]) * cell_fn(pre[2])
        if clip > 0:
            c = np.clip(c, -clip, clip)
        h = sigmoid(pre[3]) * np.tanh(c)
        out.append(h)
    return np.asarray(out, np.float32).reshape(graph.output_tensor(op).shape)


def scratch_bytes(graph: Graph, op: Op) -> int:
    """Four int16 vectors of one step (the gates) in the arena while the op runs."""
    return 4 * 2 * int(graph.tensors[op.inputs[INPUT_WEIGHTS]].shape[0])


# -- lowering to C (the kind is registered in ir/ops.py) ---------------------------------------

def lower(b, i: int, op: Op) -> None:
    from mcucompress.memory.arena import scratch_name
    from mcucompress.quantize.params import kernel_params

    p = kernel_params(b.graph, op, b.rounding)
    _check_rounding(op, b.rounding)
    oid = f"op{i}_{op.kind}"
    g = b.graph
    weights = {}
    for k, gate in enumerate(GATES):
        weights[gate] = (b.constant(oid, f"{gate}_input_weights", g.tensor(op.inputs[INPUT_WEIGHTS + k])),
                         b.constant(oid, f"{gate}_recurrent_weights", g.tensor(op.inputs[RECURRENT_WEIGHTS + k])),
                         b.constant(oid, f"{gate}_bias", g.tensor(op.inputs[BIASES + k])))
    table = b.shared_array("lstm_sigmoid_table", SIGMOID_TABLE, "uint16_t")
    params = b.struct("mcc_lstm_params", f"{oid}_params", p.c_fields(weights, table))
    hidden = b.state(g.tensor(op.inputs[HIDDEN]), f"{oid}_hidden")
    cell = b.state(g.tensor(op.inputs[CELL]), f"{oid}_cell")
    scratch = f"(int16_t *)(void *){b.arena(scratch_name(i))}"
    b.call(op, "mcc_lstm_s8", params, b.arena(op.inputs[X]), hidden, cell, scratch, b.arena(op.outputs[0]))
