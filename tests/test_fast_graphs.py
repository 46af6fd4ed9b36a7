"""Export-time specialisation (codegen/specialize.py) and the fast kernels' portable C path on the
host: random multi-layer int8 graphs whose layers take every fast-kernel variant (and some that
must fall back), byte-identical to the numpy reference. The QEMU tests reuse these graphs."""

from dataclasses import replace

import numpy as np
import pytest

from codegen_cases import act, bias, check_c_matches_reference, conv_out, out_scale, rand_act, weights
from mcucompress.codegen import specialize
from mcucompress.codegen.lower import lower
from mcucompress.ir.graph import Graph, Op, Tensor


class _Chain:
    """Builds a chain of layers with random weights and output scales that use the int8 range."""

    def __init__(self, rng, shape):
        self.rng = rng
        self.tensors = {"x": rand_act(rng, "x", shape)}
        self.ops = []
        self.last = "x"

    def _out(self, shape, w, fan_in, zp=None):
        name = f"t{len(self.ops)}"
        x = self.tensors[self.last]
        zp = self.rng.integers(-20, 20) if zp is None else zp
        self.tensors[name] = act(name, shape, out_scale(x, w, fan_in), zp)
        return name

    def _add_op(self, kind, inputs, out, **attrs):
        self.ops.append(Op(kind, f"{kind}{len(self.ops)}", tuple(inputs), (out,), attrs))
        self.last = out

    def conv(self, c_out, k, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1),
             activation="none", depthwise=False, zp=None, multiplier=1):
        n, h, w_, c_in = self.tensors[self.last].shape
        i = len(self.ops)
        if depthwise:
            c_out = c_in * multiplier
            w = weights(self.rng, f"w{i}", (1, k[0], k[1], c_out), 3, c_out)
            fan_in = k[0] * k[1]
        else:
            w = weights(self.rng, f"w{i}", (c_out, k[0], k[1], c_in), 0, c_out)
            fan_in = k[0] * k[1] * c_in
        b = bias(self.rng, f"b{i}", c_out)
        self.tensors[w.name], self.tensors[b.name] = w, b
        oh = conv_out(h, k[0], stride[0], dilation[0], padding[0], padding[1])
        ow = conv_out(w_, k[1], stride[1], dilation[1], padding[2], padding[3])
        out = self._out((n, oh, ow, c_out), w, fan_in, zp)
        attrs = dict(stride=stride, dilation=dilation, padding=padding, activation=activation)
        if depthwise:
            attrs["depth_multiplier"] = multiplier
        self._add_op("depthwise_conv2d" if depthwise else "conv2d", (self.last, w.name, b.name), out, **attrs)
        return self

    def dense(self, units):
        depth = int(np.prod(self.tensors[self.last].shape[1:]))
        i = len(self.ops)
        w = weights(self.rng, f"w{i}", (units, depth), 0, 1)
        b = bias(self.rng, f"b{i}", units)
        self.tensors[w.name], self.tensors[b.name] = w, b
        out = self._out((1, units), w, depth)
        self._add_op("fully_connected", (self.last, w.name, b.name), out, activation="none")
        return self

    def max_pool(self, pool, stride, padding, activation="none"):
        self.avg_pool(pool, stride, padding)
        op = self.ops[-1]
        self.ops[-1] = Op("max_pool2d", op.name.replace("avg", "max"), op.inputs, op.outputs,
                          {**op.attrs, "activation": activation})
        return self

    def avg_pool(self, pool, stride, padding):
        n, h, w, c = self.tensors[self.last].shape
        oh = (h + padding[0] + padding[1] - pool[0]) // stride[0] + 1
        ow = (w + padding[2] + padding[3] - pool[1]) // stride[1] + 1
        out = f"t{len(self.ops)}"
        x = self.tensors[self.last]
        self.tensors[out] = act(out, (n, oh, ow, c), x.quant.scale[0], x.quant.zero_point[0])
        self._add_op("avg_pool2d", (self.last,), out, pool=pool, stride=stride, padding=padding,
                     activation="none")
        return self

    def residual(self, activation="none"):
        """y = x + conv1x1(x): an add of two activations of the input's shape."""
        start = self.last
        self.conv(self.tensors[start].shape[-1], (1, 1), activation="relu")
        x, y = self.tensors[start], self.tensors[self.last]
        out = f"t{len(self.ops)}"
        self.tensors[out] = act(out, x.shape, float(max(x.quant.scale[0], y.quant.scale[0]) * 1.5), -3)
        self._add_op("add", (start, self.last), out, activation=activation)
        return self

    def graph(self, name) -> Graph:
        return Graph(dict(self.tensors), tuple(self.ops), ("x",), (self.last,), name=name)


def layer_zoo(seed: int = 4) -> Graph:
    """Odd channel counts, strides, asymmetric padding, dilation, every clamp kind; the depthwise
    layer on 7 channels leaves its last 3 to mcc_conv2d_channels_s8, the one with a 5x3 kernel
    takes the general variant."""
    rng = np.random.default_rng(seed)
    return (_Chain(rng, (1, 13, 11, 5))
            .conv(7, (3, 3), stride=(2, 2), padding=(1, 1, 1, 0), activation="relu")
            .conv(12, (1, 1), activation="relu6")
            .max_pool((2, 2), (1, 1), (0, 1, 0, 1), activation="relu")
            .conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True, zp=-128, activation="relu")
            .conv(0, (5, 3), stride=(2, 1), padding=(2, 2, 1, 1), depthwise=True, activation="relu")
            .conv(7, (2, 2), dilation=(2, 2), padding=(1, 0, 1, 1))
            .conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True)
            .dense(10)
            .graph("layer_zoo"))


def residual_block(seed: int = 5) -> Graph:
    """A large add (lookup-table kernel) after a 3x3 conv on 16 channels (the hand-scheduled
    2x2 loop, c_in % 8 == 0 im2col) and a 1x1 conv; a 1x1 conv on 16 channels with stride 3
    (DSP cores widen its pixels without im2col; 9 pixels, the last one alone; 9 output channels,
    the last one alone; a ReLU clamp); an average pool whose border windows are clipped (the DSP
    path sums 4 channels at once, the MVE path 8)."""
    rng = np.random.default_rng(seed)
    return (_Chain(rng, (1, 16, 16, 9))
            .conv(16, (3, 3), padding=(1, 1, 1, 1), activation="relu", zp=-128)
            .residual()
            .conv(16, (3, 3), stride=(2, 2), padding=(0, 1, 0, 1))
            .conv(9, (1, 1), stride=(3, 3), activation="relu")
            .avg_pool((3, 3), (2, 2), (1, 1, 1, 1))
            .graph("residual_block"))


