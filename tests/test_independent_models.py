"""Q-format and binary exports against integer models written here from the methods' own
definitions, not from the project's reference modules: the host C of a real exported Keras model,
byte for byte on 100 inputs drawn from its calibration data.

Q-format (power-of-two scales, as CMSIS-NN's q7 kernels): a tensor of fraction bits FL holds
round(v * 2^FL) in int8; a layer accumulates exact integer products (bias in the accumulator's
format), moves to the output format by a shift with round half up, saturates to int8, then clamps
(ReLU at 0, ReLU6 at 6 * 2^FL). An add aligns both inputs exactly, then rounds the same way.

Binary (XNOR-Net): activations and weights are signs (+1/-1, one bit each: 1 for +1); a dot product
is the sum of sign products, which the kernels compute as n - 2 * popcount(a XOR w); the per-channel
scaling and batch norm of the float layer fold into one threshold, and the output sign is
+1 where dot >= threshold. Zero padding contributes 0. Ternary weights (0, +1, -1) skip their zeros.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import oracle_models  # noqa: E402
from mcucompress.build.host import build_host  # noqa: E402
from mcucompress.build.runner import run_host  # noqa: E402
from mcucompress.export import export  # noqa: E402
from mcucompress.ir.graph import Graph  # noqa: E402
from mcucompress.ir.serialize import load_graph  # noqa: E402

SAMPLES = 100


# -- Q-format -------------------------------------------------------------------------------------

def _fraction_bits(tensor) -> np.ndarray:
    scales = np.asarray(tensor.quant.scale, np.float64)
    bits = -np.log2(scales)
    assert np.all(bits == np.round(bits)) and not any(tensor.quant.zero_point), tensor.name
    return bits.astype(np.int64)


def _round_shift(acc: np.ndarray, shift) -> np.ndarray:
    """acc / 2^shift, rounded half up (shift <= 0: exact multiplication)."""
    shift = np.broadcast_to(np.asarray(shift, np.int64), acc.shape)
    up = np.floor_divide(acc + (np.int64(1) << np.maximum(shift - 1, 0)) * (shift > 0),
                         np.int64(1) << np.maximum(shift, 0))
    return np.where(shift > 0, up, acc * (np.int64(1) << np.maximum(-shift, 0)))


def _to_int8(v: np.ndarray, activation: str, fl_out: int) -> np.ndarray:
    v = np.clip(v, -128, 127)
    if activation in ("relu", "relu6"):
        v = np.maximum(v, 0)
    if activation == "relu6":
        v = np.minimum(v, 6 << fl_out if fl_out >= 0 else 6 >> -fl_out)
    assert activation in ("none", "relu", "relu6"), activation
    return v.astype(np.int8)


def _conv(x, w, bias, fl_acc, fl_out, attrs, depthwise):
    """x (H, W, C) int64; w (O, KH, KW, I) or depthwise (1, KH, KW, C * m)."""
    top, bottom, left, right = attrs["padding"]
    (sh, sw), (dh, dw) = attrs["stride"], attrs.get("dilation", (1, 1))
    xp = np.pad(x, ((top, bottom), (left, right), (0, 0)))
    kh, kw = w.shape[1:3]
    out_h = (xp.shape[0] - (kh - 1) * dh - 1) // sh + 1
    out_w = (xp.shape[1] - (kw - 1) * dw - 1) // sw + 1
    channels = w.shape[3] if depthwise else w.shape[0]
    acc = np.zeros((out_h, out_w, channels), np.int64)
    for ky in range(kh):
        for kx in range(kw):
            patch = xp[ky * dh: ky * dh + (out_h - 1) * sh + 1: sh, kx * dw: kx * dw + (out_w - 1) * sw + 1: sw]
            if depthwise:
                mult = channels // x.shape[-1]
                acc += np.repeat(patch, mult, axis=-1) * w[0, ky, kx]
            else:
                acc += np.einsum("hwi,oi->hwo", patch, w[:, ky, kx])
    if bias is not None:
        acc += bias
    return _to_int8(_round_shift(acc, fl_acc - fl_out), attrs.get("activation", "none"), fl_out)


def _qformat_model(graph: Graph, x: np.ndarray) -> np.ndarray:
    values = {graph.inputs[0]: x.astype(np.int64)}
    for op in graph.ops:
        t = graph.tensor
        out = t(op.outputs[0])
        fl_out = int(_fraction_bits(out)[0])
        a = values[op.inputs[0]].reshape(t(op.inputs[0]).shape)
        if op.kind in ("conv2d_q7", "depthwise_conv2d_q7", "fully_connected_q7"):
            w = t(op.inputs[1]).data.astype(np.int64)
            bias = t(op.inputs[2]).data.astype(np.int64) if len(op.inputs) > 2 and op.inputs[2] else None
            fl_acc = int(_fraction_bits(t(op.inputs[0]))[0]) + _fraction_bits(t(op.inputs[1]))
            if op.kind == "fully_connected_q7":
                rows = a.reshape(-1, w.shape[1])
                acc = rows @ w.T + (bias if bias is not None else 0)
                y = _to_int8(_round_shift(acc, fl_acc - fl_out), op.attrs.get("activation", "none"), fl_out)
            else:
                y = _conv(a[0], w, bias, fl_acc, fl_out, op.attrs, op.kind == "depthwise_conv2d_q7")
        elif op.kind == "add_q7":
            b = values[op.inputs[1]].reshape(a.shape)
            fl_a, fl_b = (int(_fraction_bits(t(n))[0]) for n in op.inputs)
            fine = max(fl_a, fl_b, fl_out)  # both inputs exactly in the finer format
            total = (a << (fine - fl_a)) + (b << (fine - fl_b))
            y = _to_int8(_round_shift(total, fine - fl_out), op.attrs.get("activation", "none"), fl_out)
        elif op.kind == "max_pool2d":
            assert op.attrs.get("activation", "none") == "none" and fl_out == _fraction_bits(t(op.inputs[0]))[0]
            (ph, pw), (sh, sw) = op.attrs["pool"], op.attrs["stride"]
            assert not any(op.attrs["padding"])
            img = a[0]
            oh, ow = (img.shape[0] - ph) // sh + 1, (img.shape[1] - pw) // sw + 1
            y = np.full((oh, ow, img.shape[2]), -128, np.int64)
            for ky in range(ph):
                for kx in range(pw):
                    y = np.maximum(y, img[ky: ky + (oh - 1) * sh + 1: sh, kx: kx + (ow - 1) * sw + 1: sw])
        elif op.kind == "reshape":
            y = a
        elif op.kind == "relu":
            y = np.maximum(a, 0)
        else:
            raise AssertionError(f"no Q-format definition here for {op.kind}")
        values[op.outputs[0]] = np.asarray(y, np.int64).reshape(out.shape)
    return values[graph.outputs[0]].astype(np.int8).reshape(-1), values


def _qformat_keras_model(keras):
    keras.utils.set_random_seed(7)
    inp = keras.Input((10, 9, 3))
    a = keras.layers.Conv2D(6, 3, padding="same", activation="relu")(inp)
    b = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")(a)
    b = keras.layers.Conv2D(6, 1)(b)
    s = keras.layers.ReLU()(keras.layers.Add()([a, b]))
    s = keras.layers.Conv2D(5, 3, strides=2, dilation_rate=1, padding="valid")(s)
    s = keras.layers.MaxPooling2D(2)(s)
    out = keras.layers.Dense(7)(keras.layers.Flatten()(s))
    return keras.Model(inp, out)


def test_qformat_export_equals_the_shift_only_integer_model(tmp_path):
    keras = pytest.importorskip("keras")
    shape = (10, 9, 3)
    calib = oracle_models.calibration(shape, count=64, seed=3).reshape(-1, *shape)
    np.savez(tmp_path / "calib.npz", x=calib)
    tree = export(_qformat_keras_model(keras), tmp_path / "tree", calib=tmp_path / "calib.npz", quantize="qformat")
    graph = load_graph(tree / "graph.npz")
    kinds = {op.kind for op in graph.ops}
    assert {"conv2d_q7", "depthwise_conv2d_q7", "add_q7", "fully_connected_q7"} <= kinds, kinds
    fl_in = int(_fraction_bits(graph.tensor(graph.inputs[0]))[0])
    rng = np.random.default_rng(1)
    picks = calib[np.arange(SAMPLES) % len(calib)] + 0.02 * rng.standard_normal((SAMPLES, *shape))
    x = np.clip(np.floor(picks * 2.0 ** fl_in + 0.5), -128, 127).astype(np.int8)
    want, seen = zip(*(_qformat_model(graph, xi[None]) for xi in x))
    want = np.stack(want)
    # the inputs move every layer: outputs vary from input to input, few sit at the saturation ends
    for op in graph.ops:
        layer = np.stack([v[op.outputs[0]].reshape(-1) for v in seen])
        assert len(np.unique(layer)) > 8, op.name
        assert np.mean(np.abs(layer) >= 127) < 0.2, op.name
    got = run_host(build_host(tree), x.reshape(SAMPLES, -1), want.shape[1])
    assert np.array_equal(got, want), f"{np.count_nonzero(got != want)} bytes differ"


# -- binary (XNOR-Net) ----------------------------------------------------------------------------

def _weight_signs(words: np.ndarray, channels: int, ternary: bool) -> np.ndarray:
    """Packed weight words (..., words) -> signs (..., channels) in {-1, 0, +1}: bit c of a row at
    word c // 32, bit c % 32, 1 for +1; ternary rows hold their sign words, then their mask words."""
    def bits(w):
        every = (w[..., :, None] >> np.arange(32, dtype=np.uint32)) & np.uint32(1)
        return every.reshape(*w.shape[:-1], -1)[..., :channels].astype(np.int64)

    if not ternary:
        return 2 * bits(words) - 1
    half = words.shape[-1] // 2
    return bits(words[..., half:]) * (2 * bits(words[..., :half]) - 1)


