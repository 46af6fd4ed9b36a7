"""Post-training int8 quantization: TFLite's conventions, checked against the real converter and
by accuracy through the int8 reference interpreter."""

import os
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from conftest import REPO  # noqa: E402
from mcucompress.data import quantize_input  # noqa: E402
from mcucompress.errors import McuError  # noqa: E402
from mcucompress.importers.keras import load_keras  # noqa: E402
from mcucompress.ir.graph import Graph, Op, Tensor  # noqa: E402
from mcucompress.quantize.ptq import asymmetric_quant, quantize_graph, symmetric_per_channel  # noqa: E402
from mcucompress.reference.float import run_float  # noqa: E402

sys.path.insert(0, str(REPO / "docs" / "benchmarks"))
from keras_ptq_bench import digits_cnn  # noqa: E402  (the model of docs/benchmarks/keras.md)


def _run_int8_batch(graph, x_int8):
    from mcucompress.reference.int8 import run_int8

    return np.concatenate([run_int8(graph, x_int8[i:i + 1]) for i in range(len(x_int8))])


# ---------------------------------------------------------------------------------------------
# Parameter rules
# ---------------------------------------------------------------------------------------------

def test_asymmetric_range_includes_zero_and_zero_is_exact():
    q = asymmetric_quant(0.0, 6.0)
    assert q.zero_point == (-128,) and q.scale[0] == pytest.approx(6.0 / 255, rel=1e-6)
    q = asymmetric_quant(0.5, 2.0)  # widened to [0, 2]
    assert q.zero_point == (-128,) and q.scale[0] == pytest.approx(2.0 / 255, rel=1e-6)
    q = asymmetric_quant(-3.0, -1.0)  # widened to [-3, 0]
    assert q.zero_point == (127,) and q.scale[0] == pytest.approx(3.0 / 255, rel=1e-6)
    for lo, hi in [(-1.0, 3.0), (-0.37, 0.91), (-5.0, 0.01)]:
        q = asymmetric_quant(lo, hi)
        assert -128 <= q.zero_point[0] <= 127
        # the ends of the range stay (almost) representable
        assert (-128 - q.zero_point[0]) * q.scale[0] <= lo + q.scale[0]
        assert (127 - q.zero_point[0]) * q.scale[0] >= hi - q.scale[0]
    assert asymmetric_quant(0.0, 0.0).scale == (1.0,)


def test_symmetric_per_channel_weights():
    w = np.array([[0.5, -1.0, 0.25], [0.0, 0.0, 0.0], [2.0, 1.0, -0.01]], np.float32)
    q, scales = symmetric_per_channel(w, axis=0)
    np.testing.assert_allclose(scales, [1.0 / 127, 1.0, 2.0 / 127], rtol=1e-6)
    np.testing.assert_array_equal(q[0], [64, -127, 32])  # 63.5 rounds away from zero
    np.testing.assert_array_equal(q[1], [0, 0, 0])
    np.testing.assert_array_equal(q[2], [127, 64, -1])
    assert q.min() >= -127


# ---------------------------------------------------------------------------------------------
# A small trained CNN on sklearn digits
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images[..., None] / 16.0).astype(np.float32)
    y = data.target
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    return x[:1400], y[:1400], x[1400:], y[1400:]


@pytest.fixture(scope="module")
def digits_model(digits):
    x_train, y_train, _, _ = digits
    return digits_cnn(x_train, y_train)


def test_digits_int8_accuracy_within_half_a_point_of_float(digits, digits_model):
    x_train, _, x_test, y_test = digits
    float_acc = np.mean(digits_model.predict(x_test, verbose=0).argmax(-1) == y_test)
    graph = quantize_graph(load_keras(digits_model), x_train[:300])
    assert graph.is_quantized
    x_q = quantize_input(x_test, graph.tensor(graph.inputs[0]).quant)
    int8_acc = np.mean(_run_int8_batch(graph, x_q).argmax(-1) == y_test)
    assert float_acc > 0.9, f"float model did not train ({float_acc:.3f})"
    assert abs(int8_acc - float_acc) <= 0.005, f"float {float_acc:.4f} vs int8 {int8_acc:.4f}"