def residual_clamped(seed: int = 7) -> Graph:
    """An add clamped by ReLU6 on 15x15x13 values (not a multiple of 4: the table kernel's
    4-element passes leave a tail), after a 3x3 conv on 8 channels with an odd pixel count; an
    average pool on the 13 channels (MVE: the last 5 lanes predicated)."""
    rng = np.random.default_rng(seed)
    return (_Chain(rng, (1, 15, 15, 8))
            .conv(13, (3, 3), padding=(1, 1, 1, 1), activation="relu")
            .residual(activation="relu6")
            .avg_pool((3, 3), (2, 2), (1, 1, 1, 1))
            .graph("residual_clamped"))


def dead_channels(seed: int = 6) -> Graph:
    """Layers whose fast kernels split channels: dead and saturated channels stored as constants,
    channels with an effective scale above 0.5 and the last 3 of a depthwise layer finished by
    mcc_conv2d_channels_s8, in a 3x3 conv, a 1x1 conv, a depthwise conv on 7 channels and a
    fully connected layer."""
    rng = np.random.default_rng(seed)
    graph = (_Chain(rng, (1, 9, 8, 6))
             .conv(10, (3, 3), padding=(1, 1, 1, 1), activation="relu")
             .conv(7, (1, 1))
             .conv(0, (3, 3), stride=(2, 2), padding=(1, 1, 1, 1), depthwise=True)
             .dense(9)
             .graph("dead_channels"))
    for index, (dead, saturated, boosted) in enumerate((((0, 5), (8,), (3,)), ((2,), (), (6,)),
                                                        ((1,), (3,), (0,)), ((4,), (7,), ()))):
        graph = with_dead_channels(graph, dead, saturated, boosted, op_index=index)
    return graph


def with_dead_channels(graph: Graph, dead, saturated=(), boosted=(), op_index: int = 0) -> Graph:
    """Channels `dead`: zero weights, bias just past +-2^30 (what training with ReLU and weight
    decay leaves: doubled, it overflows the fast kernels' accumulator); `saturated`: small weights
    under such a bias (the output cannot vary either);
    `boosted`: a weight scale 2000x larger (effective scale above 0.5: no right shift)."""
    op = graph.ops[op_index]
    w, b = graph.tensor(op.inputs[1]), graph.tensor(op.inputs[2])
    axis = w.quant.axis
    wd, bd = np.array(w.data), np.array(b.data, dtype=np.int64)
    scales = list(w.quant.scale)
    for i, c in enumerate(dead):
        np.moveaxis(wd, axis, 0)[c] = 0
        bd[c] = (2**30 + 1000 * i) * (-1 if i % 2 else 1)
    for i, c in enumerate(saturated):
        np.moveaxis(wd, axis, 0)[c] = np.sign(np.moveaxis(wd, axis, 0)[c]) * 3
        bd[c] = -(2**30) - 7 if i % 2 else 2**30 + 5
    for c in boosted:
        scales[c] *= 2000.0
    tensors = dict(graph.tensors)
    tensors[w.name] = replace(w, data=wd, quant=replace(w.quant, scale=tuple(scales)))
    tensors[b.name] = replace(b, data=bd.astype(np.int32))
    return replace(graph, tensors=tensors)



on_planes = specialize.without_written_out   # the tests of the fast kernel's DSP planes


def depthwise_zoo(seed: int = 7) -> Graph:
    """Depthwise layers over the fast kernel's channel blocks (8, then 4; the last 1-3 channels
    finished by mcc_conv2d_channels_s8) and windows: 3x3 and 5x5 at strides 1 and 2 with padded
    edges (3x3 runs in strips on DSP cores: stride 1 along columns and rows, strips of 6 and 11,
    with and without zero-point lines, and stride 2 with 8 outputs a strip or more; shorter
    strided ones, strides (2, 1) and (1, 2) among them, on tap pairs), an even tap count (2x2, dilated), a single tap (1x1), depth multipliers 2 and 3 (the
    input repeated per channel first), input zero point -128 and output zero point 127, weights
    at -128 and 127."""
    rng = np.random.default_rng(seed)
    chain = (_Chain(rng, (1, 21, 17, 12))
             .conv(0, (3, 3), stride=(2, 2), padding=(1, 1, 1, 1), depthwise=True)
             .conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True, zp=127)
             .conv(0, (5, 5), stride=(2, 2), padding=(2, 2, 2, 2), depthwise=True, activation="relu")
             .conv(20, (1, 1), zp=-128)
             .conv(0, (3, 3), padding=(0, 0, 2, 1), depthwise=True, activation="relu6")
             .conv(0, (3, 3), stride=(2, 1), padding=(0, 1, 1, 0), depthwise=True, activation="relu6")
             .conv(0, (2, 2), dilation=(2, 2), padding=(1, 1, 1, 1), depthwise=True)
             .conv(23, (1, 1))
             .conv(0, (1, 1), depthwise=True)
             .conv(0, (3, 3), stride=(1, 2), padding=(1, 1, 1, 1), depthwise=True)
             .conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True, multiplier=2)
             .conv(5, (1, 1))
             .conv(0, (5, 3), stride=(2, 2), padding=(2, 2, 1, 1), depthwise=True, multiplier=3))
    graph = chain.graph("depthwise_zoo")
    tensors = dict(graph.tensors)
    w = tensors["w2"]
    data = np.array(w.data)
    data[..., 0] = -128
    data[..., 5] = 127
    tensors["w2"] = replace(w, data=data)
    x = tensors["x"]
    tensors["x"] = replace(x, quant=replace(x.quant, zero_point=(-128,)))
    return replace(graph, tensors=tensors)


def pointwise_c8(seed: int = 8) -> Graph:
    """1x1 convs on exactly 8 input channels, which DSP cores run pixel by pixel with the pixel's
    values held in registers (MCC_CONV_1X1_C8): 13 output channels (the last one alone) on 11x9
    pixels, 12 at strides (1, 2) (a multiple of 4: a row at a time, two pairs a loop test), 7 at
    strides (2, 3), a lone output channel (no pair at all); one clamped by ReLU keeps the
    two-pixel loop."""
    rng = np.random.default_rng(seed)
    return (_Chain(rng, (1, 11, 9, 8))
            .conv(13, (1, 1))
            .conv(8, (3, 3), padding=(1, 1, 1, 1))
            .conv(12, (1, 1), stride=(1, 2))
            .conv(8, (3, 3), padding=(1, 1, 1, 1))
            .conv(7, (1, 1), stride=(2, 3))
            .conv(8, (3, 3), padding=(1, 1, 1, 1), activation="relu", zp=-5)
            .conv(8, (1, 1), activation="relu", zp=-9)
            .conv(1, (1, 1))
            .graph("pointwise_c8"))


