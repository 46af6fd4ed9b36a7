"""Keras importer: the float IR computes what Keras computes, and bad models give one-line errors."""

import os
import shutil

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras

from mcucompress.errors import McuError  # noqa: E402
from mcucompress.importers.keras import load_keras  # noqa: E402
from mcucompress.importers.keras_layers import resolve_padding  # noqa: E402
from mcucompress.reference.float import run_float  # noqa: E402

L = keras.layers
RESNET = "pretrainedResnet.h5"


def _randomize_batchnorm(model, seed=1):
    """Give BN layers non-trivial statistics so that folding them is actually tested."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            c = layer.moving_mean.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.2, c),
                               rng.normal(0, 0.2, c), rng.uniform(0.5, 2.0, c)])


def _digits_cnn():
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1))
    h = L.Conv2D(8, 3, padding="same", activation="relu")(inp)
    h = L.MaxPooling2D(2)(h)
    h = L.Conv2D(16, 3, activation="relu")(h)
    h = L.Flatten()(h)
    out = L.Dense(10, activation="softmax")(h)
    return keras.Model(inp, out)


def _every_layer_model():
    keras.utils.set_random_seed(0)
    inp = keras.Input((13, 11, 3))
    x = L.ZeroPadding2D(((1, 0), (2, 1)))(inp)
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    a = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="relu6", name="dw")(x)
    b = L.SeparableConv2D(16, 3, padding="same")(x)
    b = L.ReLU(max_value=6.0)(b)
    x = L.Add()([a, b])
    x = L.BatchNormalization()(x)  # after an Add: cannot fold, becomes a 1x1 depthwise
    x = L.Dropout(0.3)(x)
    c = L.Conv2D(4, 3, dilation_rate=2, padding="same", activation="relu")(x)
    d = L.MaxPooling2D(3, strides=1, padding="same")(x)
    x = L.Concatenate()([c, d])
    x = L.AveragePooling2D(2, padding="same")(x)  # odd size: partial windows at the edge
    x = L.Conv2D(12, 1, padding="valid", name="pointwise")(x)
    x = L.Activation("relu")(x)
    g = L.GlobalAveragePooling2D()(x)
    f = L.Reshape((3, 4))(g)
    f = L.Flatten()(f)
    f = L.Dense(10, activation="relu", name="hidden")(f)
    f = L.Dense(5)(f)
    out = L.Softmax()(f)
    model = keras.Model(inp, out)
    _randomize_batchnorm(model)
    return model


def test_digits_cnn_float_graph_matches_keras():
    model = _digits_cnn()
    graph = load_keras(model)
    assert [op.kind for op in graph.ops] == ["conv2d", "max_pool2d", "conv2d", "reshape",
                                              "fully_connected", "softmax"]
    assert graph.ops[0].attrs["activation"] == "relu"
    x = np.random.default_rng(0).uniform(0, 1, (32, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(run_float(graph, x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("optimize", [False, True])
def test_every_supported_layer_matches_keras(optimize):
    model = _every_layer_model()
    graph = load_keras(model, optimize=optimize)
    kinds = {op.kind for op in graph.ops}
    expected = {"pad", "conv2d", "depthwise_conv2d", "add", "max_pool2d", "concat", "avg_pool2d",
                "mean", "reshape", "fully_connected", "softmax"}
    assert expected <= kinds
    assert ("batch_norm" in kinds) != optimize
    x = np.random.default_rng(1).normal(0, 1, (16, 13, 11, 3)).astype(np.float32)
    np.testing.assert_allclose(run_float(graph, x), model.predict(x, verbose=0), rtol=1e-4, atol=2e-6)


def test_weight_layouts_follow_tflite():
    model = _every_layer_model()
    graph = load_keras(model, optimize=False)
    conv = next(op for op in graph.ops if op.name == "pointwise")
    kernel = model.get_layer("pointwise").get_weights()[0]  # HWIO
    np.testing.assert_array_equal(graph.tensor(conv.inputs[1]).data, kernel.transpose(3, 0, 1, 2))
    dw = next(op for op in graph.ops if op.kind == "depthwise_conv2d")
    dk = model.get_layer("dw").get_weights()[0]  # (kh, kw, in, mult)
    assert graph.tensor(dw.inputs[1]).shape == (1, 3, 3, 16)
    np.testing.assert_array_equal(graph.tensor(dw.inputs[1]).data[0, :, :, 2 * 3 + 1], dk[:, :, 3, 1])
    dense = next(op for op in graph.ops if op.name == "hidden")
    np.testing.assert_array_equal(graph.tensor(dense.inputs[1]).data, model.get_layer("hidden").get_weights()[0].T)


def test_same_padding_resolves_like_tflite():
    assert resolve_padding("same", (32, 32), (3, 3), (2, 2)) == (0, 1, 0, 1)
    assert resolve_padding("same", (32, 32), (3, 3), (1, 1)) == (1, 1, 1, 1)
    assert resolve_padding("same", (7, 8), (4, 1), (1, 1)) == (1, 2, 0, 0)
    assert resolve_padding("same", (5, 5), (3, 3), (1, 1), (2, 2)) == (2, 2, 2, 2)
    assert resolve_padding("valid", (9, 9), (3, 3), (2, 2)) == (0, 0, 0, 0)


@pytest.fixture(scope="module")
def resnet_path(mlperf_dir):
    path = mlperf_dir / RESNET
    if not path.is_file():
        pytest.skip(f"{path} missing")
    return path


def test_resnet8_h5_matches_tf_keras(resnet_path):
    import tf_keras
    legacy = tf_keras.models.load_model(resnet_path, compile=False)
    from_file, from_legacy_object = load_keras(resnet_path), load_keras(legacy)
    assert [op.kind for op in from_file.ops] == [op.kind for op in from_legacy_object.ops]
    assert not any(op.kind in ("batch_norm", "relu") for op in from_file.ops)
    assert sum(op.kind == "add" and op.attrs["activation"] == "relu" for op in from_file.ops) == 3
    x = np.random.default_rng(2).uniform(0, 255, (8, 32, 32, 3)).astype(np.float32)
    expected = legacy.predict(x, verbose=0)
    np.testing.assert_allclose(run_float(from_legacy_object, x), expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(run_float(from_file, x), expected, rtol=1e-4, atol=1e-6)


def _one_line(error) -> str:
    text = str(error.value)
    assert "\n" not in text and text
    return text


def test_truncated_h5_is_a_one_line_error(resnet_path, tmp_path):
    broken = tmp_path / "broken.h5"
    broken.write_bytes(resnet_path.read_bytes()[:4000])
    with pytest.raises(McuError) as error:
        load_keras(broken)
    assert "broken.h5" in _one_line(error)


def test_non_model_files_are_one_line_errors(tmp_path):
    text = tmp_path / "notes.keras"
    text.write_text("not a model")
    with pytest.raises(McuError) as error:
        load_keras(text)
    assert "notes.keras" in _one_line(error)
    csv = tmp_path / "data.csv"
    csv.write_text("1,2,3")
    with pytest.raises(McuError) as error:
        load_keras(csv)
    assert "not a Keras model" in _one_line(error)
    with pytest.raises(McuError) as error:
        load_keras(tmp_path / "missing.h5")
    assert "not found" in _one_line(error)
    with pytest.raises(McuError) as error:
        load_keras(tmp_path)
    assert "directory" in _one_line(error)


def test_unsupported_layer_names_layer_and_class():
    inp = keras.Input((4, 4, 2))
    x = L.Conv2D(2, 1)(inp)
    out = L.LayerNormalization(name="gate")(x)
    with pytest.raises(McuError) as error:
        load_keras(keras.Model(inp, out))
    assert "'gate'" in _one_line(error) and "LayerNormalization" in _one_line(error)


def test_unsupported_activation_names_layer():
    inp = keras.Input((6,))
    out = L.Dense(3, activation="gelu", name="squash")(inp)
    with pytest.raises(McuError) as error:
        load_keras(keras.Model(inp, out))
    assert "'squash'" in _one_line(error) and "gelu" in _one_line(error)


def test_keras_file_round_trip(tmp_path):
    model = _digits_cnn()
    path = tmp_path / "digits.keras"
    model.save(path)
    graph = load_keras(path)
    x = np.random.default_rng(3).uniform(0, 1, (4, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(run_float(graph, x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    # Dropping a .keras file's extension must not make the loader guess.
    shutil.copy(path, tmp_path / "digits.bin")
    with pytest.raises(McuError):
        load_keras(tmp_path / "digits.bin")


def test_h5_that_keras3_cannot_read_falls_back_to_tf_keras(tmp_path):
    import tf_keras
    import tensorflow as tf

    inp = tf_keras.layers.Input((6, 6, 1))
    x = tf_keras.layers.Conv2D(2, 3, name="conv")(inp)
    model = tf_keras.Model(inp, tf.nn.relu(x))  # stored as a TFOpLambda layer, unknown to Keras 3
    path = tmp_path / "legacy.h5"
    model.save(path)
    with pytest.raises(Exception):
        keras.saving.load_model(path, compile=False)
    with pytest.raises(McuError) as error:  # read by tf_keras, then refused by name
        load_keras(path)
    assert "TFOpLambda" in _one_line(error) and "tf.nn.relu" in _one_line(error)


def test_nested_models_are_inlined():
    keras.utils.set_random_seed(4)
    base = keras.Sequential([keras.Input((6, 6, 2)), L.Conv2D(3, 3), L.BatchNormalization(), L.ReLU()],
                            name="base")
    _randomize_batchnorm(base)
    shared = keras.Sequential([keras.Input((3,)), L.Dense(3, activation="relu")], name="shared")
    inp = keras.Input((6, 6, 2))
    h = L.GlobalAveragePooling2D()(base(inp))
    out = L.Add()([shared(h), shared(h)])  # one sub-model applied twice
    model = keras.Model(inp, L.Dense(4)(out))
    graph = load_keras(model)
    assert [op.kind for op in graph.ops] == ["conv2d", "mean", "fully_connected", "fully_connected", "add",
                                             "fully_connected"]
    x = np.random.default_rng(4).normal(0, 1, (5, 6, 6, 2)).astype(np.float32)
    np.testing.assert_allclose(run_float(graph, x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_rescaling_folds_or_becomes_depthwise():
    inp = keras.Input((5, 5, 2))
    first = keras.Model(inp, L.Rescaling([1 / 255.0, 2.0], offset=-1.0)(inp))
    assert [op.kind for op in load_keras(first).ops] == ["depthwise_conv2d"]
    after_conv = keras.Model(inp, L.Rescaling(0.5, offset=0.1)(L.Conv2D(2, 1)(inp)))
    assert [op.kind for op in load_keras(after_conv).ops] == ["conv2d"]
    x = np.random.default_rng(5).uniform(0, 255, (3, 5, 5, 2)).astype(np.float32)
    for model in (first, after_conv):
        np.testing.assert_allclose(run_float(load_keras(model), x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-4)


def test_model_without_input_shape_is_a_one_line_error():
    with pytest.raises(McuError) as error:
        load_keras(keras.Sequential([L.Dense(3)]))
    assert "input" in _one_line(error)
    with pytest.raises(McuError) as error:
        load_keras(keras.Sequential([keras.Input((None, None, 3)), L.Conv2D(2, 3)]))
    assert "undefined dimension" in _one_line(error)


def test_keras_file_written_by_tf_keras_falls_back(tmp_path):
    import tf_keras
    model = tf_keras.Sequential([tf_keras.layers.Dense(3, input_shape=(5,), activation="relu")])
    path = tmp_path / "legacy.keras"
    model.save(path)
    with pytest.raises(Exception):
        keras.saving.load_model(path, compile=False)
    graph = load_keras(path)
    x = np.random.default_rng(6).normal(0, 1, (4, 5)).astype(np.float32)
    np.testing.assert_allclose(run_float(graph, x), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
