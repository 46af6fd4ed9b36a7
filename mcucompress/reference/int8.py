"""The numpy integer interpreter of an int8 Graph: the oracle every C kernel is tested against.

``run_int8(graph, x, rounding="tflm")`` runs the ops in order with exactly the arithmetic of
TensorFlow Lite Micro's reference kernels ("tflm") or of the LiteRT host interpreter ("litert");
all integer parameters come from ``quantize.params.kernel_params`` so C and numpy share them.
One small function per op kind, vectorized: convolutions gather patches and contract them with a
float64 matmul, which is exact because every int8 x int8 sum here stays far below 2^53.
"""

from __future__ import annotations

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op
from mcucompress.ir.ops import op_kind
from mcucompress.quantize import early_exit
from mcucompress.quantize import fixedpoint as fp
from mcucompress.quantize.params import (
    SOFTMAX_ACCUMULATION_INTEGER_BITS, SOFTMAX_SCALED_DIFF_INTEGER_BITS, kernel_params)


def run_int8(graph: Graph, x, rounding: str = "tflm", intermediates: bool = False, state=None):
    """Run ``graph`` on one int8 input; return the output array, or all tensors by name.
    Several inputs: ``x`` is a sequence of arrays (one per input) or one array holding them all
    back to back; several outputs: a tuple of arrays.
    A model with variable tensors (LSTM state) starts from ``state`` (``initial_state(graph)``,
    updated in place: pass the same one to consecutive calls), or from its initial state."""
    values, _ = _run(graph, x, rounding, state)
    if intermediates:
        return values
    return outputs_of(graph, values)


def run_int8_exit(graph: Graph, x, rounding: str = "tflm", state=None):
    """(output, exit taken) of one int8 input: exits numbered in graph order, the full network
    last (quantize/early_exit.py); a model without early exits always gives exit 0."""
    values, exit_index = _run(graph, x, rounding, state)
    return outputs_of(graph, values), exit_index


def outputs_of(graph: Graph, tensors: dict[str, np.ndarray]):
    """The graph's outputs among ``tensors`` (by name, as ``run_int8(..., intermediates=True)``
    returns them): one array, or a tuple of arrays for several outputs, as ``run_int8`` gives."""
    if len(graph.outputs) > 1:
        return tuple(tensors[n] for n in graph.outputs)
    return tensors[graph.outputs[0]]


def initial_state(graph: Graph) -> dict[str, np.ndarray]:
    """The variable tensors as a model holds them before its first invocation (and after
    ``<prefix>_reset``): writable arrays the ops that own them update."""
    return {t.name: np.full(t.shape, t.initial_value, dtype=t.dtype) for t in graph.variables()}


def _run(graph: Graph, x, rounding: str, state=None) -> tuple[dict[str, np.ndarray], int]:
    values: dict[str, np.ndarray] = dict(_input_values(graph, x))
    values.update(initial_state(graph) if state is None else state)
    for op in graph.ops:
        kind = op_kind(op.kind)
        if kind is None or kind.reference is None:
            raise McuError(f"op '{op.name}': no int8 reference kernel for '{op.kind}'")
        kernel = kind.resolve("reference")
        params = kernel_params(graph, op, rounding)
        args = [values[n] if n in values else (graph.tensors[n].data if n is not None else None)
                for n in op.inputs]
        out_spec = graph.output_tensor(op)
        result = kernel(op, params, args, out_spec.shape, graph)
        values[op.outputs[0]] = np.asarray(result, dtype=np.int8).reshape(out_spec.shape)
        if op.kind == early_exit.KIND and early_exit.taken(params, args[1]):
            output = graph.tensors[graph.outputs[0]]
            values[output.name] = np.asarray(args[1], dtype=np.int8).reshape(output.shape)
            return values, params.index
    return values, early_exit.exit_count(graph)


