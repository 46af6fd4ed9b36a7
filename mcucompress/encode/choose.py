"""Per-tensor choice of weight encoding for fully connected and conv2d layers.

``choose_encodings(graph, optimize)`` annotates each fully connected and conv2d op with
``attrs["weight_encoding"]``, one of ENCODINGS (conv2d: dense, CSR or codebook over its im2col
weight matrix - no Huffman, whose stream would be decoded again for every output pixel). Every encoding is lossless on the int8 weights,
so the reference interpreter ignores the annotation and outputs stay byte-identical.

- ``size``: the fewest bytes stored in flash (values, indices, row lengths, codebooks, Huffman
  tables and the kernel's descriptor), ties going to the faster encoding. Dense counts one byte
  per int8 weight: dense fully connected layers get ``attrs["dense_layout"] = "int8"``, the
  kernel that keeps them one byte each (mcc_fully_connected_fast_s8), unless the model links the
  widened conv kernel anyway and would save less than the int8 kernel's code; dense conv2d
  layers keep the widened two-byte layout of mcc_conv2d_fast_s8 (codegen/specialize.py);
- ``speed``: the fewest instructions by the cost model below; dense fully connected layers get
  ``dense_layout = "widened"`` (two bytes per weight; two input rows per pass, but over a single
  row 4% more instructions on the M4 and 2.6x more on the M55 than the int8 layout,
  docs/benchmarks/kernels.md);
- ``none``: every layer dense, fully connected ones in the int8 layout.

Cost model: Cortex-M4 instructions per application of the weight matrix (one inference of a
fully connected layer, one output pixel of a conv2d), fitted to exact QEMU counts on mps2-an386
(docs/benchmarks/encoded.md: a 784x300 layer and a 3x3 16->32 conv at 90% sparsity, 32 values),
with the dense path being the export-time specialised DSP kernels. Per weight / stored entry:

    fully connected: dense 1.15, CSR 11 (4-bit gaps) / 9 (8-bit) per entry, codebook 17,
                     Huffman 2 per coded bit + 24 per code;
    conv2d:          dense 1.0, CSR 36 / 30 per entry, codebook 20;

plus 30 per output channel. Good to about 5% on the measured layers; CSR convs, which walk their
entries again for every pixel, pay off only at extreme sparsity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcucompress.encode import codebook as cb
from mcucompress.encode import csr
from mcucompress.encode import huffman
from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op

ENCODINGS = ("dense", "csr8", "csr4", "codebook", "huffman_sparse", "huffman")
CONV_ENCODINGS = ("dense", "csr8", "csr4", "codebook")
OPTIMIZE = ("size", "speed", "none")
ATTR = "weight_encoding"
LAYOUT_ATTR = "dense_layout"   # dense fully connected: "int8" (1 byte a weight) or "widened" (2)
# Cortex-M4 code of mcc_fully_connected_fast_s8 at -O2 (arm-none-eabi-size): a model that links
# mcc_conv2d_fast_s8 for its convolutions anyway saves flash with the int8 layout only when its
# fully connected weights shrink by more than this.
FC_INT8_CODE_BYTES = 1204
PER_UNIT = 30


@dataclass(frozen=True, eq=False)
class Encoded:
    kind: str
    data: object | None   # Csr, Codebook, HuffmanWeights; None for dense
    nbytes: int
    weights: int
    instructions: int

    @property
    def bits_per_weight(self) -> float:
        return 8.0 * self.nbytes / self.weights


def weight_matrix(graph: Graph, op: Op) -> tuple[np.ndarray, int] | None:
    """(int8 (units, depth) weights, zero point) of an encodable op, else None. A conv2d's
    matrix is its im2col weight matrix: (out, kh * kw * in)."""
    if op.kind not in ("fully_connected", "conv2d") or len(op.inputs) < 2 or op.inputs[1] is None:
        return None
    w = graph.tensor(op.inputs[1])
    if not w.is_constant or w.dtype != "int8" or w.data.dtype != np.int8:
        return None
    zero_points = set(w.quant.zero_point) if w.quant is not None else {0}
    if len(zero_points) != 1 or (op.kind == "conv2d" and zero_points != {0}):
        return None
    units = int(w.shape[0])
    return np.asarray(w.data).reshape(units, -1), int(zero_points.pop())


# Instructions per weight (dense, codebook) or per stored entry (CSR); see the module docstring.
_COST = {
    "fully_connected": {"dense": 1.15, "csr4": 11, "csr8": 9, "codebook": 17},
    "conv2d": {"dense": 1.0, "csr4": 36, "csr8": 30, "codebook": 20},
}


def encode(kind: str, w: np.ndarray, zero: int, op_kind: str = "fully_connected") -> Encoded:
    """One encoding of a weight matrix with its stored bytes and estimated instructions per
    application (one inference of a fully connected layer, one output pixel of a conv2d)."""
    units, depth = w.shape
    n = int(w.size)
    base = PER_UNIT * units
    cost = _COST.get(op_kind, _COST["fully_connected"])
    if kind == "dense":
        return Encoded(kind, None, n, n, round(base + cost["dense"] * n))
    if kind in ("csr4", "csr8"):
        data = csr.encode_csr(w, zero, int(kind[3:]))
        return Encoded(kind, data, data.nbytes, n, base + cost[kind] * data.entries)
    if kind == "codebook":
        data = cb.encode_codebook(w)
        return Encoded(kind, data, data.nbytes, n, base + cost["codebook"] * n)
    if kind in ("huffman", "huffman_sparse"):
        data = huffman.encode_sparse(w, zero) if kind == "huffman_sparse" else huffman.encode_dense(w)
        codes = n if kind == "huffman" else 2 * int(np.count_nonzero(w != zero)) + units
        return Encoded(kind, data, data.nbytes, n, base + 2 * data.num_bits + 24 * codes)
    raise McuError(f"unknown weight encoding '{kind}'; expected one of {', '.join(ENCODINGS)}")


def candidates(w: np.ndarray, zero: int, kinds=ENCODINGS, op_kind: str = "fully_connected") -> list[Encoded]:
    out = []
    for kind in kinds:
        try:
            out.append(encode(kind, w, zero, op_kind))
        except McuError:
            continue  # not representable (e.g. rows too long): not a candidate
    return out


def pick(options: list[Encoded], optimize: str) -> Encoded:
    if optimize == "none":
        return options[0]
    rank = {k: i for i, k in enumerate(ENCODINGS)}
    if optimize == "size":
        return min(options, key=lambda e: (e.nbytes, e.instructions, rank[e.kind]))
    return min(options, key=lambda e: (e.instructions, e.nbytes, rank[e.kind]))


def choose_encodings(graph: Graph, optimize: str = "size") -> Graph:
    """The graph with every encodable op's weight encoding chosen (see module docstring).
    Ops that already name an encoding keep it."""
    if optimize not in OPTIMIZE:
        raise McuError(f"unknown --optimize '{optimize}'; expected one of {', '.join(OPTIMIZE)}")
    ops = []
    for op in graph.ops:
        found = weight_matrix(graph, op)
        if found is not None and ATTR not in op.attrs:
            kinds = CONV_ENCODINGS if op.kind == "conv2d" else ENCODINGS
            op = op.with_attrs(**{ATTR: pick(candidates(*found, kinds, op.kind), optimize).kind})
        ops.append(op)
    return graph.replace(ops=_dense_layouts(graph, ops, optimize))


def _dense_layouts(graph: Graph, ops: list[Op], optimize: str) -> tuple[Op, ...]:
    """Dense fully connected layers' layout: int8 (one byte per weight), except that for size a
    model that keeps the widened kernel for convolutions also keeps it for fully connected layers
    when int8 would save less than the int8 kernel's code (e.g. the MLPerf models' single 64x10 /
    64x12 layer). Speed takes int8 too: on one input row it is measured faster than the widened
    layout (784x300 on M4: 289,208 vs 302,164 instructions; on M55: 59,645 vs 154,046)."""
    fc = [i for i, op in enumerate(ops) if op.kind == "fully_connected" and op.attrs.get(ATTR) == "dense"
          and LAYOUT_ATTR not in op.attrs and weight_matrix(graph, op) is not None]
    layout = "int8"
    if optimize == "size" and any(op.kind == "conv2d" and op.attrs.get(ATTR, "dense") == "dense" for op in ops):
        saved = 0
        for i in fc:
            units, depth = weight_matrix(graph, ops[i])[0].shape
            saved += units * (2 * -(-depth // 8) * 8 - -(-depth // 4) * 4)
        layout = "int8" if saved > FC_INT8_CODE_BYTES else "widened"
    return tuple(op.with_attrs(**{LAYOUT_ATTR: layout}) if i in fc else op for i, op in enumerate(ops))


def encoded_weights(graph: Graph, op: Op) -> Encoded | None:
    """The op's chosen encoding, computed again (encoding is deterministic), or None."""
    kind = op.attrs.get(ATTR)
    found = weight_matrix(graph, op)
    if kind is None or found is None:
        if kind not in (None, "dense"):
            raise McuError(f"op '{op.name}': weight encoding '{kind}' needs int8 fully connected or "
                           "conv2d weights (zero point 0)")
        return None
    if op.kind == "conv2d" and kind not in CONV_ENCODINGS:
        raise McuError(f"op '{op.name}': conv2d weights cannot be stored as '{kind}'; expected one of "
                       f"{', '.join(CONV_ENCODINGS)}")
    return encode(kind, *found, op.kind)


