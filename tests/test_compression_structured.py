"""Structured pruning: neurons/filters removed, downstream inputs rewritten, model really shrinks."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mcucompress.compression import accuracy, structured_prune  # noqa: E402
from mcucompress.compression.structured import channel_groups, shrinkable_layers  # noqa: E402
from mcucompress.errors import McuError  # noqa: E402


def _kill_outputs(layer, channels):
    """Zero the incoming weights and bias of `channels`: with ReLU they output exactly 0."""
    kernel, bias = layer.get_weights()
    kernel[..., channels] = 0
    bias[channels] = 0
    layer.set_weights([kernel, bias])


def test_dead_neurons_are_removed_without_changing_outputs():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((20,))
    hidden = keras.layers.Dense(16, activation="relu", name="fc1")(inputs)
    hidden = keras.layers.Dropout(0.1)(hidden)
    hidden = keras.layers.Dense(12, activation="relu", name="fc2")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(hidden))
    _kill_outputs(model.get_layer("fc1"), [1, 4, 5, 9])
    _kill_outputs(model.get_layer("fc2"), [0, 11, 6])
    assert shrinkable_layers(model) == ["fc1", "fc2"]
    smaller = structured_prune(model, None, layers={"fc1": 0.25, "fc2": 0.25})
    assert smaller.get_layer("fc1").units == 12 and smaller.get_layer("fc2").units == 9
    assert smaller.get_layer("fc2").kernel.shape == (12, 9)
    x = np.random.default_rng(0).normal(size=(50, 20)).astype(np.float32)
    np.testing.assert_allclose(smaller.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
    assert smaller.count_params() < model.count_params()


def test_dead_filters_are_cut_through_batchnorm_pooling_and_flatten():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((10, 10, 3)), keras.layers.Conv2D(8, 3, name="conv1"),
        keras.layers.BatchNormalization(name="bn"), keras.layers.ReLU(), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(6, 3, activation="relu", padding="same", name="conv2"), keras.layers.Flatten(),
        keras.layers.Dense(5, activation="relu", name="fc"), keras.layers.Dense(2, name="out")])
    dead = [2, 5, 7]
    _kill_outputs(model.get_layer("conv1"), dead)
    gamma, beta, mean, var = model.get_layer("bn").get_weights()
    rng = np.random.default_rng(1)
    gamma, mean, var = rng.uniform(0.5, 2, 8), rng.normal(size=8), rng.uniform(0.5, 2, 8)
    beta = rng.normal(size=8)
    beta[dead], mean[dead] = 0, 0  # dead channels leave batch norm as exact zeros
    model.get_layer("bn").set_weights([gamma, beta, mean, var])
    _kill_outputs(model.get_layer("conv2"), [0, 3])
    smaller = structured_prune(model, None, layers={"conv1": 3 / 8, "conv2": 2 / 6})
    assert smaller.get_layer("conv1").filters == 5 and smaller.get_layer("conv2").filters == 4
    assert smaller.get_layer("bn").get_weights()[0].shape == (5,)
    assert smaller.get_layer("fc").kernel.shape == (4 * 4 * 4, 5)
    x = np.random.default_rng(2).normal(size=(20, 10, 10, 3)).astype(np.float32)
    np.testing.assert_allclose(smaller.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-4, atol=1e-5)


def test_half_the_neurons_removed_then_fine_tuned_keeps_accuracy(digits_data, digits_mlp):
    # digits_mlp: the 64-64-32-10 MLP trained 12 epochs on digits_data (shared with the pruning tests)
    data, model = digits_data, digits_mlp
    base = accuracy(model, data.x_val, data.y_val)
    for criterion in ("l1", "activation"):
        smaller = structured_prune(model, data, 0.5, criterion=criterion, epochs=3, batch_size=32, verbose=0)
        assert [layer.units for layer in smaller.layers] == [32, 16, 10]
        assert accuracy(smaller, data.x_val, data.y_val) > base - 0.05


def test_output_layer_cannot_be_shrunk():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"), keras.layers.Dense(2, name="b")])
    with pytest.raises(McuError, match="cannot be shrunk"):
        structured_prune(model, None, layers=["b"])


def test_channels_tied_by_a_residual_add_are_removed_together():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 4))
    a = keras.layers.Conv2D(4, 3, padding="same", name="a")(inputs)
    b = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="b")(a)
    c = keras.layers.Conv2D(4, 1, name="c")(b)
    added = keras.layers.Add()([a, c])
    pooled = keras.layers.GlobalAveragePooling2D()(added)
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(pooled))
    assert channel_groups(model) == {"a": ["a", "c"], "b": ["b"]}
    _kill_outputs(model.get_layer("a"), [1, 3])  # both sides of the add are 0 on channels 1 and 3
    _kill_outputs(model.get_layer("c"), [1, 3])
    smaller = structured_prune(model, None, layers={"c": 0.5})
    assert smaller.get_layer("a").filters == 2 and smaller.get_layer("c").filters == 2
    assert smaller.get_layer("b").kernel.shape == (3, 3, 2, 6) and smaller.get_layer("out").kernel.shape == (2, 3)
    x = np.random.default_rng(0).normal(size=(5, 8, 8, 4)).astype(np.float32)
    np.testing.assert_allclose(smaller.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


def test_a_group_touching_the_input_or_a_concatenation_is_left_alone():
    inputs = keras.Input((8, 8, 4))
    b = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="b")(inputs)
    c = keras.layers.Conv2D(4, 1, name="c")(b)
    d = keras.layers.Conv2D(4, 1, name="d")(b)
    added = keras.layers.Add()([inputs, c])  # an identity shortcut from the input fixes c's channels
    joined = keras.layers.Concatenate()([added, d])
    pooled = keras.layers.GlobalAveragePooling2D()(joined)
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(pooled))
    assert shrinkable_layers(model) == ["b"]
    smaller = structured_prune(model, None, 0.5)
    assert smaller.get_layer("b").filters == 3 and smaller.get_layer("c").kernel.shape == (1, 1, 3, 4)


def test_channels_pass_through_a_concatenation_to_the_next_layer():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    left = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="left")(inputs)
    right = keras.layers.Conv2D(6, 1, activation="relu", name="right")(inputs)
    joined = keras.layers.Concatenate()([left, right])
    mixed = keras.layers.Conv2D(5, 1, activation="relu", name="mix")(joined)
    flat = keras.layers.Flatten()(mixed)
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(flat))
    assert shrinkable_layers(model) == ["left", "right", "mix"]
    _kill_outputs(model.get_layer("left"), [0, 2])
    _kill_outputs(model.get_layer("right"), [1, 4, 5])
    smaller = structured_prune(model, None, layers={"left": 0.5, "right": 0.5})
    assert smaller.get_layer("mix").kernel.shape == (1, 1, 5, 5)
    x = np.random.default_rng(0).normal(size=(4, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(smaller.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-5)
