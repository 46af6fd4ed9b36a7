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


def depthwise_macs(graph: Graph, op: Op) -> int:
    """Every output value sums kh * kw products."""
    w = graph.tensor(op.inputs[1])
    return graph.output_tensor(op).size * int(w.shape[1] * w.shape[2])


def fully_connected_macs(graph: Graph, op: Op) -> int:
    """Every weight once per row of the (flattened) input."""
    w = graph.tensor(op.inputs[1])
    return int(w.size) * max(1, graph.output_tensor(op).size // int(w.shape[0]))


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

_PARAMS = "mcucompress.quantize.params"
_REF = "mcucompress.reference.int8"
_FLOAT = "mcucompress.reference.float"
_LOWER = "mcucompress.codegen.lower"
_TIED_BOTH = frozenset({"int8", "qformat"})

FLOAT_KINDS = (
    OpKind("batch_norm", "float", float_reference=f"{_FLOAT}:batch_norm"),
)

INT8_KINDS = (
    OpKind("conv2d", "int8", f"{_PARAMS}:_conv", f"{_REF}:_conv2d", f"{_FLOAT}:conv2d", f"{_LOWER}:_lower_conv",
           kernels=("conv/mcc_conv2d_s8.c", "conv/mcc_conv2d_fast_s8.c", "sparse/mcc_conv2d_csr_s8.c",
                    "codebook/mcc_conv2d_codebook_s8.c", "conv/mcc_conv2d_channels_s8.c"),
           macs=conv_macs, weighted=True, weight_axis=0, fuses_activation=True, litert_float_requant=True),
    OpKind("depthwise_conv2d", "int8", f"{_PARAMS}:_conv", f"{_REF}:_depthwise_conv2d", f"{_FLOAT}:depthwise_conv2d",
           f"{_LOWER}:_lower_conv",
           kernels=("conv/mcc_depthwise_conv2d_s8.c", "conv/mcc_depthwise_conv2d_fast_s8.c",
                    "conv/mcc_conv2d_channels_s8.c"),
           macs=depthwise_macs, weighted=True, weight_axis=3, fuses_activation=True, litert_float_requant=True),
    OpKind("fully_connected", "int8", f"{_PARAMS}:_fully_connected", f"{_REF}:_fully_connected",
           f"{_FLOAT}:fully_connected", f"{_LOWER}:_lower_fully_connected",
           kernels=("fully_connected/mcc_fully_connected_s8.c", "fully_connected/mcc_fully_connected_fast_s8.c",
                    "conv/mcc_conv2d_fast_s8.c", "sparse/mcc_fully_connected_csr_s8.c",
                    "codebook/mcc_fully_connected_codebook_s8.c", "huffman/mcc_fully_connected_huffman_s8.c",
                    "conv/mcc_conv2d_channels_s8.c"),
           macs=fully_connected_macs, weighted=True, weight_axis=0, fuses_activation=True,
           litert_float_requant=True),
    OpKind("max_pool2d", "int8", f"{_PARAMS}:_pool", f"{_REF}:_max_pool2d", f"{_FLOAT}:max_pool2d",
           f"{_LOWER}:_lower_pool", kernels=("pooling/mcc_maxpool_s8.c",), tied=_TIED_BOTH),
    OpKind("avg_pool2d", "int8", f"{_PARAMS}:_pool", f"{_REF}:_avg_pool2d", f"{_FLOAT}:avg_pool2d",
           f"{_LOWER}:_lower_pool", kernels=("pooling/mcc_avgpool_s8.c",), tied=_TIED_BOTH),
    OpKind("mean", "int8", f"{_PARAMS}:_mean", f"{_REF}:_mean", f"{_FLOAT}:mean", f"{_LOWER}:_lower_mean",
           kernels=("reduce/mcc_mean_s8.c",), litert_float_requant=True),
    OpKind("add", "int8", f"{_PARAMS}:_add", f"{_REF}:_add", f"{_FLOAT}:add", f"{_LOWER}:_lower_add",
           kernels=("elementwise/mcc_add_s8.c", "elementwise/mcc_add_fast_s8.c",
                    "broadcast/mcc_add_broadcast_s8.c"),
           in_place=True, fuses_activation=True),
    OpKind("softmax", "int8", f"{_PARAMS}:_softmax", f"{_REF}:_softmax", f"{_FLOAT}:softmax",
           f"{_LOWER}:_lower_softmax", kernels=("softmax/mcc_softmax_s8.c", "softmax/mcc_softmax_table_s8.c")),
    OpKind("reshape", "int8", f"{_PARAMS}:_reshape", f"{_REF}:_reshape", f"{_FLOAT}:reshape",
           f"{_LOWER}:_lower_reshape", kernels=("reshape/mcc_copy_s8.c",), aliases_input=True, tied=_TIED_BOTH),
    OpKind("pad", "int8", f"{_PARAMS}:_pad", f"{_REF}:_pad", f"{_FLOAT}:pad", f"{_LOWER}:_lower_pad",
           kernels=("reshape/mcc_pad_s8.c",), tied=_TIED_BOTH),
    OpKind("concat", "int8", f"{_PARAMS}:_concat", f"{_REF}:_concat", f"{_FLOAT}:concat", f"{_LOWER}:_lower_concat",
           kernels=("reshape/mcc_concat_channels_s8.c",), tied=_TIED_BOTH),
    # relu requantizes in int8 (its output range starts at 0); in Q-format it only compares
    OpKind("relu", "int8", f"{_PARAMS}:_relu", f"{_REF}:_relu", f"{_FLOAT}:relu", f"{_LOWER}:_lower_relu",
           kernels=("elementwise/mcc_requantize_s8.c",), in_place=True, tied=frozenset({"qformat"}),
           fusable_activation=True),
    OpKind("relu6", "int8", f"{_PARAMS}:_relu", f"{_REF}:_relu", f"{_FLOAT}:relu6", f"{_LOWER}:_lower_relu",
           kernels=("elementwise/mcc_requantize_s8.c",), in_place=True, tied=_TIED_BOTH,
           fusable_activation=True),
)

_LUT = "mcucompress.quantize.lut_ops"


def _table_kind(name: str) -> OpKind:
    """An element-wise int8 function evaluated through a 256-entry table (quantize/lut_ops.py)."""
    return OpKind(name, "int8", f"{_LUT}:lut_params", f"{_LUT}:int8_reference", f"{_LUT}:float_reference",
                  f"{_LUT}:lower", kernels=("activation/mcc_lut_s8.c",), in_place=True)


INT8_KINDS += tuple(_table_kind(name) for name in ("logistic", "tanh", "leaky_relu", "elu", "hard_swish",
                                                           "requantize"))

_RESIZE = "mcucompress.quantize.resize_ops"
INT8_KINDS += (
    OpKind("resize_nearest", "int8", f"{_RESIZE}:resize_params", f"{_RESIZE}:int8_reference",
           f"{_RESIZE}:float_reference", f"{_RESIZE}:lower", kernels=("resize/mcc_resize_nearest_s8.c",),
           tied=frozenset({"int8"})),
)

_RMAX = "mcucompress.quantize.reduce_max"
INT8_KINDS += (
    OpKind("reduce_max", "int8", f"{_RMAX}:reduce_max_params", f"{_RMAX}:int8_reference",
           f"{_RMAX}:float_reference", f"{_RMAX}:lower", kernels=("pooling/mcc_maxpool_s8.c",),
           tied=frozenset({"int8"})),
)

_BCAST = "mcucompress.quantize.broadcast_ops"  # two-input element-wise ops with broadcasting
INT8_KINDS += (
    OpKind("mul", "int8", f"{_BCAST}:mul_params", f"{_BCAST}:mul_reference", f"{_BCAST}:mul_float",
           f"{_BCAST}:lower", kernels=("broadcast/mcc_mul_s8.c",), in_place=True, fuses_activation=True),
    OpKind("prelu", "int8", f"{_BCAST}:prelu_params", f"{_BCAST}:prelu_reference", f"{_BCAST}:prelu_float",
           f"{_BCAST}:lower", kernels=("broadcast/mcc_prelu_s8.c",), in_place=True),
    OpKind("maximum", "int8", f"{_BCAST}:compare_params", f"{_BCAST}:compare_reference",
           f"{_BCAST}:maximum_float", f"{_BCAST}:lower", kernels=("broadcast/mcc_maximum_s8.c",),
           in_place=True, tied=frozenset({"int8"})),
    OpKind("minimum", "int8", f"{_BCAST}:compare_params", f"{_BCAST}:compare_reference",
           f"{_BCAST}:minimum_float", f"{_BCAST}:lower", kernels=("broadcast/mcc_minimum_s8.c",),
           in_place=True, tied=frozenset({"int8"})),
)

_QPARAMS = "mcucompress.quantize.qformat_params"
_QREF = "mcucompress.reference.qformat"
_QLOWER = "mcucompress.codegen.lower_qformat"
_Q7_HEADER = ("qformat/mcc_q7.h",)

QFORMAT_KINDS = (
    OpKind("conv2d_q7", "qformat", f"{_QPARAMS}:_conv", f"{_QREF}:conv2d_q7", lowering=f"{_QLOWER}:lower_conv",
           kernels=("qformat/mcc_conv2d_q7.c",), headers=_Q7_HEADER, macs=conv_macs,
           weighted=True, weight_axis=0, fuses_activation=True, twin="conv2d"),
    OpKind("depthwise_conv2d_q7", "qformat", f"{_QPARAMS}:_conv", f"{_QREF}:depthwise_conv2d_q7",
           lowering=f"{_QLOWER}:lower_conv", kernels=("qformat/mcc_depthwise_conv2d_q7.c",), headers=_Q7_HEADER,
           macs=depthwise_macs, weighted=True, weight_axis=3, fuses_activation=True, twin="depthwise_conv2d"),
    OpKind("fully_connected_q7", "qformat", f"{_QPARAMS}:_fully_connected", f"{_QREF}:fully_connected_q7",
           lowering=f"{_QLOWER}:lower_fully_connected", kernels=("qformat/mcc_fully_connected_q7.c",),
           headers=_Q7_HEADER, macs=fully_connected_macs, weighted=True, weight_axis=0, fuses_activation=True,
           twin="fully_connected"),
    OpKind("add_q7", "qformat", f"{_QPARAMS}:_add", f"{_QREF}:add_q7", lowering=f"{_QLOWER}:lower_add",
           kernels=("qformat/mcc_add_q7.c",), headers=_Q7_HEADER, in_place=True, fuses_activation=True,
           twin="add"),
)

_BPARAMS = "mcucompress.binary.params"
_BREF = "mcucompress.binary.reference"
_BLOWER = "mcucompress.codegen.lower_binary"
_B1_HEADER = ("binary/mcc_b1.h",)

BINARY_KINDS = (
    OpKind("binarize", "binary", f"{_BPARAMS}:binarize", f"{_BREF}:binarize", lowering=f"{_BLOWER}:lower_binarize",
           kernels=("binary/mcc_binarize_s8.c",), headers=_B1_HEADER),
    OpKind("unpack_bits", "binary", f"{_BPARAMS}:unpack", f"{_BREF}:unpack", lowering=f"{_BLOWER}:lower_unpack",
           kernels=("binary/mcc_unpack_b1.c",), headers=_B1_HEADER),
    OpKind("binary_fully_connected", "binary", f"{_BPARAMS}:binary_fully_connected",
           f"{_BREF}:binary_fully_connected", lowering=f"{_BLOWER}:lower_fully_connected",
           kernels=("binary/mcc_fully_connected_b1.c", "binary/mcc_fully_connected_vertical_b1.c"),
           headers=_B1_HEADER, macs=binary_fully_connected_macs, weighted=True),
    OpKind("binary_conv2d", "binary", f"{_BPARAMS}:binary_conv2d", f"{_BREF}:binary_conv2d",
           lowering=f"{_BLOWER}:lower_conv2d", kernels=("binary/mcc_conv2d_b1.c",), headers=_B1_HEADER,
           macs=binary_conv_macs, weighted=True),
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


def tied_kinds(quantizer: str) -> frozenset[str]:
    """Kinds whose inputs and output share one quantization under ``quantizer``."""
    return frozenset(k.name for k in OPS.values() if quantizer in k.tied)


def kernel_sources() -> dict[str, str]:
    """Every runtime C function a lowering may call -> its source file under runtime_c/."""
    table: dict[str, str] = {}
    for kind in OPS.values():
        table.update(kind.kernel_sources)
    return table
