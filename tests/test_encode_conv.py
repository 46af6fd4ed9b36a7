"""Conv2D with encoded weights (CSR and codebook over the im2col weight matrix): host C output
byte-identical to the numpy reference, with padding, strides, dilation and empty kernel rows."""

import shutil

import numpy as np
import pytest

from codegen_cases import check_c_matches_reference, conv_graph
from mcucompress.encode.choose import ATTR, choose_encodings, encoding_rows
from mcucompress.encode.codebook import encode_codebook
from mcucompress.errors import McuError
from mcucompress.export import export
from mcucompress.ir.graph import Graph, Op, Tensor


def sparse_conv(seed, kind, density=0.2, values=None, **shape):
    rng = np.random.default_rng(seed)
    g = conv_graph(rng, **shape)
    w = g.tensor("w")
    data = w.data.astype(np.int64)
    if values is not None:
        data = rng.choice(np.asarray(values), size=data.shape)
    data[rng.random(data.shape) >= density] = 0
    data[0] = 0  # an output channel with no weights at all
    tensors = dict(g.tensors)
    tensors["w"] = Tensor("w", w.shape, "int8", w.quant, data.astype(np.int8))
    op = g.ops[0].with_attrs(**{ATTR: kind})
    return g.replace(tensors=tensors, ops=(op,), name=f"conv_{kind}_{seed}")


def chain_two(first: Graph, second: Graph, name: str) -> Graph:
    """Two single-conv graphs as one chain: the second reads the first's output."""
    rename = {"x": "y", "w": "w2", "b": "b2", "y": "z"}
    tensors = dict(first.tensors)
    for tname, t in second.tensors.items():
        if tname != "x":
            tensors[rename[tname]] = Tensor(rename[tname], t.shape, t.dtype, t.quant, t.data)
    op2 = second.ops[0]
    ops = (first.ops[0], Op(op2.kind, "conv1", tuple(rename[n] for n in op2.inputs), ("z",), op2.attrs))
    return Graph(tensors, ops, ("x",), ("z",), name=name)


CASES = [
    dict(hw=(9, 11), c_in=5, c_out=7, k=(3, 3), padding=(1, 1, 1, 1), activation="relu"),
    dict(hw=(12, 10), c_in=3, c_out=6, k=(5, 3), stride=(2, 1), dilation=(1, 2), padding=(2, 2, 2, 2)),
    dict(hw=(6, 6), c_in=19, c_out=4, k=(1, 1)),  # pointwise: gaps past 16 channels need fillers
    # 32 input channels: the fast codebook kernel widens columns straight from the input
    dict(hw=(5, 7), c_in=32, c_out=9, k=(3, 2), stride=(1, 2), dilation=(2, 1), padding=(2, 2, 1, 1)),
]


# Codebook values (zero joins them): 4 distinct -> 2-bit, 6 -> 4-bit indices (the fast kernel
# under TFLM rounding), 20 -> 5-bit (the portable codebook kernel).
CODEBOOKS = {"codebook2": [-77, 5, 120], "codebook": [-100, -31, 7, 64, 127],
             "codebook5": list(range(-95, 96, 10))}


@pytest.mark.parametrize("kind", ["csr4", "csr8", "codebook2", "codebook", "codebook5"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_encoded_conv_matches_reference(tmp_path, kind, case):
    values = CODEBOOKS.get(kind)
    graph = sparse_conv(case, kind[:8] if values else kind, values=values, **CASES[case])
    rounding = "litert" if case == 1 else "tflm"
    check_c_matches_reference(tmp_path, graph, rounding)
    bits = encode_codebook(graph.tensor("w").data.reshape(graph.tensor("w").shape[0], -1)).index_bits
    if values and bits <= 4 and rounding == "tflm":
        function = "mcc_conv2d_codebook_fast_s8"
    else:
        function = "mcc_conv2d_codebook_s8" if values else "mcc_conv2d_csr_fast_s8"
    assert f"{function}(" in (tmp_path / f"{graph.name}_{rounding}" / "model.c").read_text()


def test_csr_conv_band_too_wide_keeps_portable_kernel(tmp_path):
    # 3 rows x 300 columns x 80 channels of padded input: past the fast kernel's 16-bit offsets
    graph = sparse_conv(11, "csr8", density=0.05, hw=(4, 300), c_in=80, c_out=3, k=(3, 3),
                        padding=(1, 1, 1, 1))
    check_c_matches_reference(tmp_path, graph, "tflm")
    model_c = (tmp_path / f"{graph.name}_tflm" / "model.c").read_text()
    assert "mcc_conv2d_csr_s8(" in model_c and "mcc_conv2d_csr_fast_s8(" not in model_c


def test_conv_choice_and_refusal(tmp_path):
    graph = sparse_conv(4, "dense", density=0.05, **CASES[0])
    op = graph.ops[0]
    unannotated = Op(op.kind, op.name, op.inputs, op.outputs, {k: v for k, v in op.attrs.items() if k != ATTR})
    row = encoding_rows(choose_encodings(graph.replace(ops=(unannotated,)), "size"))[0]
    assert row.encoding in ("csr4", "csr8") and row.bytes < row.dense_bytes
    huffman = graph.replace(ops=(op.with_attrs(**{ATTR: "huffman_sparse"}),))
    with pytest.raises(McuError, match="conv2d weights cannot be stored as 'huffman_sparse'"):
        export(huffman, tmp_path / "bad")


@pytest.mark.qemu
@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_encoded_convs_on_cortex_m4_qemu(tmp_path):
    from mcucompress.targets.runner import run_model

    first = sparse_conv(7, "csr4", **CASES[0])  # (1, 9, 11, 7)
    second = sparse_conv(8, "codebook", values=[-90, 3, 77], hw=(9, 11), c_in=7, c_out=5, k=(3, 3),
                         stride=(2, 2))
    tree = export(chain_two(first, second, "two_convs"), tmp_path / "convs", prefix="convs")
    report = run_model(tree, "mps2-an386", samples=2)
    assert report.checks == {"host": True, "reference": True}
