"""Malformed .tflite files are refused at the door with one line naming the tensor or op.

Each case starts from a model made by TensorFlow's converter and patches one field of its
flatbuffer, the way a damaged or hostile file from a model hub would differ from a good one.
"""

import math

import flatbuffers
import numpy as np
import pytest

import tflite_builders
from mcucompress.errors import McuError
from mcucompress.export import export
from mcucompress.importers.tflite import load_tflite
from mcucompress.reference.interpreters import interpreter_outputs


@pytest.fixture(scope="module")
def small_models(tmp_path_factory):
    return tflite_builders.all_models(tmp_path_factory.getbasetemp() / "tflite_models")


def _schema():
    from ai_edge_litert import schema_py_generated
    return schema_py_generated


def patched(src, dst, edit):
    """``src`` with ``edit(model, subgraph)`` applied to its unpacked flatbuffer, written to ``dst``."""
    model = _schema().ModelT.InitFromPackedBuf(src.read_bytes(), 0)
    edit(model, model.subgraphs[0])
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    dst.write_bytes(bytes(builder.Output()))
    return dst


def _ops(model, sg, opname):
    names = {v: k for k, v in vars(_schema().BuiltinOperator).items() if not k.startswith("_")}
    return [op for op in sg.operators
            if names[max(model.operatorCodes[op.opcodeIndex].builtinCode,
                         model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode)] == opname]


def _tensor(sg, index):
    return sg.tensors[int(index)]


def _first_fc(model, sg):
    return _ops(model, sg, "FULLY_CONNECTED")[0]


def _set_quant(tensor, scale=None, zero_point=None):
    q = tensor.quantization
    if scale is not None:
        q.scale = [scale] * len(q.scale)
    if zero_point is not None:
        q.zeroPoint = [zero_point] * len(q.zeroPoint)


def _set_buffer(model, tensor, values):
    model.buffers[tensor.buffer].data = np.frombuffer(np.asarray(values).tobytes(), dtype=np.uint8)


def _edit_fc_output_zero_point(model, sg):
    _set_quant(_tensor(sg, _first_fc(model, sg).outputs[0]), zero_point=300)


def _edit_nan_scale(model, sg):
    _set_quant(_tensor(sg, sg.inputs[0]), scale=math.nan)


def _edit_negative_scale(model, sg):
    _set_quant(_tensor(sg, _first_fc(model, sg).outputs[0]), scale=-0.5)


def _edit_weight_zero_point(model, sg):
    _set_quant(_tensor(sg, _first_fc(model, sg).inputs[1]), zero_point=3)


def _edit_huge_requant_shift(model, sg):
    # input scale x weight scale / output scale ~ 2^90: a shift exponent no kernel can apply
    _set_quant(_tensor(sg, _first_fc(model, sg).outputs[0]), scale=1e-30)


def _edit_accumulator_overflow(model, sg):
    # Weights all 127 and a requantization multiplier of 2^12: 20 x 127 x 255 x 2^12 > 2^31,
    # where TFLite's int32 left shift and our saturating one would part ways.
    fc = _first_fc(model, sg)
    x, w, y = (_tensor(sg, i) for i in (fc.inputs[0], fc.inputs[1], fc.outputs[0]))
    _set_buffer(model, w, np.full(w.shape, 127, dtype=np.int8))
    _set_quant(y, scale=float(np.float32(x.quantization.scale[0] * w.quantization.scale[0] / 2.0 ** 12)))


def _add_bias(model, sg, values):
    """A new constant int32 tensor as the first fully connected op's bias."""
    s = _schema()
    bias = s.TensorT()
    bias.name, bias.shape, bias.type = b"crafted_bias", [len(values)], s.TensorType.INT32
    buffer = s.BufferT()
    buffer.data = np.frombuffer(np.asarray(values, dtype="<i4").tobytes(), dtype=np.uint8)
    model.buffers.append(buffer)
    bias.buffer = len(model.buffers) - 1
    sg.tensors.append(bias)
    fc = _first_fc(model, sg)
    fc.inputs = [int(fc.inputs[0]), int(fc.inputs[1]), len(sg.tensors) - 1]


def _edit_bias_length(model, sg):
    _add_bias(model, sg, [0] * 5)


def _edit_bias_overflow(model, sg):
    _add_bias(model, sg, [2**31 - 1] * 16)


def _edit_softmax_output_shape(model, sg):
    # The audit's case: a [1, 4096] output on a 10-wide softmax would return other tensors' bytes.
    _tensor(sg, _ops(model, sg, "SOFTMAX")[0].outputs[0]).shape = [1, 4096]