def _binary_model(graph: Graph, x: np.ndarray) -> np.ndarray:
    """Signs through the binary ops: +1/-1 int64 arrays (H, W, C) or (features,)."""
    signs = None
    for op in graph.ops:
        t = graph.tensor
        if op.kind == "binarize":
            signs = np.where(x.reshape(t(op.inputs[0]).shape)[0] >= op.attrs.get("threshold", 0), 1, -1)
        elif op.kind in ("binary_conv2d", "binary_fully_connected"):
            words, thresholds = t(op.inputs[1]).data, t(op.inputs[2]).data.astype(np.int64)
            ternary = op.attrs.get("weights", "binary") == "ternary"
            assert op.attrs.get("weights", "binary") in ("binary", "ternary")
            if op.kind == "binary_conv2d":
                w = _weight_signs(words, op.attrs["in_channels"], ternary)  # (O, KH, KW, C)
                top, bottom, left, right = op.attrs["padding"]
                sh, sw = op.attrs["stride"]
                padded = np.pad(signs, ((top, bottom), (left, right), (0, 0)))  # zero: no contribution
                kh, kw = w.shape[1:3]
                oh, ow = (padded.shape[0] - kh) // sh + 1, (padded.shape[1] - kw) // sw + 1
                dot = np.zeros((oh, ow, w.shape[0]), np.int64)
                for ky in range(kh):
                    for kx in range(kw):
                        patch = padded[ky: ky + (oh - 1) * sh + 1: sh, kx: kx + (ow - 1) * sw + 1: sw]
                        dot += np.einsum("hwc,oc->hwo", patch, w[:, ky, kx])
            else:
                pixels = signs.reshape(-1, signs.shape[-1])  # per pixel, its channels' words
                w = _weight_signs(words.reshape(len(words), len(pixels), -1), pixels.shape[-1], ternary)
                dot = np.einsum("pc,upc->u", pixels, w)
            signs = np.where(dot >= thresholds, 1, -1)
        elif op.kind == "unpack_bits":
            return signs.reshape(-1).astype(np.int8)
        else:
            raise AssertionError(f"no binary definition here for {op.kind}")
    raise AssertionError("the binary part ends in unpack_bits")


