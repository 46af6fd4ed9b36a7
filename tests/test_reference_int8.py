"""The numpy int8 reference against the real interpreters, byte for byte.

tflm mode must equal tflite-micro; litert mode must equal the default LiteRT interpreter
(XNNPACK delegate). The MLPerf Tiny models get a few realistic inputs here (checked to move
the layers' channels first); scripts/check_reference.py runs 100+.
"""

import time

import numpy as np
import pytest

import tflite_builders
from realistic_inputs import assert_exercises, realistic_inputs
from mcucompress.errors import McuError
from mcucompress.importers.tflite import load_tflite
from mcucompress.reference.interpreters import LiteRT, Tflm
from mcucompress.reference.int8 import run_int8

MLPERF = ["pretrainedResnet_quant.tflite", "kws_ref_model.tflite"]
SMALL = ["mlp", "cnn", "branches"]


@pytest.fixture(scope="module")
def small_models(tmp_path_factory):
    return tflite_builders.all_models(tmp_path_factory.getbasetemp() / "tflite_models")


def _random_inputs(graph, count, seed):
    return list(realistic_inputs(graph, count, seed))


def _check_against_interpreters(path, count, seed):
    graph = load_tflite(path)
    tflm, litert = Tflm(path), LiteRT(path)
    inputs = _random_inputs(graph, count, seed)
    assert_exercises(graph, inputs)
    for x in inputs:
        np.testing.assert_array_equal(run_int8(graph, x, "tflm"), tflm(x))
        np.testing.assert_array_equal(run_int8(graph, x, "litert"), litert(x))


@pytest.mark.parametrize("name", MLPERF)
def test_mlperf_models_match_tflm_and_litert(mlperf_dir, name):
    _check_against_interpreters(mlperf_dir / name, count=4, seed=7)


@pytest.mark.parametrize("name", SMALL)
def test_small_models_match_tflm_and_litert(small_models, name):
    _check_against_interpreters(small_models[name], count=10, seed=3)


def test_litert_mode_differs_from_tflm_mode(mlperf_dir):
    # The two modes are really different arithmetic: on ResNet-8 some intermediate byte differs.
    graph = load_tflite(mlperf_dir / MLPERF[0])
    x = _random_inputs(graph, 1, seed=11)[0]
    a = run_int8(graph, x, "tflm", intermediates=True)
    b = run_int8(graph, x, "litert", intermediates=True)
    assert any(not np.array_equal(a[n], b[n]) for n in a)


def test_intermediates_hold_every_tensor_in_its_shape(mlperf_dir):
    graph = load_tflite(mlperf_dir / MLPERF[1])
    x = _random_inputs(graph, 1, seed=1)[0]
    values = run_int8(graph, x, intermediates=True)
    for op in graph.ops:
        out = graph.output_tensor(op)
        assert values[out.name].shape == out.shape and values[out.name].dtype == np.int8
    np.testing.assert_array_equal(values[graph.outputs[0]], run_int8(graph, x))


def test_resnet8_runs_well_under_a_second(mlperf_dir):
    graph = load_tflite(mlperf_dir / MLPERF[0])
    x = _random_inputs(graph, 1, seed=2)[0]
    start = time.process_time()  # CPU time: other jobs on the machine do not count
    run_int8(graph, x)
    assert time.process_time() - start < 0.5


def test_bad_inputs_raise_mcu_error(mlperf_dir):
    graph = load_tflite(mlperf_dir / MLPERF[1])
    with pytest.raises(McuError, match="int8"):
        run_int8(graph, np.zeros((1, 49, 10, 1), dtype=np.float32))
    with pytest.raises(McuError, match="shape"):
        run_int8(graph, np.zeros((1, 10), dtype=np.int8))
    with pytest.raises(McuError, match="rounding"):
        run_int8(graph, np.zeros((1, 49, 10, 1), dtype=np.int8), rounding="nearest")


def test_standalone_relu_kernels_on_a_hand_built_graph():
    # The converter always fuses ReLU into its producer, so build the op by hand.
    from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor

    q = QuantParams(scale=(0.05,), zero_point=(-10,))
    tensors = {n: Tensor(n, (1, 256), "int8", q) for n in ("x", "r", "r6")}
    graph = Graph(tensors, (Op("relu", "relu", ("x",), ("r",)), Op("relu6", "relu6", ("r",), ("r6",))),
                  ("x",), ("r6",))
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    values = run_int8(graph, x, intermediates=True)
    np.testing.assert_array_equal(values["r"], np.maximum(x, -10))  # real 0.0 is q = -10
    np.testing.assert_array_equal(values["r6"], np.clip(x, -10, -10 + 120))  # 6.0 / 0.05 = 120


def test_mean_with_equal_input_and_output_quantization(small_models, tmp_path):
    # Newer TFLM sources divide instead of requantizing when MEAN keeps its quantization; the
    # packaged tflite-micro does not. The converter never emits that case, so edit the file.
    from ai_edge_litert import schema_py_generated as s
    import flatbuffers

    model = s.ModelT.InitFromPackedBuf(small_models["cnn"].read_bytes(), 0)
    sg = model.subgraphs[0]
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    (mean,) = [op for op in sg.operators if codes[op.opcodeIndex] == s.BuiltinOperator.MEAN]
    src, dst = sg.tensors[mean.inputs[0]].quantization, sg.tensors[mean.outputs[0]].quantization
    dst.scale, dst.zeroPoint = list(src.scale), list(src.zeroPoint)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path = tmp_path / "cnn_mean_same_quant.tflite"
    path.write_bytes(bytes(builder.Output()))
    graph = load_tflite(path)
    (op,) = [op for op in graph.ops if op.kind == "mean"]
    x, y = graph.tensors[op.inputs[0]], graph.output_tensor(op)
    assert x.quant.scale == y.quant.scale and x.quant.zero_point == y.quant.zero_point
    _check_against_interpreters(path, count=10, seed=5)


def test_dilated_convolutions_match_litert(small_models):
    # The converter writes SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND; the importer folds
    # each chain into one dilated conv. tflite-micro (PyPI build) computes these chains wrongly
    # (far from the float model), so LiteRT is the reference here.
    path = small_models["dilated"]
    graph = load_tflite(path)
    convs = [op for op in graph.ops if op.kind in ("conv2d", "depthwise_conv2d")]
    assert [op.attrs["dilation"] for op in convs] == [(2, 2), (2, 3), (3, 2)]
    assert [op.attrs["padding"] for op in convs] == [(2, 2, 2, 2), (2, 2, 3, 3), (0, 0, 0, 0)]
    litert, builtin = LiteRT(path), LiteRT(path, delegates=False)
    for x in _random_inputs(graph, 10, seed=9):
        np.testing.assert_array_equal(run_int8(graph, x, "litert"), litert(x))
        # Built-in kernels round conv outputs once (ruy), tflm mode twice: at most 1 apart
        # per conv, so the final bytes stay close.
        diff = np.abs(run_int8(graph, x, "tflm").astype(int) - builtin(x).astype(int))
        assert diff.max() <= 3
