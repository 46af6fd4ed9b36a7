"""TFLite/gemmlowp fixed-point arithmetic against values worked out by hand, and the C helpers
against the definitions."""

import shutil
import subprocess

import numpy as np
import pytest

from mcucompress.quantize import fixedpoint as fp
from mcucompress.quantize.params import quantize_multiplier_smaller_than_one_exp
from mcucompress.errors import McuError


@pytest.mark.parametrize("real, expected", [
    (0.5, (1 << 30, 0)),
    (1.0, (1 << 30, 1)),
    (0.75, (3 << 29, 0)),
    (3.0, (3 << 29, 2)),
    (0.0, (0, 0)),
    (2.0 ** -40, (0, 0)),  # below 2^-31: TFLite flushes it to zero
    (1.0 - 2.0 ** -40, (1 << 30, 1)),  # rounds up to 2^31, renormalized
])
def test_quantize_multiplier(real, expected):
    assert fp.quantize_multiplier(real) == expected


def test_quantize_multiplier_reconstructs_the_real_value():
    for real in (0.000123, 0.0417, 0.9999, 1.5, 37.25):
        m, s = fp.quantize_multiplier(real)
        assert (1 << 30) <= m < (1 << 31)
        assert abs(m * 2.0 ** (s - 31) - real) <= real * 2.0 ** -30


def test_saturating_rounding_doubling_high_mul():
    int32_min = -(1 << 31)
    assert fp.saturating_rounding_doubling_high_mul(int32_min, int32_min) == (1 << 31) - 1
    assert fp.saturating_rounding_doubling_high_mul(1 << 30, 1 << 30) == 1 << 29
    # 3 * 0.5 = 1.5 -> 2 and -3 * 0.5 = -1.5 -> -1: gemmlowp's nudge rounds halves upward.
    assert fp.saturating_rounding_doubling_high_mul(3, 1 << 30) == 2
    assert fp.saturating_rounding_doubling_high_mul(-3, 1 << 30) == -1


@pytest.mark.parametrize("x, exponent, expected", [
    (5, 1, 3), (-5, 1, -3), (4, 1, 2), (6, 2, 2), (-6, 2, -2), (7, 2, 2), (-7, 2, -2), (0, 3, 0),
])
def test_rounding_divide_by_pot_rounds_halves_away_from_zero(x, exponent, expected):
    assert fp.rounding_divide_by_pot(x, exponent) == expected


def test_double_and_single_rounding_differ_where_expected():
    # 1 * 0.75 * 2^-1 = 0.375: single rounding gives 0; double rounding first rounds
    # 0.75 -> 1 in the high multiply, then 0.5 -> 1 in the shift.
    assert fp.multiply_by_quantized_multiplier(1, 3 << 29, -1, "tflm") == 1
    assert fp.multiply_by_quantized_multiplier(1, 3 << 29, -1, "litert") == 0
    x = np.arange(-5000, 5000)
    exact = x * 0.3
    m, s = fp.quantize_multiplier(0.3)
    single = fp.multiply_by_quantized_multiplier(x, m, s, "litert")
    double = fp.multiply_by_quantized_multiplier(x, m, s, "tflm")
    assert np.abs(single - exact).max() <= 0.5 + 1e-9  # one rounding: nearest
    assert np.abs(double - exact).max() < 1.0  # two roundings can add up past one half
    assert np.count_nonzero(single != double) > 0


def test_multiplier_smaller_than_one():
    assert quantize_multiplier_smaller_than_one_exp(0.25) == (1 << 30, -1)
    with pytest.raises(McuError):
        quantize_multiplier_smaller_than_one_exp(1.5)


def test_exp_on_negative_values():
    assert fp.exp_on_negative_values(0) == (1 << 31) - 1
    a = np.arange(-31 * (1 << 26), 1, 12345)  # Q5.26 inputs in [-31, 0]
    got = fp.exp_on_negative_values(a) / 2.0 ** 31
    assert np.abs(got - np.exp(a / 2.0 ** 26)).max() < 1e-6
    # Monotonic: a larger (less negative) input never gives a smaller result.
    assert np.all(np.diff(fp.exp_on_negative_values(a)) >= 0)


