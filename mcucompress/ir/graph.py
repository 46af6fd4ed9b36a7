"""The graph IR every stage shares: importers produce it, passes rewrite it, the reference
interpreter runs it and code generation lowers it.

Values are immutable: a pass returns a new Graph (``graph.replace_ops(...)``), never edits one.

Conventions (the same as TensorFlow Lite, so int8 .tflite files import without re-layout):
- Activations are NHWC with batch 1 (shape ``(1, H, W, C)``) or ``(1, N)`` for vectors.
- Conv2D weights are OHWI ``(out, kh, kw, in)``; DepthwiseConv2D weights are ``(1, kh, kw, in*mult)``;
  FullyConnected weights are ``(out, in)``. Biases are ``(out,)``.
- Padding is explicit: ``attrs["padding"] = (top, bottom, left, right)``, resolved by the importer.
- ``attrs["activation"]`` is one of ``"none" | "relu" | "relu6"``; in an int8 graph it becomes a
  clamp range computed from the output's quantization.

Op kinds and their attributes (each kind's facts and implementations: the catalogue, ir/ops.py):

  conv2d            inputs (x, w, b|None)  stride (sh, sw), dilation (dh, dw), padding, activation
                    [weight_encoding: "dense"|"csr4"|"csr8"|"codebook", over the im2col matrix]
  depthwise_conv2d  inputs (x, w, b|None)  stride, dilation, padding, depth_multiplier, activation
  fully_connected   inputs (x, w, b|None)  activation (x is flattened to (1, in))
                    [weight_encoding: "dense"|"csr4"|"csr8"|"csr_seg"|"csr_pair"|"codebook"|"huffman"|"huffman_sparse"|"huffman_lut",
                     how code generation stores w (lossless; see encode/choose.py)]
  max_pool2d        inputs (x,)            pool (ph, pw), stride, padding, activation
  avg_pool2d        inputs (x,)            pool (ph, pw), stride, padding, activation
  mean              inputs (x,)            axes (tuple), keepdims (bool)
  add               inputs (a, b)          activation   (shapes broadcast; a constant operand allowed)
  softmax           inputs (x,)            beta (float)
  reshape           inputs (x,)            (target shape is the output tensor's shape)
  pad               inputs (x,)            paddings: ((before, after), ...) one pair per dimension
  concat            inputs (x1, x2, ...)   axis
  relu / relu6      inputs (x,)            (only where no producer could absorb them)
  logistic, tanh, elu, hard_swish  inputs (x,)   (int8: one 256-entry table, quantize/lut_ops.py)
  float_elu         inputs (x,)            (int8 in and out: the .tflite's DEQUANTIZE, float ELU, QUANTIZE
                                            chain as one table of tflite-micro's float arithmetic)
  leaky_relu        inputs (x,)            alpha (float >= 0)
  mul               inputs (a, b)          activation   (a, b broadcast TFLite's way, as for add)
  sub               inputs (a, b)          activation   (a - b; broadcasting and arithmetic as add's)
  transpose_conv2d  inputs (x, w, b|None)  stride, padding (top and left read), activation
                    (w is (out, kh, kw, in); quantize/transpose_conv_ops.py)
  maximum / minimum inputs (a, b)          (inputs and output share one quantization)
  prelu             inputs (x, alpha)      (alpha broadcasts to x; quantize/broadcast_ops.py)
  batch_norm        inputs (x, gamma, beta, mean, var)  epsilon   (float graphs only; folded away)
  fully_connected_hashed  inputs (x, values (K,), b|None)   seed, activation   (weights hashed from
                    K shared values; ir/shared_weights.py, quantize/shared_fc.py)
  fully_connected_pq      inputs (x, codebooks (S, K, d), b|None, codes (out, S) int32)  activation
                    (product-quantized weights; same modules)
  sign              inputs (x,)            (float graphs only: +1 where x >= 0, else -1)
  lowbit_fully_connected, lowbit_conv2d    inputs (x, w, b|None, levels)  quantizer "binary"|"ternary"|
                    "dorefa", bits; conv: stride, dilation, padding   (float graphs only: the layers of
                    binary/layers.py, w = integer levels x a scale per output channel, batch norm folded
                    into w and b; the binary scheme, binary/convert.py, turns them into the kinds below)
  lstm              inputs (x, 4 input weights, 4 recurrent weights, 4 biases, hidden, cell)
                    cell_clip, cell_activation  (TFLite's integer UNIDIRECTIONAL_SEQUENCE_LSTM; the gates
                    in the order input, forget, cell, output; hidden (int8) and cell (int16) are
                    variable tensors: state kept across invocations; quantize/lstm_ops.py)
  early_exit        inputs (x, probs)      threshold (probability): identity on x; ends the inference
                                           with probs as the output when max(probs) reaches it
                                           (quantize/early_exit.py)

Binary / ternary op kinds (arithmetic in binary/kernel_params.py). "bits" tensors hold packed signs as
int8 arena bytes, shape (1, ..., 4 * ceil(C / 32)); their weights are constant uint32 words and
their thresholds constant int32 (one per output channel):

  binarize                inputs (x,)           threshold (int8 x -> bits: x >= threshold)
  unpack_bits             inputs (bits,)        (bits -> int8 +1/-1, scale 1, zero point 0)
  binary_fully_connected  inputs (bits, w, thr) in_features, weights "binary"|"ternary"|"planes"
                                                (k-bit: planes = k), popcount (how C counts bits)
  binary_conv2d           inputs (bits, w, thr) in_channels, stride, padding, weights, planes, popcount

Q-format op kinds (arithmetic in quantize/qformat_params.py): every int8 tensor they touch has a
power-of-two scale 2^-FL and zero point 0, biases are int32 at 2^-(FL_in + FL_w); requantization
is one rounding right shift. Attributes as the int8 kind of the same name:

  conv2d_q7               inputs (x, w, b|None)  as conv2d
  depthwise_conv2d_q7     inputs (x, w, b|None)  as depthwise_conv2d
  fully_connected_q7      inputs (x, w, b|None)  activation
  add_q7                  inputs (a, b)          activation
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import numpy as np

ACTIVATIONS = ("none", "relu", "relu6")


@dataclass(frozen=True)
class QuantParams:
    """Affine quantization: real = scale * (q - zero_point).

    One scale per tensor, or one per slice along ``axis`` (per-channel weights). Scales are kept
    as float32 values because TFLite stores them so, and derived multipliers must match its maths.
    """

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1

    def scales(self) -> np.ndarray:
        return np.asarray(self.scale, dtype=np.float32)

    def zero_points(self) -> np.ndarray:
        return np.asarray(self.zero_point, dtype=np.int64)


@dataclass(frozen=True)
class Port:
    """The model's input or output as the generated C and the firmware see it: int8 bytes and
    their quantization (None: a float wrapper's port in a manifest may leave it out), and its
    arena offset (known to code generation; None when read back from a manifest)."""

    shape: tuple[int, ...]
    bytes: int
    scale: float | None
    zero_point: int | None
    offset: int | None = None


class PortTotals:
    """``input_bytes`` / ``output_bytes`` of anything with ``inputs`` and ``outputs`` ports (a
    lowered program, a manifest): one sample as the harnesses carry it, ports back to back."""

    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]

    @property
    def input_bytes(self) -> int:
        return sum(p.bytes for p in self.inputs)

    @property
    def output_bytes(self) -> int:
        return sum(p.bytes for p in self.outputs)


@dataclass(frozen=True)
class Layer:
    """What one op became in the generated C: the kernel it calls (None: nothing to do, e.g. a
    reshape in place; several joined by '+'), how its weights are stored, and its MACs. Code
    generation makes these, the manifest lists them and `bench` reads them back."""

    op: str
    kind: str
    kernel: str | None
    encoding: str
    macs: int
    # dense conv / fully connected weights on a fast kernel: "int8" (one byte each in flash,
    # widened as read) or "widened" (int16 pairs); None for every other layer
    weight_layout: str | None = None


@dataclass(frozen=True, eq=False)
class Tensor:
    """A named value. Constants (weights, biases) carry ``data``; activations do not.
    A ``variable`` tensor is state an op reads and rewrites, kept from one invocation to the next
    (never in the activation arena); it starts at ``initial_value``."""

    name: str
    shape: tuple[int, ...]
    dtype: str  # "float32" | "int8" | "int32" | "int16"
    quant: QuantParams | None = None
    data: np.ndarray | None = None
    variable: bool = False

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize

    @property
    def initial_value(self) -> int:
        """What a variable holds before the first invocation and after a reset: tflite-micro's
        ResetVariableTensors writes an int8 tensor's zero point into every byte, zeros elsewhere."""
        if self.dtype == "int8" and self.quant is not None:
            return int(self.quant.zero_point[0])
        return 0


def _freeze(attrs: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(attrs or {}))


@dataclass(frozen=True, eq=False)
class Op:
    """One operator application. ``inputs`` may hold None for an absent optional input (bias)."""

    kind: str
    name: str
    inputs: tuple[str | None, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=lambda: _freeze(None))

    def __post_init__(self) -> None:
        object.__setattr__(self, "attrs", _freeze(self.attrs))
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))

    def with_attrs(self, **changes: Any) -> "Op":
        return replace(self, attrs={**self.attrs, **changes})