def lone_pixel(seed: int = 9) -> Graph:
    """Widened conv layers of an odd number of output pixels, few enough that DSP cores run the
    last one in a loop of its own (MCC_CONV_ONE_PIXEL): 15 pixels of a 1x1 conv to 13 channels (the
    last alone), of a 3x3 clamped by ReLU, 3 pixels of an unpadded 3x3 and of a 1x1 on 6 channels."""
    rng = np.random.default_rng(seed)
    return (_Chain(rng, (1, 5, 3, 16))
            .conv(13, (1, 1))
            .conv(10, (3, 3), padding=(1, 1, 1, 1), activation="relu", zp=-5)
            .conv(6, (3, 3))
            .conv(9, (1, 1))
            .graph("lone_pixel"))


def pointwise_rows(seed: int = 10) -> Graph:
    """1x1 convs on whole groups of 8 input channels, an even channel count, no padding, which DSP
    cores run inside the channel-pair loop (it widens each pair of pixels itself): 16 -> 24 on
    9x5 pixels (rows of 5: pairs across rows, a lone last pixel), 24 -> 8 at strides (2, 2)
    clamped by ReLU (rows of 3 whose pairs cross rows, where the step to the next row is not the
    step along one; a pass of 3 groups entered in its middle), 8 -> 80 clamped (not the
    8-channel loop), and 80 -> 6 at strides (1, 4) to rows of one pixel (every step a row's last;
    two passes of groups; 5 pixels, which makes the one-pixel loop part of the build)."""
    rng = np.random.default_rng(seed)
    return (_Chain(rng, (1, 9, 5, 16))
            .conv(24, (1, 1))
            .conv(8, (1, 1), stride=(2, 2), activation="relu", zp=-7)
            .conv(80, (1, 1), activation="relu", zp=-3)
            .conv(6, (1, 1), stride=(1, 4))
            .graph("pointwise_rows"))


def small_adds(seed: int = 11) -> Graph:
    """Residual adds of 1183, 343, 112 and 28 values (7 channels: odd sizes, the table kernel's
    4-element passes leaving a tail of 3), the table kernel from 181 values in a tree for any
    core: its tables built from inputs whose zero points put the sign change of their rescaled
    values inside either half of a table (zero point 100), at the start of one (-128) or anywhere
    (random); one add clamped by ReLU6."""
    rng = np.random.default_rng(seed)
    return (_Chain(rng, (1, 13, 13, 7))
            .residual(activation="relu6")
            .conv(7, (1, 1), stride=(2, 2), zp=100)
            .residual()
            .conv(7, (1, 1), stride=(2, 2), zp=-128, activation="relu")
            .residual()
            .conv(7, (1, 1), stride=(2, 2))
            .residual()
            .graph("small_adds"))


def small_add_clamped(seed: int = 12) -> Graph:
    """An add of 112 values (mcc_add_s8 in a tree for any core) of a signed input and a ReLU
    output, clamped by ReLU6 above its zero point: the generic add's clamp binds on both sides."""
    rng = np.random.default_rng(seed)
    return _Chain(rng, (1, 4, 4, 7)).residual(activation="relu6").conv(7, (1, 1)).graph("small_add_clamped")


def relu_requant(seed: int = 11) -> Graph:
    """Layers for the two-instruction requantization of DSP cores (MCC_CONV_RELU_SHIFT), exported
    for a DSP core: a 1x1 on 8 input channels to 12 under ReLU at zero point -128 (the 8-channel
    row loop), a 3x3 under ReLU6 at -128 whose clamp stops at 0 (the pair loop's clamp), a 1x1
    under ReLU at -5 (clamped at the zero point), a 1x1 on 8 channels to 7 (the 8-channel pixel
    loop and a lone last channel), a 3x3 to 15 pixels and 9 channels (the one-pixel loop of the
    last pixel, the C of the last channel after the pair loop), a 1x1
    without activation (the four-instruction tail in the same tree), and a 1x1 under ReLU at -3
    whose channels' shifts lie 9 apart (refused: it keeps the four-instruction tail, clamped; so
    the channel-pair loop runs each of its four tails); constant channels
    in the first (dead, its shift out of reach) and the third (dead and saturated). Every layer's
    output is an output of the graph."""
    rng = np.random.default_rng(seed)
    chain = (_Chain(rng, (1, 7, 5, 8))
             .conv(12, (1, 1), activation="relu", zp=-128)
             .conv(16, (3, 3), padding=(1, 1, 1, 1), activation="relu6", zp=-128)
             .conv(8, (1, 1), activation="relu", zp=-5)
             .conv(7, (1, 1), activation="relu", zp=-128)
             .conv(9, (3, 3), activation="relu", zp=-128)
             .conv(9, (1, 1))
             .conv(6, (1, 1), activation="relu", zp=-3))
    relu6 = chain.tensors["t1"]   # 6 real = 128 steps: the clamp at 0, below the int8 maximum
    chain.tensors["t1"] = replace(relu6, quant=replace(relu6.quant, scale=(float(np.float32(6.0 / 128)),)))
    for name in ("t2", "t3", "t4"):   # shifts within the others' reach (each scale feeds the next layer's)
        t = chain.tensors[name]
        chain.tensors[name] = replace(t, quant=replace(t.quant, scale=(t.quant.scale[0] / 8,)))
    spread = chain.tensors["w6"]  # half the channels' scales 2^-9 of the others'
    scales = tuple(s * (2.0 ** -9 if c % 2 else 1.0) for c, s in enumerate(spread.quant.scale))
    chain.tensors["w6"] = replace(spread, quant=replace(spread.quant, scale=scales))
    dead = chain.tensors["w0"]    # channel 5 dead, its shift out of reach: stored as a constant
    data, scales = np.array(dead.data), list(dead.quant.scale)
    data[5], scales[5] = 0, scales[5] * 2.0 ** -12
    chain.tensors["w0"] = replace(dead, data=data, quant=replace(dead.quant, scale=tuple(scales)))
    # every layer's output is one of the graph's (ReLUs lose what later layers would show)
    graph = replace(chain.graph("relu_requant"), outputs=tuple(f"t{i}" for i in range(len(chain.ops))))
    return with_dead_channels(graph, dead=(3,), saturated=(5,), op_index=2)


GRAPHS = {"layer_zoo": layer_zoo, "residual_block": residual_block, "residual_clamped": residual_clamped,
          "dead_channels": dead_channels, "depthwise_zoo": depthwise_zoo, "pointwise_c8": pointwise_c8,
          "lone_pixel": lone_pixel, "pointwise_rows": pointwise_rows, "small_adds": small_adds,
          "small_add_clamped": small_add_clamped}


def kernels_called(graph: Graph, rounding: str = "tflm") -> list[str]:
    return [call.function for call in lower(graph, "m", rounding).calls]


