"""Requantization in two instructions (SMMLA, then SSAT with a fixed shift) for channels whose
activation clamps at or above the output zero point (ReLU, ReLU6 and the like).

TFLite's requantization of an accumulator ``acc`` with (multiplier M, right shift r >= 1) is two
roundings: I = round(acc * M / 2^31), then round(I / 2^r), both halves away from zero. For
acc >= 0 the two nest into one floor:

    q = floor((acc * M + 2^30 + 2^(30 + r)) / 2^(31 + r))

and for acc < 0 TFLite's q is <= 0, so the output q + zp is <= zp: a channel whose clamp starts
at or above zp (``act_min >= output_offset``) turns every negative accumulator into act_min
whichever way it rounds. On such a channel the floor above is exact over every int32 accumulator.

The fast kernels compute it as

    Y   = SMMLA(acc * 2^j, M, round)       # round + floor(acc * 2^j * M / 2^32)
    out = SSAT(8, Y ASR final_shift)       # then the clamp, when narrower than int8

with the weights and the folded bias stored scaled by 2^j (int16 weights: j <= 8) and
final_shift = r + j - 1, the same for every channel of every layer that uses it (it is an
immediate of SSAT), round = 2^(j-2) * (1 + 2^r) + zp * 2^final_shift (j >= 2 so that it is an
integer). Today's four instructions (SMMLAR, the sign's ADD, a per-channel ASR, SSAT) become two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INT32_MAX = 2**31 - 1
MAX_WEIGHT_BITS = 8   # int8 weights scaled by 2^j stay int16 for j <= 8
MIN_WEIGHT_BITS = 2   # round is an integer from j = 2


@dataclass(frozen=True)
class ReluRequant:
    """Per channel: the weight scale exponent j, the SMMLA addend ``round``, and whether the
    channel can use it (``ok``); ``final_shift`` is shared."""

    weight_bits: np.ndarray   # int64 j per channel
    round: np.ndarray         # int64 per channel
    ok: np.ndarray            # bool per channel
    final_shift: int


def relu_requant_rows(multiplier, shift, output_offset: int, act_min: int, acc_bound,
                      final_shift: int) -> ReluRequant:
    """The two-instruction constants of each channel for ``final_shift``. ``acc_bound``: per
    channel, a bound on |partial sum| of the accumulator with the folded bias (before scaling).
    A channel is usable when its activation clamps at or above the zero point, its right shift
    r gives j = final_shift - r + 1 in [2, 8], and 2^j * acc_bound, round and Y fit int32."""
    mult = np.asarray(multiplier, dtype=np.int64).reshape(-1)
    right = -np.broadcast_to(np.asarray(shift, dtype=np.int64).reshape(-1), mult.shape)
    bound = np.broadcast_to(np.asarray(acc_bound, dtype=np.int64).reshape(-1), mult.shape)
    j = final_shift - right + 1
    ok = (int(act_min) >= int(output_offset)) & (right >= 1) & (mult >= 0) & (mult <= INT32_MAX)
    ok &= (j >= MIN_WEIGHT_BITS) & (j <= MAX_WEIGHT_BITS)
    safe_j = np.clip(j, MIN_WEIGHT_BITS, MAX_WEIGHT_BITS)
    safe_r = np.clip(right, 1, 30)
    ok &= (bound << safe_j) <= INT32_MAX
    rnd = (np.int64(1) << (safe_j - 2)) * (1 + (np.int64(1) << safe_r)) + int(output_offset) * (np.int64(1) << final_shift)
    # |floor(acc * 2^j * M / 2^32)| <= 2^30: Y = round + that must not wrap
    ok &= np.abs(rnd) + (1 << 30) <= INT32_MAX
    return ReluRequant(safe_j, rnd, ok, int(final_shift))


def best_final_shift(shift, weight) -> int:
    """The final shift that lets the most weight (e.g. output counts) of channels use the two
    instructions when each channel's right shift r must lie in [final_shift - 7, final_shift - 1]
    (other limits aside). ``shift``, ``weight``: per channel."""
    right = -np.asarray(shift, dtype=np.int64).reshape(-1)
    w = np.broadcast_to(np.asarray(weight, dtype=np.float64).reshape(-1), right.shape)
    best, best_weight = MAX_WEIGHT_BITS, -1.0
    for h in range(2, 31):
        covered = float(w[(right >= h - MAX_WEIGHT_BITS + 1) & (right <= h - MIN_WEIGHT_BITS + 1)].sum())
        if covered > best_weight:
            best, best_weight = h, covered
    return best


def relu_requant_reference(acc, multiplier, rows: ReluRequant, act_min: int, act_max: int) -> np.ndarray:
    """What SMMLA, SSAT and the clamp compute (numpy, per channel on the last axis): for tests."""
    scaled = np.asarray(acc, dtype=np.int64) << rows.weight_bits
    y = rows.round + ((scaled * np.asarray(multiplier, dtype=np.int64)) >> 32)
    return np.clip(y >> rows.final_shift, max(-128, act_min), min(127, act_max))
