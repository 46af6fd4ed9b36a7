"""Encoded fully connected kernels (CSR, codebook, Huffman) compiled on the host give outputs
byte-identical to the numpy int8 reference, which never sees the encoding."""

import shutil

import numpy as np
import pytest

from mcucompress.build.host import build_host
from mcucompress.build.runner import run_host
from mcucompress.encode.choose import ATTR, ENCODINGS, choose_encodings
from mcucompress.export import export
from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor
from mcucompress.reference.int8 import run_int8
from mcucompress.targets.manifest import manifest_json

SIZES = (61, 47, 40, 33, 29, 23, 11)  # widths of a 6-layer MLP


def on_qemu(test):
    """A test that cross-builds and runs on QEMU: marked `qemu`, skipped without the toolchain."""
    needs = pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                               reason="needs arm-none-eabi-gcc and qemu-system-arm")
    return pytest.mark.qemu(needs(test))


def _act(rng, name, n):
    return Tensor(name, (1, n), "int8", QuantParams((float(np.float32(rng.uniform(0.02, 0.05))),),
                                                     (int(rng.integers(-20, 20)),)))


def mlp(seed, density=0.25, per_channel=True, values=None, weight_zp=0, sizes=SIZES):
    """An int8 MLP whose weight matrices are sparse (and, with `values`, drawn from few values)."""
    rng = np.random.default_rng(seed)
    tensors = {"x0": _act(rng, "x0", sizes[0])}
    ops = []
    for i, (d, u) in enumerate(zip(sizes[:-1], sizes[1:])):
        pool = np.asarray(values if values is not None else np.arange(-127, 128))
        w = rng.choice(pool, size=(u, d)).astype(np.int64)
        w = np.where(rng.random((u, d)) < density, w, 0) + weight_zp
        w[i % u, :] = weight_zp  # an empty row
        w[(i + 1) % u, :] = rng.choice(pool, size=d) + weight_zp  # a full row, long gaps elsewhere
        w[:, : 20 if i == 0 else 0] = weight_zp  # gaps longer than 16 columns: 4-bit fillers
        channels = u if per_channel else 1
        scales = tuple(float(np.float32(s)) for s in rng.uniform(0.003, 0.01, channels))
        tensors[f"w{i}"] = Tensor(f"w{i}", (u, d), "int8", QuantParams(scales, (weight_zp,) * channels, 0),
                                  np.clip(w, -128, 127).astype(np.int8))
        tensors[f"b{i}"] = Tensor(f"b{i}", (u,), "int32", None, rng.integers(-3000, 3000, u).astype(np.int32))
        tensors[f"x{i + 1}"] = _act(rng, f"x{i + 1}", u)
        ops.append(Op("fully_connected", f"fc{i}", (f"x{i}", f"w{i}", f"b{i}"), (f"x{i + 1}",),
                      {"activation": "relu" if i % 2 else "none"}))
    return Graph(tensors, ops, ("x0",), (f"x{len(ops)}",), name="mlp")


def with_encodings(graph, kinds):
    ops = [op.with_attrs(**{ATTR: kinds[i % len(kinds)]}) for i, op in enumerate(graph.ops)]
    return graph.replace(ops=tuple(ops))


def host_vs_reference(graph, tmp_path, rounding="tflm", samples=24):
    tree = export(graph, tmp_path / "tree", prefix="enc", rounding=rounding)
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, size=(samples, SIZES[0]), dtype=np.int8)
    got = run_host(build_host(tree), x, SIZES[-1])
    want = np.stack([run_int8(graph, xi.reshape(1, -1), rounding=rounding).reshape(-1) for xi in x])
    return tree, got, want


@pytest.mark.parametrize("rounding", ["tflm", "litert"])
def test_every_encoding_matches_the_reference(tmp_path, rounding):
    # Six layers, six encodings; shifted by one for the second rounding so each kernel sees two shapes.
    kinds = ENCODINGS[1:] + ENCODINGS[:1] if rounding == "litert" else ENCODINGS
    graph = with_encodings(mlp(3, values=[-90, -7, 3, 12, 55, 127]), kinds)
    tree, got, want = host_vs_reference(graph, tmp_path, rounding)
    assert np.array_equal(got, want)
    model_c = (tree / "model.c").read_text()
    # csr4 + csr8, codebook (4-bit indices: the fast kernel under TFLM rounding), huffman + huffman_sparse
    codebook = "mcc_fully_connected_codebook_fast_s8" if rounding == "tflm" else "mcc_fully_connected_codebook_s8"
    calls = {"mcc_fully_connected_csr_s8": 2, codebook: 1, "mcc_fully_connected_huffman_s8": 2}
    for function, count in calls.items():
        assert model_c.count(function + "(") == count