def _edit_softmax_beta(model, sg):
    _ops(model, sg, "SOFTMAX")[0].builtinOptions.beta = 3.4e-21


def _edit_fused_activation(model, sg):
    _first_fc(model, sg).builtinOptions.fusedActivationFunction = 9


def _edit_depth_multiplier(model, sg):
    _ops(model, sg, "DEPTHWISE_CONV_2D")[0].builtinOptions.depthMultiplier = 3


def _edit_zero_stride(model, sg):
    _ops(model, sg, "CONV_2D")[0].builtinOptions.strideH = 0


def _edit_padding_code(model, sg):
    _ops(model, sg, "CONV_2D")[0].builtinOptions.padding = 7


def _edit_per_channel_count(model, sg):
    q = _tensor(sg, _ops(model, sg, "CONV_2D")[0].inputs[1]).quantization
    q.scale, q.zeroPoint = list(q.scale) + [0.01], list(q.zeroPoint) + [0]


def _edit_per_channel_axis(model, sg):
    # the second convolution has 8 filters over 8 channels: dimension 3 has the right length
    _tensor(sg, _ops(model, sg, "CONV_2D")[1].inputs[1]).quantization.quantizedDimension = 3


def _edit_weights_buffer_size(model, sg):
    w = _tensor(sg, _ops(model, sg, "CONV_2D")[0].inputs[1])
    model.buffers[w.buffer].data = model.buffers[w.buffer].data[:-5]


def _edit_mean_axis(model, sg):
    axes = _tensor(sg, _ops(model, sg, "MEAN")[0].inputs[1])
    _set_buffer(model, axes, np.array([1, 9], dtype="<i4"))


def _edit_concat_axis(model, sg):
    _ops(model, sg, "CONCATENATION")[0].builtinOptions.axis = 7


def _edit_options_type(model, sg):
    conv = _ops(model, sg, "CONV_2D")[0]
    pool = _ops(model, sg, "MAX_POOL_2D")[0]
    conv.builtinOptions, conv.builtinOptionsType = pool.builtinOptions, pool.builtinOptionsType


def _edit_space_to_batch_paddings(model, sg):
    # paddings of 3 values where the dilation folding needs a 2 x 2 table
    s2b = _ops(model, sg, "SPACE_TO_BATCH_ND")[0]
    pads = _tensor(sg, s2b.inputs[2])
    pads.shape = [3]
    _set_buffer(model, pads, np.array([1, 1, 1], dtype="<i4"))


def _edit_space_to_batch_block(model, sg):
    s2b, b2s = _ops(model, sg, "SPACE_TO_BATCH_ND")[0], _ops(model, sg, "BATCH_TO_SPACE_ND")[0]
    for op in (s2b, b2s):
        _set_buffer(model, _tensor(sg, op.inputs[1]), np.array([0, 0], dtype="<i4"))