def test_reciprocal():
    # sum = 1.0 in Q12.19 -> reciprocal 1.0 (saturated Q0.31) with no extra bits over unit.
    recip, bits = fp.get_reciprocal(1 << 19, 12)
    assert bits == 0 and abs(int(recip) - (1 << 31)) < 4
    for value in (1.5, 3.0, 10.0, 100.0, 4000.0):
        raw = int(value * (1 << 19))
        recip, bits = fp.get_reciprocal(raw, 12)
        assert abs(int(recip) / 2.0 ** 31 / 2.0 ** int(bits) - 1 / value) < 1e-8 / value * 100
    x = np.arange(0, (1 << 31) - 1, 1 << 21)
    got = fp.one_over_one_plus_x_for_x_in_0_1(x) / 2.0 ** 31
    assert np.abs(got - 1 / (1 + x / 2.0 ** 31)).max() < 1e-8


_C_HELPERS = r"""
#include <stdio.h>
#include <stdlib.h>
#include "mcc_nn.h"
int main(int argc, char **argv)
{
    long a, b, s;
    (void)argc; (void)argv;
    while (scanf("%ld %ld %ld", &a, &b, &s) == 3) {
        printf("%ld %ld %ld\n", (long)mcc_nn_doubling_high_mul((int32_t)a, (int32_t)b),
               (long)mcc_nn_divide_by_pot((int32_t)a, (int32_t)(s < 0 ? -s : s)),
               (long)mcc_nn_requantize((int32_t)a, (int32_t)(b > 0 ? b : -b), (int32_t)s));
    }
    return 0;
}
"""


def _gemmlowp_high_mul(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul from its definition: round(a * b / 2^31), halves
    rounded up in magnitude by the nudge, the one overflow (-1 * -1) saturated."""
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    total = a * b + ((1 << 30) if a * b >= 0 else 1 - (1 << 30))
    return abs(total) // (1 << 31) * (1 if total >= 0 else -1)  # C division: toward zero


def _gemmlowp_divide_by_pot(x: int, exponent: int) -> int:
    """RoundingDivideByPOT: x / 2^exponent rounded to nearest, halves away from zero."""
    floor, remainder = x >> exponent, x & ((1 << exponent) - 1)
    threshold = (((1 << exponent) - 1) >> 1) + (1 if x < 0 else 0)
    return floor + (1 if remainder > threshold else 0)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_the_c_fixed_point_helpers_follow_gemmlowp_definitions(tmp_path):
    """The C kernels' shared arithmetic (runtime_c/include/mcc_nn.h) against the definitions
    written out above, on the edges of int32 and random values: the saturating corner, the nudge
    of negative products, halves in the rounding shift, left shifts of TFLite's multipliers."""
    from mcucompress.resources import runtime_dir

    edges = [0, 1, -1, 2, -2, 3, -3, 0x7FFF, -0x8000, 0x10000, -0x10000, 0x3FFFFFFF, 0x40000000,
             0x7FFFFFFF, -0x7FFFFFFF, -(1 << 31), 1234567, -7654321]
    rng = np.random.default_rng(0)
    rows = [(a, b, s) for a in edges for b in edges for s in (0, -1, -5)]
    rows += [(int(a), int(b), int(s)) for a, b, s in zip(rng.integers(-(1 << 31), 1 << 31, 3000),
                                                          rng.integers(-(1 << 31), 1 << 31, 3000),
                                                          rng.integers(-31, 1, 3000))]
    # requantization proper: accumulators times multipliers in [2^30, 2^31), left shifts that fit
    rows += [(int(a), int(m), int(s)) for a, m, s in zip(rng.integers(-(1 << 20), 1 << 20, 3000),
                                                          rng.integers(1 << 30, (1 << 31) - 1, 3000),
                                                          rng.integers(-20, 8, 3000))]
    source = tmp_path / "helpers.c"
    source.write_text(_C_HELPERS)
    exe = tmp_path / "helpers"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{runtime_dir() / 'include'}",
                    str(source), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], input="".join(f"{a} {b} {s}\n" for a, b, s in rows),
                         capture_output=True, text=True, check=True).stdout.split("\n")
    for (a, b, s), line in zip(rows, out):
        multiplier, exponent = abs(b), -s if s < 0 else s
        want = [_gemmlowp_high_mul(a, b), _gemmlowp_divide_by_pot(a, exponent)]
        if multiplier < (1 << 31) and (s <= 0 or abs(a) < (1 << (31 - s))):  # no overflow (TFLite's assumption)
            shifted = a * (1 << max(s, 0))
            want.append(_gemmlowp_divide_by_pot(_gemmlowp_high_mul(shifted, multiplier), max(-s, 0)))
        got = [int(v) for v in line.split()]
        assert got[:len(want)] == want, (a, b, s, got, want)
    assert len(out) == len(rows) + 1
