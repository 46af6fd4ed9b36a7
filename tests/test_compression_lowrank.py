"""Low-rank factorization: SVD factors, rank choice by energy or greedy budget, conv matricization."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mcucompress.compression import accuracy, fine_tune, low_rank  # noqa: E402
from mcucompress.compression.lowrank import Factorable, choose_ranks, ranks_for_budget, ranks_for_energy  # noqa: E402
from mcucompress.errors import McuError  # noqa: E402


def _close(model_a, model_b, x):
    np.testing.assert_allclose(model_a.predict(x, verbose=0), model_b.predict(x, verbose=0), rtol=1e-4, atol=1e-4)


def test_full_rank_factorization_reproduces_dense_and_conv_models():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Conv2D(8, 3, strides=2, activation="relu",
                                                                            name="conv"),
                              keras.layers.Flatten(name="flatten"), keras.layers.Dense(16, activation="relu", name="fc"),
                              keras.layers.Dense(4, name="out")])
    full = low_rank(model, None, ranks={"conv": 8, "fc": 16})
    names = [layer.name for layer in full.layers]
    assert names == ["conv_lr", "conv", "flatten", "fc_lr", "fc", "out"]
    assert full.get_layer("conv_lr").kernel.shape == (3, 3, 3, 8) and full.get_layer("conv").kernel.shape == (1, 1, 8, 8)
    assert full.get_layer("fc_lr").get_config()["activation"] == "linear"
    x = np.random.default_rng(0).normal(size=(8, 12, 12, 3)).astype(np.float32)
    _close(full, model, x)


def test_truncated_factors_are_the_best_rank_r_approximation():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((30,)), keras.layers.Dense(20, name="fc")])
    w = model.get_layer("fc").kernel.numpy()
    small = low_rank(model, None, ranks={"fc": 5})
    product = small.get_layer("fc_lr").kernel.numpy() @ small.get_layer("fc").kernel.numpy()
    u, s, vt = np.linalg.svd(w)
    np.testing.assert_allclose(product, (u[:, :5] * s[:5]) @ vt[:5], atol=1e-5)
    assert small.count_params() == 5 * (30 + 20) + 20


def test_energy_rank_is_the_smallest_rank_keeping_that_energy():
    layer = Factorable("a", 100, 100, 1, np.array([4.0, 2.0, 1.0, 1.0] + [0.1] * 96))
    total = 16 + 4 + 1 + 1 + 96 * 0.01
    assert ranks_for_energy([layer], 16 / total) == {"a": 1}
    assert ranks_for_energy([layer], (20 + 0.5) / total) == {"a": 3}
    tiny = Factorable("b", 3, 3, 1, np.array([1.0, 1.0, 1.0]))
    assert ranks_for_energy([tiny], 0.5) == {}  # factoring a 3x3 matrix never saves anything


def test_greedy_budget_truncates_where_energy_is_cheapest_and_meets_the_budget():
    fast = Factorable("fast", 200, 100, 4, np.geomspace(10, 1e-3, 100))
    flat = Factorable("flat", 200, 100, 4, np.ones(100))
    ranks = ranks_for_budget([fast, flat], 0.3, "macs")
    cost = fast.cost(ranks.get("fast"), "macs") + flat.cost(ranks.get("flat"), "macs")
    assert cost <= 0.3 * (fast.cost(None, "macs") + flat.cost(None, "macs"))
    assert ranks["fast"] < ranks.get("flat", 100)
    with pytest.raises(McuError, match="exactly one"):
        choose_ranks(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), energy=0.9, macs=0.5)


def test_quarter_parameters_on_one_layer_then_fine_tune(digits_data):
    data = digits_data
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu", name="fc1"),
                              keras.layers.Dense(10, activation="softmax", name="out")])
    model = fine_tune(model, data, epochs=12, batch_size=32, verbose=0)
    small = low_rank(model, data, params=0.25, layers=["fc1"], epochs=3, batch_size=32, verbose=0)
    factor_params = sum(int(np.prod(small.get_layer(n).kernel.shape)) for n in ("fc1_lr", "fc1"))
    assert factor_params <= 0.25 * 64 * 64
    assert small.get_layer("out").kernel.shape == (64, 10)
    assert accuracy(small, data.x_val, data.y_val) > accuracy(model, data.x_val, data.y_val) - 0.08
