"""The weight encodings in Python: lossless round trips, the stated byte counts, canonical
length-limited Huffman codes, the per-layer choice, and the annotation surviving serialization."""

import numpy as np
import pytest

from mcucompress.encode import codebook, csr, huffman
from mcucompress.encode.choose import ATTR, choose_encodings, encode, encoding_rows
from mcucompress.errors import McuError
from mcucompress.ir.serialize import graph_to_bytes, load_graph


def sparse_matrix(seed, shape=(23, 97), density=0.1, values=(-77, -3, 5, 64), zero=0):
    rng = np.random.default_rng(seed)
    w = rng.choice(np.asarray(values), size=shape) + zero
    w[rng.random(shape) >= density] = zero
    return w.astype(np.int8)


@pytest.mark.parametrize("density", [0.0, 0.02, 0.3, 1.0])
@pytest.mark.parametrize("zero", [0, -4])
def test_every_encoding_round_trips(density, zero):
    w = sparse_matrix(1, density=density, zero=zero)
    for bits in (4, 8):
        assert np.array_equal(csr.decode_csr(csr.encode_csr(w, zero, bits), zero), w)
    assert np.array_equal(codebook.decode_codebook(codebook.encode_codebook(w)), w)
    assert np.array_equal(huffman.decode(huffman.encode_dense(w), zero), w)
    assert np.array_equal(huffman.decode(huffman.encode_sparse(w, zero), zero), w)
    assert np.array_equal(huffman.decode_lookup(huffman.encode_lookup(w)), w)


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 129), (8, 300), (5, 256)])
def test_huffman_lookup_table_entries(shape):
    # Every entry holds the codes that end within its 12 bits (up to three), read least
    # significant bit first; the table costs its 16 KB in the layer's bytes.
    rng = np.random.default_rng(shape[1])
    w = np.clip(rng.standard_t(2.0, size=shape) * 7, -128, 127).astype(np.int8)
    hw = huffman.encode_lookup(w)
    assert hw.values.max_len <= huffman.LUT_BITS and hw.lookup.size == 1 << huffman.LUT_BITS
    assert hw.nbytes == hw.bits.nbytes + 4 * 4096 + huffman.LUT_DESCRIPTOR_BYTES
    codes = {s: (format(c, f"0{n}b"), n) for s, (c, n) in hw.values.codes().items()}
    for v in rng.integers(0, 1 << huffman.LUT_BITS, 200).tolist():
        bits = "".join(str((v >> j) & 1) for j in range(huffman.LUT_BITS))  # stream order
        entry, want, pos = int(hw.lookup[v]), [], 0
        while len(want) < 3:
            hit = [(s, n) for s, (c, n) in codes.items() if bits.startswith(c, pos) and pos + n <= len(bits)]
            if not hit:
                break
            want.append(hit[0][0])
            pos += hit[0][1]
        if not want:  # no code starts here (a one-symbol code): weight 0, every bit taken
            want, pos = [0], huffman.LUT_BITS
        count = (entry >> 30) + 1
        assert [np.int8(np.uint8((entry >> (8 * k)) & 0xFF)) for k in range(count)] == want and (entry >> 24) & 15 == pos
    assert np.array_equal(huffman.decode_lookup(hw), w)


def test_csr_fillers_bridge_long_gaps():
    w = np.zeros((2, 100), dtype=np.int8)
    w[0, 40] = 9   # gap 40 = 2 fillers of 16 positions + gap 8 with 4-bit indices
    w[1, 99] = -1  # gap 99 = 6 fillers + gap 3
    c4, c8 = csr.encode_csr(w, 0, 4), csr.encode_csr(w, 0, 8)
    assert c4.row_entries.tolist() == [3, 7] and c4.entries == 10
    assert c8.row_entries.tolist() == [1, 1]
    assert c4.values.tolist().count(0) == 8  # fillers hold the zero point
    assert c4.nbytes == 2 * 2 + 5 + 10 + csr.DESCRIPTOR_BYTES


