"""Hashed (HashedNets) and product-quantized fully connected layers: the hash, the Keras layers and
passes, the int8 references against independent numpy models and the float Keras model, the C
kernels byte for byte on the host and on the Cortex-M4 (QEMU), the CLI and recipe entries.

These kinds have no TFLite operator, so no tflite-micro oracle: their outside checks are the float
Keras model and the independent numpy models here (tests/test_op_oracle.py lists them as exempt)."""

import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from codegen_cases import act, bias, check_c_matches_reference, rand_act, single_op  # noqa: E402
from qemu_sets import QemuSets, selected_params  # noqa: E402
from mcucompress.build.host import build_host  # noqa: E402
from mcucompress.build.runner import run_host  # noqa: E402
from mcucompress.cli import main  # noqa: E402
from mcucompress.compression.training_data import load_npz  # noqa: E402
from mcucompress.compression.shared_layers import HashedDense, ProductQuantizedDense  # noqa: E402
from mcucompress.compression.shared_weights import hash_weights, product_quantize  # noqa: E402
from mcucompress.export import export  # noqa: E402
from mcucompress.ir.graph import QuantParams, Tensor  # noqa: E402
from mcucompress.ir.shared_weights import hashed_layout, hashed_matrix, packed_bucket_indices, pq_matrix, weight_hash  # noqa: E402
from mcucompress.load import load  # noqa: E402
from mcucompress.quantize.params import kernel_params  # noqa: E402
from mcucompress.reference.int8 import run_int8  # noqa: E402
from mcucompress.report.micronet import micronet_count, tree_micronet  # noqa: E402

M32 = 0xFFFFFFFF


def _hash_by_hand(i: int, seed: int) -> int:
    """The hash of ir/shared_weights.py in Python integers (an independent transcription)."""
    h = ((i + seed) * 0x9E3779B1) & M32
    h ^= h >> 15
    h = (h * 0x85EBCA77) & M32
    return h ^ (h >> 13)


def test_hash_matches_plain_integers_and_spreads_weights_evenly():
    positions = [0, 1, 2, 783, 784, 235_199, 2**31, M32 - 5]
    for seed in (0, 7, M32):
        assert [int(h) for h in weight_hash(np.array(positions), seed)] == [_hash_by_hand(i, seed) for i in positions]
    index, sign = hashed_layout(300, 784, 29_400, 0)
    counts = np.bincount(index.ravel(), minlength=29_400)
    assert index.min() == 0 and index.max() == 29_399
    # 8 weights per bucket on average, spread like a random assignment (Poisson: sd sqrt(8), about
    # e^-8 of the buckets empty)
    assert 2.6 < counts.std() < 3.1 and np.count_nonzero(counts == 0) < 30 and counts.max() <= 30
    assert abs(float(np.mean(sign))) < 0.01                    # signs balanced
    h = np.array([_hash_by_hand(i, 0) for i in range(50)], dtype=np.uint64)
    assert np.array_equal(index.ravel()[:50], (h * 29_400) >> 32)


def _digits():
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    return x[:1400], d.target[:1400], x[1400:], d.target[1400:]


@pytest.fixture(scope="module")
def trained():
    """A float 64-48-10 MLP on scikit-learn's digits, and its hashed (4x) and product-quantized forms."""
    from mcucompress.compression.training_data import TrainData

    x_train, y_train, x_test, y_test = _digits()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(48, activation="relu", name="fc1"),
                              keras.layers.Dense(10, name="out")])
    model.compile(keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train, epochs=20, batch_size=64, verbose=0)
    data = TrainData(x_train, y_train, x_test, y_test)
    hashed = hash_weights(model, data, 4, epochs=8, batch_size=64, learning_rate=3e-3, verbose=0)
    pq = product_quantize(model, data, 4, 16, layers=["fc1"], epochs=3, batch_size=64, verbose=0)
    return model, hashed, pq, (x_test, y_test)


def _accuracy(model, x, y) -> float:
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))


