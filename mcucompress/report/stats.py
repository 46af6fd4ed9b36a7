"""Per-layer statistics of a Keras model, grouped by original layer.

A factorized layer (see compression/lowrank.py) appears as '<name>_lr' + '<name>'; both are
reported together under '<name>' with the rank. Statistics count the main kernel; "params"
counts every weight of the layer (kernel, bias, batch-norm statistics...).

bits_per_weight is what one stored kernel weight needs: the codebook index width
ceil(log2(distinct non-zero values)) when the kernel has at most 256 distinct non-zero values
(clustered) and a float32 codebook plus indices is smaller than floats, otherwise 32. storage_bytes is the smaller of dense storage and CSR
(values + column indices of ceil(log2(columns)) bits + 32-bit row pointers), plus a float32
codebook when clustered and float32 biases.
"""

from __future__ import annotations

import math

import numpy as np

from mcucompress.compression.layers import kernel_of, to_numpy

LOWRANK_SUFFIX = "_lr"


def _bits(distinct_nonzero: int, nonzero: int) -> int:
    """Codebook index width when a codebook (float32 entries) is cheaper than floats, else 32."""
    if distinct_nonzero <= 256:
        index_bits = max(1, math.ceil(math.log2(max(distinct_nonzero, 1))))
        if distinct_nonzero * 32 + nonzero * index_bits < nonzero * 32:
            return index_bits
    return 32


def kernel_stats(kernel: np.ndarray) -> dict:
    flat = kernel.reshape(-1)
    nonzero = int(np.count_nonzero(flat))
    distinct_nonzero = len(np.unique(flat[flat != 0]))
    bits = _bits(distinct_nonzero, nonzero)
    matrix = kernel.reshape(-1, kernel.shape[-1]) if kernel.ndim > 1 else kernel.reshape(1, -1)
    rows, cols = matrix.shape
    dense_bits = flat.size * bits
    csr_bits = nonzero * (bits + max(1, math.ceil(math.log2(cols)))) + (rows + 1) * 32
    codebook_bits = distinct_nonzero * 32 if bits < 32 else 0
    return {
        "kernel_params": int(flat.size),
        "nonzero": nonzero,
        "sparsity": 1.0 - nonzero / max(flat.size, 1),
        "distinct_values": int(len(np.unique(flat))),
        "bits_per_weight": bits,
        "kernel_bytes": (min(dense_bits, csr_bits) + codebook_bits) / 8.0,
    }


def _merge(first: dict, second: dict) -> dict:
    merged = {key: first[key] + second[key] for key in ("params", "kernel_params", "nonzero", "storage_bytes")}
    merged["sparsity"] = 1.0 - merged["nonzero"] / max(merged["kernel_params"], 1)
    merged["distinct_values"] = max(first["distinct_values"], second["distinct_values"])
    merged["bits_per_weight"] = max(first["bits_per_weight"], second["bits_per_weight"])
    return merged


def layer_stats(model) -> dict[str, dict]:
    """Original layer name -> {type, params, kernel_params, nonzero, sparsity, distinct_values,
    bits_per_weight, rank, storage_bytes} for every layer with weights."""
    rows: dict[str, dict] = {}
    for layer in model.layers:
        if not layer.weights:
            continue
        params = int(sum(int(np.prod(w.shape)) for w in layer.weights))
        kernel = kernel_of(layer)
        if kernel is not None:
            stats = kernel_stats(to_numpy(kernel))
        else:
            stats = {"kernel_params": 0, "nonzero": 0, "sparsity": 0.0, "distinct_values": 0,
                     "bits_per_weight": 32, "kernel_bytes": 0.0}
        # integer weights (the codes of a product-quantized layer) take a byte each
        integers = sum(int(np.prod(w.shape)) for w in layer.weights if "int" in str(w.dtype))
        other_bytes = (params - stats["kernel_params"] - integers) * 4 + integers
        row = {"type": layer.__class__.__name__, "params": params, **stats,
               "storage_bytes": stats.pop("kernel_bytes") + other_bytes, "rank": None}
        rows[layer.name] = row
    grouped: dict[str, dict] = {}
    for name, row in rows.items():
        if name.endswith(LOWRANK_SUFFIX) and name[: -len(LOWRANK_SUFFIX)] in rows:
            continue
        factor = rows.get(name + LOWRANK_SUFFIX)
        if factor is not None:
            merged = _merge(factor, row)
            layer = model.get_layer(name + LOWRANK_SUFFIX)
            merged.update(type=row["type"], rank=int(layer.kernel.shape[-1]))
            row = merged
        grouped[name] = row
    return grouped


def model_totals(stats: dict[str, dict]) -> dict:
    params = sum(row["params"] for row in stats.values())
    kernel_params = sum(row["kernel_params"] for row in stats.values())
    nonzero = sum(row["nonzero"] for row in stats.values())
    return {"params": params, "kernel_params": kernel_params, "nonzero": nonzero,
            "sparsity": 1.0 - nonzero / max(kernel_params, 1),
            "storage_bytes": sum(row["storage_bytes"] for row in stats.values())}
