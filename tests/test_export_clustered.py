"""A clustered Keras model keeps its clustering through `export`: one weight scale per clustered
tensor, so at most k distinct int8 weights per layer reach the encoders, and the C stays exact."""

import numpy as np
import pytest

import keras

from mcucompress.compression.clustering import cluster_weights  # noqa: E402
from mcucompress.export import export  # noqa: E402
from mcucompress.ir.serialize import load_graph  # noqa: E402
from mcucompress.verify import verify  # noqa: E402


def _mlp(seed: int = 0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((64,)), keras.layers.Dense(48, activation="relu", name="fc1"),
                             keras.layers.Dense(10, name="out")])


def test_clustered_layers_keep_at_most_k_int8_values_and_verify_exactly(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.random((64, 64), dtype=np.float32)
    clustered = cluster_weights(_mlp(), clusters=8, epochs=0)
    np.savez(tmp_path / "calib.npz", x=x)
    tree = export(clustered, tmp_path / "c", calib=tmp_path / "calib.npz", optimize="none")
    graph = load_graph(tree / "graph.npz")
    fc1 = next(op for op in graph.ops if op.kind == "fully_connected")
    weights = graph.tensor(fc1.inputs[1])
    assert len(weights.quant.scale) == 1
    assert np.unique(weights.data).size <= 8
    report = verify(tree, tmp_path / "calib.npz")
    assert report.ok and report.samples == 64


def test_unclustered_layers_stay_per_channel(tmp_path):
    np.savez(tmp_path / "calib.npz", x=np.random.default_rng(1).random((32, 64), dtype=np.float32))
    tree = export(_mlp(), tmp_path / "c", calib=tmp_path / "calib.npz", optimize="none")
    graph = load_graph(tree / "graph.npz")
    fc1 = next(op for op in graph.ops if op.kind == "fully_connected")
    assert len(graph.tensor(fc1.inputs[1]).quant.scale) == 48
