"""Channels a fast kernel cannot requantize exactly, handled one by one instead of per layer.

The fast kernels' requantization shortcut (specialize.py) needs every channel's accumulator to
fit int32 when doubled and a right shift of 1 to 30. Dead channels (all-zero weights, a bias
saturated near +-2^30, common after training with ReLU and weight decay) and extreme scales
break it for a few channels of an otherwise ordinary layer. Rather than giving the whole layer
to the portable kernel:

- a channel whose output is the same for every input (the requantized ends of its accumulator
  range agree) becomes a constant channel: zero weights and constants that make the fast
  requantization produce exactly that value;
- any other such channel is zeroed in the fast layout and computed afterwards by
  mcc_conv2d_channels_s8, the portable arithmetic restricted to the listed channels, writing
  into the same output tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcucompress.quantize.fixedpoint import multiply_by_quantized_multiplier
from mcucompress.quantize.params import c_activation, c_tile

_INT32_MIN, _INT32_MAX = -2**31, 2**31 - 1
PATCH_KERNEL = "mcc_conv2d_channels_s8"
PATCH_SOURCE = "conv/mcc_conv2d_channels_s8.c"


@dataclass(frozen=True, eq=False)
class ChannelSplit:
    """Fast constants of every channel after splitting, and the channels left to the patch."""

    table: np.ndarray      # (n, 4) int32 {2 * folded bias, multiplier, round, right shift}
    weights: np.ndarray    # (n, K) int64 weights, zero for constant and patched channels
    constant: np.ndarray   # indices of channels stored as constants
    patched: np.ndarray    # indices of channels computed by mcc_conv2d_channels_s8


@dataclass(frozen=True, eq=False)
class Patch:
    """What mcc_conv2d_channels_s8 needs for the patched channels of one layer."""

    index: np.ndarray      # output channels
    weights: np.ndarray    # (count, K) int8, each row in mcc_conv2d_s8's filter order
    bias: np.ndarray       # int32 per listed channel
    multiplier: np.ndarray
    shift: np.ndarray
    depthwise: bool


def constant_output(w: np.ndarray, folded: int, multiplier: int, shift: int, output_offset: int,
                    act_min: int, act_max: int) -> int | None:
    """The output value of a channel that gives the same value for every int8 input, else None.

    The accumulator is folded + sum x * w over int8 x (padded positions read the zero point, an
    int8 value too); requantization is monotonic, so the output is constant exactly when both
    ends of that range give the same value. Ranges reaching past int32 are left alone (the
    reference arithmetic would wrap)."""
    low = folded + int(np.minimum(-128 * w, 127 * w).sum())
    high = folded + int(np.maximum(-128 * w, 127 * w).sum())
    if low < _INT32_MIN or high > _INT32_MAX:
        return None
    ends = multiply_by_quantized_multiplier(np.array([low, high]), multiplier, shift, "tflm") + output_offset
    ends = np.clip(ends, act_min, act_max)
    return int(ends[0]) if ends[0] == ends[1] else None


def split_channels(rows: np.ndarray, ok: np.ndarray, w: np.ndarray, bias: np.ndarray, p) -> ChannelSplit:
    """rows, ok: the fast constants and exactness of each channel (specialize._channel_rows);
    w: (channels, K) weights of each output channel (depthwise: its taps); p: kernel params."""
    n = len(rows)
    table = np.array(rows, dtype=np.int64)
    weights = np.array(w, dtype=np.int64)
    multiplier = np.broadcast_to(np.asarray(p.multiplier, dtype=np.int64), (n,))
    shift = np.broadcast_to(np.asarray(p.shift, dtype=np.int64), (n,))
    folded = bias.astype(np.int64) + int(p.input_offset) * weights.sum(1)
    constant, patched = [], []
    for c in np.flatnonzero(~ok):
        value = constant_output(weights[c], int(folded[c]), int(multiplier[c]), int(shift[c]),
                                int(p.output_offset), int(p.act_min), int(p.act_max))
        # a zero accumulator with multiplier 0: SMMLAR gives the round term, halved by the shift
        table[c] = (0, 0, 2 * value, 1) if value is not None else (0, 0, 0, 1)
        (constant if value is not None else patched).append(int(c))
        weights[c] = 0
    return ChannelSplit(table.astype(np.int32), weights, np.array(constant, dtype=np.int64),
                        np.array(patched, dtype=np.int64))


def patch(channels, w: np.ndarray, bias: np.ndarray, p, depthwise: bool) -> Patch | None:
    """The patch of the listed channels, or None when there are none. w: (channels, K) weights
    in mcc_conv2d_s8's per-channel order (depthwise: each channel's taps)."""
    index = np.asarray(channels, dtype=np.int64)
    if index.size == 0:
        return None
    n = len(bias)
    multiplier = np.broadcast_to(np.asarray(p.multiplier, dtype=np.int64), (n,))
    shift = np.broadcast_to(np.asarray(p.shift, dtype=np.int64), (n,))
    return Patch(index, np.asarray(w, dtype=np.int64)[index].astype(np.int8), bias[index].astype(np.int64),
                 multiplier[index], shift[index], depthwise)


def lower_patch(b, op, oid: str, p, patch_: Patch, kernel, stride, padding, dilation,
                in_dims: str, x_ptr: str, out_dims: str, out_ptr: str) -> None:
    """Emit the mcc_conv2d_channels_s8 call that finishes a layer's patched channels."""
    index = b.array(f"{oid}_patch_index", patch_.index, "int32_t")
    weights = b.array(f"{oid}_patch_weights", patch_.weights.reshape(-1), "int8_t")
    bias = b.array(f"{oid}_patch_bias", patch_.bias, "int32_t")
    mult = b.array(f"{oid}_patch_multiplier", patch_.multiplier, "int32_t")
    shift = b.array(f"{oid}_patch_shift", patch_.shift, "int32_t")
    params = b.struct("mcc_conv_channels_params", f"{oid}_patch_params",
                      {"kernel": c_tile(kernel), "stride": c_tile(stride), "padding": c_tile(padding),
                       "dilation": c_tile(dilation), "input_offset": p.input_offset,
                       "output_offset": p.output_offset, "activation": c_activation(p),
                       "depthwise": patch_.depthwise, "count": len(patch_.index), "index": index,
                       "weights": weights, "bias": bias, "multiplier": mult, "shift": shift})
    b.call(op, PATCH_KERNEL, params, in_dims, x_ptr, out_dims, out_ptr)
