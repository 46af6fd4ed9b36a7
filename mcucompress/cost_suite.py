"""Benchmark layers for the per-core cost model (encode/cost_model.py): small int8 models whose
fully connected or conv2d layers are all stored in one weight encoding, measured per layer on
QEMU with the project's instruction-counting plugin (`mcucompress bench`'s per-layer counts).

The shapes vary units, depth, kernel size, channels, sparsity and the number of distinct values,
so that the fitted coefficients are not tied to one layer; ``fit_suite`` is what
scripts/fit_cost_model.py measures, ``check_suite`` the smaller set tests/test_cost_model.py
measures again against the shipped coefficients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcucompress.encode.choose import ATTR, CONV_ENCODINGS, ENCODINGS, LAYOUT_ATTR
from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor

# Dense conv2d weights in the int8 layout (mcc_conv2d_fast_w8_s8), as a suite "encoding".
DENSE_INT8 = "dense_int8"
# Dense fully connected weights in the int16 layout (mcc_fully_connected_fast_w16_s8).
DENSE_INT16 = "dense_int16"


@dataclass(frozen=True)
class FcLayer:
    units: int
    sparsity: float = 0.0
    values: int = 256        # distinct non-zero int8 values


@dataclass(frozen=True)
class ConvLayer:
    out_c: int
    kernel: int = 3
    stride: int = 1
    sparsity: float = 0.0
    values: int = 256


# (input depth, layers): a chain, each layer's depth the previous one's units.
FC_FIT = (
    (256, (FcLayer(64, 0.5, 32), FcLayer(300, 0.9, 16), FcLayer(100, 0.0, 200),
           FcLayer(640, 0.7, 32), FcLayer(8, 0.3, 64), FcLayer(128, 0.95, 8), FcLayer(10, 0.0, 256))),
    (784, (FcLayer(128, 0.8, 32), FcLayer(128, 0.0, 128), FcLayer(32, 0.6, 16),
           FcLayer(200, 0.92, 32), FcLayer(16, 0.4, 4), FcLayer(48, 0.0, 24))),
)
# (input height = width, channels, layers)
CONV_FIT = (
    (12, 3, (ConvLayer(8, 3, 1, 0.3, 32), ConvLayer(16, 3, 1, 0.8, 16), ConvLayer(24, 1, 1, 0.5, 64),
             ConvLayer(8, 3, 2, 0.9, 32), ConvLayer(12, 5, 1, 0.0, 200))),
    (10, 8, (ConvLayer(32, 3, 1, 0.9, 32), ConvLayer(16, 3, 2, 0.7, 16), ConvLayer(20, 1, 1, 0.0, 8),
             ConvLayer(12, 3, 1, 0.6, 128))),
)
FC_FIT = FC_FIT + (
    (90, (FcLayer(33, 0.75, 32), FcLayer(7, 0.2, 12), FcLayer(250, 0.85, 16), FcLayer(12, 0.0, 48),
          FcLayer(60, 0.6, 256), FcLayer(5, 0.5, 32))),
)
FC_FIT = FC_FIT + (
    (24, (FcLayer(72, 0.3, 32), FcLayer(40, 0.8, 16), FcLayer(136, 0.5, 64), FcLayer(20, 0.9, 32),
          FcLayer(96, 0.0, 8), FcLayer(56, 0.65, 24))),
)
# CSR conv layers of the sizes of scripts/bench_csr_fast.py (whole groups of 4 pixels, rows of 16
# and 8, deep windows): the small chains above are mostly partial groups and short walks.
CONV_CSR_FIT = (16, 16, (ConvLayer(32, 3, 1, 0.7), ConvLayer(32, 3, 2, 0.9), ConvLayer(32, 3, 1, 0.8),
                         ConvLayer(64, 1, 1, 0.7)))
# Codebooks of at most 16 values (2- and 4-bit indices: the fast codebook kernels).
FC_FAST_FIT = (
    (256, (FcLayer(64, 0.5, 15), FcLayer(300, 0.0, 16), FcLayer(100, 0.3, 3), FcLayer(37, 0.0, 4),
           FcLayer(10, 0.6, 7))),
    (90, (FcLayer(130, 0.2, 12), FcLayer(7, 0.0, 2), FcLayer(250, 0.8, 15), FcLayer(21, 0.4, 3))),
)
CONV_FAST_FIT = (
    (12, 3, (ConvLayer(8, 3, 1, 0.3, 15), ConvLayer(16, 3, 1, 0.0, 3), ConvLayer(24, 1, 1, 0.5, 7),
             ConvLayer(8, 3, 2, 0.0, 16), ConvLayer(12, 5, 1, 0.2, 4))),
    (10, 8, (ConvLayer(32, 3, 1, 0.8, 15), ConvLayer(16, 3, 2, 0.0, 3), ConvLayer(20, 1, 1, 0.0, 16),
             ConvLayer(12, 3, 1, 0.6, 2))),
)
# int4 weights (encode/int4_requantize.py re-quantizes the chains' int8 weights to -8..7).
FC_INT4_FIT = (
    (256, (FcLayer(64), FcLayer(300), FcLayer(37), FcLayer(10))),
    (90, (FcLayer(130), FcLayer(7), FcLayer(250), FcLayer(21))),
)
CONV_INT4_FIT = (
    (12, 3, (ConvLayer(8, 3, 1), ConvLayer(16, 3, 1), ConvLayer(24, 1, 1), ConvLayer(8, 3, 2), ConvLayer(12, 5, 1))),
    (10, 8, (ConvLayer(32, 3, 1), ConvLayer(16, 3, 2), ConvLayer(20, 1, 1), ConvLayer(12, 3, 1))),
)
FC_INT4_CHECK = (200, (FcLayer(96), FcLayer(41), FcLayer(160)))
CONV_INT4_CHECK = (8, 6, (ConvLayer(16, 3, 1), ConvLayer(10, 3, 1), ConvLayer(20, 1, 1)))
# More layers for the int8 conv layout: 1x1 and 3x3 convs whose columns are staged (in_c not a
# multiple of 8) or read straight from the input (1x1 on whole groups of 8, MVE).
CONV_INT8_FIT = (9, 10, (ConvLayer(12, 1), ConvLayer(20, 3), ConvLayer(14, 1, 2), ConvLayer(16, 1),
                         ConvLayer(6, 1)))
FC_FAST_CHECK = (200, (FcLayer(96, 0.85, 15), FcLayer(41, 0.0, 3), FcLayer(160, 0.3, 9)))
CONV_FAST_CHECK = (8, 6, (ConvLayer(16, 3, 1, 0.5, 15), ConvLayer(10, 3, 1, 0.0, 3), ConvLayer(20, 1, 1, 0.2, 12)))
# Layers the model is checked on (not fitted on): one model per chain, the layers' encodings in turn.
FC_CHECK = (200, (FcLayer(96, 0.85, 32), FcLayer(40, 0.5, 16), FcLayer(160, 0.0, 100), FcLayer(44, 0.7, 32),
                  FcLayer(120, 0.9, 8), FcLayer(30, 0.4, 48)))
# Rows of one to three 256-column segments for csr_seg (the check chains above are shorter).
SEG_CHECK = (300, (FcLayer(260, 0.75, 32), FcLayer(520, 0.85, 16), FcLayer(30, 0.7, 24)))
CONV_CHECK = (8, 6, (ConvLayer(16, 3, 1, 0.75, 32), ConvLayer(10, 3, 1, 0.3, 16), ConvLayer(20, 1, 1, 0.6, 48),
                     ConvLayer(12, 3, 2, 0.85, 32)))


def _weights(rng, shape, sparsity: float, values: int) -> np.ndarray:
    pool = np.r_[np.arange(-127, 0), np.arange(1, 128)]
    chosen = rng.choice(pool, size=min(values, pool.size), replace=False)
    w = rng.choice(chosen, size=shape)
    w[rng.random(shape) < sparsity] = 0
    return w.astype(np.int8)


def _act(name: str, shape, scale: float, zero: int) -> Tensor:
    return Tensor(name, tuple(shape), "int8", QuantParams((float(np.float32(scale)),), (int(zero),)))


def _weighted(rng, tensors: dict, i: int, w: np.ndarray, in_scale: float) -> tuple[str, str]:
    n = w.shape[0]
    w_scale = float(np.float32(0.004))
    tensors[f"w{i}"] = Tensor(f"w{i}", w.shape, "int8", QuantParams((w_scale,), (0,)), w)
    tensors[f"b{i}"] = Tensor(f"b{i}", (n,), "int32", QuantParams((in_scale * w_scale,), (0,)),
                              rng.integers(-2000, 2000, n).astype(np.int32))
    return f"w{i}", f"b{i}"


def _encodings(encoding, n: int) -> list[str]:
    return [encoding] * n if isinstance(encoding, str) else list(encoding)


def fc_chain(depth: int, layers, encoding, seed: int = 0) -> Graph:
    """Fully connected layers in a chain, ReLU, every one stored as `encoding` (or the i-th
    layer as encoding[i])."""
    kinds = _encodings(encoding, len(layers))
    rng = np.random.default_rng(seed)
    tensors = {"x": _act("x", (1, depth), 0.02, -128)}
    ops, last = [], "x"
    for i, layer in enumerate(layers):
        w = _weights(rng, (layer.units, depth), layer.sparsity, layer.values)
        wn, bn = _weighted(rng, tensors, i, w, 0.02)
        tensors[f"t{i}"] = _act(f"t{i}", (1, layer.units), 0.02, -128)
        # dense: the int8 layout, pinned (export would take int16 for hot layers of DSP cores)
        stored = {ATTR: "dense", LAYOUT_ATTR: "int16" if kinds[i] == DENSE_INT16 else "int8"} \
            if kinds[i] in ("dense", DENSE_INT16) else {ATTR: kinds[i]}
        ops.append(Op("fully_connected", f"fc{i}", (last, wn, bn), (f"t{i}",), {"activation": "relu", **stored}))
        last, depth = f"t{i}", layer.units
    return Graph(tensors, tuple(ops), ("x",), (last,), name="fc_chain")


def conv_chain(size: int, channels: int, layers, encoding, seed: int = 0, width: int | None = None) -> Graph:
    """conv2d layers in a chain ("same" padding), ReLU, stored as `encoding` (as fc_chain); the
    input size x size, or size x width; DENSE_INT8: dense in the int8 layout)."""
    kinds = _encodings(encoding, len(layers))
    rng = np.random.default_rng(seed)
    width = size if width is None else width
    tensors = {"x": _act("x", (1, size, width, channels), 0.02, -128)}
    ops, last = [], "x"
    for i, layer in enumerate(layers):
        k, s = layer.kernel, layer.stride
        w = _weights(rng, (layer.out_c, k, k, channels), layer.sparsity, layer.values)
        wn, bn = _weighted(rng, tensors, i, w, 0.02)
        out, out_w = -(-size // s), -(-width // s)
        pad = max(0, (out - 1) * s + k - size)
        pad_w = max(0, (out_w - 1) * s + k - width)
        tensors[f"t{i}"] = _act(f"t{i}", (1, out, out_w, layer.out_c), 0.02, -128)
        stored = {ATTR: "dense", LAYOUT_ATTR: "int8"} if kinds[i] == DENSE_INT8 else {ATTR: kinds[i]}
        ops.append(Op("conv2d", f"conv{i}", (last, wn, bn), (f"t{i}",),
                      {"stride": (s, s), "dilation": (1, 1), "activation": "relu", **stored,
                       "padding": (pad // 2, pad - pad // 2, pad_w // 2, pad_w - pad_w // 2)}))
        last, size, width, channels = f"t{i}", out, out_w, layer.out_c
    return Graph(tensors, tuple(ops), ("x",), (last,), name="conv_chain")


def fit_suite() -> list[Graph]:
    """One model per (chain, encoding): fully connected chains in every encoding, conv chains in
    every conv encoding."""
    graphs = []
    for n, (depth, layers) in enumerate(FC_FIT):
        graphs += [fc_chain(depth, layers, kind, seed=n).replace(name=f"fc{n}_{kind}")
                   for kind in ENCODINGS + (DENSE_INT16,)]
    for n, (size, channels, layers) in enumerate(CONV_FIT):
        graphs += [conv_chain(size, channels, layers, kind, seed=n).replace(name=f"conv{n}_{kind}")
                   for kind in CONV_ENCODINGS + (DENSE_INT8,)]
    graphs.append(conv_chain(*CONV_INT8_FIT, DENSE_INT8, seed=5).replace(name=f"conv{len(CONV_FIT)}_{DENSE_INT8}"))
    graphs += [conv_chain(*CONV_CSR_FIT, kind, seed=6).replace(name=f"convcsr_{kind}") for kind in ("csr8", "csr4")]
    graphs += [fc_chain(depth, layers, "codebook", seed=n).replace(name=f"fcfast{n}_codebook")
               for n, (depth, layers) in enumerate(FC_FAST_FIT)]
    graphs += [conv_chain(size, channels, layers, "codebook", seed=n).replace(name=f"convfast{n}_codebook")
               for n, (size, channels, layers) in enumerate(CONV_FAST_FIT)]
    graphs += [int4_chain(fc_chain(depth, layers, "dense", seed=n)).replace(name=f"fcint4{n}")
               for n, (depth, layers) in enumerate(FC_INT4_FIT)]
    graphs += [int4_chain(conv_chain(size, channels, layers, "dense", seed=n)).replace(name=f"convint4{n}")
               for n, (size, channels, layers) in enumerate(CONV_INT4_FIT)]
    return graphs


def int4_chain(graph: Graph) -> Graph:
    """A chain with every layer re-quantized to int4 weights."""
    from mcucompress.encode.int4_requantize import int4_weights

    return int4_weights(graph)


def check_suite() -> list[Graph]:
    """The check chains with each layer in another encoding, two chains of fast codebooks and one
    of Huffman with lookup tables, one of csr_seg and one of csr_pair (ENCODINGS has more kinds than the fully connected
    chain has layers)."""
    depth, layers = FC_CHECK
    size, channels, conv_layers = CONV_CHECK
    return [fc_chain(depth, layers, ENCODINGS, seed=7).replace(name="check_fc"),
            conv_chain(size, channels, conv_layers, CONV_ENCODINGS, seed=7).replace(name="check_conv"),
            conv_chain(size, channels, conv_layers, DENSE_INT8, seed=8).replace(name="check_conv_int8"),
            fc_chain(*FC_FAST_CHECK, "codebook", seed=7).replace(name="check_fc_fast"),
            conv_chain(*CONV_FAST_CHECK, "codebook", seed=7).replace(name="check_conv_fast"),
            fc_chain(*FC_CHECK, "huffman_lut", seed=7).replace(name="check_fc_lut"),
            fc_chain(*SEG_CHECK, "csr_seg", seed=7).replace(name="check_fc_seg"),
            fc_chain(*SEG_CHECK, "csr_pair", seed=7).replace(name="check_fc_pair"),
            int4_chain(fc_chain(*FC_INT4_CHECK, "dense", seed=7)).replace(name="check_fc_int4"),
            int4_chain(conv_chain(*CONV_INT4_CHECK, "dense", seed=7)).replace(name="check_conv_int4")]


@dataclass(frozen=True)
class Measured:
    model: str
    layer: str
    op_kind: str
    encoding: str
    counts: dict
    instructions: int    # exact, one kernel call on the board's QEMU


def layer_features(graph: Graph, op: Op) -> tuple[str, dict]:
    """(encoding, feature counts) of one encodable op as exported."""
    from mcucompress.encode.choose import encoded_weights, weight_matrix
    from mcucompress.encode.cost_model import geometry, layer_counts

    from mcucompress.encode.cost_model import cost_kind

    w, zero = weight_matrix(graph, op)
    encoded = encoded_weights(graph, op) or _dense(w, zero, op.kind)
    return cost_kind(encoded), layer_counts(op.kind, encoded, w, zero, geometry(graph, op, w.shape[0]))


def _dense(w, zero, op_kind):
    from mcucompress.encode.choose import encode
    return encode("dense", w, zero, op_kind)


def measure(graph: Graph, board: str, work) -> list[Measured]:
    """Exact instructions of every layer of `graph` on `board` (QEMU), outputs checked first."""
    from pathlib import Path

    from mcucompress.export import export
    from mcucompress.targets.bench import bench_model

    tree = export(graph, Path(work) / graph.name, prefix="m", optimize="none")
    bench = bench_model(tree, [board], layers=True)
    rows = []
    for op, row in zip(graph.ops, bench.layers):
        kind, counts = layer_features(graph, op)
        rows.append(Measured(graph.name, op.name, op.kind, kind, counts, int(row.instructions[board])))
    return rows
