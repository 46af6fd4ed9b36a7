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


# name: (input shape, body, interpreter whose arithmetic the C follows)
# relu6: the converter gives a standalone RELU6 its own output quantization; the IR's relu6 is a
# clamp that keeps its input's, so the file is edited to share it (tflite-micro runs either).
MODELS = {
    "conv": ((11, 10, 3), _conv, "tflm"),
    "depthwise": ((10, 9, 3), _depthwise, "tflm"),
    # tflite-micro's PyPI build computes SPACE_TO_BATCH_ND chains wrongly: LiteRT is the oracle.
    "dilated": ((12, 11, 2), _dilated, "litert"),
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
}


# calibration gain: relu6 needs inputs past 6.0 to reach its upper clamp
GAIN = {"relu6": 5.0}


def build(name: str, folder: Path, sparse: bool = False, reuse: bool = False) -> tuple[Path, np.ndarray]:
    """(.tflite path, its float calibration samples) for MODELS[name]; ``reuse``: keep a file
    already converted into ``folder``."""
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
    _convert(model, shape, path, calibration=calib)
    if name == "relu6":
        _output_takes_input_quantization(path)
    return path, calib


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