def test_variant_choice_per_layer():
    assert kernels_called(layer_zoo()) == [
        "mcc_conv2d_fast_s8", "mcc_conv2d_fast_s8", "mcc_maxpool_s8", "mcc_depthwise_conv2d_fast_s8",
        "mcc_depthwise_conv2d_fast_s8", "mcc_conv2d_fast_s8",
        "mcc_depthwise_conv2d_fast_s8", "mcc_conv2d_channels_s8",   # 7 channels: 4 fast, 3 after
        "mcc_conv2d_fast_s8"]        # fully connected as a 1x1 convolution
    assert kernels_called(residual_block()) == [
        "mcc_conv2d_fast_s8", "mcc_conv2d_fast_s8", "mcc_add_fast_s8", "mcc_conv2d_fast_s8",
        "mcc_conv2d_fast_s8", "mcc_avgpool_s8"]
    assert kernels_called(residual_clamped()) == ["mcc_conv2d_fast_s8", "mcc_conv2d_fast_s8", "mcc_add_fast_s8",
                                                  "mcc_avgpool_s8"]
    assert kernels_called(dead_channels()) == [
        "mcc_conv2d_fast_s8", "mcc_conv2d_channels_s8", "mcc_conv2d_fast_s8", "mcc_conv2d_channels_s8",
        "mcc_depthwise_conv2d_fast_s8", "mcc_conv2d_channels_s8", "mcc_conv2d_fast_s8"]
    assert kernels_called(depthwise_zoo()) == [
        "mcc_depthwise_conv2d_fast_s8",
        "mcc_depthwise_conv2d_fast_s8", "mcc_depthwise_conv2d_fast_s8", "mcc_conv2d_fast_s8",
        "mcc_depthwise_conv2d_fast_s8",
        "mcc_depthwise_conv2d_fast_s8", "mcc_depthwise_conv2d_fast_s8", "mcc_conv2d_fast_s8",
        "mcc_depthwise_conv2d_fast_s8", "mcc_conv2d_channels_s8",
        "mcc_depthwise_conv2d_fast_s8", "mcc_conv2d_channels_s8",
        "mcc_depthwise_expand_s8", "mcc_depthwise_conv2d_fast_s8", "mcc_conv2d_channels_s8",
        "mcc_conv2d_fast_s8",
        "mcc_depthwise_expand_s8", "mcc_depthwise_conv2d_fast_s8", "mcc_conv2d_channels_s8"]
    assert [k for k in kernels_called(small_adds()) if "add" in k] == [
        "mcc_add_fast_s8", "mcc_add_fast_s8", "mcc_add_s8", "mcc_add_s8"]
    # LiteRT's single rounding has no fast kernel: everything stays portable.
    assert not any("fast" in k for k in kernels_called(layer_zoo(), "litert"))


def test_conv_layout_lines_up_with_sxtb16():
    """Weight k of a group of 4 sits where SXTB16 / SXTB16(ROR 8) put activation k, doubled;
    a channel pair alternates by 4 products (one LDM of 4 words feeds both channels)."""
    w = np.arange(2 * 12).reshape(2, 12) - 7
    words, k_padded = specialize.conv_layout(w)
    assert k_padded == 16 and words.size == 2 * 16 // 2
    halves = words.view(np.int16)  # little endian: low half first
    assert list(halves[:8]) == [2 * v for v in (-7, -5, -6, -4, 5, 7, 6, 8)]
    assert list(halves[8:16]) == [2 * v for v in (-3, -1, -2, 0, 9, 11, 10, 12)]
    assert list(halves[16:24]) == [2 * v for v in (1, 3, 2, 4, 13, 15, 14, 16)]
    assert list(halves[24:]) == [0] * 8
    # An odd last channel keeps its products in order.
    words, _ = specialize.conv_layout(w[:1])
    assert list(words.view(np.int16)[:8]) == [2 * v for v in (-7, -5, -6, -4, -3, -1, -2, 0)]


def test_depthwise_layout_int8_taps_per_block():
    """One byte per weight: channels in blocks of 8 then 4, tap by tap inside a block."""
    w = np.arange(3 * 12).reshape(3, 12) - 10          # (taps, channels)
    data = specialize.dw_layout(w).view(np.int8)
    assert len(data) == 3 * 12
    assert data[:24].reshape(3, 8).tolist() == w[:, :8].tolist()
    assert data[24:].reshape(3, 4).tolist() == w[:, 8:].tolist()


def test_channel_constants_fold_offsets():
    w = np.array([[1, -2, 3], [4, 5, -6]])
    table = specialize._channel_table(np.abs(w).sum(1), w.sum(1), np.array([10, -20]), 7, -3,
                                      np.array([1 << 30, 1 << 29]), np.array([-1, -4]))
    assert table.tolist() == [[2 * (10 + 7 * 2), 1 << 30, 1 + (-3 << 1), 1],
                              [2 * (-20 + 7 * 3), 1 << 29, 8 + (-3 << 4), 4]]
    # A channel whose multiplier needs no right shift keeps the portable kernel.
    assert specialize._channel_table(np.abs(w).sum(1), w.sum(1), np.zeros(2), 0, 0,
                                     np.array([1 << 30] * 2), np.array([-1, 0])) is None


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_fast_kernels_portable_path_matches_reference(tmp_path, name):
    check_c_matches_reference(tmp_path, GRAPHS[name](), "tflm", samples=4)


def with_int8_conv_weights(graph: Graph) -> Graph:
    """The graph with every conv2d's weights in the int8 layout (mcc_conv2d_fast_w8_s8)."""
    from mcucompress.encode.choose import LAYOUT_ATTR

    return graph.replace(ops=tuple(op.with_attrs(**{LAYOUT_ATTR: "int8"}) if op.kind == "conv2d" else op
                                   for op in graph.ops))


# Graphs whose conv layers cover the int8 layout's cases: odd channel counts (a lone last
# channel), c_in not a multiple of 8 (staging row), strides, dilation, padding, every clamp kind,
# an odd pixel count, channels split off to constants and to mcc_conv2d_channels_s8, 1x1 convs
# on whole groups of 8 channels (MVE: the input pixels read as columns).
INT8_CONV_GRAPHS = ("layer_zoo", "residual_block", "residual_clamped", "dead_channels")


def test_conv_int8_layout_in_order_per_channel_pair():
    """One byte per weight, undoubled: per group of 8 products the even channel's 8 weights in
    order, then the odd channel's; an odd last channel alone; K padded with zeros to 8."""
    w = np.arange(3 * 12).reshape(3, 12) - 7
    words, k_padded = specialize.conv_int8_layout(w)
    data = words.view(np.int8)
    assert k_padded == 16 and data.size == 3 * 16
    padded = np.zeros((3, 16), dtype=np.int64)
    padded[:, :12] = w
    assert data[:32].reshape(2, 2, 8).tolist() == [[padded[0, :8].tolist(), padded[1, :8].tolist()],
                                                   [padded[0, 8:].tolist(), padded[1, 8:].tolist()]]
    assert data[32:].tolist() == padded[2].tolist()