def test_passes_store_fewer_weights_and_keep_accuracy(trained):
    model, hashed, pq, (x, y) = trained
    assert [type(layer) for layer in hashed.layers] == [HashedDense, keras.layers.Dense]  # classifier dense
    assert hashed.get_layer("fc1").get_weights()[0].size == 64 * 48 // 4
    assert type(pq.get_layer("fc1")) is ProductQuantizedDense and type(pq.get_layer("out")) is keras.layers.Dense
    codebooks, codes = pq.get_layer("fc1").codebooks.numpy(), pq.get_layer("fc1").codes.numpy()
    assert codebooks.shape == (16, 16, 4) and codes.shape == (48, 16) and 0 <= codes.min() <= codes.max() < 16
    base = _accuracy(model, x, y)
    assert base > 0.9
    # A small hashed network re-learns from the projection: scripts/bench_shared_weights.py measures
    # the LeNet-300-100 figures
    assert _accuracy(hashed, x, y) >= base - 0.05
    assert _accuracy(pq, x, y) >= base - 0.02


def test_layers_expand_as_defined_and_survive_a_keras_file(trained, tmp_path):
    _, hashed, pq, (x, _) = trained
    layer = hashed.get_layer("fc1")
    values, b = layer.values.numpy(), layer.bias.numpy()
    inner = keras.Model(hashed.inputs, layer.output)
    want = np.maximum(x[:5] @ hashed_matrix(values, 48, 64, 0).T + b, 0)
    np.testing.assert_allclose(inner.predict(x[:5], verbose=0), want, rtol=1e-5, atol=1e-5)
    layer = pq.get_layer("fc1")
    inner = keras.Model(pq.inputs, layer.output)
    want = np.maximum(x[:5] @ pq_matrix(layer.codebooks.numpy(), layer.codes.numpy()).T + layer.bias.numpy(), 0)
    np.testing.assert_allclose(inner.predict(x[:5], verbose=0), want, rtol=1e-5, atol=1e-5)
    for name, model in (("hashed", hashed), ("pq", pq)):
        model.save(tmp_path / f"{name}.keras")
        again = keras.saving.load_model(tmp_path / f"{name}.keras")
        assert np.array_equal(again.predict(x[:5], verbose=0), model.predict(x[:5], verbose=0))


@pytest.mark.parametrize("name", ["hashed", "pq"])
def test_exported_model_follows_the_float_keras_model(trained, tmp_path, name):
    """.keras file -> int8 C on the host: byte-identical to the numpy reference, and the same
    classes as the float Keras model."""
    model = trained[1] if name == "hashed" else trained[2]
    x, y = trained[3]
    model.save(tmp_path / "m.keras")
    graph = load(str(tmp_path / "m.keras"), calib=x[:100]).graph
    kind = "fully_connected_hashed" if name == "hashed" else "fully_connected_pq"
    assert graph.ops[0].kind == kind
    tree = export(graph, tmp_path / "tree")
    q = graph.tensor(graph.inputs[0]).quant
    xq = np.clip(np.round(x / q.scale[0]) + q.zero_point[0], -128, 127).astype(np.int8)
    c_out = run_host(build_host(tree), xq, 10)
    ref = np.stack([np.asarray(run_int8(graph, xi.reshape(1, 64)), np.int8).ravel() for xi in xq])
    assert np.array_equal(c_out, ref)
    agree = float(np.mean(np.argmax(c_out, 1) == np.argmax(model.predict(x, verbose=0), 1)))
    assert agree >= 0.97, agree  # measured 0.99 / 1.0


