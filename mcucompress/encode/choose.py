"""Per-tensor choice of weight encoding for fully connected and conv2d layers.

``choose_encodings(graph, optimize)`` annotates each fully connected and conv2d op with
``attrs["weight_encoding"]``, one of ENCODINGS (conv2d: dense, CSR or codebook over its im2col
weight matrix - no Huffman, whose stream would be decoded again for every output pixel). Every encoding is lossless on the int8 weights,
so the reference interpreter ignores the annotation and outputs stay byte-identical.
The one exception, int4 (LOSSY_ENCODINGS), is never chosen here: encode/int4_requantize.py
re-quantizes the weights of the layers asked for to -8..7 and annotates them (ops keep it).

- ``fit`` (the default): for the target core, the fastest encoding per layer; when the caller
  must save flash (``save_bytes``: the image would not fit the board or a budget), layers are
  compressed, one step at a time, in order of fewest added instructions per byte saved until
  enough is saved (``fit_plan``). Without a byte target, the same choice as ``speed``;
- ``size``: the fewest bytes stored in flash (values, indices, row lengths, codebooks, Huffman
  tables and the kernel's descriptor), ties going to the faster encoding. Dense counts one byte
  per int8 weight: dense fully connected layers get ``attrs["dense_layout"] = "int8"``, the
  kernel that keeps them one byte each (mcc_fully_connected_fast_s8), unless the model links the
  widened conv kernel anyway and would save less than the int8 kernel's code; dense conv2d
  layers take the int8 layout (mcc_conv2d_fast_w8_s8, one byte a weight) on every core;
- ``speed``: the fewest instructions by the cost model; dense fully connected layers get
  ``dense_layout = "int8"`` (on one input row it is measured faster than the widened conv
  kernel's layout: 784x300 on M4 289,208 vs 302,164 instructions, on M55 59,645 vs 154,046;
  docs/benchmarks/kernels.md), except the hot ones on DSP cores (below);
- ``none``: every layer dense, fully connected ones in the int8 layout (hot ones on DSP cores as
  below), conv2d ones in the core's default layout.

Hot dense fully connected layers (at least FC_INT16_MIN_WEIGHTS weights) on DSP cores (cost model
family m4) take ``dense_layout = "int16"`` in ``none``, ``speed`` and ``fit`` when no flash must
be saved: mcc_fully_connected_fast_w16_s8, two bytes a weight, no SXTB16 in its loop (11
instructions per 16 products against the int8 layout's 18). Small layers (the MLPerf models'
64x10 / 64x12 classifiers) stay int8: there the per-row requantization dominates.

Dense conv2d weights have two layouts (``dense_layout``, priced apart by the cost model): the
doubled int16 pairs of mcc_conv2d_fast_s8 ("widened", two bytes a weight) and int8 bytes widened
as they are read by mcc_conv2d_fast_w8_s8 ("int8"). The int8 layout is the default on the M55
(a widening byte load costs what a halfword load costs: as fast, half the flash); elsewhere the
widened layout is the default (two SXTB16 more per 4 weights on DSP cores) and ``fit`` takes int8
as one more way to save flash, priced like the encodings.

Instructions are estimated per kernel call for the target's core family by encode/cost_model.py
(fitted on exact QEMU counts; the M4's when no core is given).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mcucompress.encode import codebook as cb
from mcucompress.encode import cost_model
from mcucompress.encode import csr, csr_pair, csr_seg
from mcucompress.encode import huffman
from mcucompress.encode import int4
from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op

ENCODINGS = ("dense", "csr8", "csr4", "codebook", "huffman_sparse", "huffman", "huffman_lut", "csr_seg",
             "csr_pair")
CONV_ENCODINGS = ("dense", "csr8", "csr4", "codebook")
# Encodings that change the weights (encode/int4.py): never a candidate, only ever asked for.
LOSSY_ENCODINGS = ("int4",)
OPTIMIZE = ("fit", "size", "speed", "none")
ATTR = "weight_encoding"
LAYOUT_ATTR = "dense_layout"   # dense fully connected or conv2d: "int8" (1 byte a weight) or "widened" (2)
LAYOUTS = ("widened", "int8")
# Dense fully connected only: int16 weights in the fully connected kernel's row blocks.
FC_INT16 = "int16"
# Fully connected layers with at least this many weights are hot enough for FC_INT16 on DSP cores.
FC_INT16_MIN_WEIGHTS = 4096
# Core families with SMLAD but not MVE: where the int16 fully connected loop is the faster one.
FC_INT16_FAMILIES = ("m4",)
# The dense conv2d layout of each core family when flash need not be saved.
CONV_LAYOUT = {"m55": "int8"}
# Cortex-M4 code of mcc_fully_connected_fast_s8 at -O2 (arm-none-eabi-size): a model that links
# mcc_conv2d_fast_s8 for its convolutions anyway saves flash with the int8 layout only when its
# fully connected weights shrink by more than this.
FC_INT8_CODE_BYTES = 1204
# For speed an encoding replaces dense weights only when estimated this much faster: the cost
# model is checked to 10% per layer (5% on the layers it was fitted on).
SPEED_MARGIN = 0.10


@dataclass(frozen=True, eq=False)
class Encoded:
    kind: str
    data: object | None   # Csr, CsrSeg, Codebook, HuffmanWeights (huffman_lut: with its lookup table); None for dense
    nbytes: int
    weights: int
    instructions: int = 0   # estimated per kernel call (estimate()); 0 until estimated
    layout: str | None = None   # dense conv2d: "widened" or "int8" (LAYOUTS)

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


def default_conv_layout(core_family: str) -> str:
    return CONV_LAYOUT.get(core_family, "widened")


def encode(kind: str, w: np.ndarray, zero: int, op_kind: str = "fully_connected", layout: str | None = None) -> Encoded:
    """One encoding of a weight matrix with its stored bytes (instructions not yet estimated);
    a dense conv2d's in ``layout`` (default: widened): K padded to 8 per channel, 2 bytes a weight
    widened, 1 in int8."""
    n = int(w.size)
    if kind == "dense":
        if op_kind != "conv2d":
            if layout == FC_INT16:
                return Encoded(kind, None, 2 * w.shape[0] * -(-w.shape[1] // 4) * 4, n, layout=layout)
            return Encoded(kind, None, n, n)
        layout = layout or "widened"
        if layout not in LAYOUTS:
            raise McuError(f"unknown dense layout '{layout}'; expected one of {', '.join(LAYOUTS)}")
        units, depth = w.shape
        return Encoded(kind, None, units * -(-depth // 8) * 8 * (2 if layout == "widened" else 1), n, layout=layout)
    if kind in ("csr4", "csr8"):
        data = csr.encode_csr(w, zero, int(kind[3:]))
        return Encoded(kind, data, data.nbytes, n)
    if kind == "csr_seg":
        data = csr_seg.encode_csr_seg(w, zero)
        return Encoded(kind, data, data.nbytes, n)
    if kind == "csr_pair":
        data = csr_pair.encode_csr_pair(w, zero)
        return Encoded(kind, data, data.nbytes, n)
    if kind == "codebook":
        data = cb.encode_codebook(w)
        return Encoded(kind, data, data.nbytes, n)
    if kind in ("huffman", "huffman_sparse", "huffman_lut"):
        if kind == "huffman_sparse":
            data = huffman.encode_sparse(w, zero)
        else:
            data = huffman.encode_lookup(w) if kind == "huffman_lut" else huffman.encode_dense(w)
        return Encoded(kind, data, data.nbytes, n)
    if kind == "int4":
        data = int4.encode_int4(w)
        return Encoded(kind, data, data.nbytes, n)
    raise McuError(f"unknown weight encoding '{kind}'; expected one of {', '.join(ENCODINGS + LOSSY_ENCODINGS)}")


def estimate(graph: Graph, op: Op, encoded: Encoded, core_family: str = cost_model.DEFAULT_FAMILY) -> Encoded:
    """``encoded`` with its estimated instructions per kernel call on the core family."""
    w, zero = weight_matrix(graph, op)
    counts = cost_model.layer_counts(op.kind, encoded, w, zero, cost_model.geometry(graph, op, w.shape[0]))
    return replace(encoded, instructions=cost_model.predict(op.kind, cost_model.cost_kind(encoded), counts,
                                                            core_family))


def candidates(graph: Graph, op: Op, core_family: str = cost_model.DEFAULT_FAMILY) -> list[Encoded]:
    """Every encoding the op's weights can take, with bytes and estimated instructions."""
    w, zero = weight_matrix(graph, op)
    out = []
    if op.kind == "conv2d":  # the core's dense layout first (what speed and none keep), then the other
        first = default_conv_layout(core_family)
        for layout in (first, *(lay for lay in LAYOUTS if lay != first)):
            out.append(estimate(graph, op, encode("dense", w, zero, op.kind, layout), core_family))
    for kind in (CONV_ENCODINGS[1:] if op.kind == "conv2d" else ENCODINGS):
        try:
            out.append(estimate(graph, op, encode(kind, w, zero, op.kind), core_family))
        except McuError:
            continue  # not representable (e.g. rows too long): not a candidate
    return out