def test_int8_conv_channels_take_12_bytes_with_the_same_requantization():
    """mcc_conv2d_fast_w8_s8's {bias, multiplier, requant} per channel (pairs interleaved): the
    requant word's low byte is -shift (VRSHL's signed shift), its upper bits q, and
    round(v / 2^shift) + q is the widened kernel's (v + round) >> shift for every v, constant
    channels (multiplier 0, round 2 * value, shift 1) included."""
    rng = np.random.default_rng(3)
    shift = rng.integers(1, 31, 9)
    offset = rng.integers(-128, 128, 9)
    table = np.stack([2 * rng.integers(-2**20, 2**20, 9), rng.integers(2**30, 2**31, 9),
                      (1 << (shift - 1)) + (offset << shift), shift], axis=1)
    table[4] = (0, 0, 2 * -77, 1)                     # a constant channel: output -77
    words = specialize.requant_words(table)
    assert ((words & 0xFF) == (-table[:, 3]) & 0xFF).all()
    for row, word in zip(table, words):
        for v in (0, 1, -1, 12345, -12345, 2**20 + 7, -2**20 - 7) if row[1] else (0,):
            half = 1 << (int(row[3]) - 1)
            assert (v + int(row[2])) >> int(row[3]) == ((v + half) >> int(row[3])) + (int(word) >> 8)
    pairs = specialize.pair_major_w8(table).reshape(-1)
    assert pairs.size == 3 * 9
    assert pairs[:6].tolist() == [table[0, 0], table[1, 0], table[0, 1], table[1, 1], words[0], words[1]]
    assert pairs[-3:].tolist() == [table[8, 0], table[8, 1], words[8]]


def test_int8_conv_layout_calls_the_int8_kernel():
    g = with_int8_conv_weights(layer_zoo())
    convs = [op.name for op in g.ops if op.kind == "conv2d"]
    assert kernels_called(g).count("mcc_conv2d_fast_w8_s8") == len(convs) == 3
    program = lower(g, "m")
    # its loops live in the widened kernel's file, which the tree builds with it
    assert {"conv/mcc_conv2d_fast_w8_s8.c", "conv/mcc_conv2d_fast_s8.c"} <= set(program.runtime_files)
    layouts = {layer.op: layer.weight_layout for layer in program.layers}
    assert [layouts[name] for name in convs] == ["int8"] * 3
    assert layouts[g.ops[-1].name] == "widened"           # the fully connected layer as a 1x1 conv
    assert {layouts[op.name] for op in g.ops if op.kind == "depthwise_conv2d"} == {"int8"}
    # half the weight words of the widened layout
    widened = {a.name: a.length for a in lower(layer_zoo(), "m").arrays if "fast_weights" in a.name}
    int8 = {a.name: a.length for a in program.arrays if "fast_weights" in a.name}
    conv = [n for n in int8 if "conv2d" in n and "depthwise" not in n]
    assert conv and all(2 * int8[n] == widened[n] for n in conv)


@pytest.mark.parametrize("name", INT8_CONV_GRAPHS)
def test_int8_conv_weights_portable_path_matches_reference(tmp_path, name):
    check_c_matches_reference(tmp_path, with_int8_conv_weights(GRAPHS[name]()), "tflm", samples=4)


def test_depthwise_strips_where_they_pay_and_their_define():
    """DSP strips: 3x3 windows at stride 1 with 4 outputs a strip or more, or 2 along the strips
    with 8 (other layers run on tap pairs); the strided strip code is built only for models that
    have such a layer."""
    assert specialize.depthwise_strip_span((3, 3), (1, 1), (1, 1), (25, 5)) == 27      # DS-CNN
    assert specialize.depthwise_strip_span((3, 3), (2, 2), (1, 1), (24, 24)) == 49
    assert specialize.depthwise_strip_span((3, 3), (2, 1), (1, 1), (25, 5)) == 51
    assert specialize.depthwise_strip_span((3, 3), (1, 2), (1, 1), (25, 5)) == 0     # stride 1 along
    assert specialize.depthwise_strip_span((3, 3), (2, 2), (1, 1), (7, 7)) == 0
    assert specialize.depthwise_strip_span((3, 3), (1, 1), (1, 1), (6, 6)) == 8
    assert specialize.depthwise_strip_span((3, 3), (1, 1), (1, 1), (3, 3)) == 0
    assert specialize.depthwise_strip_span((5, 5), (1, 1), (1, 1), (25, 5)) == 0
    assert specialize.depthwise_strip_span((3, 3), (1, 1), (2, 2), (25, 5)) == 0
    # the zoo's strided 3x3 layer runs on a row-pair plane instead (below)
    assert dict(lower(depthwise_zoo(), "m").defines) == {specialize.DW_DSP_PLANES_DEFINE: 1,
                                                         specialize.DW_MVE_FLAT_DEFINE: 1}
    # its 7x5 3x3 layer: a row-pair plane on DSP cores, channel planes along y on MVE; its conv of
    # 3x5 output pixels takes the lone-pixel loop
    assert dict(lower(layer_zoo(), "m").defines) == {specialize.DW_DSP_PLANES_DEFINE: 1,
                                                     specialize.DW_MVE_FLAT_DEFINE: 1,
                                                     specialize.CONV_ONE_PIXEL_DEFINE: 1}


def test_depthwise_dsp_pairs_where_they_fit_and_their_define():
    """DSP cores run 3x3 depthwise layers at stride 1 or 2 with 4 output rows and columns or more,
    at most twice as many rows as columns, on row-pair planes of at most 16 KB and half the layer's
    input and output bytes; the export builds that code only for models with such a layer."""
    pairs = specialize.depthwise_dsp_pairs_bytes
    # (out_w + 2) words a pair row, out_h / 2 + 1 pair rows, 2 words past them
    assert pairs((3, 3), (1, 1), (1, 1), (1, 1), (1, 48, 48, 8), (48, 48)) == 4 * (50 * 25 + 2)
    assert pairs((3, 3), (1, 1), (1, 1), (1, 1), (1, 7, 7, 64), (7, 7)) == 4 * (9 * 5 + 2)
    # stride 2: (out_w - 1) * 2 + 3 words, out_h (rounded up to even) + 1 pair rows
    assert pairs((3, 3), (2, 2), (1, 1), (0, 0), (1, 48, 48, 48), (24, 24)) == 4 * (49 * 25 + 2)
    assert pairs((3, 3), (2, 2), (1, 1), (1, 1), (1, 15, 13, 12), (8, 7)) == 4 * (15 * 9 + 2)
    assert not pairs((3, 3), (1, 1), (1, 1), (1, 1), (1, 25, 5, 64), (25, 5))     # DS-CNN: strips down its columns
    assert not pairs((3, 3), (1, 1), (1, 1), (1, 1), (1, 3, 3, 336), (3, 3))      # 3x3 outputs: taps
    assert not pairs((3, 3), (2, 1), (1, 1), (1, 1), (1, 48, 48, 8), (24, 48))    # uneven strides
    assert not pairs((3, 3), (1, 1), (2, 2), (2, 2), (1, 48, 48, 8), (44, 44))    # dilated
    assert not pairs((5, 5), (1, 1), (1, 1), (2, 2), (1, 48, 48, 8), (48, 48))
    assert not pairs((3, 3), (1, 1), (1, 1), (1, 1), (1, 140, 120, 8), (140, 120))  # past 16 KB
    assert not pairs((3, 3), (1, 1), (1, 1), (1, 1), (1, 24, 24, 1), (24, 24))     # past half the tensors
    only = _Chain(np.random.default_rng(1), (1, 12, 10, 8)).conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True)
    assert dict(lower(only.graph("pairs"), "m").defines) == {specialize.DW_DSP_PLANES_DEFINE: 1,
                                                              specialize.DW_MVE_FLAT_DEFINE: 1,
                                                              specialize.DW_MVE_TAPS_DEFINE: 0}


