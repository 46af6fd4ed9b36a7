"""Binary / ternary XNOR-popcount kernels: the numpy reference against plain integer maths, and
the host-compiled C (strict warnings) against the reference byte for byte, with channel counts
that are not multiples of 32, zero padding, strides, and every popcount routine."""

import numpy as np
import pytest

from mcucompress.binary import constructors
from mcucompress.binary.packing import bytes_to_words, pack_bits, unpack_bits, words_for, words_to_bytes
from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, QuantParams, Tensor
from mcucompress.reference.int8 import run_int8

from codegen_cases import check_c_matches_reference


def test_packing_round_trips_and_puts_channel_c_at_word_c_div_32():
    rng = np.random.default_rng(1)
    bits = rng.random((3, 70)) < 0.5
    words = pack_bits(bits)
    assert words.shape == (3, 3) and words.dtype == np.uint32
    assert np.array_equal(unpack_bits(words, 70), bits)
    assert np.all(words[:, 2] >> np.uint32(6) == 0)  # unused high bits stay 0
    one = np.zeros(70, bool)
    one[33] = True
    assert pack_bits(one).tolist() == [0, 2, 0]
    assert np.array_equal(bytes_to_words(words_to_bytes(words)), words)


def _signs(rng, shape, ternary):
    values = rng.choice([-1, 0, 1] if ternary else [-1, 1], size=shape)
    return values.astype(np.int64)


def _levels(rng, shape, bits):
    """Odd integer weight levels of k-bit (DoReFa) weights."""
    return 2 * rng.integers(0, 2 ** bits, size=shape) - (2 ** bits - 1)


def _pack_flat_levels(levels, bits):
    """(units, pixels, c) levels -> rows of k planes, each plane packed per pixel (flattened FC)."""
    units = levels.shape[0]
    q = (levels + 2 ** bits - 1) // 2
    return np.concatenate([pack_bits((q >> b) & 1).reshape(units, -1) for b in range(bits)], axis=-1)


@pytest.mark.parametrize("kind", ["binary", "ternary", "planes3"])
def test_reference_fc_equals_the_plain_dot_product(kind):
    rng = np.random.default_rng(2)
    n, units = 77, 35
    ternary, planes = kind == "ternary", 3 if kind == "planes3" else 1
    a = _signs(rng, n, False)
    w = _levels(rng, (units, n), 3) if planes > 1 else _signs(rng, (units, n), ternary)
    packed = constructors.pack_levels(w, 3) if planes > 1 else constructors.pack_weights(w, ternary)
    thr = rng.integers(-8, 9, units) * planes
    x = Tensor("x", (1, 4 * words_for(n)), "int8", constructors.PACKED_QUANT)
    y = constructors.packed_tensor("y", (1,), units)
    graph = Graph({"x": x, "w": constructors.weights_tensor("w", packed),
                   "t": constructors.thresholds_tensor("t", thr), "y": y},
                  (constructors.fc_op("fc", "x", "w", "t", "y", n, ternary, "csa", planes),), ("x",), ("y",))
    out = run_int8(graph, words_to_bytes(pack_bits(a > 0))[None])
    expected = (w @ a) >= thr
    assert 0 < expected.sum() < units
    assert np.array_equal(unpack_bits(bytes_to_words(out)[0], units), expected)


def test_reference_conv_equals_zero_padded_convolution():
    rng = np.random.default_rng(3)
    h, wd, cin, cout, k = 6, 5, 37, 33, 3
    a = _signs(rng, (h, wd, cin), False)
    w = _signs(rng, (cout, k, k, cin), True)
    thr = rng.integers(-10, 11, cout)
    stride, pad = (2, 1), (1, 1, 1, 0)
    oh, ow = (h + 2 - k) // 2 + 1, (wd + 1 - k) // 1 + 1
    x = constructors.packed_tensor("x", (1, h, wd), cin)
    y = constructors.packed_tensor("y", (1, oh, ow), cout)
    graph = Graph({"x": x, "w": constructors.weights_tensor("w", constructors.pack_weights(w, True)),
                   "t": constructors.thresholds_tensor("t", thr), "y": y},
                  (constructors.conv_op("conv", "x", "w", "t", "y", cin, stride, pad, True, "swar"),),
                  ("x",), ("y",))
    out = run_int8(graph, words_to_bytes(pack_bits(a > 0))[None])
    padded = np.zeros((h + 2, wd + 1, cin), np.int64)
    padded[1:1 + h, 1:1 + wd] = a
    expected = np.zeros((oh, ow, cout), bool)
    for oy in range(oh):
        for ox in range(ow):
            patch = padded[oy * 2:oy * 2 + k, ox:ox + k]
            expected[oy, ox] = np.einsum("ykc,oykc->o", patch, w) >= thr
    assert np.array_equal(unpack_bits(bytes_to_words(out)[0], cout), expected)