def pick(options: list[Encoded], optimize: str) -> Encoded:
    if optimize == "none":
        return options[0]
    rank = {k: i for i, k in enumerate(ENCODINGS + LOSSY_ENCODINGS)}
    if optimize == "size":
        return min(options, key=lambda e: (e.nbytes, e.instructions, rank[e.kind]))
    dense = next((e for e in options if e.kind == "dense"), None)   # the core's own layout first
    # An encoding larger than the dense weights (one byte each) is never taken for speed alone:
    # on cores without DSP the fast CSR conv beats the portable dense kernel even with no zeros,
    # but its arena scratch (a decoded entry per weight) would cost many times the layer's RAM.
    floor = min((e.nbytes for e in options if e.kind == "dense"), default=None)
    smaller = [e for e in options if floor is None or e.nbytes <= floor or e is dense]
    fastest = min(smaller, key=lambda e: (e.instructions, e.nbytes, rank[e.kind]))
    if dense is not None and dense.instructions * (1 - SPEED_MARGIN) <= fastest.instructions:
        return dense  # within the cost model's error: keep the plain layout
    return fastest


def fit_plan(options: dict[str, list[Encoded]], save_bytes: int) -> dict[str, Encoded]:
    """Per layer an encoding: the fastest, then compression steps (one layer to one of its
    smaller encodings) in order of fewest added instructions per byte saved (of the bytes still
    to save) until at least ``save_bytes`` are saved or nothing is left to save. When one step would cover what is left,
    the cheapest such step is taken instead if it adds fewer instructions than going on in rate
    order would."""
    plan = {name: pick(opts, "speed") for name, opts in options.items()}
    saved = 0
    while saved < save_bytes:
        step = _best_step(options, plan, save_bytes - saved, finish=True)
        if step is None:
            break
        saved += plan[step[0]].nbytes - step[1].nbytes
        plan[step[0]] = step[1]
    return plan