def _plane_counts(graph, cpu="cortex-m4"):
    """Per depthwise layer: the planes the word after its channel table gives the kernel (None: no
    such word, a layer not on row-pair planes or a core without them), and the arena."""
    program = lower(graph, "m", cpu=cpu)
    tables = [a for a in program.arrays if a.name.endswith("_depthwise_conv2d_fast_channels")]
    return [int(a.lines[-1].split(",")[-1]) if a.length % 4 else None for a in tables], program.memory.arena_bytes


def test_depthwise_second_plane_only_where_the_arena_peak_allows():
    """A layer on row-pair planes gets the second plane (two channels filled at once) only where
    the larger scratch leaves the arena planned with one plane a layer as large as it was; the word
    after its channel table says which (trees for cores without the planes have no such word)."""
    from mcucompress.memory.arena import plan_memory

    def one_plane(choices):
        return [c if c is None else replace(c, scratch_bytes=c.layer.scratch_bytes) for c in choices]

    alone = _Chain(np.random.default_rng(1), (1, 12, 10, 8)).conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True)
    # the peak is the depthwise layer's (its input, output and scratch): one plane
    graph = on_planes(alone.graph("alone"))
    choices = specialize.choose_kernels(graph, cpu="cortex-m4")
    assert [c.layer.planes for c in choices] == [1]
    assert plan_memory(graph, [replace(choices[0], scratch_bytes=choices[0].layer.two_planes_scratch)])[0] \
        .arena_bytes > plan_memory(graph, choices)[0].arena_bytes
    assert _plane_counts(graph) == ([1], plan_memory(graph, choices)[0].arena_bytes)
    # a wide 1x1 conv after it sets the peak: the second plane is free; a depthwise layer on its
    # 48 channels after that is the peak again (one plane)
    wide = alone.conv(48, (1, 1)).conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True)
    graph = on_planes(wide.graph("wide"))
    choices = specialize.choose_kernels(graph, cpu="cortex-m4")
    dw = [c for c in choices if c is not None and c.function == "mcc_depthwise_conv2d_fast_s8"]
    assert [c.layer.planes for c in dw] == [2, 1]
    assert dw[0].scratch_bytes == dw[0].layer.two_planes_scratch > dw[0].layer.scratch_bytes
    granted = plan_memory(graph, choices)[0].arena_bytes
    base = plan_memory(graph, one_plane(choices))[0].arena_bytes
    assert granted == base
    assert _plane_counts(graph) == ([2, 1], granted)
    for cpu in ("cortex-m55", "cortex-m3", "cortex-m0"):
        assert _plane_counts(graph, cpu)[0] == [None, None]


def test_depthwise_mve_flat_where_it_fits_and_its_defines():
    """MVE cores run 3x3 depthwise layers at stride 1 or 2 with 16 outputs or more on channel
    planes when those take at most 16 KB and half the layer's input and output bytes; the export
    builds that code only for models with such a layer, and leaves the taps path's MVE code out
    when every layer runs on planes (or in lines)."""
    flat = specialize.depthwise_mve_flat_bytes
    # 64 plane columns or fewer: blocks of four interleaved rows of whole groups of 16 columns
    # (64 to 256 bytes), one a pair of lines (a line at stride 2), a spare one, 64 bytes read past them,
    # then two pointers a plane row (8 bytes)
    assert flat((3, 3), (1, 1), (1, 1), (1, 1), (1, 25, 6, 64), (25, 6)) == 4 * 128 + 64 + 8 * 9  # lines along y
    assert flat((3, 3), (1, 1), (1, 1), (1, 1), (1, 25, 5, 64), (25, 5)) == 4 * 128 + 64 + 8 * 8  # DS-CNN
    assert flat((3, 3), (1, 1), (1, 1), (1, 1), (1, 6, 25, 64), (6, 25)) == 4 * 128 + 64 + 8 * 9  # the same along x
    assert flat((3, 3), (2, 2), (1, 1), (0, 0), (1, 23, 9, 12), (11, 4)) == 5 * 128 + 64 + 8 * 10  # along y at stride 2
    assert flat((3, 3), (1, 1), (1, 1), (1, 1), (1, 6, 6, 128), (6, 6)) == 4 * 64 + 64 + 8 * 9
    assert flat((3, 3), (1, 1), (1, 1), (1, 1), (1, 13, 7, 64), (13, 7)) == 5 * 64 + 64 + 8 * 10
    assert flat((3, 3), (1, 1), (1, 1), (1, 1), (1, 5, 33, 12), (5, 33)) == 4 * 192 + 64 + 8 * 8  # 36 columns
    # wider: the plane, 70 columns x 8 rows (+16, to 16 bytes), 4 interleaved rows of 80 columns + 64
    assert flat((3, 3), (1, 1), (1, 1), (1, 1), (1, 5, 67, 12), (5, 67)) == 576 + 320 + 64
    assert flat((3, 3), (2, 2), (1, 1), (0, 0), (1, 13, 11, 12), (7, 6)) == 7 * 64 + 64 + 8 * 14  # 7 along y at stride 2
    assert not flat((3, 3), (2, 2), (1, 1), (0, 0), (1, 11, 9, 12), (6, 5))      # 6 along y at stride 2
    assert not flat((3, 3), (1, 1), (1, 1), (1, 1), (1, 40, 400, 24), (40, 400)[::-1])  # 7 inputs along y past 16 bits
    assert flat((3, 3), (2, 2), (1, 1), (0, 0), (1, 48, 48, 16), (24, 24)) == 25 * 256 + 64 + 8 * 50  # 50 columns
    assert flat((3, 3), (1, 1), (1, 1), (1, 1), (1, 48, 48, 8), (48, 48)) == 25 * 256 + 64 + 8 * 51   # 51 columns
    assert not flat((3, 3), (1, 1), (1, 1), (1, 1), (1, 3, 5, 64), (3, 5))        # 15 outputs
    assert flat((3, 3), (2, 2), (1, 1), (0, 0), (1, 14, 14, 64), (7, 7)) == 8 * 64 + 64 + 8 * 16  # stride 2, 7 a line
    assert not flat((3, 3), (2, 2), (1, 1), (0, 0), (1, 12, 12, 64), (6, 6))      # stride 2, 6 a line
    assert not flat((3, 3), (2, 1), (1, 1), (1, 1), (1, 48, 48, 8), (24, 48))     # uneven strides
    assert not flat((3, 3), (1, 1), (2, 2), (2, 2), (1, 48, 48, 8), (48, 48))     # dilated
    assert not flat((5, 5), (1, 1), (1, 1), (2, 2), (1, 48, 48, 8), (48, 48))
    assert not flat((3, 3), (1, 1), (1, 1), (1, 1), (1, 140, 120, 8), (140, 120))  # past 16 KB: lines
    assert not flat((3, 3), (1, 1), (1, 1), (1, 1), (1, 24, 24, 1), (24, 24))     # past half the tensors
    only = _Chain(np.random.default_rng(1), (1, 18, 7, 8)).conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True)
    assert dict(lower(only.graph("flat"), "m").defines) == {specialize.DW_MVE_FLAT_DEFINE: 1,
                                                             specialize.DW_MVE_TAPS_DEFINE: 0}
    mixed = only.conv(0, (3, 3), stride=(2, 1), padding=(1, 1, 1, 1), depthwise=True)
    assert dict(lower(mixed.graph("mixed"), "m").defines) == {specialize.DW_MVE_FLAT_DEFINE: 1,
                                                               specialize.DW_STRIDE2_DEFINE: 1}


