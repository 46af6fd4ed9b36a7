"""Global pooling as TensorFlow's converter writes it: MEAN over the steps of a (1, T, C) tensor
and REDUCE_MAX over the spatial axes, matched byte for byte with tflite-micro."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytest.importorskip("tflite_micro")
tf_keras = pytest.importorskip("tf_keras")

from tflite_builders import _convert, _seed  # noqa: E402

from mcucompress.export import export  # noqa: E402
from mcucompress.importers.tflite import load_tflite  # noqa: E402
from mcucompress.verify import verify  # noqa: E402

K = tf_keras.layers


@pytest.mark.parametrize("rank", [3, 4])
def test_global_pools_match_tflite_micro(rank, tmp_path):
    _seed(rank)
    shape = (20, 5) if rank == 3 else (6, 7, 3)
    inp = K.Input(shape)
    if rank == 3:
        x = K.Conv1D(6, 3, activation="relu")(inp)
        pooled = [K.GlobalAveragePooling1D()(x), K.GlobalMaxPooling1D()(x)]
    else:
        x = K.Conv2D(6, 3, activation="relu")(inp)
        pooled = [K.GlobalMaxPooling2D()(x), K.GlobalAveragePooling2D()(x)]
    model = tf_keras.Model(inp, K.Dense(4)(K.Concatenate()(pooled)))
    path = _convert(model, shape, tmp_path / "pools.tflite")
    kinds = [op.kind for op in load_tflite(path).ops]
    assert "reduce_max" in kinds and "mean" in kinds
    np.savez(tmp_path / "x.npz", x=np.random.default_rng(rank).uniform(-1, 1, (12, *shape)).astype(np.float32))
    report = verify(export(path, tmp_path / "out"), tmp_path / "x.npz")
    assert report.ok and report.comparisons[-1].against == "tflite-micro", report.comparisons


def test_causal_conv1d_padding_matches_tflite_micro(tmp_path):
    """The converter pads a causal Conv1D's (1, T, C) input with a rank-3 PAD."""
    _seed(5)
    inp = K.Input((16, 3))
    x = K.Conv1D(4, 3, padding="causal", activation="relu")(inp)
    path = _convert(tf_keras.Model(inp, K.Dense(2)(K.Flatten()(x))), (16, 3), tmp_path / "causal.tflite")
    assert "pad" in [op.kind for op in load_tflite(path).ops]
    np.savez(tmp_path / "x.npz", x=np.random.default_rng(5).uniform(-1, 1, (12, 16, 3)).astype(np.float32))
    report = verify(export(path, tmp_path / "out"), tmp_path / "x.npz")
    assert report.ok and report.comparisons[-1].against == "tflite-micro", report.comparisons
