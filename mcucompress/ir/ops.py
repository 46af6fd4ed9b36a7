"""The catalogue of op kinds: everything a stage needs to know about a kind, in one entry.

Each ``OpKind`` says which arithmetic scheme the kind belongs to, the facts the graph passes,
quantizers and memory planner read (weights, in-place, tied quantization, fusion), its MAC rule,
and where its implementations are: kernel parameters, numpy reference, float reference, C
lowering, and the runtime C files its calls may name. Every stage looks a kind up here; no stage
keeps its own table of kinds.

Implementations are named ``"module:function"`` and imported on first use. The catalogue sits
at the bottom of the package (``ir``) while the implementations live in the stages above it
(``quantize``, ``reference``, ``codegen``, ...); naming them keeps the import graph one-way.
tests/test_ops_catalogue.py resolves every name and checks each kind has what it needs.

Adding a kind: write its params function, numpy kernel, lowering and C kernel files, then add
one ``OpKind`` to the scheme's tuple below (docs/architecture.md walks through an example).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Callable, Mapping

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op

SCHEMES = ("float", "int8", "qformat", "binary")
QUANTIZERS = ("int8", "qformat")  # the calibrating quantizers that read ``OpKind.tied``


# -- MAC rules: multiply-accumulates of one inference of an op --------------------------------

def no_macs(graph: Graph, op: Op) -> int:
    return 0


def conv_macs(graph: Graph, op: Op) -> int:
    """Every output value sums kh * kw * in_channels products."""
    w = graph.tensor(op.inputs[1])
    return graph.output_tensor(op).size * int(np.prod(w.shape[1:]))


def transpose_conv_macs(graph: Graph, op: Op) -> int:
    """Every input value times every tap of every output channel (some land outside the output)."""
    return int(graph.tensor(op.inputs[0]).size) * int(np.prod(graph.tensor(op.inputs[1]).shape[:3]))


def depthwise_macs(graph: Graph, op: Op) -> int:
    """Every output value sums kh * kw products."""
    w = graph.tensor(op.inputs[1])
    return graph.output_tensor(op).size * int(w.shape[1] * w.shape[2])


def fully_connected_macs(graph: Graph, op: Op) -> int:
    """Every weight once per row of the (flattened) input."""
    w = graph.tensor(op.inputs[1])
    return int(w.size) * max(1, graph.output_tensor(op).size // int(w.shape[0]))


def hashed_macs(graph: Graph, op: Op) -> int:
    """One multiply per (recomputed) weight, as the dense layer."""
    return graph.output_tensor(op).size * (graph.tensor(op.inputs[0]).size // graph.output_tensor(op).shape[0])


def pq_macs(graph: Graph, op: Op) -> int:
    """The table (every input times every codeword of its sub-space) plus one add per output and
    sub-space."""
    subspaces, centroids, length = graph.tensor(op.inputs[1]).shape
    rows = graph.output_tensor(op).shape[0]
    return rows * int(subspaces * centroids * length) + graph.output_tensor(op).size * int(subspaces)


def lstm_macs(graph: Graph, op: Op) -> int:
    """Per step, every input and recurrent weight of the four gates once."""
    steps = graph.tensor(op.inputs[0]).shape[1]
    return steps * sum(int(graph.tensor(name).size) for name in op.inputs[1:9])


def binary_fully_connected_macs(graph: Graph, op: Op) -> int:
    """One XNOR-popcount term per (unpacked) weight: in_features per threshold."""
    return int(op.attrs["in_features"]) * int(graph.tensor(op.inputs[2]).size)


def binary_conv_macs(graph: Graph, op: Op) -> int:
    """One XNOR-popcount term per tap and input channel of every output value."""
    out, w = graph.output_tensor(op), graph.tensor(op.inputs[1])
    return out.size // out.shape[-1] * int(w.shape[0] * w.shape[1] * w.shape[2]) * int(op.attrs["in_channels"])


# -- the entry ----------------------------------------------------------------------------

@dataclass(frozen=True)
class OpKind:
    """One op kind. Implementation fields hold ``"module:function"`` names (see ``resolve``):

    - ``params(graph, op, rounding)`` -> the frozen params dataclass both the numpy reference and
      the C lowering read (``quantize.params.kernel_params`` dispatches here);
    - ``reference(op, params, args, out_shape, graph)`` -> the integer numpy result;
    - ``float_reference(graph, op, *args)`` -> the float32 result (kinds of float graphs);
    - ``lowering(builder, index, op)`` emits the kind's kernel call(s) into the program builder.

    ``kernels`` are the runtime C files (under runtime_c/, one public function each, named by the
    file's stem) that the lowering may call; ``headers`` are internal headers those files include.
    """

    name: str
    scheme: str
    params: str | None = None
    reference: str | None = None
    float_reference: str | None = None
    lowering: str | None = None
    kernels: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    macs: Callable[[Graph, Op], int] = no_macs
    # inputs are (x, weights, bias | None); weight_axis is the weights' output-channel axis
    weighted: bool = False
    weight_axis: int = 0
    # inputs are (x, shared values, bias | None, ...): the values serve many weights, so they get
    # one int8 scale for the whole tensor (quantize/ptq.py); further inputs are integer constants
    shared_weights: bool = False
    # the output may take over the storage of an input that dies at this op (same size, every
    # output byte depends only on the input bytes at the same position, read before written)
    in_place: bool = False
    # the output IS its input's bytes (reshape): always shares the input's buffer
    aliases_input: bool = False
    # quantizers (QUANTIZERS) that give the output the quantization of its inputs
    tied: frozenset = frozenset()
    # takes attrs["activation"] (relu / relu6) that passes.fuse_activations folds into it
    fuses_activation: bool = False
    # a stand-alone activation that fuse_activations may fold into its producer
    fusable_activation: bool = False
    # requantizes in float32 under LiteRT's XNNPACK ("litert" rounding); others always double-round
    litert_float_requant: bool = False
    # qformat kinds: the int8 kind whose attributes and loops this kind shares
    twin: str | None = None
    # "module:function" (graph, op) -> bytes of arena scratch the kind's kernel always needs
    # while it runs (memory/arena.py places it like a specialised kernel's scratch)
    scratch: str | None = None

    def resolve(self, role: str) -> Callable:
        """The implementation named by field ``role`` ("params", "reference", ...)."""
        ref = getattr(self, role)
        if ref is None:
            raise McuError(f"op kind '{self.name}' has no {role.replace('_', ' ')}")
        return resolve(ref)

    @property
    def kernel_sources(self) -> dict[str, str]:
        """C function -> its source file (relative to runtime_c/)."""
        return {PurePosixPath(path).stem: path for path in self.kernels}


@lru_cache(maxsize=None)
def resolve(ref: str) -> Callable:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


# -- the catalogue, one tuple per scheme --------------------------------------------------

def _scheme(scheme: str, modules: Mapping[str, str], headers: tuple[str, ...] = ()) -> Callable[..., OpKind]:
    """The entry constructor of one scheme: a bare function name given for an implementation
    role is looked up in the scheme's module for that role ("module:function" names any other)."""
    def entry(name: str, **fields) -> OpKind:
        for role, module in modules.items():
            ref = fields.get(role)
            if ref is not None and ":" not in ref:
                fields[role] = f"{module}:{ref}"
        fields.setdefault("headers", headers)
        return OpKind(name, scheme, **fields)
    return entry


_float = _scheme("float", {"float_reference": "mcucompress.reference.float"})
_int8 = _scheme("int8", {"params": "mcucompress.quantize.params", "reference": "mcucompress.reference.int8",
                         "float_reference": "mcucompress.reference.float", "lowering": "mcucompress.codegen.lower"})
_qformat = _scheme("qformat", {"params": "mcucompress.quantize.qformat_params",
                               "reference": "mcucompress.reference.qformat",
                               "lowering": "mcucompress.codegen.lower_qformat"}, headers=("qformat/mcc_q7.h",))
_binary = _scheme("binary", {"params": "mcucompress.binary.kernel_params", "reference": "mcucompress.binary.reference",
                             "lowering": "mcucompress.codegen.lower_binary"}, headers=("binary/mcc_b1.h",))
_TIED_BOTH = frozenset({"int8", "qformat"})

FLOAT_KINDS = (
    _float("batch_norm", float_reference="batch_norm"),
    # the training layers of binary/layers.py, quantized by the binary scheme (binary/convert.py);
    # inputs (x, weights = levels x per-channel scale, bias | None, integer levels)
    _float("sign", float_reference="sign"),
    _float("lowbit_fully_connected", float_reference="lowbit_fully_connected", macs=fully_connected_macs,
           weighted=True, weight_axis=0),
    _float("lowbit_conv2d", float_reference="lowbit_conv2d", macs=conv_macs, weighted=True, weight_axis=0),
)

INT8_KINDS = (
    _int8("conv2d", params="_conv", reference="_conv2d", float_reference="conv2d", lowering="_lower_conv",
          kernels=("conv/mcc_conv2d_s8.c", "conv/mcc_conv2d_fast_s8.c", "conv/mcc_conv2d_fast_w8_s8.c",
                   "sparse/mcc_conv2d_csr_s8.c", "sparse/mcc_conv2d_csr_fast_s8.c",
                   "codebook/mcc_conv2d_codebook_s8.c", "codebook/mcc_conv2d_codebook_fast_s8.c",
                   "conv/mcc_conv2d_channels_s8.c", "int4/mcc_conv2d_int4_s8.c"),
          macs=conv_macs, weighted=True, weight_axis=0, fuses_activation=True, litert_float_requant=True),
    _int8("depthwise_conv2d", params="_conv", reference="_depthwise_conv2d", float_reference="depthwise_conv2d",
          lowering="_lower_conv", kernels=("conv/mcc_depthwise_conv2d_s8.c", "conv/mcc_depthwise_conv2d_fast_s8.c",
                                         "conv/mcc_depthwise_expand_s8.c", "conv/mcc_conv2d_channels_s8.c"),
          macs=depthwise_macs, weighted=True, weight_axis=3, fuses_activation=True, litert_float_requant=True),
    _int8("fully_connected", params="_fully_connected", reference="_fully_connected",
          float_reference="fully_connected", lowering="_lower_fully_connected",
          kernels=("fully_connected/mcc_fully_connected_s8.c", "fully_connected/mcc_fully_connected_fast_s8.c",
                   "fully_connected/mcc_fully_connected_fast_w16_s8.c", "conv/mcc_conv2d_fast_s8.c", "sparse/mcc_fully_connected_csr_s8.c",
                   "sparse/mcc_fully_connected_csr_seg_s8.c", "sparse/mcc_fully_connected_csr_pair_s8.c",
                   "codebook/mcc_fully_connected_codebook_s8.c", "codebook/mcc_fully_connected_codebook_fast_s8.c",
                   "huffman/mcc_fully_connected_huffman_s8.c", "huffman/mcc_fully_connected_huffman_lut_s8.c",
                   "conv/mcc_conv2d_channels_s8.c", "int4/mcc_fully_connected_int4_s8.c"),
          macs=fully_connected_macs, weighted=True, weight_axis=0, fuses_activation=True,
          litert_float_requant=True),
    _int8("max_pool2d", params="_pool", reference="_max_pool2d", float_reference="max_pool2d",
          lowering="_lower_pool", kernels=("pooling/mcc_maxpool_s8.c",), tied=_TIED_BOTH),
    _int8("avg_pool2d", params="_pool", reference="_avg_pool2d", float_reference="avg_pool2d",
          lowering="_lower_pool", kernels=("pooling/mcc_avgpool_s8.c",), tied=_TIED_BOTH),
    _int8("mean", params="_mean", reference="_mean", float_reference="mean", lowering="_lower_mean",
          kernels=("reduce/mcc_mean_s8.c",), litert_float_requant=True),
    _int8("add", params="_add", reference="_add", float_reference="add", lowering="_lower_add",
          kernels=("elementwise/mcc_add_s8.c", "elementwise/mcc_add_fast_s8.c", "broadcast/mcc_add_broadcast_s8.c"),
          in_place=True, fuses_activation=True),
    _int8("softmax", params="_softmax", reference="_softmax", float_reference="softmax", lowering="_lower_softmax",
          kernels=("softmax/mcc_softmax_s8.c", "softmax/mcc_softmax_table_s8.c")),
    _int8("reshape", params="_reshape", reference="_reshape", float_reference="reshape", lowering="_lower_reshape",
          kernels=("reshape/mcc_copy_s8.c",), aliases_input=True, tied=_TIED_BOTH),
    _int8("pad", params="_pad", reference="_pad", float_reference="pad", lowering="_lower_pad",
          kernels=("reshape/mcc_pad_s8.c",), tied=_TIED_BOTH),
    _int8("concat", params="_concat", reference="_concat", float_reference="concat", lowering="_lower_concat",
          kernels=("reshape/mcc_concat_channels_s8.c",), tied=_TIED_BOTH),
    # relu requantizes in int8 (its output range starts at 0); in Q-format it only compares
    _int8("relu", params="_relu", reference="_relu", float_reference="relu", lowering="_lower_relu",
          kernels=("elementwise/mcc_requantize_s8.c",), in_place=True, tied=frozenset({"qformat"}),
          fusable_activation=True),
    _int8("relu6", params="_relu", reference="_relu", float_reference="relu6", lowering="_lower_relu",
          kernels=("elementwise/mcc_requantize_s8.c",), in_place=True, tied=_TIED_BOTH, fusable_activation=True),
)

# Kinds implemented outside the stage modules: each names its own "module:function"s.
_LUT = "mcucompress.quantize.lut_ops"


def _table_kind(name: str) -> OpKind:
    """An element-wise int8 function evaluated through a 256-entry table (quantize/lut_ops.py)."""
    return _int8(name, params=f"{_LUT}:lut_params", reference=f"{_LUT}:int8_reference",
                 float_reference=f"{_LUT}:float_reference", lowering=f"{_LUT}:lower",
                 kernels=("activation/mcc_lut_s8.c",), in_place=True)


# float_elu: the converter's DEQUANTIZE -> ELU (float) -> QUANTIZE island, computed as TFLite does
INT8_KINDS += tuple(_table_kind(name) for name in ("logistic", "tanh", "leaky_relu", "elu", "hard_swish",
                                                   "requantize", "float_elu"))

_RESIZE = "mcucompress.quantize.resize_ops"
INT8_KINDS += (
    _int8("resize_nearest", params=f"{_RESIZE}:resize_params", reference=f"{_RESIZE}:int8_reference",
          float_reference=f"{_RESIZE}:float_reference", lowering=f"{_RESIZE}:lower",
          kernels=("resize/mcc_resize_nearest_s8.c",), tied=frozenset({"int8"})),
)

_TCONV = "mcucompress.quantize.transpose_conv_ops"
INT8_KINDS += (
    _int8("transpose_conv2d", params=f"{_TCONV}:transpose_conv_params", reference=f"{_TCONV}:int8_reference",
          float_reference=f"{_TCONV}:float_reference", lowering=f"{_TCONV}:lower",
          kernels=("conv/mcc_transpose_conv2d_s8.c",), macs=transpose_conv_macs,
          weighted=True, weight_axis=0, fuses_activation=True),
)

_RMAX = "mcucompress.quantize.reduce_max"
INT8_KINDS += (
    OpKind("reduce_max", "int8", f"{_RMAX}:reduce_max_params", f"{_RMAX}:int8_reference",
           f"{_RMAX}:float_reference", f"{_RMAX}:lower", kernels=("pooling/mcc_maxpool_s8.c",),
           tied=frozenset({"int8"})),
)

_BCAST = "mcucompress.quantize.broadcast_ops"  # two-input element-wise ops with broadcasting


def _broadcast_kind(name: str, params: str, reference: str, float_reference: str, **facts) -> OpKind:
    return _int8(name, params=f"{_BCAST}:{params}", reference=f"{_BCAST}:{reference}",
                 float_reference=f"{_BCAST}:{float_reference}", lowering=f"{_BCAST}:lower",
                 kernels=(f"broadcast/mcc_{name}_s8.c",), in_place=True, **facts)


INT8_KINDS += (
    _broadcast_kind("mul", "mul_params", "mul_reference", "mul_float", fuses_activation=True),
    _broadcast_kind("sub", "sub_params", "sub_reference", "sub_float", fuses_activation=True),
    _broadcast_kind("prelu", "prelu_params", "prelu_reference", "prelu_float"),
    _broadcast_kind("maximum", "compare_params", "compare_reference", "maximum_float", tied=frozenset({"int8"})),
    _broadcast_kind("minimum", "compare_params", "compare_reference", "minimum_float", tied=frozenset({"int8"})),
)

_SHARED = "mcucompress.quantize.shared_fc"  # fully connected layers built from shared values
INT8_KINDS += (
    _int8("fully_connected_hashed", params="_fully_connected", reference=f"{_SHARED}:hashed_reference",
          float_reference=f"{_SHARED}:hashed_float", lowering=f"{_SHARED}:lower_hashed",
          kernels=("shared/mcc_fully_connected_hashed_s8.c",), macs=hashed_macs, shared_weights=True,
          fuses_activation=True, litert_float_requant=True),
    _int8("fully_connected_pq", params="_fully_connected", reference=f"{_SHARED}:pq_reference",
          float_reference=f"{_SHARED}:pq_float", lowering=f"{_SHARED}:lower_pq",
          kernels=("shared/mcc_fully_connected_pq_s8.c",), macs=pq_macs, shared_weights=True,
          fuses_activation=True, litert_float_requant=True),
)

_LSTM = "mcucompress.quantize.lstm_ops"
INT8_KINDS += (
    # its hidden and cell states are variable tensors: static buffers kept across invocations
    _int8("lstm", params=f"{_LSTM}:lstm_params", reference=f"{_LSTM}:int8_reference",
          float_reference=f"{_LSTM}:float_reference", lowering=f"{_LSTM}:lower",
          kernels=("lstm/mcc_lstm_s8.c",), macs=lstm_macs, scratch=f"{_LSTM}:scratch_bytes"),
)

_EXIT = "mcucompress.quantize.early_exit"
INT8_KINDS += (
    # identity on its first input; ends the inference when its second (an exit head's softmax) is confident
    _int8("early_exit", params=f"{_EXIT}:exit_params", reference=f"{_EXIT}:int8_reference",
          float_reference=f"{_EXIT}:float_reference", lowering=f"{_EXIT}:lower",
          kernels=("early_exit/mcc_early_exit_s8.c", "reshape/mcc_copy_s8.c"), aliases_input=True,
          tied=frozenset({"int8"})),
)

QFORMAT_KINDS = (
    _qformat("conv2d_q7", params="_conv", reference="conv2d_q7", lowering="lower_conv",
             kernels=("qformat/mcc_conv2d_q7.c",), macs=conv_macs, weighted=True, weight_axis=0,
             fuses_activation=True, twin="conv2d"),
    _qformat("depthwise_conv2d_q7", params="_conv", reference="depthwise_conv2d_q7", lowering="lower_conv",
             kernels=("qformat/mcc_depthwise_conv2d_q7.c",), macs=depthwise_macs, weighted=True, weight_axis=3,
             fuses_activation=True, twin="depthwise_conv2d"),
    _qformat("fully_connected_q7", params="_fully_connected", reference="fully_connected_q7",
             lowering="lower_fully_connected", kernels=("qformat/mcc_fully_connected_q7.c",),
             macs=fully_connected_macs, weighted=True, weight_axis=0, fuses_activation=True, twin="fully_connected"),
    _qformat("add_q7", params="_add", reference="add_q7", lowering="lower_add", kernels=("qformat/mcc_add_q7.c",),
             in_place=True, fuses_activation=True, twin="add"),
)

BINARY_KINDS = (
    _binary("binarize", params="binarize", reference="binarize", lowering="lower_binarize",
            kernels=("binary/mcc_binarize_s8.c",)),
    _binary("unpack_bits", params="unpack", reference="unpack", lowering="lower_unpack",
            kernels=("binary/mcc_unpack_b1.c",)),
    _binary("binary_fully_connected", params="binary_fully_connected", reference="binary_fully_connected",
            lowering="lower_fully_connected",
            kernels=("binary/mcc_fully_connected_b1.c", "binary/mcc_fully_connected_vertical_b1.c"),
            macs=binary_fully_connected_macs, weighted=True),
    _binary("binary_conv2d", params="binary_conv2d", reference="binary_conv2d", lowering="lower_conv2d",
            kernels=("binary/mcc_conv2d_b1.c",), macs=binary_conv_macs, weighted=True),
)


def _catalogue(*schemes: tuple[OpKind, ...]) -> Mapping[str, OpKind]:
    table: dict[str, OpKind] = {}
    for kinds in schemes:
        for kind in kinds:
            if kind.name in table:
                raise ValueError(f"op kind '{kind.name}' is in the catalogue twice")
            table[kind.name] = kind
    return table


OPS: Mapping[str, OpKind] = _catalogue(FLOAT_KINDS, INT8_KINDS, QFORMAT_KINDS, BINARY_KINDS)


# -- queries ------------------------------------------------------------------------------

def op_kind(name: str) -> OpKind | None:
    """The catalogue entry of kind ``name``, or None for a kind nobody implements."""
    return OPS.get(name)


def kinds(scheme: str | None = None) -> tuple[OpKind, ...]:
    return tuple(k for k in OPS.values() if scheme is None or k.scheme == scheme)


def macs(graph: Graph, op: Op) -> int:
    """Multiply-accumulates (binary kinds: XNOR-popcount terms) of one inference of ``op``."""
    kind = OPS.get(op.kind)
    return kind.macs(graph, op) if kind is not None else 0


def graph_macs(graph: Graph) -> int:
    return sum(macs(graph, op) for op in graph.ops)


def weight_axes(scheme: str) -> dict[str, int]:
    """Kind -> output-channel axis of its weights, for the weighted kinds of ``scheme``."""
    return {k.name: k.weight_axis for k in kinds(scheme) if k.weighted}


def shared_weight_kinds(scheme: str) -> frozenset[str]:
    """Kinds of ``scheme`` whose weights are shared values with one scale per tensor."""
    return frozenset(k.name for k in kinds(scheme) if k.shared_weights)


def tied_kinds(quantizer: str) -> frozenset[str]:
    """Kinds whose inputs and output share one quantization under ``quantizer``."""
    return frozenset(k.name for k in OPS.values() if quantizer in k.tied)


def graph_scheme(graph: Graph) -> str:
    """"qformat" when the graph has Q-format ops, "binary" with binary ones, else "int8"."""
    schemes = {OPS[op.kind].scheme for op in graph.ops if op.kind in OPS}
    for scheme in ("qformat", "binary"):
        if scheme in schemes:
            return scheme
    return "int8"


def float_activations(graph: Graph, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every tensor of the float ``graph`` on the batch ``x`` (the input's shape with a batch of
    any size in front), each op run by its kind's float reference: the loop of the float
    interpreter (reference/float.py) and of calibration (quantize/calibrate.py). A graph with
    several inputs takes a sequence of batches, one per input in port order."""
    xs = list(x) if len(graph.inputs) > 1 else [x]
    if len(xs) != len(graph.inputs):
        raise McuError(f"the graph has {len(graph.inputs)} inputs but {len(xs)} batches were given")
    values: dict[str, np.ndarray] = dict(zip(graph.inputs, xs))
    for op in graph.ops:
        kind = OPS.get(op.kind)
        if kind is None or kind.float_reference is None:
            raise McuError(f"op '{op.name}' of kind {op.kind} has no float reference")
        args = [values[n] if n in values else (graph.tensor(n).data if n is not None else None)
                for n in op.inputs]
        values[op.outputs[0]] = kind.resolve("float_reference")(graph, op, *args)
    return values


def kernel_sources() -> dict[str, str]:
    """Every runtime C function a lowering may call -> its source file under runtime_c/."""
    table: dict[str, str] = {}
    for kind in OPS.values():
        table.update(kind.kernel_sources)
    return table