def test_depthwise_planes_only_in_trees_an_mve_core_may_run():
    """A tree exported for a DSP or ARMv6-M core neither reserves the channel planes' scratch nor
    builds their code (its arena is what its own paths need); one for the M55, or for no core in
    particular, does both, the same as before the core was known. The DSP row-pair planes the
    same way round: not in trees for the M55 or the M0."""
    chain = _Chain(np.random.default_rng(1), (1, 18, 7, 8)).conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True)
    graph = on_planes(chain.graph("flat"))
    anywhere, m55 = lower(graph, "m"), lower(graph, "m", cpu="cortex-m55")
    assert dict(anywhere.defines) == dict(m55.defines) == {specialize.DW_MVE_FLAT_DEFINE: 1,
                                                           specialize.DW_MVE_TAPS_DEFINE: 0}
    assert anywhere.memory.arena_bytes == m55.memory.arena_bytes
    strips = specialize.depthwise_scratch_bytes(8, 9, specialize.depthwise_strip_span((3, 3), (1, 1), (1, 1), (18, 7)))
    planes = specialize.depthwise_mve_flat_bytes((3, 3), (1, 1), (1, 1), (1, 1), (1, 18, 7, 8), (18, 7))
    assert planes > strips
    for cpu in ("cortex-m4", "cortex-m7", "cortex-m33", "cortex-m0"):
        program = lower(graph, "m", cpu=cpu)
        assert specialize.DW_MVE_FLAT_DEFINE not in dict(program.defines)
        assert program.memory.arena_bytes == anywhere.memory.arena_bytes - planes + strips
        assert [c.function for c in program.calls] == [c.function for c in anywhere.calls]
    assert specialize.planes_target(None) and specialize.planes_target("cortex-m55")
    assert not specialize.planes_target("cortex-m4")
    # likewise a DSP core's row-pair planes: in trees for DSP cores and for any core only
    pairs = _Chain(np.random.default_rng(1), (1, 12, 10, 8)).conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True)
    pairs = on_planes(pairs.graph("pairs"))
    anywhere, m4, m55 = (lower(pairs, "m", cpu=cpu) for cpu in (None, "cortex-m4", "cortex-m55"))
    assert dict(anywhere.defines) == {specialize.DW_DSP_PLANES_DEFINE: 1, specialize.DW_MVE_FLAT_DEFINE: 1,
                                      specialize.DW_MVE_TAPS_DEFINE: 0}
    assert dict(m4.defines) == {specialize.DW_DSP_PLANES_DEFINE: 1}
    assert dict(m55.defines) == {specialize.DW_MVE_FLAT_DEFINE: 1, specialize.DW_MVE_TAPS_DEFINE: 0}
    assert dict(lower(pairs, "m", cpu="cortex-m0").defines) == {}
    assert max(m4.memory.arena_bytes, m55.memory.arena_bytes) == anywhere.memory.arena_bytes
    assert min(m4.memory.arena_bytes, m55.memory.arena_bytes) < anywhere.memory.arena_bytes
    assert specialize.pairs_target(None) and specialize.pairs_target("cortex-m33")
    assert not specialize.pairs_target("cortex-m55") and not specialize.pairs_target("cortex-m0")
    # bench runs a DSP core on a tree exported for its family, the M55 on its own
    from mcucompress.targets.bench import tree_core
    from mcucompress.targets.board import load_board

    assert [tree_core(load_board(b)) for b in ("mps2-an386", "mps2-an500", "mps3-an547")] == [
        "cortex-m4", "cortex-m4", "cortex-m55"]


def test_depthwise_mve_lines_where_they_pay_and_their_defines():
    """MVE cores run 3x3 stride-1 depthwise layers too large for channel planes channel by
    channel in lines of 16 outputs or more; the export builds that code only for models with such
    a layer, and leaves the taps path's MVE code out when every layer runs in lines."""
    lines = specialize.depthwise_mve_lines
    assert lines((3, 3), (1, 1), (1, 1), (1, 25, 5, 64), (25, 5))          # DS-CNN: along y
    assert lines((3, 3), (1, 1), (1, 1), (1, 48, 48, 8), (48, 48))
    assert not lines((3, 3), (1, 1), (1, 1), (1, 12, 12, 64), (12, 12))   # short lines: taps
    assert not lines((3, 3), (2, 2), (1, 1), (1, 48, 48, 8), (24, 24))
    assert not lines((3, 3), (1, 1), (2, 2), (1, 48, 48, 8), (44, 44))
    assert not lines((5, 5), (1, 1), (1, 1), (1, 48, 48, 8), (44, 44))
    assert not lines((3, 3), (1, 1), (1, 1), (1, 40, 20, 512), (40, 20))  # 7 inputs along y past 16-bit offsets
    only = _Chain(np.random.default_rng(1), (1, 140, 120, 4)).conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True)
    assert dict(lower(only.graph("lines"), "m").defines) == {specialize.DW_MVE_LINES_DEFINE: 1,
                                                              specialize.DW_MVE_TAPS_DEFINE: 0}
    mixed = only.conv(0, (3, 3), stride=(2, 2), padding=(1, 1, 1, 1), depthwise=True).conv(
        0, (3, 3), stride=(1, 2), padding=(1, 1, 1, 1), depthwise=True)
    assert dict(lower(mixed.graph("mixed"), "m").defines) == {specialize.DW_MVE_LINES_DEFINE: 1,
                                                               specialize.DW_STRIDE2_DEFINE: 1}


