"""Early exits (BranchyNet, Teerapittayanon et al. 2016): a side classifier after a block of the
network, and a test of its confidence that ends the inference there. Everything about the
``early_exit`` op kind sits in this one module.

``early_exit`` inputs (x, probs), attribute ``threshold`` (a probability in [0, 1]). In the
graph it is the identity on ``x`` (the features the network goes on with; the output aliases
them); ``probs`` is the exit head's softmax output, of the model output's size and quantization.
At run time the exit is taken when the largest int8 value of ``probs`` is >= the int8 threshold
(the smallest int8 level whose probability is >= ``threshold``; 1.0, above every int8 level, is
never reached): the probabilities become the
model's output and the remaining ops are skipped. Exits are numbered in graph order from 0; the
full network is the exit after the last one, so a model without exits always takes exit 0.
The numpy reference (reference.int8.run_int8) and the C (mcc_early_exit_s8) compare the same
integers, so which exit an input takes is bit-exact too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op

KIND = "early_exit"


@dataclass(frozen=True)
class ExitParams:
    index: int        # this exit's number (graph order, from 0)
    threshold: int    # taken when max(int8 probs) >= threshold (-128..128; 128: never)
    classes: int


def exit_count(graph: Graph) -> int:
    return sum(op.kind == KIND for op in graph.ops)


def int8_threshold(probability: float, scale: float, zero_point: int) -> int:
    """The smallest int8 q with scale * (q - zero_point) >= probability; 128 when no int8 value
    reaches it (the exit is never taken)."""
    q = math.ceil(round(probability / scale, 9)) + zero_point
    return int(min(max(q, -128), 128))


def exit_params(graph: Graph, op: Op, rounding: str = "tflm") -> ExitParams:
    threshold = float(op.attrs.get("threshold", -1.0))
    if not 0.0 <= threshold <= 1.0:
        raise McuError(f"early exit '{op.name}': threshold must be a probability in [0, 1], got {threshold}")
    x, probs, out = graph.tensor(op.inputs[0]), graph.tensor(op.inputs[1]), graph.output_tensor(op)
    final = graph.tensor(graph.outputs[0])
    if probs.size != final.size:
        raise McuError(f"early exit '{op.name}': its head gives {probs.size} values, the model output {final.size}")
    if probs.quant != final.quant or x.quant != out.quant:
        raise McuError(f"early exit '{op.name}': the head's output must be quantized as the model output "
                       "(a softmax), and the features pass through unchanged")
    index = [o.name for o in graph.ops if o.kind == KIND].index(op.name)
    return ExitParams(index, int8_threshold(threshold, float(probs.quant.scale[0]), int(probs.quant.zero_point[0])),
                      int(probs.size))


def taken(params: ExitParams, probs: np.ndarray) -> bool:
    return int(np.max(np.asarray(probs, np.int64))) >= params.threshold


def int8_reference(op: Op, params: ExitParams, args, out_shape, graph: Graph) -> np.ndarray:
    return np.asarray(args[0]).reshape(out_shape)  # the decision itself is run_int8's (taken)


def float_reference(graph: Graph, op: Op, x: np.ndarray, probs: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float32)


def lower(b, i: int, op: Op) -> None:
    g = b.graph
    x, probs, out = g.tensor(op.inputs[0]), g.tensor(op.inputs[1]), g.output_tensor(op)
    p = exit_params(g, op, b.rounding)
    b.call(op, "mcc_early_exit_s8", b.arena(probs.name), str(p.classes), str(p.threshold),
           b.arena(g.outputs[0]), exit_index=p.index)
    if b.offsets[x.name] != b.offsets[out.name]:
        b.call(op, "mcc_copy_s8", b.arena(x.name), b.arena(out.name), str(out.nbytes))
