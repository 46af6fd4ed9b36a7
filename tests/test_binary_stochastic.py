"""Stochastic rounding in the QAT layers (Gupta et al. 2015): unbiased while training, nearest after."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import ops  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from mcucompress.binary.layers import BinaryDense, quantize_weights  # noqa: E402


def test_stochastic_rounding_is_unbiased():
    rng = np.random.default_rng(0)
    w = rng.uniform(-0.9, 0.9, size=(6, 2)).astype(np.float32)
    draws = 4000
    noise = rng.uniform(size=(draws,) + w.shape).astype(np.float32)
    bits, steps = 2, 3.0
    t = np.tanh(w)
    t = t / (2 * np.abs(t).max()) + 0.5
    # The noise broadcasts over a leading axis: all draws at once.
    levels = ops.convert_to_numpy(quantize_weights(w, "dorefa", bits=bits, noise=noise)[1]).mean(axis=0)
    np.testing.assert_allclose((levels + steps) / 2, t * steps, atol=0.06)  # levels are 2q - steps
    nearest = ops.convert_to_numpy(quantize_weights(w, "dorefa", bits=bits)[1])
    assert np.abs((nearest + steps) / 2 - t * steps).max() <= 0.5 + 1e-6
    signs = ops.convert_to_numpy(quantize_weights(w, "binary", scale=False, noise=noise)[1]).mean(axis=0)
    np.testing.assert_allclose(signs, w, atol=0.06)  # E[sign] = 2 p - 1 = w inside [-1, 1]


def test_layer_rounds_at_random_only_while_training(tmp_path):
    layer = BinaryDense(16, quantizer="dorefa", bits=2, rounding="stochastic", seed=3)
    x = np.random.default_rng(1).normal(size=(4, 32)).astype(np.float32)
    first, second = layer(x, training=True), layer(x, training=True)
    assert not np.allclose(first, second)
    np.testing.assert_array_equal(layer(x), layer(x))
    nearest = BinaryDense(16, quantizer="dorefa", bits=2)
    nearest.build((None, 32))
    nearest.kernel.assign(layer.kernel)
    np.testing.assert_array_equal(layer(x), nearest(x))
    model = keras.Sequential([keras.Input((32,)), layer])
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert loaded.layers[0].rounding == "stochastic"
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="stochastic"):
        BinaryDense(4, quantizer="ternary", rounding="stochastic")


def test_stochastic_dorefa_network_learns_digits():
    d = load_digits()
    x, y = d.data.astype(np.float32) / 16.0, d.target
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)),
                              BinaryDense(64, quantizer="dorefa", bits=2, rounding="stochastic", seed=0),
                              keras.layers.BatchNormalization(), keras.layers.ReLU(), keras.layers.Dense(10)])
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x[:1400], y[:1400], epochs=8, batch_size=32, verbose=0)
    assert model.evaluate(x[1400:], y[1400:], verbose=0)[1] > 0.85
