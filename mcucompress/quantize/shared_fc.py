"""Fully connected layers with shared weights: fully_connected_hashed and fully_connected_pq.

Graph form (weights expand as ir/shared_weights.py defines):

  fully_connected_hashed  inputs (x, values (K,), bias|None)            seed, activation
  fully_connected_pq      inputs (x, codebooks (S, K, d), bias|None, codes (units, S))  activation

int8 arithmetic: the shared values are symmetric int8 with ONE scale for the whole tensor (PTQ,
``OpKind.shared_weights``), so the expanded matrix is an ordinary int8 weight matrix with a
per-tensor scale and the layer computes exactly the dense layer's integers
(quantize/params.py FullyConnectedParams, filter offset 0)::

    acc[o] = bias[o] + sum_i (x[i] + input_offset) * w[o, i]          (int32)
    out[o] = clamp(MBQM(acc[o], multiplier, shift) + output_offset)    (one requantization)

The hashed kernel recomputes w[o, i] = sign * values[bucket] from the hash of o * in + i; values
that take at most 16 distinct int8 values (a clustered hashed layer) are stored as 1/2/4-bit
indices into a codebook, whenever that is smaller (the same integers, fewer bytes). The PQ
kernel first fills a table of int32 partial sums, one per sub-space s and codeword k::

    table[s, k] = sum_j (x[s*d + j] + input_offset) * codebooks[s, k, j]

then acc[o] = bias[o] + sum_s table[s, codes[o, s]]: the same sum regrouped, so the same int32
(no intermediate can overflow where the dense sum does not: each partial sum is part of it).
The numpy references below expand the matrix and run the dense reference; tests check the C
kernels against them byte for byte and against an independent table model.
"""

from __future__ import annotations

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op
from mcucompress.ir.ops import op_kind
from mcucompress.ir.shared_weights import PQ_MAX_CENTROIDS, hashed_matrix, packed_bucket_indices, pq_matrix
from mcucompress.memory.arena import scratch_name


def _dense(role: str):
    return op_kind("fully_connected").resolve(role)


def _units(graph: Graph, op: Op) -> int:
    return int(graph.output_tensor(op).shape[-1])