@dataclass(frozen=True, eq=False)
class Graph:
    """Tensors by name, ops in execution order, and the graph's input/output tensor names."""

    tensors: Mapping[str, Tensor]
    ops: tuple[Op, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    name: str = "model"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tensors", MappingProxyType(dict(self.tensors)))
        object.__setattr__(self, "ops", tuple(self.ops))
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "outputs", tuple(self.outputs))

    def tensor(self, name: str) -> Tensor:
        return self.tensors[name]

    def input_tensors(self, op: Op) -> list[Tensor | None]:
        return [self.tensors[n] if n is not None else None for n in op.inputs]

    def output_tensor(self, op: Op) -> Tensor:
        return self.tensors[op.outputs[0]]

    def producer(self, tensor_name: str) -> Op | None:
        for op in self.ops:
            if tensor_name in op.outputs:
                return op
        return None

    def consumers(self, tensor_name: str) -> list[Op]:
        return [op for op in self.ops if tensor_name in op.inputs]

    @property
    def is_quantized(self) -> bool:
        return all(self.tensors[n].dtype == "int8" for n in self.inputs)

    def replace(self, **changes: Any) -> "Graph":
        return replace(self, **changes)

    def with_ops(self, ops: Iterable[Op], tensors: Mapping[str, Tensor] | None = None) -> "Graph":
        """A new graph with these ops; tensors no op or graph port mentions are dropped."""
        ops = tuple(ops)
        pool = dict(tensors if tensors is not None else self.tensors)
        used = set(self.inputs) | set(self.outputs)
        for op in ops:
            used.update(n for n in op.inputs if n is not None)
            used.update(op.outputs)
        return replace(self, ops=ops, tensors={n: t for n, t in pool.items() if n in used})

    def constants(self) -> list[Tensor]:
        return [t for t in self.tensors.values() if t.is_constant]

    def activations(self) -> list[Tensor]:
        return [t for t in self.tensors.values() if not t.is_constant and not t.variable]

    def variables(self) -> list[Tensor]:
        return [t for t in self.tensors.values() if t.variable]
