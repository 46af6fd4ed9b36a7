"""Importing .tflite files: structure, padding, quantization, float interfaces and bad files."""

import numpy as np
import pytest

import tflite_builders
from realistic_inputs import assert_exercises, realistic_inputs
from mcucompress.errors import McuError
from mcucompress.importers.tflite import load_tflite, load_tflite_with_interface
from mcucompress.reference.interpreters import LiteRT, Tflm
from mcucompress.quantize.params import dequantize_output, quantize_input
from mcucompress.reference.int8 import run_int8


@pytest.fixture(scope="module")
def small_models(tmp_path_factory):
    return tflite_builders.all_models(tmp_path_factory.getbasetemp() / "tflite_models")


def test_resnet8_structure(mlperf_dir):
    g = load_tflite(mlperf_dir / "pretrainedResnet_quant.tflite")
    kinds = [op.kind for op in g.ops]
    assert kinds.count("conv2d") == 9 and kinds.count("add") == 3
    assert kinds[-4:] == ["avg_pool2d", "reshape", "fully_connected", "softmax"]
    assert g.tensors[g.inputs[0]].shape == (1, 32, 32, 3)
    assert g.tensors[g.outputs[0]].shape == (1, 10)
    # 3x3 SAME convolution with stride 2 on 32x32: TFLite pads 0 before and 1 after.
    strided = [op for op in g.ops if op.kind == "conv2d" and op.attrs["stride"] == (2, 2)]
    assert {op.attrs["padding"] for op in strided} == {(0, 1, 0, 1), (0, 0, 0, 0)}
    conv = g.ops[0]
    w = g.tensors[conv.inputs[1]]
    assert w.dtype == "int8" and w.quant.per_channel and len(w.quant.scale) == w.shape[0] == 16
    assert g.tensors[conv.inputs[2]].dtype == "int32"


def test_dscnn_structure(mlperf_dir):
    g = load_tflite(mlperf_dir / "kws_ref_model.tflite")
    kinds = [op.kind for op in g.ops]
    assert kinds.count("depthwise_conv2d") == 4
    first = g.ops[0]
    # 10x4 kernel, stride 2, SAME on 49x10: output 25x5, total padding 9 rows -> (4, 5), 2 cols.
    assert first.attrs["padding"] == (4, 5, 1, 1) and first.attrs["activation"] == "relu"
    dw = g.ops[1]
    assert dw.attrs["depth_multiplier"] == 1 and g.tensors[dw.inputs[1]].quant.axis == 3


def test_every_small_model_op_is_imported(small_models):
    kinds = set()
    for name in ("mlp", "cnn", "branches"):
        kinds |= {op.kind for op in load_tflite(small_models[name]).ops}
    assert kinds == {"fully_connected", "softmax", "conv2d", "max_pool2d", "pad", "depthwise_conv2d",
                     "avg_pool2d", "mean", "concat", "add", "reshape"}
    cnn = load_tflite(small_models["cnn"])
    (dw,) = [op for op in cnn.ops if op.kind == "depthwise_conv2d"]
    assert dw.attrs["depth_multiplier"] == 2
    (pad,) = [op for op in cnn.ops if op.kind == "pad"]
    assert pad.attrs["paddings"] == ((0, 0), (1, 2), (0, 1), (0, 0))
    mlp = load_tflite(small_models["mlp"])
    assert [op.attrs.get("activation") for op in mlp.ops[:3]] == ["relu6", "relu", "none"]


