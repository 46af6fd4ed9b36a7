"""conv2d and depthwise_conv2d kernels vs the numpy reference, randomized shapes, both roundings."""

import zlib

import numpy as np
import pytest

from codegen_cases import check_c_matches_reference, conv_graph

CONV_CASES = {
    "3x3_same_odd_channels": dict(hw=(9, 7), c_in=3, c_out=5, k=(3, 3), padding=(1, 1, 1, 1)),
    "stride2_asymmetric_pad_relu": dict(hw=(10, 11), c_in=7, c_out=9, k=(3, 3), stride=(2, 2),
                                        padding=(0, 1, 0, 1), activation="relu"),
    "1x1_no_bias_relu6": dict(hw=(5, 6), c_in=13, c_out=3, k=(1, 1), activation="relu6", with_bias=False),
    "5x3_dilated_stride_1x2": dict(hw=(12, 9), c_in=2, c_out=4, k=(5, 3), stride=(1, 2),
                                   dilation=(2, 1), padding=(4, 4, 1, 2)),
}

DEPTHWISE_CASES = {
    "3x3_same": dict(hw=(8, 7), c_in=5, c_out=None, k=(3, 3), padding=(1, 1, 1, 1), activation="relu"),
    "multiplier2_stride2": dict(hw=(9, 9), c_in=3, c_out=None, k=(3, 3), stride=(2, 2), multiplier=2,
                                padding=(1, 1, 1, 1)),
    "10x4_valid_dilated": dict(hw=(13, 8), c_in=7, c_out=None, k=(4, 3), dilation=(2, 2)),
}


@pytest.mark.parametrize("rounding", ["tflm", "litert"])
@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv2d(tmp_path, case, rounding):
    graph = conv_graph(np.random.default_rng(zlib.crc32(case.encode())), **CONV_CASES[case])
    check_c_matches_reference(tmp_path, graph, rounding)


@pytest.mark.parametrize("rounding", ["tflm", "litert"])
@pytest.mark.parametrize("case", sorted(DEPTHWISE_CASES))
def test_depthwise_conv2d(tmp_path, case, rounding):
    graph = conv_graph(np.random.default_rng(zlib.crc32(case.encode())), depthwise=True, **DEPTHWISE_CASES[case])
    check_c_matches_reference(tmp_path, graph, rounding)


def test_grouped_convolution_is_refused_with_one_line(tmp_path):
    from dataclasses import replace

    from mcucompress.errors import McuError
    from mcucompress.export import export

    graph = conv_graph(np.random.default_rng(1), hw=(6, 6), c_in=4, c_out=4, k=(3, 3))
    w = graph.tensor("w")
    grouped = replace(w, shape=(4, 3, 3, 2), data=w.data[..., :2].copy())
    graph = graph.replace(tensors={**graph.tensors, "w": grouped})
    with pytest.raises(McuError, match="grouped convolutions are not supported"):
        export(graph, tmp_path / "out")
    assert not (tmp_path / "out").exists()
