"""Second-order pruning: L-OBS updates, OBD saliency, the pass on Dense and Conv2D models."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mcucompress.compression import accuracy, magnitude_prune  # noqa: E402
from mcucompress.compression.hessian import (hessian_prune, input_correlation, layer_inputs,  # noqa: E402
                                             obs_prune_matrix)
from mcucompress.compression.recipe import parse_recipe  # noqa: E402
from mcucompress.errors import McuError  # noqa: E402
from test_compression_pruning import digits, trained  # noqa: E402,F401  (the digits MLP and its data)


def test_obs_removing_one_weight_is_hassibis_closed_form():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))
    h = x.T @ x / 500
    w = rng.normal(size=(6, 1))
    new, keep = obs_prune_matrix(w, h, 1 / 6, rounds=1, damping=0.0)
    inverse = np.linalg.inv(h)
    saliency = w[:, 0] ** 2 / np.diag(inverse)
    q = int(np.argmin(saliency))
    assert np.flatnonzero(~keep[:, 0]).tolist() == [q]
    expected = w[:, 0] - w[q, 0] / inverse[q, q] * inverse[:, q]
    np.testing.assert_allclose(new[:, 0], expected, atol=1e-9)
    assert new[q, 0] == 0


def test_obs_update_beats_masking_on_the_layer_outputs():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 20)) @ rng.normal(size=(20, 20))  # correlated inputs
    h = x.T @ x / 400
    w = rng.normal(size=(20, 8))
    new, keep = obs_prune_matrix(w, h, 0.75, rounds=3, damping=0.0)
    assert (~keep).sum() == 120 and np.all(new[~keep] == 0)
    error_obs = np.sum((x @ (new - w)) ** 2)
    error_masked = np.sum((x @ (w * keep - w)) ** 2)
    magnitude = np.abs(w) >= np.quantile(np.abs(w), 0.75)
    assert error_obs < 0.75 * error_masked
    assert error_obs < np.sum((x @ (w * magnitude - w)) ** 2)


def test_conv_hessian_is_over_im2col_patches():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 2)), keras.layers.Conv2D(3, 3, strides=2, padding="same", name="c"),
                              keras.layers.Flatten(), keras.layers.Dense(4)])
    x = np.random.default_rng(0).normal(size=(5, 8, 8, 2)).astype(np.float32)
    layer = model.get_layer("c")
    h = input_correlation(layer, layer_inputs(model, ["c"], x)["c"])
    assert h.shape == (18, 18)
    # The layer's outputs are dot products with these rows: w^T H w = mean squared pre-activation.
    w = layer.kernel.numpy().reshape(18, 3)
    out = model.layers[0](x).numpy().reshape(-1, 3) - layer.bias.numpy()
    np.testing.assert_allclose(np.einsum("ij,ik,kj->j", w, h, w), (out ** 2).mean(axis=0), rtol=1e-4)


def test_one_shot_obs_keeps_more_accuracy_than_magnitude(trained, digits):
    before = accuracy(trained, digits.x_val, digits.y_val)
    obs = hessian_prune(trained, digits, 0.85, epochs=0, samples=512)
    magnitude = magnitude_prune(trained, None, 0.85)
    for layer in obs.layers:
        assert np.mean(layer.kernel.numpy() == 0) == pytest.approx(0.85, abs=0.002)
    acc_obs, acc_mag = accuracy(obs, digits.x_val, digits.y_val), accuracy(magnitude, digits.x_val, digits.y_val)
    assert acc_obs > acc_mag + 0.15 and acc_obs > before - 0.25


def test_obd_and_scheduled_obs_hold_their_masks_while_training(trained, digits):
    obd = hessian_prune(trained, digits, 0.7, method="obd", scope="global", schedule="polynomial", epochs=2,
                        batch_size=64, samples=128, verbose=0)
    kernels = [layer.kernel.numpy() for layer in obd.layers]
    assert sum((k == 0).sum() for k in kernels) == pytest.approx(0.7 * sum(k.size for k in kernels), abs=2)
    obs = hessian_prune(trained, digits, 0.7, schedule="polynomial", epochs=2, batch_size=64, samples=256, verbose=0)
    assert all(np.mean(layer.kernel.numpy() == 0) == pytest.approx(0.7, abs=0.002) for layer in obs.layers)
    assert accuracy(obs, digits.x_val, digits.y_val) > 0.85


def test_recipe_entries_and_user_errors(trained, digits):
    recipe = parse_recipe({"passes": [{"obs": {"sparsity": 0.9, "rounds": 2}}, {"obd": {"sparsity": 0.5}}]})
    assert [s.name for s in recipe.steps] == ["obs", "obd"]
    with pytest.raises(McuError, match="unknown option 'scope' for pass 'obs'"):
        parse_recipe({"passes": [{"obs": {"scope": "global"}}]})
    with pytest.raises(McuError, match="needs training data"):
        hessian_prune(trained, None, 0.5)
    with pytest.raises(McuError, match="'obs' or 'obd'"):
        hessian_prune(trained, digits, 0.5, method="newton")


def test_fisher_diagonal_is_the_mean_of_per_sample_squared_gradients():
    import tensorflow as tf

    from mcucompress.compression.hessian import fisher_diagonal

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, activation="relu", name="a"),
                              keras.layers.Dense(3, activation="softmax", name="b")])
    x = np.random.default_rng(0).normal(size=(7, 5)).astype(np.float32)
    got = fisher_diagonal(model, ["a", "b"], x, seed=3, chunk=4)
    rng = np.random.default_rng(3)
    kernels = [model.get_layer("a").kernel, model.get_layer("b").kernel]
    expected = [np.zeros(k.shape) for k in kernels]
    for start in (0, 4):
        p = model.predict(x[start:start + 4], verbose=0).astype(np.float64)
        drawn = [rng.choice(3, p=row / row.sum()) for row in p]
        for xi, yi in zip(x[start:start + 4], drawn):
            with tf.GradientTape() as tape:
                loss = -tf.math.log(model(xi[None])[0, yi])
            for total, g in zip(expected, tape.gradient(loss, kernels)):
                total += g.numpy() ** 2
    np.testing.assert_allclose(got["a"], expected[0] / 7, rtol=1e-3, atol=1e-7)
    np.testing.assert_allclose(got["b"], expected[1] / 7, rtol=1e-3, atol=1e-7)