def test_same_parameters_and_outputs_as_tflite_converter_and_tflm(digits, digits_model):
    """The real TFLiteConverter, fed the same calibration samples, picks the same parameters, so
    our graph run by run_int8 and its .tflite run by TFLite Micro give the same bytes."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from mcucompress.reference.tf_converter import keras_to_int8_tflite

    calib = digits[0][:100]
    blob = keras_to_int8_tflite(digits_model, calib)
    interp = Interpreter(model_content=blob,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    details = {t["index"]: t for t in interp.get_tensor_details()}
    # Keras 3's Flatten makes the converter compute the shape at run time (SHAPE, STRIDED_SLICE,
    # PACK on int32): those ops have no counterpart in a static-shape graph.
    shape_ops = {"DELEGATE", "SHAPE", "STRIDED_SLICE", "PACK"}
    theirs = [op for op in interp._get_ops_details() if op["op_name"] not in shape_ops]
    ours = quantize_graph(load_keras(digits_model), calib)
    assert [op["op_name"] for op in theirs] == [
        "CONV_2D", "MAX_POOL_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    assert [op.kind for op in ours.ops] == [
        "conv2d", "max_pool2d", "depthwise_conv2d", "conv2d", "reshape", "fully_connected", "softmax"]

    def quant(index):
        q = details[index]["quantization_parameters"]
        return q["scales"], q["zero_points"]

    scale, zp = quant(theirs[0]["inputs"][0])
    assert ours.tensor(ours.inputs[0]).quant.zero_point[0] == zp[0]
    np.testing.assert_allclose(ours.tensor(ours.inputs[0]).quant.scale[0], scale[0], rtol=1e-6)
    for op, their in zip(ours.ops, theirs):
        scale, zp = quant(their["outputs"][0])
        out = ours.output_tensor(op).quant
        assert out.zero_point[0] == zp[0], op.name
        np.testing.assert_allclose(out.scale[0], scale[0], rtol=1e-6, err_msg=op.name)
        if op.kind in ("conv2d", "depthwise_conv2d", "fully_connected"):  # all per-channel today
            scale, zp = quant(their["inputs"][1])
            np.testing.assert_allclose(ours.tensor(op.inputs[1]).quant.scales(), scale, rtol=1e-6)
            np.testing.assert_array_equal(ours.tensor(op.inputs[1]).data, interp.get_tensor(their["inputs"][1]))
            np.testing.assert_array_equal(ours.tensor(op.inputs[2]).data, interp.get_tensor(their["inputs"][2]))

    from tflite_micro.python.tflite_micro import runtime

    tflm = runtime.Interpreter.from_bytes(blob)
    x_q = quantize_input(digits[2][:150], ours.tensor(ours.inputs[0]).quant)
    theirs_out = []
    for sample in x_q:
        tflm.set_input(sample[None], 0)
        tflm.invoke()
        theirs_out.append(tflm.get_output(0).copy())
    np.testing.assert_array_equal(_run_int8_batch(ours, x_q), np.concatenate(theirs_out))


def test_tied_and_fixed_quantization():
    rng = np.random.default_rng(0)

    def t(name, shape, data=None):
        return Tensor(name, shape, "float32", None, None if data is None else data.astype(np.float32))

    tensors = [t("x", (1, 4, 4, 2)), t("w", (3, 1, 1, 2), rng.normal(0, 1, (3, 1, 1, 2))), t("b", (3,), rng.normal(0, 1, 3)),
               t("c", (1, 4, 4, 3)), t("p", (1, 2, 2, 3)), t("cat", (1, 2, 2, 5)), t("xp", (1, 2, 2, 2)),
               t("flat", (1, 20)), t("sm", (1, 20))]
    conv_attrs = {"stride": (1, 1), "dilation": (1, 1), "padding": (0, 0, 0, 0), "activation": "none"}
    pool_attrs = {"pool": (2, 2), "stride": (2, 2), "padding": (0, 0, 0, 0)}
    ops = [Op("conv2d", "conv", ("x", "w", "b"), ("c",), conv_attrs),
           Op("max_pool2d", "pool", ("c",), ("p",), pool_attrs),
           Op("avg_pool2d", "pool_x", ("x",), ("xp",), pool_attrs),
           Op("concat", "cat", ("p", "xp"), ("cat",), {"axis": 3}),
           Op("reshape", "flat", ("cat",), ("flat",)),
           Op("softmax", "sm", ("flat",), ("sm",), {"beta": 1.0})]
    graph = Graph({x.name: x for x in tensors}, ops, ("x",), ("sm",))
    x = rng.normal(0, 1, (50, 4, 4, 2)).astype(np.float32)
    q = quantize_graph(graph, x)
    group = {q.tensor(n).quant for n in ("x", "c", "p", "xp", "cat", "flat")}
    assert len(group) == 1  # pools, concat and reshape share one quantization
    values = run_float(graph, x, intermediates=True)
    lo = min(float(values[n].min()) for n in ("x", "c"))
    hi = max(float(values[n].max()) for n in ("x", "c"))
    assert group.pop() == asymmetric_quant(lo, hi)
    assert q.tensor("sm").quant.scale == (1 / 256,) and q.tensor("sm").quant.zero_point == (-128,)
    w, b = q.tensor("w"), q.tensor("b")
    assert w.dtype == "int8" and w.quant.axis == 0 and len(w.quant.scale) == 3 and set(w.quant.zero_point) == {0}
    assert b.dtype == "int32" and b.data.dtype == np.int32
    np.testing.assert_allclose(b.quant.scales(), q.tensor("x").quant.scale[0] * w.quant.scales(), rtol=1e-6)
    np.testing.assert_array_equal(b.data, np.round(graph.tensor("b").data / b.quant.scales()).astype(np.int32))


def test_bad_calibration_data_is_a_one_line_error(digits_model):
    graph = load_keras(digits_model)
    for bad, expected in [(np.zeros((10, 8, 8, 3)), "(N, 8, 8, 1)"), (np.zeros((10, 64)), "(N, 8, 8, 1)"),
                          (np.zeros((0, 8, 8, 1)), "no samples"),
                          (np.full((2, 8, 8, 1), np.nan), "NaN"), (["a", "b"], "numeric")]:
        with pytest.raises(McuError) as error:
            quantize_graph(graph, bad)
        assert expected in str(error.value) and "\n" not in str(error.value)
    quantized = quantize_graph(graph, np.zeros((1, 8, 8, 1)))
    with pytest.raises(McuError, match="already quantized"):
        quantize_graph(quantized, np.zeros((1, 8, 8, 1)))


# ---------------------------------------------------------------------------------------------
# ResNet-8 (MLPerf Tiny) from its legacy .h5
# ---------------------------------------------------------------------------------------------

def synthetic_images(n, seed):
    """CIFAR-like stand-ins in the model's 0..255 input range: smooth colour blobs plus noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (n, 4, 4, 3))
    smooth = np.repeat(np.repeat(coarse, 8, axis=1), 8, axis=2)
    return np.clip(smooth + rng.normal(0, 20, smooth.shape), 0, 255).astype(np.float32)