def test_pointwise_c8_builds_its_loop_only_where_a_layer_takes_it():
    """MCC_CONV_1X1_C8 (the one-pixel loop of 1x1 convs on 8 input channels) is defined for a
    model with such a layer whose output spans all of int8, and for no other graph here."""
    assert ("MCC_CONV_1X1_C8", 1) in lower(pointwise_c8(), "m").defines
    for name in ("layer_zoo", "residual_block", "dead_channels"):
        assert "MCC_CONV_1X1_C8" not in dict(lower(GRAPHS[name](), "m").defines)


def test_direct_rows_loop_is_built_only_for_large_direct_pointwise_layers():
    """MCC_CONV_DIRECT_ROWS (the channel-pair loop walking the rows of a 1x1 conv on its input
    pixels) is defined for a model with a widened 1x1 conv without padding on whole groups of 8
    input channels, an even channel count and at least specialize.CONV_DIRECT_ROWS_MIN_PIXELS
    output pixels; not for fewer pixels, an odd channel count, other input channel counts,
    padding, other windows or int8 weights, nor for any graph here (pointwise_rows' QEMU test
    builds it in by its define)."""
    rows = specialize.conv_direct_rows
    assert rows("mcc_conv2d_fast_s8", (1, 1), (0, 0), 16, (1, 32, 16, 8))
    assert rows("mcc_conv2d_fast_s8", (1, 1), (0, 0), 8, (1, 16, 32, 80))
    assert not rows("mcc_conv2d_fast_s8", (1, 1), (0, 0), 16, (1, 31, 16, 8))   # 496 pixels
    assert not rows("mcc_conv2d_fast_s8", (1, 1), (0, 0), 16, (1, 32, 16, 7))
    assert not rows("mcc_conv2d_fast_s8", (1, 1), (0, 0), 12, (1, 32, 16, 8))
    assert not rows("mcc_conv2d_fast_s8", (1, 1), (1, 0), 16, (1, 32, 16, 8))
    assert not rows("mcc_conv2d_fast_s8", (3, 3), (0, 0), 16, (1, 32, 16, 8))
    assert not rows("mcc_conv2d_fast_w8_s8", (1, 1), (0, 0), 16, (1, 32, 16, 8))
    large = _Chain(np.random.default_rng(3), (1, 24, 24, 16)).conv(8, (1, 1)).graph("large_pointwise")
    assert ("MCC_CONV_DIRECT_ROWS", 1) in lower(large, "m").defines
    for name in GRAPHS:
        assert "MCC_CONV_DIRECT_ROWS" not in dict(lower(GRAPHS[name](), "m").defines), name


def test_lone_pixel_loop_is_built_only_for_few_odd_pixels():
    """MCC_CONV_ONE_PIXEL (the DSP loop of a lone last output pixel) is defined for a model with a
    widened conv layer of an odd number of pixels up to specialize.CONV_ONE_PIXEL_MAX, not for
    more pixels or an even number."""
    assert ("MCC_CONV_ONE_PIXEL", 1) in lower(lone_pixel(), "m").defines
    assert specialize.conv_lone_pixel((1, 3, 3, 8)) and specialize.conv_lone_pixel((1, 1, 1, 8))
    assert not specialize.conv_lone_pixel((1, 5, 7, 8))   # 35 pixels
    assert not specialize.conv_lone_pixel((1, 3, 4, 8))
    for name in ("residual_clamped", "pointwise_c8"):
        assert "MCC_CONV_ONE_PIXEL" not in dict(lower(GRAPHS[name](), "m").defines)


@pytest.mark.parametrize("cpu, smallest", [("cortex-m4", 181), ("cortex-m33", 181), ("cortex-m0", 163),
                                           ("cortex-m55", 36), (None, 181)])
def test_add_takes_the_tables_from_its_cores_crossover(cpu, smallest):
    """An add takes mcc_add_fast_s8 from the size where its tables' cost is repaid on the core
    the tree is exported for (MVE cores build them four entries a pass), mcc_add_s8 below it."""
    def kernel(size):
        chain = _Chain(np.random.default_rng(12), (1, 1, size, 1)).residual()
        graph = chain.graph("add")
        return specialize.choose(graph, graph.ops[-1], "tflm", cpu)

    assert kernel(smallest - 1) is None
    assert kernel(smallest).kernel == "mcc_add_fast_s8"


def test_two_instruction_requantization_only_for_dsp_cores_and_its_layers():
    """MCC_CONV_RELU_SHIFT is the final shift that best_final_shift picks over the channels of
    relu_requant's layers clamped at or above their zero point, in a tree for a DSP core only (not
    an MVE or ARMv7-M core's, nor a tree for any core, whose C is unchanged); the layers it takes
    store their bias and weights scaled by 2^j (j = H - r + 1) with shift words 0, the others
    (no activation; shifts out of reach) keep the doubled layout."""
    graph = relu_requant()
    assert dict(lower(graph, "m", "tflm", "cortex-m4").defines)["MCC_CONV_RELU_SHIFT"] == 12
    assert dict(lower(graph, "m", "tflm", "cortex-m33").defines)["MCC_CONV_RELU_SHIFT"] == 12
    for cpu in ("cortex-m55", "cortex-m3", "cortex-m0plus", None):
        other = lower(graph, "m", "tflm", cpu)
        assert "MCC_CONV_RELU_SHIFT" not in dict(other.defines), cpu
    assert lower(graph, "m", "tflm", "cortex-m3").decls == lower(graph, "m", "tflm").decls
    choices = specialize.choose_kernels(graph, "tflm", "cortex-m4")
    assert [c.layer.relu_shift for c in choices] == [12, 12, 12, 12, 12, None, None]
    assert [c.layer.constant_channels for c in choices][:3] == [1, 0, 2]
    plain = specialize.choose_kernels(graph, "tflm", None)
    for op, c, p in zip(graph.ops, choices, plain):
        table = c.layer.channels.reshape(-1)
        if c.layer.relu_shift is None:
            assert np.array_equal(c.layer.weights, p.layer.weights)
            continue
        right = -np.asarray(specialize.kernel_params(graph, op, "tflm").shift, dtype=np.int64)
        pairs = len(right) // 2
        assert not table[:8 * pairs].reshape(-1, 8)[:, 6:].any() and not table[8 * pairs + 3:].any()
        mult = np.append(table[:8 * pairs].reshape(-1, 8)[:, 2:4].reshape(-1), table[8 * pairs + 1:8 * pairs + 2])
        scale = np.where(mult == 0, 0, np.int64(1) << np.clip(12 - right + 1, 2, 8))   # constants: 0
        w = graph.tensor(op.inputs[1]).data.reshape(len(right), -1).astype(np.int64)
        scaled, _ = specialize.conv_layout(w, scale=scale)
        assert np.array_equal(c.layer.weights, scaled)