def _in_features(graph: Graph, op: Op) -> int:
    return int(graph.tensor(op.inputs[0]).size // graph.tensor(op.inputs[0]).shape[0])


def hashed_weights(graph: Graph, op: Op, values: np.ndarray) -> np.ndarray:
    return hashed_matrix(values, _units(graph, op), _in_features(graph, op), int(op.attrs.get("seed", 0)))


def pq_weights(graph: Graph, op: Op, codebooks: np.ndarray) -> np.ndarray:
    codes = graph.tensor(op.inputs[3]).data
    w = pq_matrix(codebooks, codes)
    if w.shape != (_units(graph, op), _in_features(graph, op)):
        raise McuError(f"op '{op.name}' ({op.kind}): codebooks and codes give weights of shape {w.shape}")
    return w


# -- float and int8 references ----------------------------------------------------------------

def hashed_float(graph: Graph, op: Op, x, values, bias):
    return _dense("float_reference")(graph, op, x, hashed_weights(graph, op, values), bias)


def pq_float(graph: Graph, op: Op, x, codebooks, bias, codes=None):
    return _dense("float_reference")(graph, op, x, pq_weights(graph, op, codebooks), bias)


def hashed_reference(op: Op, p, args, out_shape, graph: Graph) -> np.ndarray:
    x, values, bias = (list(args) + [None])[:3]
    return _dense("reference")(op, p, [x, hashed_weights(graph, op, values), bias], out_shape, graph)


def pq_reference(op: Op, p, args, out_shape, graph: Graph) -> np.ndarray:
    x, codebooks, bias = (list(args) + [None])[:3]
    return _dense("reference")(op, p, [x, pq_weights(graph, op, codebooks), bias], out_shape, graph)


MAX_CENTROIDS = PQ_MAX_CENTROIDS  # four sub-spaces' codes share one byte range (device_codes)


def device_codes(codes: np.ndarray, centroids: int) -> np.ndarray:
    """The codes as mcc_fully_connected_pq_s8 reads them: sub-space s's code plus (s mod 4) *
    centroids, its entry counted from the first table entry of its group of four sub-spaces
    (so one pointer serves four lookups); one byte each, as 4 * centroids <= 256."""
    codes = np.asarray(codes, dtype=np.int64)
    return (codes + (np.arange(codes.shape[1]) % 4 * centroids)[None, :]).astype(np.uint8)


def pq_table_bytes(graph: Graph, op: Op) -> int:
    """Arena scratch of mcc_fully_connected_pq_s8: one int32 per sub-space and codeword."""
    subspaces, centroids, _ = graph.tensor(op.inputs[1]).shape
    return 4 * int(subspaces) * int(centroids)


# -- lowering to C (the kinds are registered in ir/ops.py) -------------------------------------

def _common(b, i: int, op: Op):
    """(op id, params struct, quant struct, input/filter/output dims, input, bias, output) of the call."""
    from mcucompress.quantize.params import kernel_params

    g = b.graph
    x, out = g.tensor(op.inputs[0]), g.output_tensor(op)
    bias = g.tensor(op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] is not None else None
    p = kernel_params(g, op, b.rounding)
    b.check_rounding(op, p)
    units, depth = _units(g, op), _in_features(g, op)
    batches = x.size // depth
    oid = f"op{i}_{op.kind}"
    params = b.struct("mcc_fc_params", f"{oid}_params", p.c_fields())
    return (oid, params, b.quant(oid, p), b.dims_of((batches, depth)), b.arena(x.name), b.dims_of((units, depth)),
            b.constant(oid, "bias", bias), b.dims_of((batches, units)), b.arena(out.name))


def lower_hashed(b, i: int, op: Op) -> None:
    oid, params, quant, in_dims, x, w_dims, bias, out_dims, out = _common(b, i, op)
    values = b.graph.tensor(op.inputs[1])
    fields = {"buckets": values.size, "seed": f"{int(op.attrs.get('seed', 0)) & 0xFFFFFFFF}u"}
    packed = packed_bucket_indices(values.data)
    if packed is not None and packed[2].size + packed[1].size < values.size:
        bits, codebook, indices = packed
        fields.update(values="0", index_bits=bits, indices=b.array(f"{oid}_indices", indices, "uint8_t"),
                      codebook=b.array(f"{oid}_codebook", codebook, "int8_t"))
    else:
        fields.update(values=b.constant(oid, "values", values), index_bits=0, indices="0", codebook="0")
    filt = b.struct("mcc_hashed_s8", f"{oid}_filter", fields)
    b.call(op, "mcc_fully_connected_hashed_s8", params, quant, in_dims, x, w_dims, filt, bias, out_dims, out)


def lower_pq(b, i: int, op: Op) -> None:
    oid, params, quant, in_dims, x, w_dims, bias, out_dims, out = _common(b, i, op)
    g = b.graph
    codebooks, codes = g.tensor(op.inputs[1]), g.tensor(op.inputs[3])
    subspaces, centroids, length = codebooks.shape
    if centroids > MAX_CENTROIDS:
        raise McuError(f"op '{op.name}' ({op.kind}): {centroids} codewords per sub-space; the C kernel takes "
                       f"at most {MAX_CENTROIDS}")
    pq_weights(g, op, codebooks.data)  # codes in range and shapes consistent: the kernel trusts them
    code_array = b.array(f"{oid}_codes", device_codes(codes.data, centroids), "uint8_t")
    filt = b.struct("mcc_pq_s8", f"{oid}_filter",
                    {"subspaces": subspaces, "centroids": centroids, "length": length,
                     "codebooks": b.constant(oid, "codebooks", codebooks), "codes": code_array})
    table = f"(int32_t *)(void *){b.arena(scratch_name(i))}"
    b.call(op, "mcc_fully_connected_pq_s8", params, quant, in_dims, x, w_dims, filt, bias, out_dims, out, table)