def test_per_tensor_scales_wide_values_and_weight_zero_point(tmp_path):
    # 255 distinct values: 8-bit codebook indices, a 255-symbol Huffman table; zero point 3
    # (csr_seg: its rows with both offsets).
    graph = with_encodings(mlp(5, density=0.6, per_channel=False, values=np.arange(-127, 125), weight_zp=3),
                           ["codebook", "huffman", "csr4", "huffman_sparse", "csr8", "csr_seg"])
    _, got, want = host_vs_reference(graph, tmp_path)
    assert np.array_equal(got, want)


def test_size_choice_is_exact_and_shrinks_sparse_layers(tmp_path):
    graph = choose_encodings(mlp(7, density=0.08, values=[-60, -20, 20, 60]), "size")
    chosen = {op.attrs[ATTR] for op in graph.ops}
    assert "dense" not in chosen
    tree, got, want = host_vs_reference(graph, tmp_path, samples=8)
    assert np.array_equal(got, want)
    manifest = manifest_json(tree)
    layers = manifest["weight_encodings"]
    assert {layers[op.name]["encoding"] for op in graph.ops} == chosen
    assert all(v["bytes"] < v["dense_bytes"] for v in layers.values())


@on_qemu
def test_every_encoding_on_cortex_m4_qemu(tmp_path):
    from mcucompress.targets.runner import run_model

    graph = with_encodings(mlp(11, values=[-90, -7, 3, 12, 55, 127]), ENCODINGS)
    tree = export(graph, tmp_path / "enc", prefix="enc")
    report = run_model(tree, "mps2-an386", samples=3)
    assert report.checks == {"host": True, "reference": True}
    assert all(n > 10_000 for n in report.instructions)


