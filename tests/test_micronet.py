"""MicroNet score: parameters at their stored bit width, math ops by the challenge's counting rules."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mcucompress.importers.keras import load_keras  # noqa: E402
from mcucompress.ir.graph import Graph, Op, Tensor  # noqa: E402
from mcucompress.report.micronet import TRACKS, micronet_count, op_counts  # noqa: E402


def _mlp():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu"),
                             keras.layers.Dense(10, activation="softmax")])


def test_dense_float_model_counts_every_multiply_and_add():
    count = micronet_count(load_keras(_mlp()))
    assert count.params == 64 * 32 + 32 + 32 * 10 + 10
    fc1 = (64 * 32 + 32) + (63 * 32 + 32)  # mults + relu, adds + bias
    fc2 = 32 * 10 + (31 * 10 + 10)
    softmax = 2 * 10 + 9
    assert count.ops == fc1 + fc2 + softmax
    ref = TRACKS["cifar100"]
    assert count.score == pytest.approx(count.params / ref["params"] + count.ops / ref["ops"])
    assert micronet_count(load_keras(_mlp()), "imagenet").score > count.score


def test_pruned_weights_cost_a_bitmask_and_no_arithmetic_clustered_ones_an_index():
    model = _mlp()
    kernel = model.layers[0].kernel.numpy()
    kernel[::2] = 0  # 32 of 64 input rows
    model.layers[0].kernel.assign(kernel)
    out = model.layers[1].kernel.numpy()
    model.layers[1].kernel.assign(np.array([-0.2, -0.1, 0.1, 0.2], np.float32)[np.arange(out.size) % 4].reshape(out.shape))
    count = micronet_count(load_keras(model))
    fc1_kernel = (1024 * 32 + 2048) / 32  # non-zero values + one bit per element
    fc2_kernel = (320 * 2 + 4 * 32) / 32  # 2-bit indices + 4 float codebook entries
    assert count.params == fc1_kernel + 32 + fc2_kernel + 10
    fc1 = (1024 + 32) + (31 * 32 + 32)
    assert count.ops == fc1 + 32 * 10 + (31 * 10 + 10) + 2 * 10 + 9


def test_int8_multiplies_count_a_quarter_and_accumulator_adds_one():
    rng = np.random.default_rng(0)
    w = rng.integers(-127, 128, size=(10, 64)).astype(np.int8)
    w[w == 0] = 1
    tensors = {"x": Tensor("x", (1, 64), "int8"), "w": Tensor("w", (10, 64), "int8", data=w),
               "b": Tensor("b", (10,), "int32", data=np.zeros(10, np.int32)), "y": Tensor("y", (1, 10), "int8")}
    graph = Graph(tensors, [Op("fully_connected", "fc", ("x", "w", "b"), ("y",), {"activation": "relu"})],
                  ("x",), ("y",))
    count = micronet_count(graph)
    assert count.params == (640 * 8 + 10 * 32) / 32
    assert count.ops == 640 / 4 + (63 * 10 + 10) + 10 / 4


def test_every_element_wise_and_resize_kind_has_a_counting_rule():
    """`info` scores any model the exporter takes: broadcast, resize, PReLU, reductions and
    transposed convolutions included (each layer adds to the count, none raises)."""
    keras.utils.set_random_seed(0)
    x = keras.Input((8, 8, 4))
    a = keras.layers.Conv2D(4, 3, padding="same")(x)
    b = keras.layers.Conv2D(4, 1)(x)
    merged = keras.layers.Maximum()([keras.layers.Subtract()([a, b]),
                                     keras.layers.Minimum()([keras.layers.Multiply()([a, b]), b])])
    y = keras.layers.PReLU(shared_axes=[1, 2])(merged)
    y = keras.layers.Conv2DTranspose(4, 2, strides=2)(y)
    y = keras.layers.UpSampling2D()(keras.layers.MaxPooling2D()(y))
    y = keras.layers.GlobalMaxPooling2D()(y)
    graph = load_keras(keras.Model(x, keras.layers.Dense(3)(y)))
    kinds = {op.kind for op in graph.ops}
    assert {"sub", "mul", "maximum", "minimum", "prelu", "transpose_conv2d", "resize_nearest"} <= kinds
    total = micronet_count(graph).ops
    assert total > 0
    for op in graph.ops:  # every arithmetic kind counts something
        if op.kind not in ("reshape", "resize_nearest"):
            assert sum(op_counts(graph, op)) > 0, op.kind