def test_float_interface_is_stripped_to_the_int8_body(small_models):
    g, interface = load_tflite_with_interface(small_models["mlp_float_io"])
    assert interface.float_inputs == (True,) and interface.float_outputs == (True,)
    assert [op.kind for op in g.ops] == ["fully_connected"] * 3 + ["softmax"]
    x_spec, y_spec = g.tensors[g.inputs[0]], g.tensors[g.outputs[0]]
    assert x_spec.dtype == y_spec.dtype == "int8"
    # The float model's answer is exactly the int8 body's answer between QUANTIZE and DEQUANTIZE.
    tflm, litert = Tflm(small_models["mlp_float_io"]), LiteRT(small_models["mlp_float_io"])
    inputs = realistic_inputs(g, 6, seed=0)
    assert_exercises(g, inputs)
    for x in inputs:
        xf = dequantize_output(x, x_spec.quant)  # the floats that quantize back to x
        xq = quantize_input(xf, x_spec.quant)
        np.testing.assert_array_equal(tflm(xf), dequantize_output(run_int8(g, xq), y_spec.quant))
        np.testing.assert_array_equal(litert(xf), dequantize_output(run_int8(g, xq, "litert"), y_spec.quant))
    _, int8_interface = load_tflite_with_interface(small_models["mlp"])
    assert int8_interface.float_inputs == (False,)


def _one_line(error: McuError) -> str:
    text = str(error)
    assert "\n" not in text
    return text


def test_truncated_file(mlperf_dir, tmp_path):
    data = (mlperf_dir / "kws_ref_model.tflite").read_bytes()
    for cut in (12, 200, len(data) // 2, len(data) - 100):
        path = tmp_path / f"cut{cut}.tflite"
        path.write_bytes(data[:cut])
        with pytest.raises(McuError) as info:
            load_tflite(path)
        assert str(path) in _one_line(info.value)


def test_random_bytes_and_missing_file(tmp_path):
    path = tmp_path / "noise.tflite"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(McuError, match="not a TFLite model"):
        load_tflite(path)
    fake = tmp_path / "fake.tflite"
    fake.write_bytes(b"\x10\x00\x00\x00TFL3" + bytes(range(256)) * 4)
    with pytest.raises(McuError) as info:
        load_tflite(fake)
    _one_line(info.value)
    with pytest.raises(McuError, match="cannot read"):
        load_tflite(tmp_path / "missing.tflite")


def test_float_model_is_rejected(mlperf_dir):
    with pytest.raises(McuError, match="not a fully int8 model") as info:
        load_tflite(mlperf_dir / "kws_ref_model_float32.tflite")
    assert "float32" in _one_line(info.value)


def test_unsupported_op_is_named(small_models):
    with pytest.raises(McuError, match="unsupported TFLite operator BATCH_MATMUL") as info:
        load_tflite(small_models["unsupported"])
    _one_line(info.value)


def test_corrupt_buffer_size_is_caught(mlperf_dir, tmp_path):
    # Shrink the weight buffer of one tensor: its byte count no longer matches its shape.
    from ai_edge_litert import schema_py_generated as s
    import flatbuffers

    model = s.ModelT.InitFromPackedBuf((mlperf_dir / "kws_ref_model.tflite").read_bytes(), 0)
    weights = model.subgraphs[0].tensors[model.subgraphs[0].operators[0].inputs[1]]
    model.buffers[weights.buffer].data = model.buffers[weights.buffer].data[:-3]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path = tmp_path / "short_buffer.tflite"
    path.write_bytes(bytes(builder.Output()))
    with pytest.raises(McuError, match="bytes but shape"):
        load_tflite(path)


def test_damaged_files_raise_only_mcu_error(mlperf_dir, tmp_path):
    # Random byte changes in the flatbuffer tables: the import either succeeds or raises
    # McuError, never another exception (which the CLI would show as a traceback).
    data = (mlperf_dir / "kws_ref_model.tflite").read_bytes()
    rng = np.random.default_rng(1)
    outcomes = {"loaded": 0, "rejected": 0}
    for k in range(60):
        damaged = bytearray(data)
        for _ in range(int(rng.integers(1, 6))):
            damaged[int(rng.integers(0, 1024))] = int(rng.integers(0, 256))
        path = tmp_path / f"damaged{k}.tflite"
        path.write_bytes(bytes(damaged))
        try:
            graph = load_tflite(path)
            run_int8(graph, np.zeros(graph.tensors[graph.inputs[0]].shape, dtype=np.int8))
            outcomes["loaded"] += 1
        except McuError as error:
            _one_line(error)
            outcomes["rejected"] += 1
    assert outcomes["rejected"] > 0
