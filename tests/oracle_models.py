"""One minimal Keras model per int8 op kind and shape family, for the tflite-micro oracle tests.

Each model is converted by TensorFlow's own converter, calibrated on smooth synthetic samples
(mcucompress.data.synthetic_inputs, as floats); the tests feed the same samples (with a little
noise) to tflite-micro and to the exported C. Chains of one kind cover several families in one
conversion; the ops around an add or a concatenation give its inputs their own quantization.
Weights are random (seeded); `sparse` zeroes most of them, so CSR and codebook encodings of the
same model have something to compress.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mcucompress.data import synthetic_inputs
from tflite_builders import _convert, _keras, _seed


def calibration(shape, count: int = 32, seed: int = 0) -> np.ndarray:
    """Float samples of roughly [-1.6, 1.6] that look like data (smooth fields)."""
    return synthetic_inputs((1, *shape), count, seed).astype(np.float32) / 80.0


def _conv(k, x):
    x = k.layers.Conv2D(5, 3, padding="same", activation="relu")(x)
    x = k.layers.Conv2D(4, (3, 2), strides=(2, 1), padding="valid")(x)
    return k.layers.Conv2D(6, 1, activation="relu6")(x)


def _depthwise(k, x):
    x = k.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = k.layers.DepthwiseConv2D(3, strides=2, depth_multiplier=2, padding="valid")(x)
    return k.layers.DepthwiseConv2D((2, 3), padding="same", activation="relu6")(x)


def _dilated(k, x):
    x = k.layers.Conv2D(4, 3, dilation_rate=2, padding="same")(x)
    return k.layers.DepthwiseConv2D(3, dilation_rate=(2, 3), padding="same", activation="relu")(x)


def _dilated_valid(k, x):
    # valid padding: the converter writes one dilated CONV_2D (no SPACE_TO_BATCH_ND chain), so
    # tflite-micro is the oracle of the fast conv's dilation
    x = k.layers.Conv2D(4, 3, dilation_rate=2, padding="valid", activation="relu")(x)
    return k.layers.Conv2D(3, (3, 2), dilation_rate=(2, 3), padding="valid")(x)


# Difference filters on smooth inputs: the outputs span far less than the inputs times the
# weights, so the requantization multiplier is large and an accumulator one unit off (a bias
# error of one) changes output bytes. Weights fixed, few distinct values (codebook, CSR).
_EDGE_KERNELS = np.array([
    [[0, 1, 0], [1, -4, 1], [0, 1, 0]],     # Laplacian
    [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],   # Sobel x
    [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],   # Sobel y
], dtype=np.float32) / 4.0


def _edges_conv(k, x):
    layer = k.layers.Conv2D(3, 3, padding="valid")
    y = layer(x)
    layer.set_weights([_EDGE_KERNELS.transpose(1, 2, 0)[:, :, None, :], np.array([0.03, -0.02, 0.01], np.float32)])
    return y


def _edges_fc(k, x):
    # unit u: the difference of two neighbouring pixels of image row u
    x = k.layers.Flatten()(x)
    w = np.zeros((16, 4), np.float32)
    for unit in range(4):
        w[4 * unit + unit % 3, unit], w[4 * unit + unit % 3 + 1, unit] = 0.5, -0.5
    layer = k.layers.Dense(4)
    y = layer(x)
    layer.set_weights([w, np.array([0.02, -0.01, 0.03, 0.0], np.float32)])
    return y


def _add_relu_wide(k, x):
    # the fused ReLU's clamp matters only where the output range reaches below zero: the file is
    # edited so the add's output keeps its input's (signed) quantization, as quantization-aware
    # trained models may have it
    return k.layers.ReLU()(k.layers.Add()([x, k.layers.Conv2D(4, 1)(x)]))


def _activations(k, x):
    # the table ops in a chain, each after a conv that gives it its own input range
    x = k.layers.LeakyReLU(0.15)(k.layers.Conv2D(4, 3, padding="same")(x))
    x = k.layers.Activation("tanh")(k.layers.Conv2D(4, 1)(x))
    x = k.layers.Activation("sigmoid")(k.layers.Conv2D(4, 1)(x))
    x = k.layers.Conv2D(4, 1)(x)
    return k.layers.Lambda(lambda v: v * k.backend.relu(v + 3.0, max_value=6.0) / 6.0)(x)  # HARD_SWISH


def _gates(k, x):
    # broadcasting add and mul against a per-channel gate, same-shape maximum, minimum, mul and a
    # PReLU, side by side on the channels
    x = k.layers.Conv2D(4, 3, padding="same")(x)
    gate = k.layers.Conv2D(4, 1, activation="sigmoid")(k.layers.GlobalAveragePooling2D(keepdims=True)(x))
    other = k.layers.Conv2D(4, 1)(x)
    prelu = k.layers.PReLU(shared_axes=[1, 2])
    branches = [k.layers.Multiply()([x, gate]), k.layers.Add()([x, gate]), k.layers.Maximum()([x, other]),
                k.layers.Minimum()([x, other]), k.layers.Multiply()([x, other]), prelu(other)]
    prelu.set_weights([np.array([[[0.1, 0.3, 0.2, 0.45]]], np.float32)])
    return k.layers.Concatenate(axis=-1)(branches)


def _upsample(k, x):
    x = k.layers.UpSampling2D((2, 3))(k.layers.Conv2D(3, 3, padding="same")(x))
    return k.layers.Conv2D(2, 1)(x)


def _reduce_max(k, x):
    return k.layers.GlobalMaxPooling2D()(k.layers.Conv2D(6, 3, activation="relu")(x))


def _subtract_transpose(k, x):
    # broadcasting and same-shape SUB side by side, then a strided TRANSPOSE_CONV and a valid one
    x = k.layers.Conv2D(4, 3, padding="same")(x)
    gate = k.layers.Conv2D(4, 1)(k.layers.GlobalAveragePooling2D(keepdims=True)(x))
    other = k.layers.Conv2D(4, 1)(x)
    x = k.layers.Concatenate(axis=-1)([k.layers.Subtract()([x, gate]), k.layers.Subtract()([x, other])])
    x = k.layers.Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu")(x)
    return k.layers.Conv2DTranspose(2, (2, 3), padding="valid")(x)


def _requantize(k, x):
    return k.layers.Conv2D(4, 3)(x)  # then a QUANTIZE (int8 -> int8) appended to the file


def _fully_connected(k, x):
    x = k.layers.Dense(16, activation="relu6")(x)
    x = k.layers.Dense(12, activation="relu")(x)
    return k.layers.Dense(10)(x)


def _max_pool(k, x):
    x = k.layers.MaxPooling2D(2, padding="same")(x)
    return k.layers.MaxPooling2D(3, strides=2, padding="valid")(x)


def _avg_pool(k, x):
    x = k.layers.AveragePooling2D(2, strides=1, padding="same")(x)
    return k.layers.AveragePooling2D(3, strides=2, padding="valid")(x)


def _mean(k, x):
    return k.layers.GlobalAveragePooling2D()(x)


def _add(k, x):
    y = k.layers.Add()([x, k.layers.Conv2D(4, 1)(x)])
    y = k.layers.ReLU()(y)  # fused into the add
    return k.layers.Add()([y, k.layers.Conv2D(4, 3, padding="same")(y)])


def _softmax(k, x):
    return k.layers.Softmax()(x)


def _reshape(k, x):
    # after a conv: a model of only a reshape is its own case (test_op_oracle.py)
    return k.layers.Reshape((-1,))(k.layers.Conv2D(3, 1)(x))


def _reshape_only(k, x):
    return k.layers.Reshape((-1,))(x)


def _pad(k, x):
    return k.layers.ZeroPadding2D(((1, 2), (0, 1)))(x)


def _concat(k, x):
    a = k.layers.Conv2D(2, 1, activation="relu")(x)
    b = k.layers.Conv2D(3, 3, padding="same")(x)
    return k.layers.Concatenate(axis=-1)([a, x, b])


def _relu(k, x):
    return k.layers.ReLU()(x)


def _relu6(k, x):
    return k.layers.ReLU(6.0)(x)


def _float_elu(k, x):
    """The converter keeps ELU in float: DEQUANTIZE, ELU, QUANTIZE between two int8 convs."""
    x = k.layers.ELU()(k.layers.Conv2D(5, 3, padding="same")(x))
    return k.layers.Conv2D(3, 1)(x)


def _lstm(k, x):
    """Two stacked LSTMs keeping every step (the second gets its own hidden zero point) and a
    dense head: the converter's UNIDIRECTIONAL_SEQUENCE_LSTM, whose hidden and cell states are
    variable tensors tflite-micro keeps from one invocation to the next."""
    x = k.layers.LSTM(10, return_sequences=True)(x)
    x = k.layers.LSTM(8, return_sequences=True)(x)
    return k.layers.Dense(4)(k.layers.Flatten()(x))


# name: (input shape, body, interpreter whose arithmetic the C follows)
# relu6: the converter gives a standalone RELU6 its own output quantization; the IR's relu6 is a
# clamp that keeps its input's, so the file is edited to share it (tflite-micro runs either);
# add_relu_wide is edited the same way (see there).
MODELS = {
    "conv": ((11, 10, 3), _conv, "tflm"),
    "depthwise": ((10, 9, 3), _depthwise, "tflm"),
    # tflite-micro's PyPI build computes SPACE_TO_BATCH_ND chains wrongly: LiteRT is the oracle.
    "dilated": ((12, 11, 2), _dilated, "litert"),
    "dilated_valid": ((12, 11, 2), _dilated_valid, "tflm"),
    "edges_conv": ((12, 12, 1), _edges_conv, "tflm"),
    # litert: the portable fully connected kernel (the tflm export takes the fast one)
    "edges_fc": ((4, 4, 1), _edges_fc, "litert"),
    "add_relu_wide": ((8, 8, 4), _add_relu_wide, "tflm"),
    "fully_connected": ((20,), _fully_connected, "tflm"),
    "max_pool": ((10, 9, 3), _max_pool, "tflm"),
    "avg_pool": ((10, 9, 3), _avg_pool, "tflm"),
    "avg_pool_4ch": ((8, 7, 4), _avg_pool, "tflm"),  # channels % 4 == 0: the DSP four-channel path (QEMU)
    "mean": ((7, 6, 5), _mean, "tflm"),
    "add": ((8, 8, 4), _add, "tflm"),
    "softmax": ((10,), _softmax, "tflm"),
    "reshape": ((6, 5, 4), _reshape, "tflm"),
    "pad": ((6, 5, 3), _pad, "tflm"),
    "reshape_only": ((6, 5, 4), _reshape_only, "tflm"),
    "concat": ((6, 6, 3), _concat, "tflm"),
    "relu": ((24,), _relu, "tflm"),
    "relu6": ((24,), _relu6, "tflm"),
    "activations": ((8, 7, 3), _activations, "tflm"),
    "gates": ((6, 5, 3), _gates, "tflm"),
    "upsample": ((4, 5, 2), _upsample, "tflm"),
    "reduce_max": ((7, 6, 3), _reduce_max, "tflm"),
    "requantize": ((5, 6, 3), _requantize, "tflm"),
    "subtract_transpose": ((6, 5, 3), _subtract_transpose, "tflm"),
    "lstm": ((12, 6), _lstm, "tflm"),
    "float_elu": ((7, 6, 3), _float_elu, "tflm"),
}
# converted in TensorFlow's serving converter child (reference/tf_converter.convert_in_child):
# the converter can crash its process on LSTM graphs, and that child is the one the tests'
# Keras exports already share, so no second TensorFlow start
IN_CHILD = frozenset({"lstm"})


# calibration gain: relu6 needs inputs past 6.0 to reach its upper clamp, the table ops inputs
# reaching into their flat ends
GAIN = {"relu6": 5.0, "activations": 3.0, "float_elu": 3.0}


def build(name: str, folder: Path, sparse: bool = False, reuse: bool = False) -> tuple[Path, np.ndarray]:
    """(.tflite path, its float calibration samples) for MODELS[name]; ``reuse``: keep a file
    already converted into ``folder``. Models in IN_CHILD are saved as .keras files and converted
    in the serving converter child."""
    shape, body, _ = MODELS[name]
    calib = calibration(shape, seed=len(name)) * GAIN.get(name, 1.0)
    path = folder / f"{name}{'_sparse' if sparse else ''}.tflite"
    if reuse and path.is_file():
        return path, calib
    k = _keras()
    _seed(sum(map(ord, name)))
    inp = k.layers.Input(shape, batch_size=1)  # static shapes: no SHAPE op before a reshape
    model = k.Model(inp, body(k, inp))
    if sparse:
        rng = np.random.default_rng(1)
        model.set_weights([w * (rng.random(w.shape) < 0.25) if w.ndim > 1 else w for w in model.get_weights()])
    folder.mkdir(parents=True, exist_ok=True)
    if name in IN_CHILD:
        from mcucompress.reference.tf_converter import convert_in_child

        model.save(path.with_suffix(".keras"))
        np.savez(path.with_suffix(".calib.npz"), x=calib)
        path.write_bytes(convert_in_child(path.with_suffix(".keras"), path.with_suffix(".calib.npz")))
    else:
        _convert(model, shape, path, calibration=calib)
    if name in ("relu6", "add_relu_wide"):
        _output_takes_input_quantization(path)
    if name == "requantize":
        append_requantize(path, path, scale_factor=0.37, zero_shift=5)
    return path, calib


def append_requantize(path: Path, out: Path, scale_factor: float, zero_shift: int) -> Path:
    """Append TFLite's int8 -> int8 QUANTIZE (the converter writes it where scales must change) to
    the model's output: a new output tensor with the scale times ``scale_factor`` and the zero
    point moved by ``zero_shift``."""
    import copy

    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    model = s.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    sg = model.subgraphs[0]
    old_out = sg.outputs[0]
    new = copy.deepcopy(sg.tensors[old_out])
    new.name = b"requantized"
    new.quantization.scale = [float(new.quantization.scale[0]) * scale_factor]
    new.quantization.zeroPoint = [int(np.clip(new.quantization.zeroPoint[0] + zero_shift, -128, 127))]
    new.buffer = 0
    sg.tensors.append(new)
    code = s.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = s.BuiltinOperator.QUANTIZE
    code.version = 1
    model.operatorCodes.append(code)
    op = s.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = len(model.operatorCodes) - 1, [old_out], [len(sg.tensors) - 1]
    sg.operators.append(op)
    sg.outputs = [len(sg.tensors) - 1]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    out.write_bytes(bytes(builder.Output()))
    return out


def _output_takes_input_quantization(path: Path) -> None:
    """Give every operator's output its input's quantization (single-op models)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    model = s.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    graph = model.subgraphs[0]
    for op in graph.operators:
        src, dst = graph.tensors[op.inputs[0]].quantization, graph.tensors[op.outputs[0]].quantization
        dst.scale, dst.zeroPoint = list(src.scale), list(src.zeroPoint)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))