def test_clustered_hashed_layer_exports_codebook_indices(trained, tmp_path):
    """hash then cluster (the flags' order): at most 8 distinct bucket values, which the export
    stores as 4-bit indices; the C on the host is byte-identical to the reference."""
    from mcucompress.compression.clustering import cluster_weights
    from mcucompress.compression.training_data import TrainData
    from mcucompress.compression.recipe import recipe_from_flags

    assert [step.name for step in recipe_from_flags(hash_ratio=8, cluster=16).steps] == ["hash", "cluster"]
    _, hashed, _, (x, y) = trained
    x_train, y_train, _, _ = _digits()
    clustered = cluster_weights(hashed, TrainData(x_train, y_train, x, y), 8, epochs=2, batch_size=64, verbose=0)
    assert type(clustered.get_layer("fc1")) is HashedDense
    assert len(np.unique(clustered.get_layer("fc1").values.numpy())) <= 8
    assert _accuracy(clustered, x, y) >= _accuracy(hashed, x, y) - 0.03
    clustered.save(tmp_path / "m.keras")
    graph = load(str(tmp_path / "m.keras"), calib=x[:100]).graph
    tree = export(graph, tmp_path / "tree")
    assert ".index_bits = 4" in (tree / "model.c").read_text() + (tree / "weights.c").read_text()
    q = graph.tensor(graph.inputs[0]).quant
    xq = np.clip(np.round(x[:50] / q.scale[0]) + q.zero_point[0], -128, 127).astype(np.int8)
    ref = np.stack([np.asarray(run_int8(graph, xi.reshape(1, 64)), np.int8).ravel() for xi in xq])
    assert np.array_equal(run_host(build_host(tree), xq, 10), ref)


# -- random single-op graphs: references against independent models, C against references --------

def _hashed_graph(rng, units, depth, buckets, seed=0, activation="none", batches=1, with_bias=True, distinct=None):
    x = rand_act(rng, "x", (batches, depth))
    values = rng.integers(-127, 128, size=buckets).astype(np.int8)
    if distinct is not None:  # a clustered hashed layer: the kernel reads codebook indices
        nonzero = np.r_[-127:0, 1:128]
        values = rng.choice(rng.choice(nonzero, distinct, replace=False), buckets).astype(np.int8)
    w = Tensor("w", (buckets,), "int8", QuantParams((float(np.float32(0.01)),), (0,)), values)
    scale = np.sqrt(depth) * 74 * 74 * x.quant.scale[0] * 0.01 * 3 / 128
    y = act("y", (batches, units), scale, rng.integers(-20, 20))
    b = bias(rng, "b", units) if with_bias else None
    tensors = {t.name: t for t in (x, w, b, y) if t is not None}
    return single_op("fully_connected_hashed", tensors, ("x", "w", "b" if with_bias else None), "y",
                     seed=seed, activation=activation)


def _pq_graph(rng, units, subspaces, centroids, length, activation="none", batches=1, with_bias=True):
    depth = subspaces * length
    x = rand_act(rng, "x", (batches, depth))
    books = rng.integers(-127, 128, size=(subspaces, centroids, length)).astype(np.int8)
    w = Tensor("w", books.shape, "int8", QuantParams((float(np.float32(0.01)),), (0,)), books)
    codes = Tensor("codes", (units, subspaces), "int32", None,
                   rng.integers(0, centroids, size=(units, subspaces)).astype(np.int32))
    scale = np.sqrt(depth) * 74 * 74 * x.quant.scale[0] * 0.01 * 3 / 128
    y = act("y", (batches, units), scale, rng.integers(-20, 20))
    b = bias(rng, "b", units) if with_bias else None
    tensors = {t.name: t for t in (x, w, b, codes, y) if t is not None}
    return single_op("fully_connected_pq", tensors, ("x", "w", "b" if with_bias else None, "codes"), "y",
                     activation=activation)


def _requantize_independently(acc, p):
    from mcucompress.quantize import fixedpoint as fp

    v = fp.multiply_by_quantized_multiplier(acc, p.multiplier, p.shift, "tflm") + p.output_offset
    return np.clip(v, p.act_min, p.act_max).astype(np.int8)


def test_hashed_reference_equals_a_weight_by_weight_model():
    rng = np.random.default_rng(1)
    g = _hashed_graph(rng, 7, 13, 11, seed=5, activation="relu")
    p = kernel_params(g, g.ops[0])
    values, b = g.tensor("w").data.astype(np.int64), g.tensor("b").data.astype(np.int64)
    x = rng.integers(-128, 128, size=(1, 13), dtype=np.int8)
    acc = b.copy()
    for u in range(7):
        for d in range(13):
            h = _hash_by_hand(u * 13 + d, 5)
            w = values[(h * 11) >> 32] * (-1 if h & 1 else 1)
            acc[u] += (int(x[0, d]) + p.input_offset) * int(w)
    assert np.array_equal(run_int8(g, x).ravel(), _requantize_independently(acc, p))