def _pipeline(rng, popcount: str) -> Graph:
    """int8 -> binarize -> 2-bit conv (stride, padding) -> ternary conv -> flatten -> 3-bit FC
    -> ternary FC -> binary FC -> unpack to +-1 int8: every kernel and weight kind, odd channel
    counts."""
    h, wd, c0, c1, c2, u1, u2, u3 = 7, 6, 37, 45, 33, 71, 29, 40
    t = {}
    t["x"] = Tensor("x", (1, h, wd, c0), "int8", QuantParams((0.05,), (3,)))
    t["b0"] = constructors.packed_tensor("b0", (1, h, wd), c0)
    t["b1"] = constructors.packed_tensor("b1", (1, 4, 6), c1)        # 3x3, stride (2, 1), pad 1 all round
    t["b2"] = constructors.packed_tensor("b2", (1, 2, 4), c2)        # 3x3, valid
    flat_words = 2 * 4 * words_for(c2)
    t["f"] = Tensor("f", (1, 4 * flat_words), "int8", constructors.PACKED_QUANT)
    t["b3"] = constructors.packed_tensor("b3", (1,), u1)
    t["b4"] = constructors.packed_tensor("b4", (1,), u2)
    t["b5"] = constructors.packed_tensor("b5", (1,), u3)
    t["y"] = Tensor("y", (1, u3), "int8", constructors.PACKED_QUANT)
    w1, w2 = _levels(rng, (c1, 3, 3, c0), 2), _signs(rng, (c2, 3, 3, c1), True)
    w3 = _levels(rng, (u1, 2 * 4, c2), 3)  # per-pixel packing, as flattened
    w4, w5 = _signs(rng, (u2, u1), True), _signs(rng, (u3, u2), False)
    t["w1"] = constructors.weights_tensor("w1", constructors.pack_levels(w1, 2))
    t["w2"] = constructors.weights_tensor("w2", constructors.pack_weights(w2, True))
    t["w3"] = constructors.weights_tensor("w3", _pack_flat_levels(w3, 3))
    t["w4"] = constructors.weights_tensor("w4", constructors.pack_weights(w4, True))
    t["w5"] = constructors.weights_tensor("w5", constructors.pack_weights(w5))
    for name, n, fan in (("t1", c1, 9 * c0 * 4), ("t2", c2, 9 * c1), ("t3", u1, 8 * c2 * 16),
                         ("t4", u2, u1), ("t5", u3, u2)):
        spread = int(np.sqrt(fan))
        t[name] = constructors.thresholds_tensor(name, rng.integers(-spread, spread + 1, n))
    from mcucompress.ir.graph import Op
    ops = (constructors.binarize_op("bin", "x", "b0", 3),
           constructors.conv_op("c1", "b0", "w1", "t1", "b1", c0, (2, 1), (1, 1, 1, 1), False, popcount, 2),
           constructors.conv_op("c2", "b1", "w2", "t2", "b2", c1, (1, 1), (0, 0, 0, 0), True, popcount),
           Op("reshape", "flat", ("b2",), ("f",), {}),
           constructors.fc_op("f3", "f", "w3", "t3", "b3", 2 * 4 * c2, False, popcount, 3),
           constructors.fc_op("f4", "b3", "w4", "t4", "b4", u1, True, popcount),
           constructors.fc_op("f5", "b4", "w5", "t5", "b5", u2, False, popcount),
           constructors.unpack_op("out", "b5", "y"))
    return Graph(t, ops, ("x",), ("y",), name=f"binary_{popcount}")