def test_resnet8_int8_agrees_with_float(mlperf_dir):
    path = mlperf_dir / "pretrainedResnet.h5"
    if not path.is_file():
        pytest.skip(f"{path} missing")
    graph = load_keras(path)
    quantized = quantize_graph(graph, synthetic_images(200, seed=0))
    kinds = [op.kind for op in quantized.ops]
    assert kinds.count("conv2d") == 9 and kinds.count("add") == 3 and "batch_norm" not in kinds
    x = synthetic_images(40, seed=1)
    float_top1 = run_float(graph, x).argmax(-1)
    int8_top1 = _run_int8_batch(quantized, quantize_input(x, quantized.tensor(quantized.inputs[0]).quant)).argmax(-1)
    assert np.mean(float_top1 == int8_top1) >= 0.9


def test_every_supported_layer_quantizes_and_tracks_float():
    from test_keras_import import _every_layer_model

    graph = load_keras(_every_layer_model())
    rng = np.random.default_rng(0)
    quantized = quantize_graph(graph, rng.normal(0, 1, (200, 13, 11, 3)))
    assert {op.kind for op in quantized.ops} >= {"pad", "conv2d", "depthwise_conv2d", "add", "max_pool2d", "concat",
                                                 "avg_pool2d", "mean", "reshape", "fully_connected", "softmax"}
    x = rng.normal(0, 1, (40, 13, 11, 3)).astype(np.float32)
    out = _run_int8_batch(quantized, quantize_input(x, quantized.tensor(quantized.inputs[0]).quant))
    q = quantized.tensor(quantized.outputs[0]).quant
    probabilities = (out.astype(np.float32) - q.zero_point[0]) * q.scale[0]
    np.testing.assert_allclose(probabilities, run_float(graph, x), atol=0.02)
