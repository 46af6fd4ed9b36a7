"""Export-time specialisation for the fast int8 kernels (runtime_c/conv/mcc_*_fast_s8.c).

The exporter knows every weight, offset and multiplier, so work the kernels would repeat at run
time is done here once:

- the input offset is folded into the bias (sum (x + off) * w = sum x * w + off * sum w; padded
  positions read the input zero point, which then contributes nothing);
- weights are widened to int16, doubled (the doubling of the rounding doubling high multiply,
  so the kernel's SMMLAR needs no shift), and laid out so that SXTB16 / SXTB16(ROR 8) of four
  activations lines up with them (k0, k2 | k1, k3), interleaved for the kernel's blocking;
- the output offset is folded into the rounding constant of the right shift.

Layers marked ``dense_layout = "int8"`` (encode/choose.py) keep their weights one byte each
instead: fully connected ones for mcc_fully_connected_fast_s8 (rows blocked by 4, the input
widened once into scratch), conv2d ones for mcc_conv2d_fast_w8_s8 (the widened kernel's loops,
each channel's 8 weights of a group in order, widened as they are read); both double the
accumulator instead of the weights. Fully connected layers marked ``"int16"`` (hot layers on DSP
cores) run the int8 kernel's loops on int16 weights (mcc_fully_connected_fast_w16_s8).

The kernels are exact under conditions checked per channel (TFLM double rounding, a right shift
of at least 1, no possible int32 overflow). Channels that fail them do not send the layer to the
portable kernel: channel_split.py stores them as exact constants when their output cannot vary,
or finishes them after the fast kernel with mcc_conv2d_channels_s8 (so do the last 1-3 channels
of a depthwise layer). ``fast_conv`` / ``fast_depthwise`` return None only for layers no fast
kernel takes (LiteRT single rounding, non-int8 weights); a depthwise layer with a depth
multiplier above 1 runs on the input with each channel repeated into its scratch. The choice
is made per layer here, so the generated calls name the kernels that run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mcucompress.codegen.channel_split import (PATCH_KERNEL, PATCH_SOURCE, Patch, constant_output, lower_patch,
                                               patch, split_channels)
from mcucompress.codegen.relu_requant import best_final_shift, relu_requant_rows
from mcucompress.encode.choose import LAYOUT_ATTR
from mcucompress.ir.graph import Graph, Op
from mcucompress.ir.ops import kernel_sources
from mcucompress.kernel_rules import mve_few_k
from mcucompress.memory.arena import plan_memory, scratch_name
from mcucompress.quantize.params import c_activation, c_tile, kernel_params
from mcucompress.quantize.shared_fc import pq_table_bytes

GROUP = 8                      # products per group in the conv layout (one MVE vector of int16)
_PERM4 = np.array([0, 2, 1, 3])  # position of k within its group of 4 after SXTB16 unpacking
_INT32_LIMIT = 2**31 - 1

FC_BLOCK = 4                   # output rows per pass of mcc_fully_connected_fast_s8
DENSE_LAYOUT = LAYOUT_ATTR      # op attribute set by encode/choose.py: "int8" or "widened"
ADD_TABLE_BYTES = 2 * 256 * 4   # mcc_add_fast_s8_get_buffer_size()
# Per core family, the add's size from which mcc_add_fast_s8 (two 256-entry tables built per call,
# then a few instructions an element) beats mcc_add_s8 (43 instructions an element on the M4 and
# the M55, 130 on the M3, 289 on the M0): the crossover of the two kernels' measured costs, a + b *
# size (docs/BENCHMARKS.md, "small residual adds"; the M0's for the M0/M3 family, the M3's is 94).
# MVE cores build the tables four entries a pass, so theirs pay from a few dozen values.
ADD_TABLE_MIN_SIZE = {"m0m3": 163, "m4": 181, "m55": 36}


def add_table_min_size(cpu: str | None) -> int:
    """The smallest add that takes the table kernel on ``cpu`` (None: any core, the M4's)."""
    from mcucompress.encode.cost_model import family

    return ADD_TABLE_MIN_SIZE[family(cpu)]


@dataclass(frozen=True, eq=False)
class FastLayer:
    """Specialised constants of one layer."""

    weights: np.ndarray    # int32 words, each two int16 values (first in the low half), or
                           # four int8 values for mcc_fully_connected_fast_s8
    channels: np.ndarray   # int32 (out_c, 4): bias, multiplier, round, shift (mcc_conv2d_fast_w8_s8:
                           # (out_c, 3), pair_major_w8)
    k_padded: int          # conv: products per output padded to a multiple of GROUP (fc int8: 4);
                           # depthwise: channels on the fast kernel (a multiple of 4)
    scratch_bytes: int
    kernel: str = "mcc_conv2d_fast_s8"
    patch: Patch | None = None    # channels finished by mcc_conv2d_channels_s8 (channel_split.py)
    constant_channels: int = 0    # channels stored as exact constants
    weight_layout: str | None = None  # dense weights: "int8" (one byte each) or "widened" (int16)
    dw_relu_shift: int = 0        # depthwise: the shared final shift of its two-instruction channels (0: none)
    relu_shift: int | None = None     # widened conv requantized in two instructions (conv_relu_layer)
    two_planes_scratch: int = 0   # depthwise on row-pair planes: the scratch with a second plane (0: none)
    planes: int = 1               # depthwise: 2 when granted that scratch (grant_two_planes)
    generated: object = None      # depthwise written out as its own C function (dw_gen.DwGenLayer)


def _pack_words(values: np.ndarray) -> np.ndarray:
    v = np.asarray(values, dtype=np.int16).reshape(-1).view(np.uint16).astype(np.uint32)
    return (v[0::2] | (v[1::2] << 16)).view(np.int32)


def _channel_rows(w_sum_abs, w_sum, bias, input_offset, output_offset, multiplier, shift):
    """{2 * folded bias, multiplier, round, right shift} per channel (int64), and which channels
    the fast kernels requantize exactly."""
    folded = bias.astype(np.int64) + int(input_offset) * w_sum
    acc_bound = 128 * w_sum_abs + np.abs(folded)          # |sum x*w + folded|, x in int8
    right = np.broadcast_to(-np.asarray(shift, dtype=np.int64), folded.shape)
    mult = np.broadcast_to(np.asarray(multiplier, dtype=np.int64), folded.shape)
    ok = (right >= 1) & (right <= 30) & (mult >= 0) & (2 * acc_bound <= _INT32_LIMIT)
    safe_right = np.clip(right, 1, 30)
    rnd = (np.int64(1) << (safe_right - 1)) + np.int64(output_offset) * (np.int64(1) << safe_right)
    ok &= np.abs(rnd) + acc_bound + 1 <= _INT32_LIMIT
    return np.stack([2 * folded, mult, rnd, safe_right], axis=1), ok


def _channel_table(w_sum_abs, w_sum, bias, input_offset, output_offset, multiplier, shift):
    """{2 * folded bias, multiplier, round, right shift} per channel, or None when inexact."""
    table, ok = _channel_rows(w_sum_abs, w_sum, bias, input_offset, output_offset, multiplier, shift)
    return table.astype(np.int32) if np.all(ok) else None


def _bias(graph: Graph, op: Op, n: int) -> np.ndarray:
    if len(op.inputs) > 2 and op.inputs[2] is not None:
        return np.asarray(graph.tensor(op.inputs[2]).data, dtype=np.int64).reshape(n)
    return np.zeros(n, dtype=np.int64)


def conv_layout(w: np.ndarray, scale=2) -> tuple[np.ndarray, int]:
    """(out_c, K) int weights -> packed words of mcc_conv2d_fast_s8, and k_padded; each weight
    times ``scale`` (2: doubled; per channel 2^j for the two-instruction requantization)."""
    out_c, k = w.shape
    k_padded = -(-k // GROUP) * GROUP
    idx = np.arange(k)
    widened = np.zeros((out_c, k_padded), dtype=np.int16)
    widened[:, (idx & ~3) | _PERM4[idx & 3]] = np.asarray(scale, dtype=np.int64).reshape(-1, 1) * w
    groups = k_padded // GROUP
    # channel pairs interleaved by half groups: [a 0-3][b 0-3][a 4-7][b 4-7] (one LDM each)
    blocks = [np.stack([widened[c].reshape(groups, 2, GROUP // 2),
                        widened[c + 1].reshape(groups, 2, GROUP // 2)], axis=2).reshape(-1)
              for c in range(0, out_c - 1, 2)]
    if out_c % 2:
        blocks.append(widened[-1])
    return _pack_words(np.concatenate(blocks)), k_padded


def conv_int8_layout(w: np.ndarray) -> tuple[np.ndarray, int]:
    """(out_c, K) int8 weights -> the words of mcc_conv2d_fast_w8_s8, and k_padded: per channel
    pair and group of GROUP products the even channel's weights in order, then the odd one's; an
    odd last channel alone; zero padded to k_padded, undoubled, 4 bytes a word."""
    out_c, k = w.shape
    k_padded = -(-k // GROUP) * GROUP
    padded = np.zeros((out_c, k_padded), dtype=np.int8)
    padded[:, :k] = w
    groups = k_padded // GROUP
    blocks = [np.stack([padded[c].reshape(groups, GROUP), padded[c + 1].reshape(groups, GROUP)], axis=1).reshape(-1)
              for c in range(0, out_c - 1, 2)]
    if out_c % 2:
        blocks.append(padded[-1])
    return np.concatenate(blocks).view("<i4").astype(np.int32), k_padded


def conv_scratch_bytes(k_padded: int, in_c: int) -> int:
    """mcc_conv2d_fast_s8_get_buffer_size(): two int16 columns (+ an int8 staging row)."""
    return 4 * k_padded + (k_padded if in_c % 8 else 0)


DW_BLOCK = 8                   # channels per block of the depthwise layout (one MVE vector of int16)
DW_STRIP_STATE_BYTES = 68      # sizeof(dw_strip_layer) in mcc_depthwise_conv2d_fast_s8.c
# C define that builds the DSP strip path for 3x3 depthwise layers with a stride of 2 (only in the
# trees of models that have one: the code stays out of the other models' flash)
DW_STRIDE2_DEFINE = "MCC_DW_STRIDE2_STRIPS"
# Shorter strips lose to the taps path (per channel and line their set-up outweighs the outputs;
# at stride 2 each output also widens 4 entries): MCC_DW_STRIP_MIN_LEN, MCC_DW_STRIDE2_MIN_LEN
DW_STRIP_MIN_LEN = 4
DW_STRIDE2_MIN_LEN = 8
# C define that builds the DSP one-pixel loop of 1x1 convs on exactly 8 input channels (widened
# weights, no padding, activation over all of int8; only in the trees of models that have one)
CONV_1X1_C8_DEFINE = "MCC_CONV_1X1_C8"
# words after such a layer's constants: its last channel pair's loads take two more (the biases of
# a next pair, unused)
CONV_1X1_C8_SPARE_WORDS = 2
# C define that builds the DSP loop of a lone last output pixel of widened conv layers (a layer of
# an odd number of pixels otherwise runs its last one through the two-pixel loop, twice): only
# in the trees of models with a conv layer of at most CONV_ONE_PIXEL_MAX pixels, an odd number,
# where that pixel is at least 1/31 of the layer's work (its code, about 160 B, stays out of the
# others; fully connected layers of one row, small classifiers, do not ask for it)
CONV_ONE_PIXEL_DEFINE = "MCC_CONV_ONE_PIXEL"
CONV_ONE_PIXEL_MAX = 31
# C define that builds the DSP channel-pair loop's row walk for 1x1 convs that read their input
# pixels as columns (widened weights, whole groups of 8 input channels, no padding, an even
# channel count): the loop widens and runs every pair of pixels itself, about 30 instructions a
# pair of pixels fewer than the C loop around it. Only in the trees of models with such a layer of
# at least CONV_DIRECT_ROWS_MIN_PIXELS output pixels, where that outweighs its 300-400 B of code.
CONV_DIRECT_ROWS_DEFINE = "MCC_CONV_DIRECT_ROWS"
CONV_DIRECT_ROWS_MIN_PIXELS = 512


def conv_direct_rows(kernel_name, kernel, pad, in_c, out_shape) -> bool:
    """Whether a conv layer asks for CONV_DIRECT_ROWS_DEFINE: widened weights, 1x1 without padding
    on whole groups of 8 input channels, an even channel count, at least
    CONV_DIRECT_ROWS_MIN_PIXELS output pixels (per batch)."""
    pixels = int(np.prod(out_shape[1:-1])) if len(out_shape) > 2 else 1
    return (kernel_name == "mcc_conv2d_fast_s8" and tuple(kernel) == (1, 1) and tuple(pad) == (0, 0)
            and int(in_c) % 8 == 0 and int(out_shape[-1]) % 2 == 0 and pixels >= CONV_DIRECT_ROWS_MIN_PIXELS)


def conv_lone_pixel(out_shape) -> bool:
    """Whether a widened conv layer of this output shape gets the DSP loop of a lone last pixel:
    an odd number of output pixels (per batch), at most CONV_ONE_PIXEL_MAX."""
    pixels = int(np.prod(out_shape[1:-1])) if len(out_shape) > 2 else 1
    return pixels % 2 == 1 and pixels <= CONV_ONE_PIXEL_MAX


def depthwise_strip_span(kernel, stride, dilation, out_hw) -> int:
    """The input positions one strip covers when a DSP core runs a depthwise layer in strips
    along the longer side of its output (3x3 windows, no dilation; stride 1 with DW_STRIP_MIN_LEN
    outputs a strip or more, or 2 along the strips and 1 or 2 between them with DW_STRIDE2_MIN_LEN):
    (outputs - 1) * stride + 3; 0 for any other layer."""
    if tuple(kernel) != (3, 3) or tuple(dilation) != (1, 1) or not set(stride) <= {1, 2}:
        return 0
    along = 0 if out_hw[0] > out_hw[1] else 1
    if 2 in tuple(stride) and (stride[along] == 1 or int(out_hw[along]) < DW_STRIDE2_MIN_LEN):
        return 0
    if int(out_hw[along]) < DW_STRIP_MIN_LEN:
        return 0
    return (int(out_hw[along]) - 1) * int(stride[along]) + 3


# C defines for MVE cores: a layer runs in lines of one channel (3x3, stride 1, DW_MVE_LINE_MIN
# outputs or more along the output's longer side; MCC_DW_MVE_LINE_MIN), and no layer takes the
# taps path (its MVE code then stays out of flash)
DW_MVE_LINES_DEFINE = "MCC_DW_MVE_LINES"
DW_MVE_TAPS_DEFINE = "MCC_DW_MVE_TAPS"
DW_MVE_LINE_MIN = 16


def depthwise_mve_lines(kernel, stride, dilation, in_shape, out_hw) -> bool:
    """Whether an MVE core runs a depthwise layer channel by channel in lines (dw_mve3_fits in
    mcc_depthwise_conv2d_fast_s8.c): 3x3 windows at stride 1, DW_MVE_LINE_MIN outputs or more
    along the output's longer side, 8 inputs along a line within 16-bit gather offsets."""
    if tuple(kernel) != (3, 3) or tuple(stride) != (1, 1) or tuple(dilation) != (1, 1):
        return False
    along_y = int(out_hw[0]) > int(out_hw[1])
    elem_step = (int(in_shape[2]) if along_y else 1) * int(in_shape[3])
    return int(out_hw[0 if along_y else 1]) >= DW_MVE_LINE_MIN and 7 * elem_step <= 0xFFFF


# C define for MVE cores: a layer runs on channel planes, four rows interleaved (dw_flat_fits in
# mcc_depthwise_conv2d_fast_s8.c: 3x3, stride 1 or 2 both ways, DW_FLAT_MIN_OUTPUTS outputs or more,
# in lines along the output's longer side of 6 outputs or more, 7 at stride 2 (shorter ones lose
# to the taps path), 8 inputs along a line within 16-bit gather offsets, its working memory at
# most DW_FLAT_MAX_BYTES and half the layer's input and output bytes)
DW_MVE_FLAT_DEFINE = "MCC_DW_MVE_FLAT"
DW_FLAT_MAX_BYTES = 16384
DW_FLAT_MIN_OUTPUTS = 16
DW_FLAT_BLOCK_COLS = 64     # planes this narrow are written straight into blocks of interleaved rows


MVE_FAMILIES = frozenset({"m55"})   # cost-model core families with Helium (MVE)


def planes_target(cpu: str | None) -> bool:
    """Whether an export for ``cpu`` sizes depthwise scratch for channel planes and builds their
    code: for an MVE core, or for no core in particular (None: the tree may run on any core, an
    MVE one included); a DSP or ARMv6-M core never runs them, so its arena keeps only what its
    own paths need."""
    from mcucompress.encode.cost_model import family

    return cpu is None or family(cpu) in MVE_FAMILIES


DSP_FAMILIES = frozenset({"m4"})    # cost-model core families that take the DSP paths (M4, M7, M33)


def pairs_target(cpu: str | None) -> bool:
    """Whether an export for ``cpu`` sizes depthwise scratch for the DSP row-pair planes and builds
    their code: for a DSP core, or for no core in particular (an MVE core's DSP-only build,
    MCC_NO_MVE, then runs such layers in strips or on tap pairs)."""
    from mcucompress.encode.cost_model import family

    return cpu is None or family(cpu) in DSP_FAMILIES


def depthwise_mve_flat_bytes(kernel, stride, dilation, padding, in_shape, out_hw) -> int:
    """The working memory of a layer an MVE core runs on channel planes (dw_flat_bytes: the
    plane of (outputs - 1) * stride + 4 rows and columns (along and across the output's longer
    side) with 16 bytes read past it, rounded to 16,
    then four rows interleaved, whole groups of 16 columns, and 64 bytes read past them; for
    DW_FLAT_BLOCK_COLS columns or fewer, blocks of four interleaved rows of whole groups of 16
    columns, one a line at stride 2 or pair of lines at stride 1, a spare one, 64 bytes read past
    them and two pointers a plane row); 0 when the layer does not run so."""
    s = int(stride[0])
    along_y = int(out_hw[0]) > int(out_hw[1])   # lines along the longer side: the plane transposed
    length, lines = (int(out_hw[0]), int(out_hw[1])) if along_y else (int(out_hw[1]), int(out_hw[0]))
    if (tuple(kernel) != (3, 3) or tuple(dilation) != (1, 1) or int(stride[1]) != s or s not in (1, 2)
            or length * lines < DW_FLAT_MIN_OUTPUTS or length < (7 if s == 2 else 6)
            or 7 * (int(in_shape[2]) if along_y else 1) * int(in_shape[3]) > 0xFFFF
            or min(padding) < 0):
        return 0
    cols, rows = (length - 1) * s + 4, (lines - 1) * s + 4
    if cols <= DW_FLAT_BLOCK_COLS:   # blocks of four interleaved rows, one a line (pair), and a spare one,
        # then two pointers a plane row (where the fill writes it), 8 B a row on the 32-bit target
        need = (((lines + 1) // 2 if s == 1 else lines) + 1) * 4 * ((cols + 15) & ~15) + 64 + 8 * rows
    else:
        need = ((rows * cols + 16 + 15) & ~15) + 4 * ((cols + 15) & ~15) + 64
    tensors = (int(in_shape[1]) * int(in_shape[2]) + int(out_hw[0]) * int(out_hw[1])) * int(in_shape[3])
    return need if need <= DW_FLAT_MAX_BYTES and 2 * need <= tensors else 0

# C define for DSP cores: a layer runs on channel planes of row pairs (dw_pairs_bytes in
# mcc_depthwise_conv2d_fast_s8.c: 3x3 at stride 1 or 2 both ways, DW_PAIRS_MIN_SIDE output rows and columns or
# more, at most twice as many rows as columns (taller outputs: strips down the long columns win),
# its plane at most DW_PAIRS_MAX_BYTES and half the layer's input and output bytes)
DW_DSP_PLANES_DEFINE = "MCC_DW_DSP_PLANES"
DW_PAIRS_MAX_BYTES = 16384
DW_PAIRS_MIN_SIDE = 4


def depthwise_dsp_pairs_bytes(kernel, stride, dilation, padding, in_shape, out_hw) -> int:
    """The plane a DSP core runs a depthwise layer on (dw_pairs_bytes): per pair of padded input
    rows one word per padded column the outputs read, (out_w - 1) * stride + 3; out_h / 2 + 1 pair
    rows at stride 1, out_h + 1 at stride 2 (out_h rounded up to even), and 2 words read past
    them; 0 when the layer does not run so."""
    s = int(stride[0])
    oh, ow = int(out_hw[0]), int(out_hw[1])
    if (tuple(kernel) != (3, 3) or tuple(dilation) != (1, 1) or int(stride[1]) != s or s not in (1, 2)
            or min(padding) < 0 or min(oh, ow) < DW_PAIRS_MIN_SIDE or oh > 2 * ow):
        return 0
    half = (oh + 1) // 2
    need = 4 * (((ow - 1) * s + 3) * (half + 1 if s == 1 else 2 * half + 1) + 2)
    tensors = (int(in_shape[1]) * int(in_shape[2]) + oh * ow) * int(in_shape[3])
    return need if need <= DW_PAIRS_MAX_BYTES and 2 * need <= tensors else 0


# C define for MVE cores: a 1x1 conv on int8 weights runs channel by channel over four pixels
# at a time (few_k_channels_mve in mcc_conv2d_fast_s8.c); its code stays out of other builds.
CONV_MVE_FEW_K_DEFINE = "MCC_CONV_MVE_FEW_K"


def conv_mve_few_k(kernel_name, kernel, stride, pad, in_c, out_c, k_padded) -> bool:
    """Whether an MVE core runs a conv layer in few_k_channels_mve: the int8-weight kernel, no
    padded products, and the layer's shape by kernel_rules.mve_few_k (which the cost model reads)."""
    return (kernel_name == "mcc_conv2d_fast_w8_s8" and int(k_padded) == int(in_c)
            and mve_few_k(kernel, stride, pad, in_c, out_c))


# C define (DSP cores) of the final shift H of the conv kernel's two-instruction requantization
# (codegen/relu_requant.py: SMMLA, then SSAT with ASR #H): set, with the shift every flagged layer
# shares, only in the trees of models with a flagged layer (conv_relu_layer); absent, its code is
# not built. A flagged layer's channel table keeps the widened layout's {bias, multiplier, round,
# shift}: bias and weights scaled by 2^j instead of doubled, round the SMMLA addend, shift 0 (a
# value no other layer has: the kernel tells the layers apart by the first pair's shift word).
CONV_RELU_SHIFT_DEFINE = "MCC_CONV_RELU_SHIFT"


def _relu_candidate(graph: Graph, op: Op, p) -> bool:
    """A layer the two-instruction requantization may take: a dense conv2d or fully connected on
    the widened layout (TFLM rounding), two channels or more, clamped at or above its zero point."""
    if op.kind not in ("conv2d", "fully_connected") or op.attrs.get("weight_encoding", "dense") != "dense":
        return False
    if op.attrs.get(DENSE_LAYOUT) in ("int8", "int16") or getattr(p, "rounding", "tflm") != "tflm":
        return False
    wt = graph.tensor(op.inputs[1])
    if op.kind == "fully_connected" and p.filter_offset != 0:
        return False
    if op.kind == "conv2d" and wt.shape[-1] != graph.tensor(op.inputs[0]).shape[-1]:
        return False
    return (wt.data is not None and wt.data.dtype == np.int8 and int(wt.shape[0]) >= 2
            and int(p.act_min) >= int(p.output_offset))


def conv_relu_shift(graph: Graph, rounding: str, cpu: str | None) -> int | None:
    """The final shift H of a DSP core's tree: best_final_shift over the channels of every
    candidate layer weighted by their outputs; None for other cores (and a tree for any core) or
    when no layer is a candidate."""
    if rounding != "tflm" or not relu_shift_target(cpu):
        return None
    return _relu_final_shift(graph, rounding, _relu_candidate)


def _relu_final_shift(graph: Graph, rounding: str, candidate) -> int | None:
    """best_final_shift over the output channels of the layers ``candidate(graph, op, params)``
    accepts, each weighted by its outputs (the pixels of its output); None when it accepts none."""
    shifts, weights = [], []
    for op in graph.ops:
        if op.kind not in ("conv2d", "fully_connected", "depthwise_conv2d"):
            continue
        p = kernel_params(graph, op, rounding)
        if not candidate(graph, op, p):
            continue
        out = graph.output_tensor(op)
        n = int(out.shape[-1])
        shifts.append(np.broadcast_to(np.asarray(p.shift, dtype=np.int64).reshape(-1), (n,)))
        weights.append(np.full(n, out.size / n))
    if not shifts:
        return None
    return best_final_shift(np.concatenate(shifts), np.concatenate(weights))


def conv_relu_layer(w, bias, p, split, final_shift: int):
    """(weights scaled by 2^j per channel, channel table, how many channels are constant) of a
    widened layer whose every channel can use the two-instruction requantization with
    ``final_shift``, constant channels aside (round = value << final_shift with multiplier 0: those
    split_channels stores so, and channels whose shift is out of reach but whose output cannot
    vary, e.g. dead ones); None when a channel cannot (or one is patched)."""
    if len(split.patched) or len(w) < 2:
        return None
    n = len(w)
    folded = bias.astype(np.int64) + int(p.input_offset) * w.sum(1)
    bound = 128 * np.abs(w).sum(1) + np.abs(folded)
    mult = np.broadcast_to(np.asarray(p.multiplier, dtype=np.int64).reshape(-1), (n,))
    shift = np.broadcast_to(np.asarray(p.shift, dtype=np.int64).reshape(-1), (n,))
    rows = relu_requant_rows(mult, shift, p.output_offset, p.act_min, bound, final_shift)
    constant = np.zeros(n, dtype=bool)
    constant[split.constant] = True
    value = split.table[:, 2].astype(np.int64) // 2   # a constant channel's output
    for c in np.flatnonzero(~(rows.ok | constant)):
        out = constant_output(w[c], int(folded[c]), int(mult[c]), int(shift[c]), int(p.output_offset),
                              int(p.act_min), int(p.act_max))
        if out is None:
            return None
        constant[c], value[c] = True, out
    table = np.stack([np.where(constant, 0, folded << rows.weight_bits), np.where(constant, 0, mult),
                      np.where(constant, value << final_shift, rows.round), np.zeros(n, np.int64)], axis=1)
    if np.abs(table).max() > _INT32_LIMIT:
        return None
    scale = np.where(constant, 0, np.int64(1) << rows.weight_bits)
    return scale[:, None] * np.asarray(split.weights, dtype=np.int64), table, int(constant.sum())


def conv_1x1_c8(kernel_name, kernel, pad, in_c, act) -> bool:
    """Whether a DSP core runs a conv layer in the one-pixel loop of CONV_1X1_C8_DEFINE: widened
    weights, 1x1 without padding, exactly 8 input channels, an activation over all of int8."""
    return (kernel_name == "mcc_conv2d_fast_s8" and tuple(kernel) == (1, 1) and tuple(pad) == (0, 0)
            and int(in_c) == 8 and (act["min"], act["max"]) == (-128, 127))


def depthwise_strided_strips(kernel, stride, dilation, out_hw) -> bool:
    """Whether a layer runs in strips only in a build with DW_STRIDE2_DEFINE."""
    return depthwise_strip_span(kernel, stride, dilation, out_hw) > 0 and 2 in tuple(stride)


def depthwise_scratch_bytes(channels: int, taps: int, strip_span: int = 0) -> int:
    """mcc_depthwise_conv2d_fast_s8_get_buffer_size(): the zero row (8-byte aligned), then a
    pointer per tap slot (taps rounded up to pairs) of two output pixels, counted at 8 bytes so
    the same arena serves the 64-bit host build; or, when those need more, three widened int16
    lines of a strip (the span plus one entry, rounded up to pairs) and the layer's strip state."""
    taps_bytes = ((channels + 7) & ~7) + 2 * 8 * (taps + taps % 2)
    strip_bytes = (3 * ((strip_span + 2) & ~1) * 2 + DW_STRIP_STATE_BYTES + 7) & ~7 if strip_span > 0 else 0
    return max(taps_bytes, strip_bytes)


def fc_int8_scratch_bytes(k_padded: int) -> int:
    """mcc_fully_connected_fast_s8_get_buffer_size(): the input widened to int16."""
    return 2 * k_padded


def pair_major(table: np.ndarray) -> np.ndarray:
    """Conv channel constants per output channel pair: {bias, multiplier, round, shift} each as
    (even, odd); an odd last channel keeps {bias, multiplier, round, shift}."""
    n = len(table) // 2 * 2
    pairs = table[:n].reshape(-1, 2, 4).transpose(0, 2, 1).reshape(-1, 4)
    return np.concatenate([pairs, table[n:]]).astype(np.int32)


def requant_words(table: np.ndarray) -> np.ndarray:
    """{round, right shift} of each channel as the one word of mcc_conv2d_fast_w8_s8:
    (q << 8) | (-shift & 0xFF) with (v + round) >> shift == round(v / 2^shift) + q for every
    v the channel's sums can give. q is the output offset where round = 2^(shift-1) +
    (q << shift); a constant or patched channel (multiplier 0, its sums all 0) gets its output."""
    rnd, shift = table[:, 2].astype(np.int64), table[:, 3].astype(np.int64)
    rest = rnd - (np.int64(1) << (shift - 1))
    exact = rest % (np.int64(1) << shift) == 0
    q = np.where(exact, rest >> shift, rnd >> shift)
    if not np.all(exact | (table[:, 1] == 0)):
        raise ValueError("a channel's round constant is not a rounding half plus an offset")
    return (q << 8) | ((-shift) & 0xFF)


def pair_major_w8(table: np.ndarray) -> np.ndarray:
    """mcc_conv2d_fast_w8_s8's channel constants: per output channel pair {bias, multiplier,
    requant} each as (even, odd) (requant_words), an odd last channel {bias, multiplier, requant}:
    12 bytes a channel instead of the widened kernel's 16."""
    rows = np.stack([table[:, 0], table[:, 1], requant_words(table)], axis=1)
    n = len(rows) // 2 * 2
    pairs = rows[:n].reshape(-1, 2, 3).transpose(0, 2, 1).reshape(-1, 3)
    return np.concatenate([pairs, rows[n:]]).astype(np.int32)


def fc_int8_layout(w: np.ndarray) -> tuple[np.ndarray, int]:
    """(units, K) int weights -> int8 words of mcc_fully_connected_fast_s8, and k_padded.

    Rows in blocks of FC_BLOCK (the last block the rows left); per group of 4 inputs one word
    per row of the block, its 4 weights in order (SXTB16 / SXTB16 ROR 8 of it pair with the
    input widened the same way)."""
    units, k = w.shape
    k_padded = -(-k // 4) * 4
    padded = np.zeros((units, k_padded), dtype=np.int8)
    padded[:, :k] = w
    blocks = [padded[r:r + FC_BLOCK].reshape(-1, k_padded // 4, 4).transpose(1, 0, 2).reshape(-1)
              for r in range(0, units, FC_BLOCK)]
    return np.concatenate(blocks).view("<i4").astype(np.int32), k_padded


def fc_int16_layout(w: np.ndarray) -> tuple[np.ndarray, int]:
    """(units, K) int weights -> int16 words of mcc_fully_connected_fast_w16_s8, and k_padded.

    Rows in blocks of FC_BLOCK (the last block the rows left); per group of 4 inputs, for each
    row of the block, the words (w0, w2) and (w1, w3): what SMLAD pairs with the input widened
    by SXTB16 / SXTB16 ROR 8."""
    units, k = w.shape
    k_padded = -(-k // 4) * 4
    padded = np.zeros((units, k_padded), dtype=np.int16)
    padded[:, :k] = w
    padded = padded.reshape(units, -1, 4)[:, :, _PERM4]   # per group w0 w2 w1 w3
    blocks = [padded[r:r + FC_BLOCK].transpose(1, 0, 2).reshape(-1) for r in range(0, units, FC_BLOCK)]
    return _pack_words(np.concatenate(blocks)), k_padded


def fast_conv(graph: Graph, op: Op, p, rounding: str, relu_shift: int | None = None) -> FastLayer | None:
    """conv2d or fully_connected (as a 1x1 convolution) for mcc_conv2d_fast_s8; ``relu_shift``:
    the tree's final shift of the two-instruction requantization (conv_relu_shift), which the
    layer takes when all its channels allow it."""
    if rounding != "tflm" or getattr(p, "rounding", "tflm") != "tflm":
        return None
    if op.kind == "fully_connected" and p.filter_offset != 0:
        return None
    wt = graph.tensor(op.inputs[1])
    if wt.data is None or wt.data.dtype != np.int8:
        return None
    w = np.asarray(wt.data, dtype=np.int64).reshape(wt.shape[0], -1)
    bias = _bias(graph, op, w.shape[0])
    rows, ok = _channel_rows(np.abs(w).sum(1), w.sum(1), bias, p.input_offset, p.output_offset,
                             p.multiplier, p.shift)
    split = split_channels(rows, ok, w, bias, p)
    extra = dict(patch=patch(split.patched, w, bias, p, depthwise=False),
                 constant_channels=len(split.constant))
    int8 = op.attrs.get(DENSE_LAYOUT) == "int8"
    if op.kind == "fully_connected" and op.attrs.get(DENSE_LAYOUT) == "int16":
        words, k_padded = fc_int16_layout(split.weights)
        return FastLayer(words, split.table, k_padded, fc_int8_scratch_bytes(k_padded),
                         "mcc_fully_connected_fast_w16_s8", weight_layout="int16", **extra)
    if op.kind == "fully_connected" and int8:
        words, k_padded = fc_int8_layout(split.weights)
        return FastLayer(words, split.table, k_padded, fc_int8_scratch_bytes(k_padded), "mcc_fully_connected_fast_s8",
                         weight_layout="int8", **extra)
    in_c = int(np.prod(wt.shape[1:])) if op.kind == "fully_connected" else int(wt.shape[-1])
    relu = (conv_relu_layer(w, bias, p, split, relu_shift)
            if relu_shift is not None and _relu_candidate(graph, op, p) else None)
    if relu is not None:
        words, k_padded = conv_layout(relu[0], scale=1)
        return FastLayer(words, pair_major(relu[1]), k_padded, conv_scratch_bytes(k_padded, in_c),
                         constant_channels=relu[2], weight_layout="widened", relu_shift=relu_shift)
    words, k_padded = (conv_int8_layout if int8 else conv_layout)(split.weights)
    return FastLayer(words, (pair_major_w8 if int8 else pair_major)(split.table), k_padded,
                     conv_scratch_bytes(k_padded, in_c),
                     "mcc_conv2d_fast_w8_s8" if int8 else "mcc_conv2d_fast_s8",
                     weight_layout="int8" if int8 else "widened", **extra)


def dw_layout(w: np.ndarray) -> np.ndarray:
    """(taps, channels) int8 weights, channels a multiple of 4 -> the int8 bytes of
    mcc_depthwise_conv2d_fast_s8 packed 4 a word: channels in blocks of DW_BLOCK (the last one 4
    wide when needed); block by block, tap by tap, the block's channels in order."""
    taps, n = w.shape
    blocks = [np.asarray(w[:, c:c + DW_BLOCK], dtype=np.int8).reshape(-1) for c in range(0, n, DW_BLOCK)]
    return np.concatenate(blocks).view("<i4").astype(np.int32) if blocks else np.zeros(0, np.int32)


def depthwise_expand_bytes(x_shape, multiplier: int) -> int:
    """Scratch for the input with each channel repeated (mcc_depthwise_expand_s8), 8-byte
    aligned; none for a depth multiplier of 1."""
    return 0 if multiplier == 1 else -(-int(np.prod(x_shape)) * multiplier // 8) * 8


# C define for DSP cores: the final shift of the two-instruction requantization (SMMLA, SSAT with
# this shift) that channels of row-pair plane layers clamped at or above the output zero point take
# (codegen/relu_requant.py); one per model, absent when no channel takes it.
DW_RELU_SHIFT_DEFINE = "MCC_DW_RELU_SHIFT"


def relu_shift_target(cpu: str | None) -> bool:
    """Whether an export for ``cpu`` gives conv and depthwise layers the two-instruction
    requantization: a DSP core named (an export for no core in particular may run on an MVE core,
    whose paths do not read it)."""
    from mcucompress.encode.cost_model import family

    return cpu is not None and family(cpu) in DSP_FAMILIES


def _dw_relu_layer(graph: Graph, op: Op, p) -> bool:
    """Whether a depthwise layer may take the two-instruction requantization: on the row-pair
    planes (whose kernel scales each channel's weights at run time) and clamped at or above the
    output zero point."""
    if op.kind != "depthwise_conv2d" or op.attrs.get("weight_encoding", "dense") != "dense":
        return False
    wt, x = graph.tensor(op.inputs[1]), graph.tensor(op.inputs[0])
    if wt.data is None or wt.data.dtype != np.int8 or int(p.act_min) < int(p.output_offset):
        return False
    return _on_pairs(p, x, wt, graph.output_tensor(op))


def depthwise_relu_shift(graph: Graph, rounding: str, cpu: str | None) -> int:
    """The model's final shift for the two-instruction requantization: the one that covers the
    most outputs of the layers that may take it (0: none may, or not a DSP core)."""
    if rounding != "tflm" or not relu_shift_target(cpu):
        return 0
    shift = _relu_final_shift(graph, rounding, lambda g, op, p: getattr(p, "rounding", "tflm") == "tflm"
                              and _dw_relu_layer(g, op, p))
    return shift or 0


def depthwise_relu_table(table: np.ndarray, fast: np.ndarray, w_sum_abs: np.ndarray, p,
                         final_shift: int) -> np.ndarray:
    """The channel table with the two-instruction requantization where a channel can take it:
    the round of relu_requant_rows and a shift word of -(j - 1) (the kernel scales the doubled
    bias by 2^(j - 1) and the weights by 2^j); the doubled bias and the multiplier stay.
    ``fast``: channels the fast kernel computes exactly today (others keep their rows)."""
    rows64 = np.asarray(table, dtype=np.int64)
    acc_bound = 128 * np.asarray(w_sum_abs, dtype=np.int64) + np.abs(rows64[:, 0] // 2)
    relu = relu_requant_rows(rows64[:, 1], -rows64[:, 3], p.output_offset, p.act_min, acc_bound, final_shift)
    use = relu.ok & np.asarray(fast, dtype=bool)
    out = rows64.copy()
    out[use, 2] = relu.round[use]
    out[use, 3] = 1 - relu.weight_bits[use]
    return out.astype(np.int32)


def fast_depthwise(graph: Graph, op: Op, p, rounding: str, planes: bool = True,
                   pairs_ok: bool = True, relu_shift: int = 0) -> FastLayer | None:
    """depthwise_conv2d for mcc_depthwise_conv2d_fast_s8; a depth multiplier above 1 runs it on
    the input with each channel repeated (mcc_depthwise_expand_s8, into the layer's scratch).
    ``planes``: the scratch may hold an MVE core's channel planes (planes_target); ``pairs_ok``: a
    DSP core's row-pair planes (pairs_target); ``relu_shift``: the model's final shift of the
    two-instruction requantization (depthwise_relu_shift; 0: none)."""
    if rounding != "tflm" or getattr(p, "rounding", "tflm") != "tflm":
        return None
    wt = graph.tensor(op.inputs[1])
    x = graph.tensor(op.inputs[0])
    if wt.data is None or wt.data.dtype != np.int8 or len(wt.shape) != 4:
        return None
    _, kh, kw, n = wt.shape
    if x.shape[-1] * p.depth_multiplier != n:
        return None
    # The repeated input lives in the arena: allowed up to twice the layer's own input and output
    # bytes. A large multiplier on a small input costs more (micro_speech: one channel to eight,
    # 15.7 KB for a 2 KB input, past a 16 KB Cortex-M0); such layers keep the portable kernel.
    expand = depthwise_expand_bytes(x.shape, p.depth_multiplier)
    if expand > 2 * (x.nbytes + graph.output_tensor(op).nbytes):
        return None
    w = np.asarray(wt.data, dtype=np.int64).reshape(kh * kw, n).T   # (channels, taps)
    bias = _bias(graph, op, n)
    rows, ok = _channel_rows(np.abs(w).sum(1), w.sum(1), bias, p.input_offset, p.output_offset,
                             p.multiplier, p.shift)
    split = split_channels(rows, ok, w, bias, p)
    fast_n = n & ~3   # the kernel takes channels by 4; the last 1-3 join the patched ones
    patched = sorted(set(split.patched.tolist()) | set(range(fast_n, n)))
    out_hw = graph.output_tensor(op).shape[1:3]
    strip_span = depthwise_strip_span((kh, kw), p.stride, p.dilation, out_hw)
    flat = depthwise_mve_flat_bytes((kh, kw), p.stride, p.dilation, (p.padding[0], p.padding[2]),
                                    (*x.shape[:-1], n), out_hw) if planes else 0
    pairs = depthwise_dsp_pairs_bytes((kh, kw), p.stride, p.dilation, (p.padding[0], p.padding[2]),
                                      (*x.shape[:-1], n), out_hw) if pairs_ok else 0
    # one plane; a second (two channels' planes filled at once, dw_pairs_fill) only where
    # grant_two_planes finds it leaves the arena's peak alone
    scratch = expand + max(depthwise_scratch_bytes(n, kh * kw, strip_span), flat, pairs)
    two_planes = expand + max(depthwise_scratch_bytes(n, kh * kw, strip_span), flat, 2 * pairs) if pairs else 0
    table = split.table[:fast_n]
    if relu_shift and _dw_relu_layer(graph, op, p):
        table = depthwise_relu_table(table, ok[:fast_n], np.abs(split.weights[:fast_n]).sum(1), p, relu_shift)
    shared = relu_shift if (table[:, 3] < 0).any() else 0
    return FastLayer(dw_layout(split.weights[:fast_n].T), table, fast_n, scratch,
                     "mcc_depthwise_conv2d_fast_s8", patch(patched, w, bias, p, depthwise=True),
                     len(split.constant), weight_layout="int8", dw_relu_shift=shared,
                     two_planes_scratch=two_planes)


GENERATED_DEPTHWISE = "mcc_depthwise_gen"   # the kernel name of layers written out by dw_gen
# op attribute: False keeps a depthwise layer on mcc_depthwise_conv2d_fast_s8 on DSP cores too (the
# tests of that kernel's DSP paths set it)
WRITE_OUT_ATTR = "write_out"


# A stride-1 depthwise layer stays on the row-pair planes of mcc_depthwise_conv2d_fast_s8 only
# where written out it would need a column loop (output rows wider than dw_gen.UNROLL_COLUMNS) and
# has this many output pixels. Measured on the M4 (docs/BENCHMARKS.md, round 13): written out with
# vertical pairs, rows whole and shared columns packed once, 48x48, 24x24 and 14x14 maps run faster
# than on the planes (MobileNetV2 op1 509,258 against 579,488 instructions, op7 381,322 against
# 445,744, the SeparableConv CNN's unclamped 14x14 110,282 against 122,454); a 48x48 map in column
# loops of 6 lost to the planes by 2% (590,734, before the shared columns).
PLANES_MIN_OUTPUTS = 400


def _planes_faster(graph: Graph, op: Op, p) -> bool:
    from mcucompress.codegen.dw_gen import UNROLL_COLUMNS

    out = graph.output_tensor(op)
    rows, cols = int(out.shape[1]), int(out.shape[2])
    return tuple(p.stride) == (1, 1) and cols > UNROLL_COLUMNS and rows * cols >= PLANES_MIN_OUTPUTS


def without_written_out(graph: Graph) -> Graph:
    """The graph with its depthwise layers kept on mcc_depthwise_conv2d_fast_s8 (WRITE_OUT_ATTR):
    one copy of the kernel's code instead of a function per layer shape (fit's first way back under
    a flash budget; the tests of that kernel's DSP paths)."""
    ops = [replace(op, attrs={**op.attrs, WRITE_OUT_ATTR: False}) if op.kind == "depthwise_conv2d" else op
           for op in graph.ops]
    return replace(graph, ops=tuple(ops))


def generated_shift(graph: Graph, rounding: str, cpu: str | None) -> int | None:
    """The final shift of the two-instruction requantization that the most outputs of a DSP
    core's generated depthwise layers can share (None: no such layer)."""
    if rounding != "tflm" or not relu_shift_target(cpu):
        return None
    return _relu_final_shift(graph, rounding, lambda g, op, p: op.kind == "depthwise_conv2d"
                             and int(p.act_min) >= int(p.output_offset))


def generated_depthwise(graph: Graph, op: Op, p, rounding: str, model_shift: int | None = None) -> FastLayer | None:
    """A depthwise layer written out as its own C function (codegen/dw_gen.py) for a DSP core:
    dense int8 weights, depth multiplier 1, no dilation, TFLM rounding; None otherwise."""
    from mcucompress.codegen import dw_gen

    if rounding != "tflm" or getattr(p, "rounding", "tflm") != "tflm" or op.attrs.get(WRITE_OUT_ATTR) is False:
        return None
    if op.attrs.get("weight_encoding", "dense") != "dense" or p.depth_multiplier != 1 or tuple(p.dilation) != (1, 1):
        return None
    wt, x, out = graph.tensor(op.inputs[1]), graph.tensor(op.inputs[0]), graph.output_tensor(op)
    if wt.data is None or wt.data.dtype != np.int8 or len(wt.shape) != 4 or len(x.shape) != 4:
        return None
    _, kh, kw, n = (int(d) for d in wt.shape)
    if int(x.shape[-1]) != n:
        return None
    shape = dw_gen.DwShape(int(x.shape[1]), int(x.shape[2]), n, int(out.shape[1]), int(out.shape[2]), kh, kw,
                           int(p.stride[0]), int(p.stride[1]), int(p.padding[0]), int(p.padding[2]))
    w = np.asarray(wt.data, dtype=np.int64).reshape(kh * kw, n).T   # (channels, taps)
    bias = _bias(graph, op, n)
    rows, ok = _channel_rows(np.abs(w).sum(1), w.sum(1), bias, p.input_offset, p.output_offset,
                             p.multiplier, p.shift)
    layer = dw_gen.build_layer(shape, w, bias, p, rows, ok, model_shift)
    if layer is None:
        return None
    return FastLayer(np.zeros(0, np.int32), np.zeros((0, 4), np.int32), 0, 0, GENERATED_DEPTHWISE, layer.patch,
                     layer.constant_channels, weight_layout="widened", generated=layer)


def choose(graph: Graph, op: Op, rounding: str, cpu: str | None = None,
           relu_shift: int | None = None, dw_relu_shift: int = 0, gen_shift: int | None = None) -> FastLayer | None:
    """The specialised layer for op, or None when the portable kernel stays; ``cpu``: the core
    the tree is exported for (None: any core); ``relu_shift``: conv_relu_shift of the tree;
    ``dw_relu_shift``: depthwise_relu_shift's."""
    if op.kind == "fully_connected_pq":  # no constants to specialise: only its table in the arena
        return FastLayer(np.zeros(0, np.int32), np.zeros((0, 4), np.int32), 0, pq_table_bytes(graph, op),
                         "mcc_fully_connected_pq_s8")
    if op.kind == "add":
        out = graph.output_tensor(op)
        ins = [graph.tensor(n) for n in op.inputs]
        if out.size >= add_table_min_size(cpu) and all(t.shape == out.shape and not t.is_constant for t in ins):
            return FastLayer(np.zeros(0, np.int32), np.zeros((0, 4), np.int32), 0, ADD_TABLE_BYTES,
                             "mcc_add_fast_s8")
        return None
    if op.kind not in ("conv2d", "depthwise_conv2d", "fully_connected"):
        return None
    encoding = op.attrs.get("weight_encoding", "dense")
    if encoding == "codebook":
        from mcucompress.codegen import codebook_fast

        return codebook_fast.choose(graph, op, kernel_params(graph, op, rounding), rounding)
    if encoding == "int4":
        from mcucompress.codegen import int4_layout

        return int4_layout.choose(graph, op, kernel_params(graph, op, rounding), rounding)
    if encoding == "csr_pair" and op.kind == "fully_connected":
        from mcucompress.codegen import csr_pair

        return csr_pair.choose(graph, op)
    if encoding in ("csr4", "csr8") and op.kind == "conv2d":
        from mcucompress.codegen import csr_fast

        return csr_fast.choose(graph, op, kernel_params(graph, op, rounding), rounding)
    if encoding != "dense":
        return None  # encoded weights (CSR, Huffman) have their own kernels
    p = kernel_params(graph, op, rounding)
    if op.kind == "depthwise_conv2d":
        generated = (generated_depthwise(graph, op, p, rounding, gen_shift)
                     if relu_shift_target(cpu) and not _planes_faster(graph, op, p) else None)
        return generated or fast_depthwise(graph, op, p, rounding, planes_target(cpu), pairs_target(cpu),
                                           dw_relu_shift)
    if op.kind == "conv2d" and graph.tensor(op.inputs[1]).shape[-1] != graph.tensor(op.inputs[0]).shape[-1]:
        return None  # grouped: the lowering refuses it
    return fast_conv(graph, op, p, rounding, relu_shift)


@dataclass(frozen=True, eq=False)
class KernelChoice:
    """The specialised kernel chosen for one op: its C function, source file (under runtime_c/),
    the arena scratch it needs while it runs, and its export-time constants."""

    function: str
    source: str
    scratch_bytes: int
    layer: FastLayer


def choose_kernels(graph: Graph, rounding: str = "tflm", cpu: str | None = None) -> tuple[KernelChoice | None, ...]:
    """One entry per op: its specialised kernel, or None where the portable kernel stays. Made
    once per export, before memory planning (which places the scratch) and lowering (which
    calls the kernel); ``cpu``: the core the tree is exported for (None: any core)."""
    choices = []
    relu_shift = conv_relu_shift(graph, rounding, cpu)
    dw_relu_shift = depthwise_relu_shift(graph, rounding, cpu)
    gen_shift = generated_shift(graph, rounding, cpu)
    for op in graph.ops:
        layer = choose(graph, op, rounding, cpu, relu_shift, dw_relu_shift, gen_shift)
        if layer is None:
            choices.append(None)
            continue
        source = "" if getattr(layer, "generated", None) is not None else kernel_sources()[layer.kernel]
        choices.append(KernelChoice(layer.kernel, source, layer.scratch_bytes, layer))
    return grant_two_planes(graph, choices)


def grant_two_planes(graph: Graph, choices) -> tuple[KernelChoice | None, ...]:
    """``choices`` with the two-plane scratch (KernelChoice.layer.two_planes_scratch) granted to
    each depthwise layer, in graph order, whose larger scratch leaves the arena's peak (planned
    with one plane each) where it is: the faster fill never costs RAM."""
    choices = list(choices)
    peak = plan_memory(graph, choices)[0].arena_bytes
    for i, choice in enumerate(choices):
        if choice is None or not getattr(choice.layer, "two_planes_scratch", 0):  # encoded layers have none
            continue
        # the layer keeps its one-plane scratch_bytes: what the peak was planned with
        wider = replace(choice, scratch_bytes=choice.layer.two_planes_scratch, layer=replace(choice.layer, planes=2))
        trial = choices[:i] + [wider] + choices[i + 1:]
        if plan_memory(graph, trial)[0].arena_bytes <= peak:
            choices[i] = wider
    return tuple(choices)


# -- lowering ---------------------------------------------------------------------------------

def _on_pairs(p, x, wt, out) -> bool:
    """Whether a depthwise layer runs on a DSP core's row-pair planes (its input with each channel
    repeated as the kernel sees it)."""
    return bool(depthwise_dsp_pairs_bytes(tuple(wt.shape[1:3]), p.stride, p.dilation, (p.padding[0], p.padding[2]),
                                          (*x.shape[:-1], int(wt.shape[-1])), out.shape[1:3]))


def lower_fast(b, i: int, op: Op, p) -> bool:
    """Emit the chosen fast kernel's call for op; False leaves op to the portable kernel."""
    choice = b.choices[i]
    if choice is None:
        return False
    layer = choice.layer
    g = b.graph
    oid = f"op{i}_{op.kind}"
    if getattr(layer, "generated", None) is not None:   # a function of its own, no scratch
        return _lower_generated_depthwise(b, op, p, oid, layer)
    scratch = f"(void *){b.arena(scratch_name(i))}"
    if op.kind == "add":
        return _lower_add_tables(b, i, op, p, oid, scratch)
    x, wt, out = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.output_tensor(op)
    act = c_activation(p)
    if layer.weights.size:
        weights = b.array(f"{oid}_fast_weights", layer.weights, "int32_t")
        channels = layer.channels.reshape(-1)
        if op.kind == "conv2d" and conv_1x1_c8(layer.kernel, wt.shape[1:3], (p.padding[0], p.padding[2]),
                                               wt.shape[3], act):
            # the DSP loop loads each channel pair's shifts with the next pair's biases
            channels = np.concatenate([channels, np.zeros(CONV_1X1_C8_SPARE_WORDS, channels.dtype)])
        if op.kind == "depthwise_conv2d" and b.pairs and _on_pairs(p, x, wt, out):
            # the planes its scratch holds (grant_two_planes), after the channel table
            channels = np.concatenate([channels, np.array([layer.planes], channels.dtype)])
        channels = b.array(f"{oid}_fast_channels", channels, "int32_t")
    zp = -int(p.input_offset)
    if op.kind == "depthwise_conv2d":
        _, kh, kw, n = wt.shape
        geometry = ((kh, kw), p.stride, (p.padding[0], p.padding[2]), p.dilation)
        in_shape, x_ptr = x.shape, b.arena(x.name)
        expand = depthwise_expand_bytes(x.shape, p.depth_multiplier)
        if expand:  # the input with each channel repeated, at the start of the scratch
            b.call(op, "mcc_depthwise_expand_s8", b.dims_of(x.shape), x_ptr, str(p.depth_multiplier),
                   b.arena(scratch_name(i)))
            in_shape, x_ptr = (*x.shape[:-1], n), b.arena(scratch_name(i))
            scratch = f"(void *)({x_ptr} + {expand})"
        in_dims, out_dims = b.dims_of(in_shape), b.dims_of(out.shape)
        if layer.k_padded:  # channels on the fast kernel (none when there are fewer than 4)
            params = b.struct("mcc_dw_conv_fast_params", f"{oid}_fast_params",
                              dict(zip(("kernel", "stride", "padding", "dilation"), map(c_tile, geometry)))
                              | {"channels_n": n, "input_zero_point": zp, "activation": act, "weights": weights,
                                 "channels": channels})
            b.call(op, "mcc_depthwise_conv2d_fast_s8", params, in_dims, x_ptr, out_dims,
                   b.arena(out.name), scratch)
            if b.pairs and _on_pairs(p, x, wt, out):
                b.defines[DW_DSP_PLANES_DEFINE] = 1
                if layer.dw_relu_shift:
                    b.defines[DW_RELU_SHIFT_DEFINE] = layer.dw_relu_shift
            elif depthwise_strided_strips((kh, kw), p.stride, p.dilation, out.shape[1:3]):
                b.defines[DW_STRIDE2_DEFINE] = 1
            # MVE: the planes and lines code only where a layer takes it, the taps code unless
            # every layer takes one of those
            if b.planes and depthwise_mve_flat_bytes((kh, kw), p.stride, p.dilation, geometry[2], in_shape,
                                                     out.shape[1:3]):
                b.defines[DW_MVE_FLAT_DEFINE] = 1
                if not b.dw_mve_taps:
                    b.defines[DW_MVE_TAPS_DEFINE] = 0
            elif depthwise_mve_lines((kh, kw), p.stride, p.dilation, in_shape, out.shape[1:3]):
                b.defines[DW_MVE_LINES_DEFINE] = 1
                if not b.dw_mve_taps:
                    b.defines[DW_MVE_TAPS_DEFINE] = 0
            else:
                b.dw_mve_taps = True
                b.defines.pop(DW_MVE_TAPS_DEFINE, None)
        if layer.patch is not None:
            lower_patch(b, op, oid, p, layer.patch, *geometry, in_dims, x_ptr, out_dims, b.arena(out.name))
        return True
    if layer.kernel in ("mcc_fully_connected_fast_s8", "mcc_fully_connected_fast_w16_s8"):
        units, depth = int(wt.shape[0]), int(np.prod(wt.shape[1:]))
        params = b.struct("mcc_fc_fast_params", f"{oid}_fast_params",
                          {"in_features": depth, "out_features": units, "k_padded": layer.k_padded,
                           "activation": act, "weights": weights, "channels": channels})
        b.call(op, layer.kernel, params, str(x.size // depth), b.arena(x.name), b.arena(out.name),
               scratch)
        rows = x.size // depth
        _lower_layer_patch(b, op, oid, p, layer, ((1, 1), (1, 1), (0, 0), (1, 1)),
                           (1, rows, 1, depth), x, (1, rows, 1, units), out)
        return True
    if op.kind == "fully_connected":
        units, depth = int(wt.shape[0]), int(np.prod(wt.shape[1:]))
        rows = x.size // depth
        in_shape, out_shape = (1, rows, 1, depth), (1, rows, 1, units)
        kernel, stride, pad, dil, in_c = (1, 1), (1, 1), (0, 0), (1, 1), depth
    else:
        units, kh, kw, in_c = (int(s) for s in wt.shape)
        in_shape, out_shape = x.shape, out.shape
        kernel, stride, pad, dil = (kh, kw), p.stride, (p.padding[0], p.padding[2]), p.dilation
    in_dims, out_dims = b.dims_of(in_shape), b.dims_of(out_shape)
    if layer.relu_shift is not None:
        b.defines[CONV_RELU_SHIFT_DEFINE] = layer.relu_shift
    if conv_1x1_c8(layer.kernel, kernel, pad, in_c, act):
        b.defines[CONV_1X1_C8_DEFINE] = 1
    elif layer.kernel == "mcc_conv2d_fast_s8" and op.kind == "conv2d" and conv_lone_pixel(out_shape):
        b.defines[CONV_ONE_PIXEL_DEFINE] = 1
    elif op.kind == "conv2d" and conv_direct_rows(layer.kernel, kernel, pad, in_c, out_shape):
        b.defines[CONV_DIRECT_ROWS_DEFINE] = 1
    params = b.struct("mcc_conv_fast_params", f"{oid}_fast_params",
                      {"kernel": c_tile(kernel), "stride": c_tile(stride), "padding": c_tile(pad),
                       "dilation": c_tile(dil), "in_c": in_c, "out_c": units, "k_padded": layer.k_padded,
                       "input_zero_point": zp, "activation": act, "weights": weights, "channels": channels})
    b.call(op, layer.kernel, params, in_dims, b.arena(x.name), out_dims, b.arena(out.name), scratch)
    if conv_mve_few_k(layer.kernel, kernel, stride, pad, in_c, units, layer.k_padded):
        b.defines[CONV_MVE_FEW_K_DEFINE] = 1
    _lower_layer_patch(b, op, oid, p, layer, (kernel, stride, pad, dil), in_shape, x, out_shape, out)
    return True


def _lower_layer_patch(b, op: Op, oid: str, p, layer: FastLayer, geometry, in_shape, x, out_shape,
                       out) -> None:
    if layer.patch is not None:
        lower_patch(b, op, oid, p, layer.patch, *geometry, b.dims_of(in_shape), b.arena(x.name),
                    b.dims_of(out_shape), b.arena(out.name))


def _lower_add_tables(b, i: int, op: Op, p, oid: str, scratch: str) -> bool:
    g = b.graph
    x1, x2, out = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.output_tensor(op)
    params = b.add_params(oid, p)
    b.call(op, "mcc_add_fast_s8", params, b.arena(x1.name), b.arena(x2.name), b.arena(out.name),
           str(out.size), scratch)
    return True


def _lower_generated_depthwise(b, op: Op, p, oid: str, layer: FastLayer) -> bool:
    from mcucompress.codegen import dw_gen

    g = b.graph
    x, wt, out = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.output_tensor(op)
    table = b.array(f"{oid}_gen_table", layer.generated.table, "int32_t")
    name = b.function(f"mcc_{b.prefix}_{oid}", lambda n: dw_gen.c_function(n, layer.generated))
    b.call(op, name, table, b.arena(x.name), b.arena(out.name), generated=True)
    _, kh, kw, _ = wt.shape
    _lower_layer_patch(b, op, oid, p, layer, ((kh, kw), p.stride, (p.padding[0], p.padding[2]), p.dilation),
                       x.shape, x, out.shape, out)
    return True
