"""Lowering of fully connected and conv2d layers whose weights carry an encoding (CSR, codebook,
Huffman; conv2d: CSR and codebook over its im2col weight matrix).

The dense lowerings in codegen/lower.py hand an op here when ``is_encoded(op)``: ops without
``attrs["weight_encoding"]`` (or with "dense") lower as dense; the others get their weights
encoded again here (encoding is deterministic) and call the matching runtime kernel with a
descriptor struct pointing at the encoded arrays. Integer parameters, requantization and arena
offsets are shared with the dense path, so the kernels' outputs are byte-identical to it.
"""

from __future__ import annotations

import numpy as np

from mcucompress.codegen import codebook_fast, csr_fast, csr_pair, int4_layout
from mcucompress.codegen.c_structs import struct_fields
from mcucompress.codegen.int4_layout import Int4Layer
from mcucompress.encode.choose import ATTR, encoded_weights
from mcucompress.errors import McuError
from mcucompress.ir.ops import op_kind
from mcucompress.memory.arena import scratch_name

# Fully connected kernels with a lean path for input offset 0 (the offset moves into the bias).
FOLDED = ("csr4", "csr8", "csr_seg", "csr_pair", "huffman", "huffman_sparse", "huffman_lut")
_PER_LINE = {"int8_t": 16, "uint8_t": 16, "int16_t": 12, "uint16_t": 12}


def _array(b, suffix: str, values: np.ndarray, ctype: str) -> str:
    """A const array in weights.c; C has no empty arrays, so an empty one holds a single 0."""
    values = np.asarray(values).ravel()
    if values.size == 0:
        values = np.zeros(1, dtype=values.dtype)
    return b.array(suffix, values, ctype)


def _huffman_table(b, oid: str, role: str, table) -> dict:
    if table is None:
        return {"counts": 0, "symbols": 0, "num_symbols": 0, "max_len": 0}
    return {"counts": _array(b, f"{oid}_{role}_counts", table.counts, "uint16_t"),
            "symbols": _array(b, f"{oid}_{role}_symbols", table.symbols, "int16_t"),
            "num_symbols": table.symbols.size, "max_len": table.max_len}


def _weights_struct(b, oid: str, ctype: str, data, **members) -> str:
    """Address of the weights' descriptor ``ctype``: each member mcc.h declares from ``members``
    or else from ``data``'s attribute of the same name; an array goes into weights.c as
    ``<oid>_<member>`` in the member's element type."""
    fields = {}
    for member_type, name in struct_fields()[ctype]:
        value = members[name] if name in members else getattr(data, name)
        fields[name] = _array(b, f"{oid}_{name}", value, member_type) if isinstance(value, np.ndarray) else value
    return b.struct(ctype, f"{oid}_weights", fields)


def _descriptor(b, oid: str, encoded) -> tuple[str, str]:
    """(kernel function, address of the weights' descriptor struct)."""
    d = encoded.data
    if encoded.kind in ("csr4", "csr8"):
        return "mcc_fully_connected_csr_s8", _weights_struct(b, oid, "mcc_csr_s8", d)
    if encoded.kind == "csr_seg":
        return "mcc_fully_connected_csr_seg_s8", _weights_struct(b, oid, "mcc_csr_seg_s8", d)
    if encoded.kind == "csr_pair":
        return csr_pair.KERNEL, _weights_struct(b, oid, "mcc_csr_pair_s8", d)
    if encoded.kind == "codebook":
        return "mcc_fully_connected_codebook_s8", _weights_struct(b, oid, "mcc_codebook_s8", d,
                                                                  index_bytes=d.indices.size)
    if encoded.kind == "huffman_lut":
        return "mcc_fully_connected_huffman_lut_s8", _weights_struct(b, oid, "mcc_huffman_lut_s8", d)
    if encoded.kind in ("huffman", "huffman_sparse"):
        # the tables' arrays follow the bit stream's in weights.c
        fields = {"bits": _array(b, f"{oid}_bits", d.bits, "uint8_t"), "num_bits": d.num_bits,
                  "values": _huffman_table(b, oid, "values", d.values),
                  "runs": _huffman_table(b, oid, "runs", d.runs)}
        return "mcc_fully_connected_huffman_s8", b.struct("mcc_huffman_s8", f"{oid}_weights", fields)
    raise McuError(f"no kernel for weight encoding '{encoded.kind}'")