def test_codebook_uses_the_fewest_index_bits():
    w = sparse_matrix(2, density=0.5, values=tuple(range(-15, 16, 2)))  # 16 values + zero = 17
    cb = codebook.encode_codebook(w)
    assert cb.index_bits == 5 and cb.codebook.size == 32
    assert cb.indices.size == -(-w.size * 5 // 8)


def test_huffman_codes_are_canonical_prefix_codes_within_the_limit():
    rng = np.random.default_rng(3)
    symbols = np.minimum(rng.geometric(0.5, 5000), 40)  # very skewed: plain Huffman exceeds 8 bits
    table = huffman.build_table(symbols, max_len=8)
    codes = table.codes()
    assert max(length for _, length in codes.values()) <= 8
    assert sum(2.0 ** -length for _, length in codes.values()) == 1.0  # complete code (Kraft)
    words = sorted(format(c, f"0{n}b") for c, n in codes.values())
    assert all(not b.startswith(a) for a, b in zip(words, words[1:]))  # prefix-free
    # Optimal-ish: within 3% of the entropy of the stream.
    p = np.unique(symbols, return_counts=True)[1] / symbols.size
    mean_len = np.mean([codes[int(s)][1] for s in symbols])
    assert mean_len <= 1.03 * float(-(p * np.log2(p)).sum()) + 0.05


def test_huffman_limits_are_checked():
    with pytest.raises(McuError, match="length limit"):
        huffman.build_table(np.arange(3), max_len=16)
    with pytest.raises(McuError, match="do not fit"):
        huffman.build_table(np.arange(300), max_len=8)


def _fc_graph(w):
    from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor
    units, depth = w.shape
    tensors = {"x": Tensor("x", (1, depth), "int8", QuantParams((0.02,), (1,))),
               "w": Tensor("w", w.shape, "int8", QuantParams((0.01,), (0,)), w),
               "y": Tensor("y", (1, units), "int8", QuantParams((0.1,), (0,)))}
    return Graph(tensors, (Op("fully_connected", "fc", ("x", "w", None), ("y",)),), ("x",), ("y",))


def test_choice_by_size_and_speed_and_serialization():
    sparse = _fc_graph(sparse_matrix(4, shape=(300, 784), density=0.08))
    sized = choose_encodings(sparse, "size")
    row = encoding_rows(sized)[0]
    assert row.encoding == "huffman_sparse"
    alternatives = [encode(k, sparse.tensor("w").data, 0).nbytes
                    for k in ("dense", "csr4", "csr8", "codebook", "huffman")]
    assert row.bytes < min(alternatives) and row.bits_per_weight < 1.0
    assert encoding_rows(choose_encodings(sparse, "speed"))[0].encoding in ("csr8", "csr4", "csr_seg", "csr_pair")
    assert encoding_rows(choose_encodings(sparse, "none"))[0].encoding == "dense"
    dense = _fc_graph(np.random.default_rng(5).integers(-127, 128, (30, 40)).astype(np.int8))
    assert choose_encodings(dense, "speed").ops[0].attrs[ATTR] == "dense"
    import tempfile, pathlib
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "g.npz"
        path.write_bytes(graph_to_bytes(sized))
        assert load_graph(path).ops[0].attrs[ATTR] == "huffman_sparse"
    with pytest.raises(McuError, match="--optimize"):
        choose_encodings(sparse, "smallest")


def test_per_tensor_requantization_keeps_clusters():
    from mcucompress.encode.per_tensor import clustered_layers, per_tensor_weights
    from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor
    from mcucompress.quantize.ptq import quantize_graph

    rng = np.random.default_rng(6)
    centroids = np.array([-0.31, -0.07, 0.0, 0.05, 0.12, 0.4], dtype=np.float32)
    w = centroids[rng.integers(0, 6, (20, 30))]
    w[:, 0] *= 3  # 5 more values, and rows with different peaks: per-channel scales split clusters
    tensors = {"x": Tensor("x", (1, 30), "float32"), "w": Tensor("w", (20, 30), "float32", None, w),
               "b": Tensor("b", (20,), "float32", None, rng.normal(0, 0.1, 20).astype(np.float32)),
               "y": Tensor("y", (1, 20), "float32")}
    float_graph = Graph(tensors, (Op("fully_connected", "fc", ("x", "w", "b"), ("y",)),), ("x",), ("y",))
    n = np.unique(w).size
    assert clustered_layers(float_graph, max_values=n) == {"fc"}
    assert clustered_layers(float_graph, max_values=n - 1) == set()
    per_channel = quantize_graph(float_graph, rng.normal(0, 1, (16, 30)).astype(np.float32))
    per_tensor = per_tensor_weights(per_channel, float_graph)
    assert np.unique(per_channel.tensor("w").data).size > n
    assert np.unique(per_tensor.tensor("w").data).size == n
    q = per_tensor.tensor("w")
    assert len(q.quant.scale) == 1 and np.abs(q.data).max() == 127
    assert np.allclose(q.data * q.quant.scale[0], w, atol=q.quant.scale[0] / 2 + 1e-7)