def _input_values(graph: Graph, x):
    """(input name, int8 array in its shape) for every graph input."""
    specs = [graph.tensors[n] for n in graph.inputs]
    if isinstance(x, (list, tuple)):
        parts = [np.asarray(p) for p in x]
        if len(parts) != len(specs):
            raise McuError(f"the model has {len(specs)} inputs but {len(parts)} arrays were given")
    else:
        flat = np.asarray(x)
        if flat.dtype == np.int8 and flat.size == sum(s.size for s in specs) and len(specs) > 1:
            flat = flat.ravel()
            bounds = np.cumsum([0] + [s.size for s in specs])
            parts = [flat[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        else:
            parts = [flat]
    for spec, part in zip(specs, parts):
        if part.dtype != np.int8:
            raise McuError(f"input must be int8, got {part.dtype}")
        if part.size != spec.size:
            raise McuError(f"input has {part.size} values; model input '{spec.name}' has shape {list(spec.shape)}")
        yield spec.name, part.reshape(spec.shape)


def run_int8_batch(graph: Graph, x: np.ndarray, rounding: str = "tflm", progress=None) -> np.ndarray:
    """run_int8 over a batch; outputs flattened per sample (several outputs back to back, in
    port order). Several inputs: each row of ``x`` holds them back to back. The samples are
    consecutive invocations: a model's state (LSTM) carries from one to the next, as in the C
    harnesses and tflite-micro.
    ``progress(stage, done, total)``."""
    return run_int8_batch_exits(graph, x, rounding, progress)[0]


def run_int8_batch_exits(graph: Graph, x: np.ndarray, rounding: str = "tflm",
                         progress=None) -> tuple[np.ndarray, np.ndarray]:
    """(outputs flattened per sample, exit taken per sample) of run_int8_exit over a batch."""
    outs, exits = [], []
    state = initial_state(graph)
    for i, sample in enumerate(x):
        result, exit_index = run_int8_exit(graph, sample, rounding=rounding, state=state)
        parts = result if isinstance(result, tuple) else (result,)
        outs.append(np.concatenate([np.asarray(p).ravel() for p in parts]))
        exits.append(exit_index)
        if progress:
            progress("numpy reference", i + 1, len(x))
    return np.stack(outs).astype(np.int8), np.asarray(exits, dtype=np.int64)


def _clamp_int8(v, lo: int, hi: int) -> np.ndarray:
    return np.clip(v, lo, hi).astype(np.int8)


def _patches(x: np.ndarray, out_hw, kernel_hw, stride, dilation, padding, offset: int) -> np.ndarray:
    """(OH, OW, KH, KW, C) windows of (x + offset); positions in the padding read 0."""
    _, h, w, c = x.shape
    oh, ow = out_hw
    kh, kw = kernel_hw
    (sh, sw), (dh, dw) = stride, dilation
    top, left = padding[0], padding[2]
    need_h = (oh - 1) * sh + (kh - 1) * dh + 1
    need_w = (ow - 1) * sw + (kw - 1) * dw + 1
    padded = np.zeros((max(need_h, top + h), max(need_w, left + w), c), dtype=np.int64)
    padded[top:top + h, left:left + w] = x[0].astype(np.int64) + offset
    rows = (np.arange(oh) * sh)[:, None] + np.arange(kh)[None, :] * dh  # (OH, KH)
    cols = (np.arange(ow) * sw)[:, None] + np.arange(kw)[None, :] * dw  # (OW, KW)
    return padded[rows[:, None, :, None], cols[None, :, None, :]]  # (OH, OW, KH, KW, C)


_requantize = fp.requantize_accumulator


def _bias(b, channels: int) -> np.ndarray:
    return np.zeros(channels, dtype=np.int64) if b is None else np.asarray(b, dtype=np.int64)


def _conv2d(op: Op, p, args, out_shape, graph) -> np.ndarray:
    x, w, b = (args + [None])[:3]
    cout, kh, kw, cin = w.shape
    patches = _patches(x, out_shape[1:3], (kh, kw), p.stride, p.dilation, p.padding, p.input_offset)
    cols = patches.reshape(-1, kh * kw * cin).astype(np.float64)
    acc = (cols @ w.reshape(cout, -1).T.astype(np.float64)).astype(np.int64) + _bias(b, cout)
    return _requantize(acc, p).reshape(out_shape)


def _depthwise_conv2d(op: Op, p, args, out_shape, graph) -> np.ndarray:
    x, w, b = (args + [None])[:3]
    _, kh, kw, cout = w.shape
    patches = _patches(x, out_shape[1:3], (kh, kw), p.stride, p.dilation, p.padding, p.input_offset)
    # Output channel oc reads input channel oc // depth_multiplier.
    patches = np.repeat(patches, p.depth_multiplier, axis=-1).astype(np.float64)
    acc = np.einsum("hwklc,klc->hwc", patches, w[0].astype(np.float64)).astype(np.int64) + _bias(b, cout)
    return _requantize(acc, p).reshape(out_shape)


def _fully_connected(op: Op, p, args, out_shape, graph) -> np.ndarray:
    x, w, b = (args + [None])[:3]
    xi = x.reshape(-1).astype(np.int64) + p.input_offset
    wi = w.astype(np.int64) + p.filter_offset
    acc = (wi.astype(np.float64) @ xi.astype(np.float64)).astype(np.int64) + _bias(b, w.shape[0])
    return _requantize(acc, p).reshape(out_shape)


def _pool_windows(x, p, out_shape):
    """(OH, OW, PH, PW, C) windows and a mask of the positions inside the input."""
    valid = np.ones((1,) + x.shape[1:3] + (1,), dtype=np.int8)
    win = _patches(x, out_shape[1:3], p.pool, p.stride, (1, 1), p.padding, 0)
    mask = _patches(valid, out_shape[1:3], p.pool, p.stride, (1, 1), p.padding, 0)
    return win, mask


def _max_pool2d(op: Op, p, args, out_shape, graph) -> np.ndarray:
    win, mask = _pool_windows(args[0], p, out_shape)
    best = np.where(mask.astype(bool), win, -129).max(axis=(2, 3))  # -129: below any int8
    return _clamp_int8(best, p.act_min, p.act_max).reshape(out_shape)


def _avg_pool2d(op: Op, p, args, out_shape, graph) -> np.ndarray:
    win, mask = _pool_windows(args[0], p, out_shape)
    total = (win * mask).sum(axis=(2, 3))
    count = mask.sum(axis=(2, 3))
    # Divide rounding halves away from zero, with C's truncating division.
    avg = np.where(total > 0, (total + count // 2) // count, -((-total + count // 2) // count))
    return _clamp_int8(avg, p.act_min, p.act_max).reshape(out_shape)


def _mean(op: Op, p, args, out_shape, graph) -> np.ndarray:
    x = args[0].astype(np.int64)
    total = x.sum(axis=p.axes)
    if p.rounding == "litert":  # XNNPACK: float32 scale, one rounding half to even
        shifted = (total + p.input_offset * p.count).astype(np.float32)
        v = np.rint(shifted * np.float32(p.float_scale)).astype(np.int64) + p.output_offset
        return _clamp_int8(v, p.act_min, p.act_max).reshape(out_shape)
    shifted = total + p.input_offset * p.count
    v = fp.multiply_by_quantized_multiplier(shifted, p.multiplier, p.shift, p.rounding) + p.output_offset
    return _clamp_int8(v, p.act_min, p.act_max).reshape(out_shape)


def _add(op: Op, p, args, out_shape, graph) -> np.ndarray:
    a = (args[0].astype(np.int64) + p.input1_offset) << p.left_shift
    b = (args[1].astype(np.int64) + p.input2_offset) << p.left_shift
    a = fp.multiply_by_quantized_multiplier_smaller_than_one_exp(a, p.input1_multiplier, p.input1_shift)
    b = fp.multiply_by_quantized_multiplier_smaller_than_one_exp(b, p.input2_multiplier, p.input2_shift)
    v = fp.multiply_by_quantized_multiplier_smaller_than_one_exp(a + b, p.output_multiplier, p.output_shift)
    return _clamp_int8(v + p.output_offset, p.act_min, p.act_max).reshape(out_shape)


def _softmax(op: Op, p, args, out_shape, graph) -> np.ndarray:
    x = args[0].astype(np.int64)
    rows = x.reshape(-1, x.shape[-1])
    out = _softmax_table(rows, p) if p.method == "table" else _softmax_fixedpoint(rows, p)
    return out.reshape(out_shape)


def _softmax_fixedpoint(rows: np.ndarray, p) -> np.ndarray:
    diff = rows - rows.max(axis=1, keepdims=True)
    usable = diff >= p.diff_min
    scaled = fp.saturating_rounding_doubling_high_mul(diff * (1 << p.input_left_shift), p.input_multiplier)
    exps = fp.exp_on_negative_values(scaled, SOFTMAX_SCALED_DIFF_INTEGER_BITS)
    rescaled = fp.rounding_divide_by_pot(exps, SOFTMAX_ACCUMULATION_INTEGER_BITS)
    sums = np.where(usable, rescaled, 0).sum(axis=1, keepdims=True)
    recip, bits_over_unit = fp.get_reciprocal(sums, SOFTMAX_ACCUMULATION_INTEGER_BITS)
    prob = fp.rounding_divide_by_pot(fp.saturating_rounding_doubling_high_mul(recip, exps),
                                     bits_over_unit + 31 - 8)
    return np.where(usable, np.clip(prob - 128, -128, 127), -128).astype(np.int8)


def _softmax_table(rows: np.ndarray, p) -> np.ndarray:
    out = np.empty(rows.shape, dtype=np.int8)
    for r, row in enumerate(rows):
        t = p.table[255 - int(row.max()) + row]  # float32 values
        total = np.float32(0.0)
        for v in t:  # float32 sum in order, as the C loop does
            total = np.float32(total + v)
        inv = np.float32(np.float32(1.0) / np.float32(total * np.float32(p.output_scale)))
        scaled = (t * inv).astype(np.float32).astype(np.float64)
        rounded = np.where(scaled >= 0, np.floor(scaled + 0.5), -np.floor(-scaled + 0.5)).astype(np.int64)
        out[r] = np.clip(rounded + p.output_zero_point, -128, 127)
    return out


def _reshape(op: Op, p, args, out_shape, graph) -> np.ndarray:
    return args[0].reshape(out_shape)


def _pad(op: Op, p, args, out_shape, graph) -> np.ndarray:
    return np.pad(args[0], p.paddings, mode="constant", constant_values=p.pad_value)


def _concat(op: Op, p, args, out_shape, graph) -> np.ndarray:
    return np.concatenate(args, axis=p.axis)


def _relu(op: Op, p, args, out_shape, graph) -> np.ndarray:
    x = args[0].astype(np.int64)
    if p.kind == "relu6":
        return _clamp_int8(x, p.act_min, p.act_max)
    v = fp.multiply_by_quantized_multiplier(x - p.input_zero_point, p.multiplier, p.shift, p.rounding)
    return _clamp_int8(v + p.output_zero_point, p.act_min, p.act_max)
