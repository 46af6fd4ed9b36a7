"""The two-instruction requantization (codegen/relu_requant.py) against TFLite's double rounding,
on every accumulator of a range, for channels drawn at random and for the edge cases: multipliers
with many trailing zeros (reachable ties), zero multipliers, the largest and smallest shifts."""

import numpy as np
import pytest

from mcucompress.codegen.relu_requant import (best_final_shift, relu_requant_reference,
                                              relu_requant_rows)
from mcucompress.quantize.fixedpoint import multiply_by_quantized_multiplier

ACC = np.arange(-(1 << 17), (1 << 17) + 1, dtype=np.int64)


def tflite(acc, multiplier, shift, zp, act_min, act_max):
    v = multiply_by_quantized_multiplier(acc, multiplier, shift, "tflm")
    return np.clip(v + zp, act_min, act_max)


def channels(seed, count=12):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        right = int(rng.integers(1, 14))
        multiplier = int(rng.integers(1 << 30, 1 << 31))
        if rng.random() < 0.3:  # a round multiplier: acc * M / 2^31 hits exact halves
            multiplier &= ~((1 << int(rng.integers(12, 29))) - 1)
            multiplier = max(multiplier, 1 << 30)
        zp = int(rng.integers(-128, 128))
        act_min = int(rng.integers(zp, 128)) if rng.random() < 0.5 else zp
        act_max = int(rng.integers(act_min, 128)) if rng.random() < 0.5 else 127
        yield multiplier, -right, zp, act_min, act_max


@pytest.mark.parametrize("seed", range(4))
def test_two_instructions_equal_tflite_on_every_accumulator(seed):
    for multiplier, shift, zp, act_min, act_max in channels(seed):
        right = -shift
        for final_shift in (right + 1, right + 4, right + 7):
            rows = relu_requant_rows([multiplier], [shift], zp, act_min, [1 << 17], final_shift)
            assert rows.ok.all(), (multiplier, shift, zp, act_min, final_shift)
            got = relu_requant_reference(ACC, multiplier, rows, act_min, act_max)
            want = tflite(ACC, multiplier, shift, zp, act_min, act_max)
            bad = np.flatnonzero(got != want)
            assert bad.size == 0, (multiplier, shift, zp, act_min, final_shift, ACC[bad[:3]])


def test_zero_multiplier_gives_the_clamped_zero_point():
    rows = relu_requant_rows([0], [-5], -128, -128, [1 << 17], 8)
    assert rows.ok.all()
    assert (relu_requant_reference(ACC, 0, rows, -128, 127) == -128).all()


def test_a_clamp_below_the_zero_point_is_refused_and_would_be_wrong():
    multiplier, shift, zp = 1_518_500_250, -7, 3
    rows = relu_requant_rows([multiplier], [shift], zp, -128, [1 << 17], 10)
    assert not rows.ok.any()
    forced = relu_requant_rows([multiplier], [shift], zp, zp, [1 << 17], 10)
    got = relu_requant_reference(ACC, multiplier, forced, -128, 127)
    want = tflite(ACC, multiplier, shift, zp, -128, 127)
    # negative accumulators at rounding ties come out one too high
    assert (got != want).any() and (got[ACC >= 0] == want[ACC >= 0]).all()


def test_limits_refuse_what_would_overflow_or_not_fit_int16_weights():
    m = [1 << 30]
    assert not relu_requant_rows(m, [-2], 0, 0, [100], 10).ok.any()      # j = 9 > 8
    assert not relu_requant_rows(m, [-10], 0, 0, [100], 10).ok.any()     # j = 1 < 2
    assert relu_requant_rows(m, [-3], 0, 0, [(1 << 23) - 1], 10).ok.all()  # j = 8
    assert not relu_requant_rows(m, [-3], 0, 0, [1 << 23], 10).ok.any()  # 2^8 * bound overflows
    assert not relu_requant_rows(m, [1], 0, 0, [100], 10).ok.any()       # a left shift


def test_best_final_shift_covers_the_heaviest_shifts():
    shifts = [-6, -7, -12, -13, -20]
    assert best_final_shift(shifts, [1, 1, 1, 1, 0]) in (13, 14)
    assert best_final_shift(shifts, [0, 0, 0, 0, 5]) in range(21, 28)