def test_pq_reference_equals_a_table_model():
    rng = np.random.default_rng(2)
    g = _pq_graph(rng, 9, 5, 6, 3)
    p = kernel_params(g, g.ops[0])
    books, codes = g.tensor("w").data.astype(np.int64), g.tensor("codes").data
    x = rng.integers(-128, 128, size=(1, 15), dtype=np.int8)
    xs = (x.reshape(5, 3).astype(np.int64) + p.input_offset)
    table = np.einsum("sj,skj->sk", xs, books)                     # partial sums (S, K)
    acc = g.tensor("b").data.astype(np.int64) + table[np.arange(5)[None, :], codes].sum(axis=1)
    assert np.array_equal(run_int8(g, x).ravel(), _requantize_independently(acc, p))


GRAPHS = {
    "hashed": lambda rng: _hashed_graph(rng, 23, 41, 97, seed=3),
    "hashed-relu-nobias": lambda rng: _hashed_graph(rng, 10, 30, 1, activation="relu",
                                                           with_bias=False),
    "hashed-4bit": lambda rng: _hashed_graph(rng, 23, 41, 97, seed=3, distinct=16),
    "hashed-2bit-relu": lambda rng: _hashed_graph(rng, 17, 35, 101, seed=9, distinct=3, activation="relu"),
    "hashed-1bit": lambda rng: _hashed_graph(rng, 9, 40, 61, distinct=2),
    "pq": lambda rng: _pq_graph(rng, 21, 13, 16, 4),   # 8-block, 4-block and a tail of 1 sub-space
    "pq-length8": lambda rng: _pq_graph(rng, 9, 10, 5, 8),
    "pq-64-relu-nobias": lambda rng: _pq_graph(rng, 12, 3, 64, 2, activation="relu",
                                                       with_bias=False),
    "pq-length1": lambda rng: _pq_graph(rng, 5, 8, 3, 1),
}


