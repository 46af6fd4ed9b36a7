"""Keras layers that map onto existing kernels: 1-D convolutions and pools on a 1-high plane,
GlobalMaxPooling, Rescaling and Normalization folded into the first layer."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

from mcucompress.importers.keras import load_keras  # noqa: E402
from mcucompress.reference.float import run_float  # noqa: E402

L = keras.layers


def _matches_keras(model, x):
    graph = load_keras(model)
    np.testing.assert_allclose(run_float(graph, x), model.predict(x, verbose=0), rtol=1e-4, atol=2e-5)
    return graph


def keyword_spotter():
    """A small Conv1D keyword spotter over 49 frames of 10 features."""
    keras.utils.set_random_seed(4)
    inp = keras.Input((49, 10))
    x = L.Conv1D(16, 5, strides=2, padding="same", activation="relu")(inp)
    x = L.SeparableConv1D(24, 3, activation="relu")(x)
    x = L.DepthwiseConv1D(3, dilation_rate=2, padding="same")(x)
    x = L.Conv1D(24, 3, padding="causal", activation="relu")(x)
    x = L.Conv1D(24, 3, padding="valid", dilation_rate=2, activation="relu6")(x)
    x = L.MaxPooling1D(2)(x)
    a = L.GlobalAveragePooling1D()(x)
    b = L.GlobalMaxPooling1D()(x)
    x = L.Concatenate()([a, b])
    return keras.Model(inp, L.Dense(8, activation="softmax")(x))


def test_one_dimensional_layers_match_keras():
    x = np.random.default_rng(0).normal(size=(5, 49, 10)).astype(np.float32)
    graph = _matches_keras(keyword_spotter(), x)
    kinds = [op.kind for op in graph.ops]
    assert "conv2d" in kinds and "depthwise_conv2d" in kinds and "max_pool2d" in kinds


def test_average_pool_1d_and_global_max_pool_2d():
    keras.utils.set_random_seed(5)
    inp = keras.Input((20, 6))
    x = L.AveragePooling1D(3, strides=2, padding="same")(inp)
    x = L.Reshape((5, 2, 6))(x)
    g = L.GlobalMaxPooling2D()(x)
    k = L.GlobalMaxPooling2D(keepdims=True)(x)
    out = L.Concatenate()([g, L.Flatten()(k)])
    x = np.random.default_rng(1).normal(size=(4, 20, 6)).astype(np.float32)
    _matches_keras(keras.Model(inp, out), x)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_input_scaling_folds_into_the_first_layer(padding):
    keras.utils.set_random_seed(6)
    norm = L.Normalization(mean=[0.5, -1.0, 2.0], variance=[4.0, 0.25, 1.0])
    inp = keras.Input((10, 10, 3))
    x = L.Rescaling(1 / 127.5, offset=-1.0)(inp)
    x = norm(x)
    x = L.Conv2D(4, 3, padding=padding)(x)
    model = keras.Model(inp, L.GlobalAveragePooling2D()(x))
    x = np.random.default_rng(2).uniform(0, 255, (4, 10, 10, 3)).astype(np.float32)
    graph = _matches_keras(model, x)
    kinds = [op.kind for op in graph.ops]
    # both affine maps become one; with 'valid' padding it disappears into the convolution
    assert kinds == (["conv2d", "mean"] if padding == "valid" else ["depthwise_conv2d", "conv2d", "mean"])


def test_normalization_scaled_only_folds_into_padded_conv_and_dense():
    keras.utils.set_random_seed(7)
    inp = keras.Input((12,))
    x = L.Rescaling(0.5)(inp)
    x = L.Normalization(mean=0.0, variance=4.0, invert=True)(x)
    model = keras.Model(inp, L.Dense(3)(x))
    x = np.random.default_rng(3).normal(size=(4, 12)).astype(np.float32)
    assert [op.kind for op in _matches_keras(model, x).ops] == ["fully_connected"]


def test_keyword_spotter_exports_and_verifies_against_the_float_model(tmp_path):
    pytest.importorskip("tflite_micro")
    from mcucompress.export import export
    from mcucompress.verify import verify

    keyword_spotter().save(tmp_path / "kws.keras")
    rng = np.random.default_rng(8)
    for name, n in (("calib", 64), ("test", 16)):
        np.savez(tmp_path / f"{name}.npz", x=rng.normal(size=(n, 49, 10)).astype(np.float32))
    tree = export(tmp_path / "kws.keras", tmp_path / "out", calib=tmp_path / "calib.npz")
    report = verify(tree, tmp_path / "test.npz")
    assert report.bit_exact and report.oracle is not None
    assert report.oracle.tflm_nrmse is not None
    assert report.ok, report.oracle