def _best_step(options, plan, left: int, finish: bool):
    """The next compression step (layer, encoding) towards saving ``left`` more bytes, or None."""
    steps = [(name, e) for name, opts in options.items() for e in opts if e.nbytes < plan[name].nbytes]
    if not steps:
        return None

    def added(st):
        return st[1].instructions - plan[st[0]].instructions

    def gained(st):
        return plan[st[0]].nbytes - st[1].nbytes

    # Bytes saved beyond what is left count for nothing: a big layer must not win on its rate
    # when a small one saves what is needed.
    best = min(steps, key=lambda st: (added(st) / min(gained(st), left), -gained(st), st[0]))
    covering = [st for st in steps if gained(st) >= left]
    if finish and covering:
        cheapest = min(covering, key=lambda st: (added(st), -gained(st), st[0]))
        if gained(best) >= left or added(cheapest) <= added(best) + _rate_order_cost(
                options, {**plan, best[0]: best[1]}, left - gained(best)):
            return cheapest
    return best


def _rate_order_cost(options, plan, left: int) -> float:
    """Instructions added by saving ``left`` more bytes in plain rate order from ``plan``."""
    plan, total = dict(plan), 0
    while left > 0:
        step = _best_step(options, plan, left, finish=False)
        if step is None:
            return float("inf")
        total += step[1].instructions - plan[step[0]].instructions
        left -= plan[step[0]].nbytes - step[1].nbytes
        plan[step[0]] = step[1]
    return total


def choose_encodings(graph: Graph, optimize: str = "fit", cpu: str | None = None, save_bytes: int = 0) -> Graph:
    """The graph with every encodable op's weight encoding chosen (see module docstring) for the
    core ``cpu`` (a board's cpu; None: the M4's cost model). ``save_bytes``: for ``fit``, the
    flash to save against the fastest choice. Ops that already name an encoding keep it."""
    if optimize not in OPTIMIZE:
        raise McuError(f"unknown --optimize '{optimize}'; expected one of {', '.join(OPTIMIZE)}")
    family = cost_model.family(cpu)
    free = {op.name: op for op in graph.ops if weight_matrix(graph, op) is not None and ATTR not in op.attrs}
    if optimize == "none":
        conv = default_conv_layout(family)
        chosen = {name: Encoded("dense", None, 0, 0, layout=conv if op.kind == "conv2d" else None)
                  for name, op in free.items()}
    else:
        options = {name: candidates(graph, op, family) for name, op in free.items()}
        if optimize == "fit":
            chosen = fit_plan(options, save_bytes)
        else:
            chosen = {name: pick(opts, optimize) for name, opts in options.items()}
    ops = [op.with_attrs(**_choice_attrs(chosen[op.name], op)) if op.name in chosen else op for op in graph.ops]
    hot = optimize != "size" and save_bytes <= 0 and family in FC_INT16_FAMILIES
    return graph.replace(ops=_dense_layouts(graph, ops, optimize, hot))


def _choice_attrs(e: Encoded, op: Op) -> dict:
    """The attributes recording a choice: the encoding, and a dense conv2d's layout (unless the
    op already names one)."""
    attrs = {ATTR: e.kind}
    if e.layout is not None and LAYOUT_ATTR not in op.attrs:
        attrs[LAYOUT_ATTR] = e.layout
    return attrs