@dataclass(frozen=True)
class EncodingRow:
    layer: str
    encoding: str
    weights: int
    dense_bytes: int
    bytes: int
    bits_per_weight: float
    estimated_instructions: int
    dense_layout: str | None = None   # dense fully connected: "int8" or "widened" (LAYOUT_ATTR)

    def as_dict(self) -> dict:
        row = {"encoding": self.encoding, "weights": self.weights, "dense_bytes": self.dense_bytes,
               "bytes": self.bytes, "bits_per_weight": round(self.bits_per_weight, 3),
               "estimated_instructions": self.estimated_instructions}
        if self.dense_layout is not None:
            row["dense_layout"] = self.dense_layout
        return row


def encoding_rows(graph: Graph) -> list[EncodingRow]:
    """One row per annotated layer: its encoding, stored bytes and bits per weight."""
    rows = []
    for op in graph.ops:
        if ATTR not in op.attrs:
            continue
        found = weight_matrix(graph, op)
        if found is None:
            continue
        e = encode(op.attrs[ATTR], *found, op.kind)
        applications = graph.output_tensor(op).size // found[0].shape[0]  # output pixels (conv2d)
        rows.append(EncodingRow(op.name, e.kind, e.weights, e.weights, e.nbytes, e.bits_per_weight,
                                e.instructions * max(1, applications), op.attrs.get(LAYOUT_ATTR)))
    return rows


def manifest_entry(graph: Graph) -> dict:
    """The exported tree's record of the choice: {"weight_encodings": {layer: row}} (empty when
    no layer is annotated)."""
    return {"weight_encodings": {r.layer: r.as_dict() for r in encoding_rows(graph)}}