def _binary_part(graph: Graph) -> Graph:
    """The ops from the first binarize to unpack_bits: int8 in, +1/-1 int8 out."""
    kinds = [op.kind for op in graph.ops]
    ops = graph.ops[kinds.index("binarize"): kinds.index("unpack_bits") + 1]
    names = {n for op in ops for n in (*op.inputs, *op.outputs) if n}
    return Graph({n: graph.tensor(n) for n in names}, tuple(ops), (ops[0].inputs[0],), (ops[-1].outputs[0],),
                 name="binary_part")


@pytest.fixture(scope="module")
def binary_network():
    """A small XNOR network trained for two epochs on scikit-learn's 8x8 digits: int8 conv, binary
    conv (stride 2, same padding), ternary conv, binary dense, int8 dense."""
    keras = pytest.importorskip("keras")
    from sklearn.datasets import load_digits

    from mcucompress.binary.layers import BinaryConv2D, BinaryDense, SignActivation

    digits = load_digits()
    x, y = (digits.images / 16.0).astype(np.float32)[..., None], digits.target
    keras.utils.set_random_seed(1)
    L = keras.layers
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        L.Conv2D(35, 3, padding="same"), L.BatchNormalization(), SignActivation(),
        BinaryConv2D(33, 3, strides=2, padding="same"), L.BatchNormalization(), SignActivation(),
        BinaryConv2D(40, 3, quantizer="ternary"), L.BatchNormalization(), SignActivation(),
        L.Flatten(), BinaryDense(37), L.BatchNormalization(), SignActivation(), L.Dense(10)])
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[:600], y[:600], epochs=2, batch_size=64, verbose=0)
    return model, x


@pytest.mark.parametrize("popcount", ["vertical"])  # the default; the others: test_binary_kernels.py
def test_binary_export_equals_the_xnor_sign_model(binary_network, tmp_path, popcount):
    from mcucompress.binary.convert import convert
    from mcucompress.reference.int8 import run_int8

    model, x = binary_network
    graph = convert(model, x[:200], popcount=popcount)
    part = _binary_part(graph)
    assert [op.kind for op in part.ops].count("binary_conv2d") == 2
    # the binary part's inputs: the first conv's int8 outputs on digits it was not trained on
    q = graph.tensor(graph.inputs[0]).quant
    images = np.clip(np.round(x[1000:1000 + SAMPLES] / q.scale[0]) + q.zero_point[0], -128, 127).astype(np.int8)
    first = part.inputs[0]
    inputs = np.stack([run_int8(graph, image[None], intermediates=True)[first] for image in images])
    want = np.stack([_binary_model(part, xi) for xi in inputs])
    assert 0.2 < np.mean(want == 1) < 0.8 and len({row.tobytes() for row in want}) > SAMPLES // 2
    tree = export(part, tmp_path / "tree")
    got = run_host(build_host(tree), inputs.reshape(SAMPLES, -1), want.shape[1])
    assert np.array_equal(got, want), f"{np.count_nonzero(got != want)} signs differ"