def test_cli_export_optimize_and_info_table(tmp_path):
    from click.testing import CliRunner

    from mcucompress.cli import cli

    graph = mlp(13, density=0.1, values=[-40, 9, 70])
    tree = export(graph, tmp_path / "t", prefix="enc", optimize="speed")
    manifest_layers = __import__("json").loads((tree / "manifest.json").read_text())["weight_encodings"]
    assert {v["encoding"] for v in manifest_layers.values()} <= {"csr4", "csr8", "csr_seg", "csr_pair", "dense"}
    result = CliRunner().invoke(cli, ["info", str(tree)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "weight encodings" in result.output and "bits/weight" in result.output
    for name, entry in manifest_layers.items():
        assert name in result.output and entry["encoding"] in result.output
    assert "cost model m4" in result.output   # the tree's plan was made for the M4 (no board)
    m3 = CliRunner().invoke(cli, ["info", str(tree), "--board", "lm3s6965evb"], terminal_width=200)
    assert m3.exit_code == 0 and "cost model m0m3" in m3.output
    def rows(output):   # the encodings table's fc0 row: ... bits/weight, est. instructions
        return [line.replace("│", " ").split() for line in output.splitlines() if "fc0" in line]
    assert rows(result.output) != rows(m3.output)
    bad = CliRunner().invoke(cli, ["export", str(tmp_path / "missing.tflite"), "-o", str(tmp_path / "x"),
                                   "--optimize", "smallest"])
    assert bad.exit_code == 2 and "smallest" in bad.output


def heavy_tailed_lut_mlp(weight_zp=0, sizes=SIZES):
    """The MLP with Student-t weights (codes of 1..12 bits, up to three per lookup), every layer
    stored as huffman_lut: odd depths and unit counts (chunk, word and odd-row tails)."""
    rng = np.random.default_rng(17)
    graph = mlp(19, density=0.9, weight_zp=weight_zp, sizes=sizes)
    tensors = dict(graph.tensors)
    for op in graph.ops:
        w = tensors[op.inputs[1]]
        t = np.clip(rng.standard_t(2.0, size=w.shape) * 9, -100, 100).round().astype(np.int64) + weight_zp
        tensors[op.inputs[1]] = Tensor(w.name, w.shape, w.dtype, w.quant, t.astype(np.int8))
    return with_encodings(graph.replace(tensors=tensors), ["huffman_lut"])


@pytest.mark.parametrize("weight_zp", [0, -5])
def test_huffman_lookup_table_kernel_matches_the_reference(tmp_path, weight_zp):
    # A weight zero point takes the kernel's offset path; both roundings' requantization.
    graph = heavy_tailed_lut_mlp(weight_zp)
    for rounding in ("tflm", "litert"):
        tree, got, want = host_vs_reference(graph, tmp_path / rounding, rounding)
        assert np.array_equal(got, want)
        assert (tree / "model.c").read_text().count("mcc_fully_connected_huffman_lut_s8(") == len(graph.ops)


@on_qemu
def test_huffman_lookup_table_assembly_on_cortex_m4_qemu(tmp_path):
    # The fill and two-row loops run in assembly on the M4 only: identical to host and reference.
    from mcucompress.targets.runner import run_model

    tree = export(heavy_tailed_lut_mlp(), tmp_path / "lut", prefix="enc")
    report = run_model(tree, "mps2-an386", samples=3)
    assert report.checks == {"host": True, "reference": True}


@on_qemu
@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547", "lm3s6965evb"])
def test_huffman_lookup_table_chunks_and_widened_rows_on_qemu(tmp_path, board):
    # Rows of two chunks (200 = 128 + 72); rows of one chunk, a multiple of 8 long (128, 64), take
    # the input widened once and the lean loop over pairs of rows on DSP cores, then the odd last
    # row (17 units) the general loop; channel constants (the fast requantization) in every layer;
    # streams long enough that fills run the unchecked loop more than once before the checked tail.
    from mcucompress.targets.runner import run_model

    tree = export(heavy_tailed_lut_mlp(sizes=(200, 128, 64, 17, 9)), tmp_path / "lut", prefix="enc")
    model = (tree / "model.c").read_text()
    assert model.count("mcc_fully_connected_huffman_lut_s8(") == 4 and model.count("_channels,") == 4, [l for l in model.splitlines() if "lut_s8(" in l]
    report = run_model(tree, board, samples=2)
    assert report.checks == {"host": True, "reference": True}


def long_code_huffman_mlp(sizes=(300, 120, 40, 9), density=0.12):
    """A sparse MLP with Student-t weights stored as huffman_sparse (the last layer huffman):
    runs and values both need codes longer than the kernels' 8-bit lookup table, so the fast
    pair loop leaves for a longer run code, a longer value code and the end of a row, and
    streams are long enough that it runs before the checked tail."""
    rng = np.random.default_rng(23)
    graph = mlp(29, density=density, sizes=sizes)
    tensors = dict(graph.tensors)
    for op in graph.ops:
        w = tensors[op.inputs[1]]
        t = np.clip(rng.standard_t(2.0, size=w.shape) * 12, -127, 127).round().astype(np.int64)
        if op is not graph.ops[-1]:  # the huffman layer dense: its many values take long codes
            t = np.where(w.data != 0, np.where(t == 0, 1, t), 0)
        tensors[op.inputs[1]] = Tensor(w.name, w.shape, w.dtype, w.quant, t.astype(np.int8))
    kinds = ["huffman_sparse"] * (len(graph.ops) - 1) + ["huffman"]
    return with_encodings(graph.replace(tensors=tensors), kinds)


def test_huffman_long_codes_match_the_reference(tmp_path):
    from mcucompress.encode.huffman import encode_dense, encode_sparse

    graph = long_code_huffman_mlp()
    first, last = graph.tensors[graph.ops[0].inputs[1]].data, graph.tensors[graph.ops[-1].inputs[1]].data
    sparse, dense = encode_sparse(first, 0), encode_dense(last)
    assert sparse.runs.max_len > 8 and sparse.values.max_len > 8 and dense.values.max_len > 8
    tree = export(graph, tmp_path / "tree", prefix="enc")
    assert (tree / "model.c").read_text().count("mcc_fully_connected_huffman_s8(") == len(graph.ops)
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, size=(8, 300), dtype=np.int8)
    got = run_host(build_host(tree), x, 9)
    want = np.stack([run_int8(graph, xi.reshape(1, -1)).reshape(-1) for xi in x])
    assert np.array_equal(got, want)


@on_qemu
@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547", "lm3s6965evb"])
def test_huffman_long_codes_on_qemu(tmp_path, board):
    # The pair loop in assembly on DSP cores (M4, M55), in C on the M3: identical to host and reference.
    from mcucompress.targets.runner import run_model

    tree = export(long_code_huffman_mlp(), tmp_path / "huff", prefix="enc")
    report = run_model(tree, board, samples=2)
    assert report.checks == {"host": True, "reference": True}
