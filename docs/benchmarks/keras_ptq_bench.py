"""Keras import + PTQ figures for docs/benchmarks/keras.md (not a test: takes about a minute).

    cd /work/main && TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH=. .venv/bin/python docs/benchmarks/keras_ptq_bench.py

1. ResNet-8 (.h5): import/PTQ time, int8 (run_int8) vs float top-1 agreement on synthetic images,
   next to the same figure for the MLPerf reference int8 .tflite run by LiteRT, and how many
   activation scales equal the TFLite converter's given the same calibration samples.
2. A digits CNN trained here: float vs int8 accuracy.
"""

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402

from mcucompress.data import quantize_input  # noqa: E402
from mcucompress.importers.keras import load_keras  # noqa: E402
from mcucompress.quantize.ptq import quantize_graph  # noqa: E402
from mcucompress.reference.float import run_float  # noqa: E402
from mcucompress.reference.int8 import run_int8  # noqa: E402
from mcucompress.reference.tf_converter import keras_to_int8_tflite  # noqa: E402

MLPERF = Path(os.environ.get("MCUCOMPRESS_SHARED", Path(__file__).resolve().parents[3] / "shared")) / "models" / "mlperf-tiny"


def synthetic_images(n, seed):
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, (n, 4, 4, 3))
    smooth = np.repeat(np.repeat(coarse, 8, axis=1), 8, axis=2)
    return np.clip(smooth + rng.normal(0, 20, smooth.shape), 0, 255).astype(np.float32)


def int8_batch(graph, x):
    xq = quantize_input(x, graph.tensor(graph.inputs[0]).quant)
    return np.concatenate([run_int8(graph, xq[i:i + 1]) for i in range(len(xq))])


def litert_int8(model, x):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(model)) if isinstance(model, Path) else Interpreter(model_content=model)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    scale, zp = inp["quantization"]
    rows = []
    for sample in x:
        q = np.clip(np.round(sample / scale) + zp, -128, 127).astype(np.int8)
        interp.set_tensor(inp["index"], q[None])
        interp.invoke()
        rows.append(interp.get_tensor(out["index"])[0].copy())
    return np.array(rows)


def activation_scales_of_tflite(blob):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_content=blob,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    details = {t["index"]: t for t in interp.get_tensor_details()}
    return [(op["op_name"], float(details[op["outputs"][0]]["quantization_parameters"]["scales"][0]),
             int(details[op["outputs"][0]]["quantization_parameters"]["zero_points"][0]))
            for op in interp._get_ops_details() if op["op_name"] not in ("DELEGATE", "SHAPE", "STRIDED_SLICE", "PACK")]


def resnet8():
    import keras

    path = MLPERF / "pretrainedResnet.h5"
    t = time.perf_counter()
    graph = load_keras(path)
    t_import = time.perf_counter() - t
    calib = synthetic_images(500, seed=0)
    t = time.perf_counter()
    quantized = quantize_graph(graph, calib)
    t_ptq = time.perf_counter() - t
    x = synthetic_images(200, seed=1)
    float_out = run_float(graph, x)
    t = time.perf_counter()
    ours = int8_batch(quantized, x)
    t_int8 = (time.perf_counter() - t) / len(x)
    reference = litert_int8(MLPERF / "pretrainedResnet_quant.tflite", x)
    out_q = quantized.tensor(quantized.outputs[0]).quant
    deq = (ours.astype(np.float32) - out_q.zero_point[0]) * out_q.scale[0]
    print(f"resnet8: import {t_import:.2f} s, PTQ on 500 samples {t_ptq:.2f} s, run_int8 {t_int8 * 1e3:.1f} ms/sample")
    print(f"resnet8: top-1 agreement with float on 200 synthetic images: ours {np.mean(ours.argmax(-1) == float_out.argmax(-1)):.3f}, "
          f"MLPerf reference int8 .tflite (LiteRT) {np.mean(reference.argmax(-1) == float_out.argmax(-1)):.3f}; "
          f"ours max |softmax int8 - float| {np.abs(deq - float_out).max():.4f}")
    blob = keras_to_int8_tflite(keras.saving.load_model(path, compile=False), calib[:200])
    theirs = activation_scales_of_tflite(blob)
    ours_q = quantize_graph(graph, calib[:200])
    # Branches are listed in a different order, so match ops by kind and parameters.
    left = list(theirs)
    unmatched = []
    for op in ours_q.ops:
        q = ours_q.output_tensor(op).quant
        hit = next((t for t in left if t[0] == op.kind.upper().replace("CONV2D", "CONV_2D").replace("AVG_POOL2D", "AVERAGE_POOL_2D")
                    and abs(t[1] - q.scale[0]) <= 1e-6 * t[1] and t[2] == q.zero_point[0]), None)
        if hit is None:
            unmatched.append((op.name, q))
        else:
            left.remove(hit)
    print(f"resnet8: activation (scale, zero point) equal to TFLiteConverter's on "
          f"{len(ours_q.ops) - len(unmatched)}/{len(ours_q.ops)} ops")
    for name, q in unmatched:
        print(f"   ours only: {name:12s} ({q.scale[0]:.6g}, {q.zero_point[0]})")
    for kind, scale, zp in left:
        print(f"   tflite only: {kind:12s} ({scale:.6g}, {zp})")

def digits_cnn(x_train, y_train):
    """The digits CNN measured here (a bias-free conv with batch norm, a ReLU6 depthwise), trained
    from seed 0; tests/test_ptq.py checks its int8 accuracy too."""
    import keras

    keras.utils.set_random_seed(0)
    L = keras.layers
    inp = keras.Input((8, 8, 1))
    h = L.Conv2D(16, 3, padding="same", use_bias=False)(inp)
    h = L.BatchNormalization()(h)
    h = L.ReLU()(h)
    h = L.MaxPooling2D(2)(h)
    h = L.DepthwiseConv2D(3, padding="same", activation="relu6")(h)
    h = L.Conv2D(24, 1, activation="relu")(h)
    h = L.Flatten()(h)
    model = keras.Model(inp, L.Dense(10, activation="softmax")(h))
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(x_train, y_train, epochs=20, batch_size=64, verbose=0)
    return model


def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images[..., None] / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], data.target[order]
    model = digits_cnn(x[:1400], y[:1400])
    float_acc = np.mean(model.predict(x[1400:], verbose=0).argmax(-1) == y[1400:])
    quantized = quantize_graph(load_keras(model), x[:300])
    int8_acc = np.mean(int8_batch(quantized, x[1400:]).argmax(-1) == y[1400:])
    tfl_acc = np.mean(litert_int8(keras_to_int8_tflite(model, x[:300]), x[1400:]).argmax(-1) == y[1400:])
    print(f"digits CNN ({len(x) - 1400} test images): float {float_acc:.4f}, ours int8 {int8_acc:.4f}, "
          f"TFLiteConverter int8 (LiteRT) {tfl_acc:.4f}")


if __name__ == "__main__":
    what = sys.argv[1:] or ["resnet8", "digits"]
    for name in what:
        globals()[name]()