CASES = {
    # name: (model, edit, words the one-line message must hold)
    "zero point outside int8": ("mlp", _edit_fc_output_zero_point, ["zero point 300", "[-128, 127]"]),
    "NaN scale": ("mlp", _edit_nan_scale, ["scale nan"]),
    "negative scale": ("mlp", _edit_negative_scale, ["scale -0.5"]),
    "asymmetric weights": ("mlp", _edit_weight_zero_point, ["symmetric"]),
    "requantization shift out of range": ("mlp", _edit_huge_requant_shift, ["requantization shift of 8", "[-31, 30]"]),
    "accumulator overflow": ("mlp", _edit_accumulator_overflow, ["accumulator can reach", "x 2^1", "int32"]),
    "bias overflow": ("mlp", _edit_bias_overflow, ["accumulator can reach 2,147,", "int32"]),
    "bias length": ("mlp", _edit_bias_length, ["has 5 values for 16 output channels"]),
    "softmax output shape": ("mlp", _edit_softmax_output_shape, ["[1, 4096]", "computes [1, 10]"]),
    "softmax beta": ("mlp", _edit_softmax_beta, ["must exceed 1"]),
    "fused activation enum": ("mlp", _edit_fused_activation, ["fused activation code 9"]),
    "depth multiplier": ("cnn", _edit_depth_multiplier, ["depth_multiplier 3", "DEPTHWISE_CONV_2D"]),
    "zero stride": ("cnn", _edit_zero_stride, ["stride_h 0 must be >= 1"]),
    "padding enum": ("cnn", _edit_padding_code, ["padding code 7"]),
    "per-channel scale count": ("cnn", _edit_per_channel_count, ["per-channel scales"]),
    "per-channel axis": ("cnn", _edit_per_channel_axis, ["per channel along dimension 3", "needs dimension 0"]),
    "weights buffer size": ("cnn", _edit_weights_buffer_size, ["bytes but shape"]),
    "mean axis out of range": ("cnn", _edit_mean_axis, ["axis 9 is outside [-4, 4)"]),
    "concatenation axis out of range": ("branches", _edit_concat_axis, ["axis 7 is outside"]),
    "options of another operator": ("cnn", _edit_options_type, ["Pool2DOptions instead of Conv2DOptions"]),
    # a chain the dilation folding cannot take stays unfolded, and SPACE_TO_BATCH_ND is unsupported
    "dilation paddings shape": ("dilated", _edit_space_to_batch_paddings, ["unsupported TFLite operator SPACE_TO_BATCH_ND"]),
    "dilation block of zero": ("dilated", _edit_space_to_batch_block, ["unsupported TFLite operator SPACE_TO_BATCH_ND"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_file_is_refused_with_one_line(small_models, tmp_path, case):
    model, edit, words = CASES[case]
    path = patched(small_models[model], tmp_path / "crafted.tflite", edit)
    with pytest.raises(McuError) as info:
        load_tflite(path)
    message = str(info.value)
    assert message.isprintable() and str(path) in message, message
    for word in words:
        assert word in message, message


def test_the_unpatched_models_still_load(small_models, tmp_path):
    for name in ("mlp", "cnn", "branches", "dilated", "mlp_float_io"):
        # an edit that changes nothing: packing alone must not upset the validator
        load_tflite(patched(small_models[name], tmp_path / f"{name}.tflite", lambda m, sg: None))


def test_export_of_a_refused_file_writes_nothing(small_models, tmp_path):
    path = patched(small_models["mlp"], tmp_path / "crafted.tflite", _edit_softmax_output_shape)
    with pytest.raises(McuError, match="4096"):
        export(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_hostile_tensor_names_are_escaped(small_models, tmp_path):
    def edit(model, sg):
        t = _tensor(sg, _first_fc(model, sg).outputs[0])
        t.name = "x\n\x1b[2J\u202eevil".encode()
        _set_quant(t, zero_point=999)

    with pytest.raises(McuError) as info:
        load_tflite(patched(small_models["mlp"], tmp_path / "names.tflite", edit))
    message = str(info.value)
    assert message.isprintable() and "x\\x0a\\x1b[2J\\u202eevil" in message


def test_a_crash_inside_the_interpreter_is_reported_not_inherited(small_models, tmp_path):
    # tflite-micro aborts (SIGABRT) on a softmax whose beta makes its input multiplier < 1; the
    # importer refuses such a file, but the interpreter must not take this process down either.
    path = patched(small_models["mlp"], tmp_path / "beta.tflite", _edit_softmax_beta)
    from mcucompress.reference import serving_child

    x = np.zeros((2, 1, 20), dtype=np.int8)
    with pytest.raises(McuError) as info:
        interpreter_outputs(path, x, "tflm", timeout=120)
    message = str(info.value)
    assert message.isprintable() and "crashed" in message and "SIGABRT" in message
    # the crash ended only the worker that ran the file: the same server forks the next one
    server, crashed = serving_child._CHILD[0].process.pid, serving_child._CHILD[0].worker
    assert interpreter_outputs(small_models["mlp"], x, "tflm", timeout=120)[1].shape == (2, 10)
    assert serving_child._CHILD[0].process.pid == server and serving_child._CHILD[0].worker != crashed


def test_interpreter_outputs_of_a_float_port_model_match_in_process(small_models):
    from mcucompress.importers.tflite import load_tflite_with_interface
    from mcucompress.reference.interpreters import run_in_process

    path = small_models["mlp_float_io"]
    graph, _ = load_tflite_with_interface(path)
    ports = tuple((graph.tensors[n].quant.scale[0], graph.tensors[n].quant.zero_point[0])
                  for n in (graph.inputs[0], graph.outputs[0]))
    x = np.random.default_rng(0).integers(-128, 128, size=(3, 1, 20)).astype(np.int8)
    name, child = interpreter_outputs(path, x, "tflm", timeout=120, ports=ports)
    assert name == "tflite-micro"
    from mcucompress.reference.int8 import run_int8_batch
    np.testing.assert_array_equal(child, run_int8_batch(graph, x, "tflm").reshape(3, -1))
    np.testing.assert_array_equal(child, run_in_process(path, x, "tflm", ports=ports)[1])
    np.testing.assert_array_equal(child, interpreter_outputs(path, x, "tflm", timeout=120)[1])