@pytest.mark.parametrize("popcount", ["swar", "table", "csa", "vertical"])
def test_c_kernels_match_the_reference_byte_for_byte(tmp_path, popcount):
    graph = _pipeline(np.random.default_rng(4), popcount)
    out = check_c_matches_reference(tmp_path, graph, "tflm", samples=4)
    assert set(np.unique(out)) == {-1, 1}
    # Inputs differ, so must the outputs (the kernels really read their inputs).
    assert len({row.tobytes() for row in out}) == len(out)


def test_generated_weights_are_packed_words(tmp_path):
    from mcucompress.export import export
    tree = export(_pipeline(np.random.default_rng(5), "csa"), tmp_path / "t", prefix="bnn")
    weights = (tree / "weights.c").read_text()
    assert "const uint32_t bnn_op1_binary_conv2d_weights[" in weights
    assert (tree / "runtime" / "binary" / "mcc_b1.h").is_file()
    assert "mcc_fully_connected_b1(" in (tree / "model.c").read_text()


def test_bad_binary_ops_are_one_line_errors():
    graph = _pipeline(np.random.default_rng(6), "csa")
    bad = graph.replace(ops=tuple(op.with_attrs(popcount="vcnt") if op.name == "f3" else op
                                  for op in graph.ops))
    with pytest.raises(McuError, match="unknown popcount 'vcnt'"):
        run_int8(bad, np.zeros((1, 7, 6, 37), np.int8))
    with pytest.raises(McuError, match="zeros need ternary"):
        constructors.pack_weights(np.array([[1, 0, -1]]))


def _wide_fc(rng, n: int, units: int, threshold: int) -> Graph:
    """int8 -> binarize(threshold) -> binary FC (n -> units, vertical counting) -> unpack."""
    t = {"x": Tensor("x", (1, n), "int8", QuantParams((0.05,), (0,))),
         "a": constructors.packed_tensor("a", (1,), n), "b": constructors.packed_tensor("b", (1,), units),
         "y": Tensor("y", (1, units), "int8", constructors.PACKED_QUANT)}
    t["w"] = constructors.weights_tensor("w", constructors.pack_weights(_signs(rng, (units, n), False)))
    t["t"] = constructors.thresholds_tensor("t", rng.integers(-30, 31, units))  # dot products: std ~ sqrt(n)
    ops = (constructors.binarize_op("sign", "x", "a", threshold),
           constructors.fc_op("fc", "a", "w", "t", "b", n, False, "vertical"), constructors.unpack_op("out", "b", "y"))
    return Graph(t, ops, ("x",), ("y",), name=f"wide_{threshold + 128}")


@pytest.mark.parametrize("threshold", [-90, 0, 90])
def test_vertical_counting_with_mostly_ones_or_zeros(tmp_path, threshold):
    """Mostly +1 inputs make the kernel list the zeros of a, mostly -1 the ones; 1000 inputs give
    full blocks of 8 columns and a remainder; 77 outputs a partial group of 32."""
    graph = _wide_fc(np.random.default_rng(8), 1000, 77, threshold)
    from mcucompress.codegen.lower import lower
    assert "mcc_fully_connected_vertical_b1" in [c.function for c in lower(graph, "m").calls]
    out = check_c_matches_reference(tmp_path, graph, "tflm", samples=3)
    assert 0 < np.mean(out == 1) < 1


def test_column_words_transpose_the_weight_bits():
    from mcucompress.codegen.lower_binary import column_words
    rng = np.random.default_rng(9)
    bits = rng.random((40, 70)) < 0.5
    columns, ones = column_words(pack_bits(bits), 70)
    assert columns.shape == (2, 70) and np.array_equal(ones, bits.sum(1))
    assert all(bool((columns[u // 32, i] >> (u % 32)) & 1) == bits[u, i] for u in range(40) for i in range(70))
    assert np.all(columns[1] >> np.uint32(8) == 0)  # units 40..63 do not exist
