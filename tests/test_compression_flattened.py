"""Flattened convolutions: rank-1 filters as 1x1, kx1 and 1xk layers the exporter already has."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mcucompress.codegen.metrics import layer_rows  # noqa: E402
from mcucompress.compression.flattened import (flatten_convolutions, flattenable_layers,  # noqa: E402
                                               flattening_macs, rank1_filters)
from mcucompress.errors import McuError  # noqa: E402
from mcucompress.importers.keras import load_keras  # noqa: E402


def _cnn(padding="same", strides=2):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((12, 12, 3)),
                             keras.layers.Conv2D(8, 3, strides=strides, padding=padding, activation="relu", name="c1"),
                             keras.layers.Conv2D(16, 3, padding=padding, name="c2"), keras.layers.Flatten(),
                             keras.layers.Dense(4, name="out")])


def _make_rank1(model, name):
    layer = model.get_layer(name)
    kh, kw, c, n = layer.kernel.shape
    rng = np.random.default_rng(1)
    v, h, lat = rng.normal(size=(kh, n)), rng.normal(size=(kw, n)), rng.normal(size=(c, n))
    layer.kernel.assign(np.einsum("in,jn,kn->ijkn", v, h, lat).astype(np.float32))
    layer.bias.assign(rng.normal(size=n).astype(np.float32))


def test_rank1_filters_recover_a_separable_kernel():
    rng = np.random.default_rng(0)
    v, h, lat = rng.normal(size=(5, 4)), rng.normal(size=(3, 4)), rng.normal(size=(6, 4))
    kernel = np.einsum("in,jn,kn->ijkn", v, h, lat)
    fv, fh, fl = rank1_filters(kernel)
    np.testing.assert_allclose(np.einsum("in,jn,kn->ijkn", fv, fh, fl), kernel, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("padding, strides", [("same", 1), ("valid", 2)])
def test_flattened_model_computes_the_same_as_separable_filters(padding, strides):
    model = _cnn(padding, strides)
    _make_rank1(model, "c1")
    _make_rank1(model, "c2")
    flat = flatten_convolutions(model, ["c1", "c2"])
    assert [layer.name for layer in flat.layers][:6] == ["c1_l", "c1_v", "c1", "c2_l", "c2_v", "c2"]
    x = np.random.default_rng(2).normal(size=(3, 12, 12, 3)).astype(np.float32)
    np.testing.assert_allclose(flat.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-3, atol=1e-3)


def test_mac_counts_match_the_exporters_and_only_savings_are_flattened():
    model = _cnn("valid", 1)
    flat = flatten_convolutions(model)
    assert flattenable_layers(model) == ["c1", "c2"]
    rows = {r.name: r.macs for r in layer_rows(load_keras(flat))}
    for name in ("c1", "c2"):
        original, flattened = flattening_macs(model.get_layer(name))
        assert original == next(r.macs for r in layer_rows(load_keras(model)) if r.name == name)
        assert flattened == sum(macs for layer, macs in rows.items() if layer.split("/")[0] in
                                (name + "_l", name + "_v", name))
    tiny = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3, name="c")])
    assert flattenable_layers(tiny) == []  # one input and two filters: 1x1 + 3x1 + 1x3 costs more
    with pytest.raises(McuError, match="cannot be flattened"):
        flatten_convolutions(model, ["out"])


def test_flatten_flag_and_recipe_entry():
    from mcucompress.compression.recipe import parse_recipe, recipe_from_flags, run_recipe

    assert [s.name for s in recipe_from_flags(flatten=True).steps] == ["flatten"]
    recipe = parse_recipe({"passes": [{"flatten": {"layers": ["c2"], "iterations": 5}}]})
    flat = run_recipe(_cnn("valid", 1), None, recipe)
    assert [layer.name for layer in flat.layers][:4] == ["c1", "c2_l", "c2_v", "c2"]
