"""Weight matrices stored as shared values: hashed (HashedNets) and product-quantized layers.

Both expand to an ordinary (units, in_features) fully connected weight matrix; this module is the
one definition of that expansion, read by the Keras layers that train them
(compression/shared_weights.py), the numpy references (quantize/shared_fc.py) and, line by
line, the C kernels (runtime_c/shared/).

Hashed (Chen et al. 2015, "Compressing Neural Networks with the Hashing Trick"): weight (r, c)
is ``sign(r, c) * values[bucket(r, c)]`` for K shared values. The hash of the flat position
``i = r * in_features + c`` is a multiply-xorshift in uint32 arithmetic, a few instructions on a
Cortex-M::

    h = (i + seed) * 0x9E3779B1;  h ^= h >> 15
    h = h * 0x85EBCA77;           h ^= h >> 13
    bucket = (h * K) >> 32        (64-bit product: one UMULL)
    sign   = -1 if h & 1 else +1

When the int8 values take at most 16 distinct values (the ``cluster`` pass applied to a hashed
layer), the device stores each bucket as a 1-, 2- or 4-bit index into a codebook instead of a
byte (``packed_bucket_indices``): bucket b's index is bits [b*n mod 8, +n) of byte b*n / 8.

Product quantization (Gong et al. 2014, "Compressing Deep Convolutional Networks using Vector
Quantization"): the input is cut into S sub-vectors of length d (in_features = S * d); row r's
weights over sub-vector s are centroid ``codes[r, s]`` of codebook s: ``codebooks[s, codes[r, s]]``
(codebooks of shape (S, K, d)).
"""

from __future__ import annotations

import numpy as np

from mcucompress.errors import McuError

HASH_MULTIPLIERS = (0x9E3779B1, 0x85EBCA77)
PQ_MAX_CENTROIDS = 64  # codewords per sub-space the device kernel takes (quantize/shared_fc.py)
_MASK32 = np.uint64(0xFFFFFFFF)


def weight_hash(positions: np.ndarray, seed: int) -> np.ndarray:
    """The uint32 hash of flat weight positions (any integer array)."""
    h = ((np.asarray(positions, dtype=np.uint64) + np.uint64(seed & 0xFFFFFFFF)) & _MASK32)
    h = (h * np.uint64(HASH_MULTIPLIERS[0])) & _MASK32
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(HASH_MULTIPLIERS[1])) & _MASK32
    h ^= h >> np.uint64(13)
    return h


def hashed_layout(units: int, in_features: int, buckets: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(bucket index int64, sign +-1 int8), both (units, in_features): where each weight lives."""
    if buckets < 1 or buckets > 0xFFFFFFFF:
        raise McuError(f"a hashed layer needs 1 to 2^32 - 1 buckets, got {buckets}")
    if units * in_features >= 1 << 32:
        raise McuError(f"a hashed layer of {units} x {in_features} weights is too large (positions are 32-bit)")
    h = weight_hash(np.arange(units * in_features, dtype=np.uint64), seed)
    index = ((h * np.uint64(buckets)) >> np.uint64(32)).astype(np.int64)
    sign = np.where(h & np.uint64(1), -1, 1).astype(np.int8)
    return index.reshape(units, in_features), sign.reshape(units, in_features)


def hashed_matrix(values: np.ndarray, units: int, in_features: int, seed: int) -> np.ndarray:
    """The (units, in_features) weights of a hashed layer with shared ``values`` (K,), in their dtype
    (int8 values stay int8: they are symmetric, so negation stays in range)."""
    values = np.asarray(values)
    index, sign = hashed_layout(units, in_features, int(values.size), seed)
    return (values[index] * sign).astype(values.dtype)


PACKED_INDEX_BITS = (1, 2, 4)  # index widths the hashed kernel reads; a field never straddles a byte


def packed_bucket_indices(values: np.ndarray) -> tuple[int, np.ndarray, np.ndarray] | None:
    """(index bits, codebook int8 (2^bits,), packed indices uint8) of int8 bucket values with at
    most 16 distinct values, bucket b's index in bits [(b*bits) % 8, +bits) of byte b*bits // 8;
    None when the values take more distinct values than 4-bit indices hold."""
    values = np.asarray(values).reshape(-1)
    distinct, indices = np.unique(values, return_inverse=True)
    bits = next((b for b in PACKED_INDEX_BITS if distinct.size <= 1 << b), None)
    if bits is None:
        return None
    codebook = np.zeros(1 << bits, values.dtype)
    codebook[:distinct.size] = distinct
    per_byte = 8 // bits
    fields = np.zeros(-(-values.size // per_byte) * per_byte, np.uint16)
    fields[:values.size] = indices
    shifts = (np.arange(fields.size) % per_byte * bits).astype(np.uint16)
    packed = np.bitwise_or.reduce((fields << shifts).reshape(-1, per_byte), axis=1).astype(np.uint8)
    return bits, codebook, packed


def pq_matrix(codebooks: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The (units, S * d) weights of a product-quantized layer: codebooks (S, K, d), codes (units, S)."""
    codebooks, codes = np.asarray(codebooks), np.asarray(codes, dtype=np.int64)
    subspaces, centroids, _ = codebooks.shape
    if codes.ndim != 2 or codes.shape[1] != subspaces:
        raise McuError(f"product-quantized codes of shape {codes.shape} do not match {subspaces} sub-vectors")
    if codes.size and (codes.min() < 0 or codes.max() >= centroids):
        raise McuError(f"product-quantized codes must lie in [0, {centroids})")
    rows = codebooks[np.arange(subspaces)[None, :], codes]  # (units, S, d)
    return rows.reshape(codes.shape[0], -1)
