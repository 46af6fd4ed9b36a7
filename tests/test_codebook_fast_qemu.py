"""The hand-scheduled paths of the fast codebook kernels (runtime_c/codebook/*_codebook_fast_s8.c)
on QEMU, on shapes that reach every branch: fully connected blocks of 8, 4 and the rest, index
word counts odd and even, 2- and 4-bit indices; conv blocks of 6 pixels and a shorter last one,
output channels in groups of 8 and 4 and single ones. Outputs byte-identical to the host build
and the numpy reference (the fuzzer covers the portable C of the same kernels)."""

import shutil
from dataclasses import replace

import numpy as np
import pytest

from mcucompress.cost_suite import ConvLayer, FcLayer, conv_chain, fc_chain
from mcucompress.encode.choose import encoded_weights
from mcucompress.export import export
from mcucompress.ir.graph import QuantParams

pytestmark = [pytest.mark.qemu,
              pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                                 reason="needs arm-none-eabi-gcc and qemu-system-arm")]


def _fast_tree(graph, tmp_path):
    for op in graph.ops:
        assert encoded_weights(graph, op).data.index_bits <= 4
    tree = export(graph, tmp_path / graph.name, prefix=graph.name, optimize="none")
    source = "\n".join(p.read_text() for p in tree.rglob("*.c"))
    assert "mcc_conv2d_codebook_fast_s8(" in source or "mcc_fully_connected_codebook_fast_s8(" in source
    return tree


def _every_layer_judged(graph):
    """The chain with every layer's output a model output, centred (zero point 0) and without the
    ReLU: a wrong row or pixel in one layer is seen there, not washed out by the layers after it
    or hidden under a clamp (with ReLU most outputs of these random layers sit at -128)."""
    centred = {name: replace(t, quant=QuantParams(t.quant.scale, (0,))) if name.startswith("t") else t
               for name, t in graph.tensors.items()}
    return graph.replace(tensors=centred, outputs=tuple(op.outputs[0] for op in graph.ops),
                         ops=tuple(op.with_attrs(activation="none") for op in graph.ops))


def _near_zero_point(graph, tmp_path, samples: int = 3):
    """Inputs a few steps above the input zero point (-128), so that the sums of the random
    layers stay inside the int8 range instead of saturating."""
    shape = graph.tensor(graph.inputs[0]).shape
    path = tmp_path / f"{graph.name}_inputs.npz"
    np.savez(path, x=np.random.default_rng(0).integers(-128, -112, (samples, *shape[1:])).astype(np.int8))
    return path


@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547"])
def test_fast_codebook_kernels_on_qemu(board, tmp_path):
    from mcucompress.targets.model_set import run_models

    # depth 75: 10 words of 4-bit pairs (a loop of 4 after 2 single words), 5 of 2-bit pairs;
    # 21 rows: blocks 8, 8, 4, 1; 13 rows: 8, 4, 1; 7 rows: 4, 3
    fc = fc_chain(75, (FcLayer(21, 0.0, 4), FcLayer(13, 0.0, 16), FcLayer(7, 0.0, 16), FcLayer(6, 0.0, 4)),
                  "codebook", seed=3).replace(name="cbfc")
    # 7x7 = 49 pixels: 8 blocks of 6 and one of 1; 13 channels: 8, then 4 and 1 requantized apart;
    # 2-bit index words a channel: 7 (one, then pairs), 1 (the last layer)
    conv = conv_chain(7, 12, (ConvLayer(13, 3, 1, 0.0, 4), ConvLayer(9, 1, 1, 0.0, 16),
                              ConvLayer(12, 3, 2, 0.0, 16), ConvLayer(8, 1, 1, 0.0, 4)),
                      "codebook", seed=4).replace(name="cbconv")
    # the MVE paths (chunks of 4 index words or 16 index bytes, whole ones in assembly for
    # blocks of 8 and 4 rows, the rest predicated): 64 -> 132, 4-bit: 2 whole chunks, no tail,
    # blocks of 8 and one of 4; 132 -> 36, 2-bit: 2 whole chunks and a word, blocks 8 and 4;
    # 36 -> 64, 4-bit: a chunk and a word; 64 -> 10, 2-bit: one chunk, blocks 8 and 2; 10 -> 7,
    # 4-bit: no whole chunk, blocks 4 and 3
    fc_mve = fc_chain(64, (FcLayer(132, 0.0, 16), FcLayer(36, 0.0, 4), FcLayer(64, 0.0, 16), FcLayer(10, 0.0, 4),
                           FcLayer(7, 0.0, 16)), "codebook", seed=5).replace(name="cbfcmve")
    # 5x3 = 15 pixels (blocks of 4, a last of 3), then 3x2 = 6 (a last of 2); index bytes a
    # channel: 16 (one chunk), 56 (3 and 8 predicated), 12 (only predicated), 84 (5 and 4), 16
    # with 2-bit; on the DSP cores 32 and 36 input channels take the direct widening (LDM runs
    # of 16 values and groups of 4 left, whole kernel rows and border taps)
    conv_mve = conv_chain(5, 32, (ConvLayer(24, 1, 1, 0.0, 16), ConvLayer(20, 3, 2, 0.0, 4),
                                  ConvLayer(36, 1, 1, 0.0, 16), ConvLayer(64, 3, 1, 0.0, 4),
                                  ConvLayer(5, 1, 1, 0.0, 4)),
                          "codebook", seed=6, width=3).replace(name="cbconvmve")
    # DSP index words a channel the chains above miss (4-bit: 9, two passes of 4 after the first
    # word; 5, one pass; 6 and 8, singles before a pass; 1, no other word; 2-bit: 2), 8 input
    # channels widened straight from the input; 6x6 pixels, blocks of 6 only, so the last layer,
    # which keeps its ReLU (zero point 0: a clamp narrower than int8), stores every block through
    # the clamp, the others straight to the output
    conv_deep = conv_chain(6, 8, (ConvLayer(40, 3, 1, 0.0, 16), ConvLayer(48, 1, 1, 0.0, 16),
                                  ConvLayer(64, 1, 1, 0.0, 16), ConvLayer(32, 1, 1, 0.0, 16),
                                  ConvLayer(8, 1, 1, 0.0, 4), ConvLayer(8, 1, 1, 0.0, 16)),
                           "codebook", seed=7).replace(name="cbconvdeep")
    graphs = []
    for graph in (fc, conv, fc_mve, conv_mve, conv_deep):
        graph = _every_layer_judged(graph)
        if graph.name == "cbconvdeep":
            graph = graph.replace(ops=graph.ops[:-1] + (graph.ops[-1].with_attrs(activation="relu"),))
        graphs.append(graph)
    # the five chains in one firmware (model_set): each checked as a run of its own would be
    reports = run_models([_fast_tree(graph, tmp_path) for graph in graphs], board, samples=3,
                         data=[_near_zero_point(graph, tmp_path) for graph in graphs])
    for graph, report in zip(graphs, reports):
        if isinstance(report, Exception):
            raise report
        assert report.checks == {"host": True, "reference": True}, graph.name
        out = np.asarray(report.outputs)
        inside = np.mean(np.abs(out.astype(int)) < 127)  # later layers saturate; the first ones must not
        assert len(np.unique(out)) > 40 and inside > 0.2, \
            f"{graph.name}: inputs too weak to judge: {inside:.2f} inside the rails"