def test_clustered_buckets_are_stored_as_codebook_indices(tmp_path):
    """Buckets with at most 16 distinct values: 1/2/4-bit fields, read back by hand bit by bit,
    give every bucket's value; the export stores them instead of the values."""
    rng = np.random.default_rng(3)
    for distinct, bits in ((2, 1), (3, 2), (4, 2), (11, 4), (16, 4)):
        values = rng.choice(np.arange(-127, 128), distinct, replace=False)[rng.integers(0, distinct, 203)]
        got_bits, codebook, packed = packed_bucket_indices(values.astype(np.int8))
        assert got_bits == bits and codebook.size == 1 << bits and packed.size == -(-203 * bits // 8)
        stream = "".join(format(int(byte), "08b")[::-1] for byte in packed)  # least significant bit first
        fields = [int(stream[b * bits:(b + 1) * bits][::-1], 2) for b in range(203)]
        assert [int(codebook[f]) for f in fields] == [int(v) for v in values]
    assert packed_bucket_indices(np.arange(17, dtype=np.int8)) is None
    source_of = {}
    for name in ("hashed", "hashed-4bit", "hashed-2bit-relu"):
        tree = export(GRAPHS[name](np.random.default_rng(4)), tmp_path / name)
        source_of[name] = (tree / "weights.c").read_text() + (tree / "model.c").read_text()
    assert ".index_bits = 0" in source_of["hashed"] and "_values[97]" in source_of["hashed"]
    assert ".index_bits = 4" in source_of["hashed-4bit"] and "_indices[49]" in source_of["hashed-4bit"]
    assert ".index_bits = 2" in source_of["hashed-2bit-relu"] and "_indices[26]" in source_of["hashed-2bit-relu"]
    assert "_values[" not in source_of["hashed-4bit"]
    # MicroNet (what `info` prints for the tree): 97 buckets of 16 values = 4-bit indices + 16 entries
    score = tree_micronet(tmp_path / "hashed-4bit")
    assert score.params == (97 * 4 + 16 * 8) / 32 + 23 and score == micronet_count(GRAPHS["hashed-4bit"](
        np.random.default_rng(4)))
    assert tree_micronet(tmp_path / "hashed").params == 97 * 8 / 32 + 23


@pytest.mark.parametrize("rounding", ["tflm", "litert"])
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_c_kernels_match_the_reference_on_the_host(tmp_path, name, rounding):
    check_c_matches_reference(tmp_path, GRAPHS[name](np.random.default_rng(4)), rounding, samples=4)


@pytest.fixture(scope="module")
def m4_runs(request, tmp_path_factory):
    """The selected M4 cases' trees with three samples, run in one firmware (qemu_sets)."""
    sets = QemuSets(samples=3)
    root = tmp_path_factory.mktemp("m4")
    for params in selected_params(request, "test_c_kernels_on_the_cortex_m4_match_host_and_reference"):
        name = params["name"]
        sets.add(name, lambda name=name: export(GRAPHS[name](np.random.default_rng(5)), root / name,
                                                prefix=name.replace("-", "_")), ["mps2-an386"])
    return sets


@pytest.mark.qemu
@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("name", ["hashed", "hashed-4bit", "hashed-2bit-relu", "pq", "pq-length8",
                                  "pq-64-relu-nobias"])  # DSP and portable fills
def test_c_kernels_on_the_cortex_m4_match_host_and_reference(m4_runs, name):
    report = m4_runs.run(name, "mps2-an386")
    assert report.checks == {"host": True, "reference": True}
    assert len({row.tobytes() for row in report.outputs}) == 3


# -- CLI and recipes ------------------------------------------------------------------------------

def test_flags_make_the_passes():
    from mcucompress.compression.recipe import recipe_from_flags

    steps = recipe_from_flags(hash_ratio=8, pq="8x32").steps
    assert [(step.name, step.options) for step in steps] == [("hash", {"ratio": 8}),
                                                             ("pq", {"length": 8, "centroids": 32})]


def test_recipe_through_compress_and_export(tmp_path, capsys):
    """One compress run with both passes (pq on fc1, hash on out), then export of the .keras file:
    the generated C calls both kernels."""
    d = load_digits()
    np.savez(tmp_path / "digits.npz", x=(d.images * 255 / 16).astype(np.uint8), y=d.target)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu", name="fc1"),
                              keras.layers.Dense(10, activation="softmax", name="out")])
    model.save(tmp_path / "mlp.keras")
    (tmp_path / "recipe.yaml").write_text("passes:\n  - pq: {length: 4, centroids: 8, layers: [fc1]}\n"
                                          "  - hash: {ratio: 4, layers: [out]}\n")
    assert main(["compress", str(tmp_path / "mlp.keras"), "-o", str(tmp_path / "small.keras"), "--data",
                 str(tmp_path / "digits.npz"), "--recipe", str(tmp_path / "recipe.yaml"), "--epochs", "1", "-q"]) == 0
    out = capsys.readouterr().out
    assert "pq length=4 centroids=8" in out and "hash ratio=4" in out and "MicroNet score" in out
    data = load_npz(tmp_path / "digits.npz", (64,))
    np.savez(tmp_path / "calib.npz", x=data.x_val[:50])
    assert main(["export", str(tmp_path / "small.keras"), "-o", str(tmp_path / "c"),
                 "--calib", str(tmp_path / "calib.npz")]) == 0
    source = (tmp_path / "c" / "model.c").read_text()
    assert "mcc_fully_connected_pq_s8" in source and "mcc_fully_connected_hashed_s8" in source


@pytest.mark.parametrize("args, message", [
    (["--pq", "4by16"], "--pq expects LENGTHxCENTROIDS"),
    (["--pq", "3x16"], "no Dense layer to product-quantize"),
    (["--hash", "0.5"], "hashing ratio must be at least 1"),
])
def test_bad_options_are_one_line_errors(tmp_path, capsys, args, message):
    d = load_digits()
    np.savez(tmp_path / "digits.npz", x=d.data, y=d.target)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(30, name="fc1"), keras.layers.Dense(10)])
    model.save(tmp_path / "m.keras")
    assert main(["compress", str(tmp_path / "m.keras"), "-o", str(tmp_path / "o.keras"), "--data",
                 str(tmp_path / "digits.npz"), "--epochs", "1", *args]) != 0
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.keras").exists()