def _dense_layouts(graph: Graph, ops: list[Op], optimize: str, hot: bool = False) -> tuple[Op, ...]:
    """Dense fully connected layers' layout: int8 (one byte per weight), except that for size a
    model that keeps the widened kernel for convolutions also keeps it for fully connected layers
    when int8 would save less than the int8 kernel's code (e.g. the MLPerf models' single 64x10 /
    64x12 layer). Speed takes int8 too: on one input row it is measured faster than the widened
    layout (784x300 on M4: 289,208 vs 302,164 instructions; on M55: 59,645 vs 154,046).
    ``hot``: layers of at least FC_INT16_MIN_WEIGHTS weights take FC_INT16 instead."""
    fc = [i for i, op in enumerate(ops) if op.kind == "fully_connected" and op.attrs.get(ATTR) == "dense"
          and LAYOUT_ATTR not in op.attrs and weight_matrix(graph, op) is not None]
    layout = "int8"
    if optimize == "size" and any(op.kind == "conv2d" and op.attrs.get(ATTR, "dense") == "dense"
                                  and op.attrs.get(LAYOUT_ATTR, "widened") == "widened" for op in ops):
        saved = 0
        for i in fc:
            units, depth = weight_matrix(graph, ops[i])[0].shape
            saved += units * (2 * -(-depth // 8) * 8 - -(-depth // 4) * 4)
        layout = "int8" if saved > FC_INT8_CODE_BYTES else "widened"

    def layout_of(op: Op) -> str:
        return FC_INT16 if hot and weight_matrix(graph, op)[0].size >= FC_INT16_MIN_WEIGHTS else layout
    return tuple(op.with_attrs(**{LAYOUT_ATTR: layout_of(op)}) if i in fc else op for i, op in enumerate(ops))


def encoded_weights(graph: Graph, op: Op) -> Encoded | None:
    """The op's chosen encoding, computed again (encoding is deterministic), or None."""
    kind = op.attrs.get(ATTR)
    found = weight_matrix(graph, op)
    if kind is None or found is None:
        if kind not in (None, "dense"):
            raise McuError(f"op '{op.name}': weight encoding '{kind}' needs int8 fully connected or "
                           "conv2d weights (zero point 0)")
        return None
    if op.kind == "conv2d" and kind not in CONV_ENCODINGS + LOSSY_ENCODINGS:
        raise McuError(f"op '{op.name}': conv2d weights cannot be stored as '{kind}'; expected one of "
                       f"{', '.join(CONV_ENCODINGS + LOSSY_ENCODINGS)}")
    if kind == "int4":
        int4.check_int4(found[0], f"op '{op.name}'")
    layout = op.attrs.get(LAYOUT_ATTR) if kind == "dense" else None
    return encode(kind, *found, op.kind, layout if op.kind == "conv2d" or layout == FC_INT16 else None)


@dataclass(frozen=True)
class EncodingRow:
    layer: str
    encoding: str
    weights: int
    dense_bytes: int
    bytes: int
    bits_per_weight: float
    estimated_instructions: int
    dense_layout: str | None = None   # dense fully connected / conv2d: "int8" or "widened" (LAYOUT_ATTR)

    def as_dict(self) -> dict:
        row = {"encoding": self.encoding, "weights": self.weights, "dense_bytes": self.dense_bytes,
               "bytes": self.bytes, "bits_per_weight": round(self.bits_per_weight, 3),
               "estimated_instructions": self.estimated_instructions}
        if self.dense_layout is not None:
            row["dense_layout"] = self.dense_layout
        return row


def encoding_rows(graph: Graph, cpu: str | None = None, core_family: str | None = None) -> list[EncodingRow]:
    """One row per annotated layer: its encoding, stored bytes, bits per weight and estimated
    instructions per inference on ``cpu``'s core family (or on ``core_family`` when given)."""
    family = core_family or cost_model.family(cpu)
    rows = []
    for op in graph.ops:
        if ATTR not in op.attrs:
            continue
        if weight_matrix(graph, op) is None:
            continue
        e = estimate(graph, op, encoded_weights(graph, op), family)
        rows.append(EncodingRow(op.name, e.kind, e.weights, e.weights, e.nbytes, e.bits_per_weight,
                                e.instructions, op.attrs.get(LAYOUT_ATTR) if e.kind == "dense" else None))
    return rows


def manifest_entry(graph: Graph, cpu: str | None = None) -> dict:
    """The exported tree's record of the choice: {"weight_encodings": {layer: row}} (empty when
    no layer is annotated)."""
    return {"weight_encodings": {r.layer: r.as_dict() for r in encoding_rows(graph, cpu)}}
