"""MicroNet score (NeurIPS 2019 MicroNet challenge): storage and arithmetic relative to a reference.

    score = effective parameters / reference parameters + effective math ops / reference ops

Parameters (challenge rule "Parameter Storage"): every stored value counts, at its stored bit
width relative to 32 bits (an 8-bit weight is 1/4 parameter). A sparse tensor is counted as its
non-zero values plus a one-bit-per-element bitmask (the rule's sparse format), or dense when that
is cheaper. A clustered float kernel (<= 256 distinct non-zero values, as compression/clustering.py
makes) and an int8 kernel exported with a codebook are stored as ceil(log2(K))-bit indices plus
the K codebook entries. The optional "free 16-bit" assumption for unquantized entries is not
taken: a float32 model is scored at 32 bits, as it is stored.

Math operations (rule "Math Operations", counted as the challenge's counting.py does):
multiplications and additions separately (a multiply-accumulate is two operations); a dot product
of n non-zero weights is n multiplications and n - 1 additions, plus one addition for the bias;
pruned weights cost nothing. A multiplication counts at the wider of its two inputs' bit widths
over 32 (int8: 1/4, binary: 1/32); additions of a dot product run in the 32-bit accumulator and
count 1. Activations follow counting.py: ReLU one multiplication per element (so it scales with
precision), sigmoid 2 multiplications + 1 addition; beyond counting.py we count ReLU6 as two such
operations (min and max), max pooling as k*k - 1 comparisons counted like ReLU, average pooling and
mean as their additions plus one multiplication per output, softmax over n values as 2n
multiplications (exp, divide) and n - 1 additions, an elementwise add as one addition per element
at its inputs' width. Reshape, pad and concatenation move data and count nothing.

Tracks (reference models of the challenge): "cifar100" WideResNet-28-10, 36.5 M parameters and
10.49 G math operations (the default: the small-image track); "imagenet" MobileNetV2 x1.4,
6.9 M parameters and 1.17 G math operations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mcucompress.ir.graph import Graph, Op
from mcucompress.ir.ops import macs

TRACKS = {
    "cifar100": {"reference": "WideResNet-28-10", "params": 36.5e6, "ops": 10.49e9},
    "imagenet": {"reference": "MobileNetV2 x1.4", "params": 6.9e6, "ops": 1.17e9},
}
DEFAULT_TRACK = "cifar100"
ACCUMULATOR_BITS = 32
_WEIGHTED = {"conv2d", "depthwise_conv2d", "fully_connected"}
_NO_MATH = {"reshape", "pad", "concat", "unpack_bits", "resize_nearest"}
# element-wise functions evaluated as one 256-entry table lookup per value (quantize/lut_ops.py)
_TABLE_KINDS = {"logistic", "tanh", "leaky_relu", "elu", "hard_swish", "requantize", "float_elu"}


@dataclass(frozen=True)
class MicroNetCount:
    params: float  # in 32-bit parameters
    ops: float  # in 32-bit operations
    track: str = DEFAULT_TRACK

    @property
    def score(self) -> float:
        ref = TRACKS[self.track]
        return self.params / ref["params"] + self.ops / ref["ops"]

    def as_dict(self) -> dict:
        ref = TRACKS[self.track]
        return {"track": self.track, "reference": ref["reference"], "params": self.params, "ops": self.ops,
                "score": self.score}

    def describe(self) -> str:
        return (f"MicroNet score {self.score:.3g} ({self.track} track, {TRACKS[self.track]['reference']} = 2): "
                f"{self.params:,.0f} effective 32-bit parameters, {self.ops:,.0f} effective 32-bit math ops")


def _bits(dtype: str) -> int:
    return np.dtype(dtype).itemsize * 8


def stored_bits(values: np.ndarray, element_bits: int, codebook: bool) -> float:
    """Bits to store `values`: dense, codebook indices + entries, and/or nonzeros + bitmask."""
    flat = values.reshape(-1)
    nonzero = int(np.count_nonzero(flat))
    bits = element_bits
    extra = 0
    distinct = len(np.unique(flat[flat != 0]))
    if codebook and 0 < distinct <= 256:
        index_bits = max(1, math.ceil(math.log2(distinct)))
        if distinct * element_bits + flat.size * index_bits < flat.size * element_bits:
            bits, extra = index_bits, distinct * element_bits
    dense = flat.size * bits
    sparse = nonzero * bits + flat.size
    return min(dense, sparse) + extra


def _parameter_bits(graph: Graph, op: Op) -> float:
    total = 0.0
    for position, name in enumerate(op.inputs):
        if name is None or not graph.tensor(name).is_constant:
            continue
        tensor = graph.tensor(name)
        if op.kind == "fully_connected_pq" and position == 3:  # codes: one byte each on the device
            total += tensor.size * 8
            continue
        if op.kind.startswith("binary_") or position != 1:  # packed bits, biases, thresholds: as stored
            total += tensor.nbytes * 8
            continue
        float_kernel = tensor.dtype == "float32"
        # hashed buckets of at most 16 values are exported as codebook indices (quantize/shared_fc.py)
        codebook = float_kernel or op.attrs.get("weight_encoding") == "codebook" or op.kind == "fully_connected_hashed"
        total += stored_bits(np.asarray(tensor.data), _bits(tensor.dtype), codebook)
    return total


def _dot_products(graph: Graph, op: Op) -> tuple[np.ndarray, int]:
    """(non-zero weights per output channel, how many times each channel's dot product runs)."""
    weights = np.asarray(graph.tensor(op.inputs[1]).data)
    out = graph.output_tensor(op)
    if op.kind == "depthwise_conv2d":
        per_channel = np.count_nonzero(weights.reshape(-1, weights.shape[-1]), axis=0)
    else:  # conv2d OHWI, fully_connected (out, in)
        per_channel = np.count_nonzero(weights.reshape(weights.shape[0], -1), axis=1)
    return per_channel, out.size // out.shape[-1]


def _activation_ops(name: str) -> tuple[int, int]:
    return {"relu": (1, 0), "relu6": (2, 0), "sigmoid": (2, 1)}.get(name, (0, 0))


def _shared_weight_counts(graph: Graph, op: Op, in_bits: float) -> tuple[float, float]:
    """Hashed: every weight is multiplied as in the dense layer, plus its hash (three 32-bit
    multiplications and one addition per weight). Product-quantized: the table (every input
    times every codeword of its sub-space), then one addition per output and sub-space."""
    values, out = graph.tensor(op.inputs[1]), graph.output_tensor(op)
    mul_bits = max(in_bits, _bits(values.dtype) / 32)
    units = out.shape[-1]
    rows = out.size // units
    bias = units * rows if len(op.inputs) > 2 and op.inputs[2] is not None else 0
    depth = graph.tensor(op.inputs[0]).size // rows
    if op.kind == "fully_connected_hashed":
        weights = units * depth * rows
        return weights * mul_bits + 3 * weights, weights - units * rows + bias + weights
    subspaces, centroids, length = values.shape
    table = subspaces * centroids * rows
    return table * length * mul_bits, table * (length - 1) + units * rows * subspaces + bias


def op_counts(graph: Graph, op: Op) -> tuple[float, float]:
    """(multiplications, additions) of one inference of `op`, each already scaled by bit width."""
    kind = op.kind[:-3] if op.kind.endswith("_q7") else op.kind
    out = graph.output_tensor(op)
    act_bits = _bits(out.dtype) / 32
    inputs = [graph.tensor(n) for n in op.inputs if n is not None]
    in_bits = max((_bits(t.dtype) for t in inputs if not t.is_constant), default=32) / 32
    mults = adds = 0.0
    if kind in _WEIGHTED:
        w = graph.tensor(op.inputs[1])
        mul_bits = max(in_bits, _bits(w.dtype) / 32)
        per_channel, repeats = _dot_products(graph, op)
        mults += per_channel.sum() * repeats * mul_bits
        adds += np.maximum(per_channel - 1, 0).sum() * repeats
        if len(op.inputs) > 2 and op.inputs[2] is not None:
            adds += per_channel.size * repeats
    elif kind in ("fully_connected_hashed", "fully_connected_pq"):
        mults, adds = _shared_weight_counts(graph, op, in_bits)
    elif kind == "transpose_conv2d":
        w = graph.tensor(op.inputs[1])
        products = macs(graph, op)
        mults += products * max(in_bits, _bits(w.dtype) / 32)
        adds += products
    elif kind in ("binary_fully_connected", "binary_conv2d", "lowbit_fully_connected", "lowbit_conv2d"):
        terms = macs(graph, op)
        mults += terms / 32
        adds += max(terms - out.size, 0)
    elif kind in ("binarize", "sign"):
        mults += out.size * 8 / 32  # one comparison per value
    elif kind in ("max_pool2d", "avg_pool2d"):
        window = int(np.prod(op.attrs["pool"])) - 1
        if kind == "max_pool2d":
            mults += out.size * window * act_bits
        else:
            adds += out.size * window
            mults += out.size * act_bits
    elif kind == "mean":
        source = inputs[0]
        adds += max(source.size - out.size, 0)
        mults += out.size * act_bits
    elif kind in ("add", "sub"):
        adds += out.size * in_bits
    elif kind == "mul":
        mults += out.size * in_bits
    elif kind in ("maximum", "minimum"):
        mults += out.size * act_bits  # one comparison per value
    elif kind == "prelu":
        mults += 2 * out.size * act_bits  # a comparison and a product per value
    elif kind == "reduce_max":
        mults += max(inputs[0].size - out.size, 0) * act_bits
    elif kind == "softmax":
        n = out.shape[-1]
        rows = out.size // n
        mults += 2 * out.size * act_bits
        adds += rows * (n - 1)
    elif kind in ("relu", "relu6"):
        m, a = _activation_ops(kind)
        mults += m * out.size * act_bits
        adds += a * out.size
    elif kind == "batch_norm":
        mults += out.size * act_bits
        adds += out.size
    elif kind in _TABLE_KINDS:
        mults += out.size * act_bits
    elif kind == "lstm":
        # per step: the four gates' input and recurrent dot products (8-bit), then per unit the
        # gate sums and biases, three sigmoids, two tanh and three 16-bit products
        steps, units = out.shape[1], out.shape[-1]
        weights = sum(graph.tensor(name).size for name in op.inputs[1:9])
        x_bits = _bits(inputs[0].dtype) / 32
        mults += steps * (weights * x_bits + 8 * units * 16 / 32)
        adds += steps * (weights + 10 * units)
    elif kind == "early_exit":
        # comparisons: the largest of the head's outputs, then the threshold (the score counts the
        # whole network, every exit's head and test included: the path of the least confident input)
        probs = inputs[1]
        mults += probs.size * _bits(probs.dtype) / 32
    elif kind not in _NO_MATH:
        raise ValueError(f"MicroNet counting does not know op kind {op.kind!r}")
    activation = op.attrs.get("activation", "none")
    if kind not in ("relu", "relu6") and isinstance(activation, str):
        m, a = _activation_ops(activation)
        mults += m * out.size * act_bits
        adds += a * out.size
    return float(mults), float(adds * ACCUMULATOR_BITS / 32)


def micronet_count(graph: Graph, track: str = DEFAULT_TRACK) -> MicroNetCount:
    """The effective parameters and math operations of one inference of `graph`."""
    if track not in TRACKS:
        raise ValueError(f"unknown MicroNet track {track!r} (known: {', '.join(TRACKS)})")
    params = sum(_parameter_bits(graph, op) for op in graph.ops) / 32
    ops = sum(sum(op_counts(graph, op)) for op in graph.ops)
    return MicroNetCount(params, ops, track)


def keras_micronet(model, track: str = DEFAULT_TRACK) -> dict:
    """The score of a float Keras model as it would be exported (batch norm folded, activations
    fused), or {"error": why} when the model has a layer the exporter does not take."""
    from mcucompress.errors import McuError
    from mcucompress.importers.keras import load_keras

    try:
        return micronet_count(load_keras(model), track).as_dict()
    except (McuError, ValueError) as error:
        return {"track": track, "error": str(error)}


def tree_micronet(tree, track: str = DEFAULT_TRACK) -> MicroNetCount:
    """The count of an exported tree's graph, weights as exported (what `mcucompress info TREE` prints)."""
    from pathlib import Path

    from mcucompress.ir.serialize import load_graph
    from mcucompress.verify import read_manifest

    tree = Path(tree)
    return micronet_count(load_graph(tree / read_manifest(tree).get("graph", "graph.npz")), track)