def lower_fully_connected_encoded(b, i: int, op) -> None:
    g = b.graph
    x, w, bias, out = b.weighted(op)
    p = b.checked_params(op)
    if b.choices[i] is not None and isinstance(b.choices[i].layer, Int4Layer):
        int4_layout.lower(b, i, op, p, b.choices[i].layer)
        return
    if b.choices[i] is not None and not isinstance(b.choices[i].layer, csr_pair.CsrPairLayer):
        # codebook of 2- or 4-bit indices: the fast kernel
        codebook_fast.lower(b, i, op, p, b.choices[i].layer)
        return
    oid = f"op{i}_{op.kind}"
    units, depth = int(w.shape[0]), int(np.prod(w.shape[1:]))
    if x.size % depth:
        raise McuError(f"op '{op.name}': input of {x.size} values does not split into rows of {depth}")
    batches = x.size // depth
    encoded = encoded_weights(g, op)
    input_offset, bias_array = p.input_offset, None
    if encoded.kind in FOLDED:
        input_offset, bias_array = _fold_input_offset(p, w, bias)
    params = b.struct("mcc_fc_params", f"{oid}_params", p.c_fields() | {"input_offset": input_offset})
    quant = b.quant(oid, p) if encoded.kind != "huffman_lut" else None
    function, weights = _descriptor(b, oid, encoded)
    channels, extra = None, []
    if encoded.kind in ("csr_seg", "csr_pair", "huffman_lut"):  # the dense fast kernels' requantization when exact
        channels = csr_fast.channel_constants(g, op, p, b.rounding) if input_offset == 0 else None
        extra = ["0" if channels is None else b.array(f"{oid}_seg_channels", channels.reshape(-1), "int32_t")]
    if quant is None:  # huffman_lut reads no mcc_quant with channel constants: none in flash
        quant = "0" if channels is not None else b.quant(oid, p)
    if channels is not None:  # the bias is inside the channel constants
        bias_arg = "0"
    elif bias_array is None:
        bias_arg = b.constant(oid, "bias", bias)
    else:
        bias_arg = b.array(f"{oid}_bias", bias_array, "int32_t")
    b.call(op, function, params, quant, b.dims_of((batches, depth)), b.arena(x.name),
           b.dims_of((units, depth)), weights, bias_arg, *extra, b.dims_of((batches, units)), b.arena(out.name),
           *([f"(void *){b.arena(scratch_name(i))}"] if encoded.kind == "csr_pair" else []))


def _fold_input_offset(p, w, bias) -> tuple[int, np.ndarray | None]:
    """(input offset, bias) for the kernels' lean paths (FOLDED): with filter offset 0,
    sum (x + io) * w = sum x * w + io * sum w, so io * (row sum) moves into the bias and the
    kernel runs with input offset 0 - the same int32 accumulator. Unchanged if it would not fit."""
    if p.filter_offset != 0 or p.input_offset == 0:
        return p.input_offset, None
    rows = np.asarray(w.data, dtype=np.int64).reshape(w.shape[0], -1)
    folded = rows.sum(axis=1) * p.input_offset
    if bias is not None:
        folded = folded + np.asarray(bias.data, dtype=np.int64)
    if folded.min() < -(1 << 31) or folded.max() >= (1 << 31):
        return p.input_offset, None
    return 0, folded.astype(np.int32)


def lower_conv2d_encoded(b, i: int, op) -> None:
    g = b.graph
    x, w, bias, out = b.weighted(op)
    p = b.checked_params(op)
    fast = b.choices[i]
    if fast is not None and isinstance(fast.layer, Int4Layer):
        int4_layout.lower(b, i, op, p, fast.layer)
        return
    if fast is not None and fast.function != csr_fast.KERNEL:  # codebook of 2- or 4-bit indices
        codebook_fast.lower(b, i, op, p, fast.layer)
        return
    oid = f"op{i}_{op.kind}"
    if len(x.shape) != 4 or len(w.shape) != 4 or w.shape[-1] != x.shape[-1]:
        raise McuError(f"op '{op.name}' ({op.kind}): weights {w.shape} do not fit input {x.shape} "
                       "(grouped convolutions are not supported)")
    encoded = encoded_weights(g, op)
    params = b.struct("mcc_conv_params", f"{oid}_params", p.c_fields(depthwise=False))
    quant = b.quant(oid, p) if encoded.kind != "huffman_lut" else None
    function, weights = _descriptor(b, oid, encoded)
    function = function.replace("mcc_fully_connected_", "mcc_conv2d_")
    if function not in op_kind("conv2d").kernel_sources:
        raise McuError(f"op '{op.name}': no conv2d kernel for weight encoding '{encoded.kind}'")
    args = [params, quant, b.dims_of(x.shape), b.arena(x.name), b.dims_of(w.shape), weights,
            b.constant(oid, "bias", bias), b.dims_of(out.shape), b.arena(out.name)]
    if fast is not None:  # CSR walked for several pixels at a time, with its scratch
        function = fast.function
        channels = fast.layer.channels
        args.insert(7, "0" if channels is None else b.array(f"{oid}_csr_channels", channels.reshape(-1), "int32_t"))
        args.append(f"(void *){b.arena(scratch_name(i))}")
    b.call(op, function, *args)


def is_encoded(op) -> bool:
    """Whether op's weights carry an encoding other than dense (lowered here)."""
    return op.attrs.get(ATTR, "dense") != "dense"
