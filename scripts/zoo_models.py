"""The model zoo: small Keras 3 models of the kinds people deploy, built in code with seeded
random weights (BatchNormalization statistics randomized too, so folding is exercised).

``MODELS`` maps a name to a builder returning (model, input sampler); the sampler draws float
inputs in the range the model expects. scripts/zoo.py runs every model through both paths
(.keras and TensorFlow's int8 .tflite) and tests/test_zoo.py (marker ``zoo``) checks them.
"""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _keras():
    import keras

    return keras


def _uniform(low, high):
    return lambda rng, n, shape: rng.uniform(low, high, (n, *shape)).astype(np.float32)


def _normal(rng, n, shape):
    return rng.normal(size=(n, *shape)).astype(np.float32)


def _randomize_batchnorm(model, seed: int = 1):
    keras = _keras()
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            c = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.2, c).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, c).astype(np.float32))
            if layer.gamma is not None:
                layer.gamma.assign(rng.uniform(0.5, 1.5, c).astype(np.float32))
            if layer.beta is not None:
                layer.beta.assign(rng.normal(0, 0.2, c).astype(np.float32))
    return model


def _application(name: str, **kwargs):
    def build():
        keras = _keras()
        keras.utils.set_random_seed(0)
        model = getattr(keras.applications, name)(input_shape=(96, 96, 3), weights=None, classes=10, **kwargs)
        return _randomize_batchnorm(model), _uniform(0, 255) if "V3" in name else _uniform(-1, 1)
    return build


def _functional(body, shape, sampler=None, seed=0):
    def build():
        keras = _keras()
        keras.utils.set_random_seed(seed)
        inp = keras.Input(shape)
        model = keras.Model(inp, body(keras.layers, keras.ops, inp))
        return _randomize_batchnorm(model), sampler or _uniform(-1, 1)
    return build


def _conv_bn(L, x, filters, kernel=3, strides=1, act="relu"):
    x = L.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    return L.Activation(act)(x) if isinstance(act, str) else act(x)


def kws_conv1d(L, ops, x):
    x = L.Conv1D(24, 5, strides=2, padding="same", activation="relu")(x)
    x = L.SeparableConv1D(32, 3, padding="same", activation="relu")(x)
    x = L.DepthwiseConv1D(3, padding="same", activation="relu")(x)
    x = L.Conv1D(32, 1, activation="relu")(x)
    x = L.GlobalAveragePooling1D()(x)
    return L.Dense(12, activation="softmax")(x)


def tcn_causal(L, ops, x):
    for d in (1, 2, 4):
        x = L.Conv1D(16, 3, padding="causal", dilation_rate=d, activation="relu")(x)
    x = L.MaxPooling1D(2)(x)
    x = L.GlobalMaxPooling1D()(x)
    return L.Dense(5)(x)


def ds_cnn(L, ops, x):
    x = _conv_bn(L, x, 32, (10, 4), strides=2)
    for _ in range(3):
        x = L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
        x = _conv_bn(L, x, 32, 1)
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(12, activation="softmax")(x)


def se_block_cnn(L, ops, x):
    x = _conv_bn(L, x, 16, strides=2)
    s = L.GlobalAveragePooling2D(keepdims=True)(x)
    s = L.Conv2D(4, 1, activation="relu")(s)
    s = L.Conv2D(16, 1, activation="sigmoid")(s)
    x = L.Multiply()([x, s])
    x = _conv_bn(L, x, 24, strides=2)
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(10, activation="softmax")(x)


def se_dense_gate(L, ops, x):
    x = _conv_bn(L, x, 16, strides=2)
    s = L.GlobalAveragePooling2D()(x)
    s = L.Dense(4, activation="relu")(s)
    s = L.Dense(16, activation="sigmoid")(s)
    s = L.Reshape((1, 1, 16))(s)
    x = x * s
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(10)(x)


def leaky_relu_cnn(L, ops, x):
    x = L.Conv2D(16, 3, strides=2, padding="same")(x)
    x = L.LeakyReLU(0.1)(x)
    x = L.Conv2D(32, 3, strides=2, padding="same", activation="leaky_relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(10, activation="softmax")(x)


def prelu_cnn(L, ops, x):
    x = L.Conv2D(16, 3, strides=2, padding="same")(x)
    x = L.PReLU(shared_axes=[1, 2])(x)
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(10)(x)


def elu_cnn(L, ops, x):
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="elu")(x)
    x = L.Conv2D(16, 3, strides=2, padding="same")(x)
    x = L.ELU()(x)
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(10)(x)


def hard_swish_head(L, ops, x):
    x = _conv_bn(L, x, 16, strides=2, act="hard_swish")
    x = L.DepthwiseConv2D(3, padding="same")(x)
    x = L.Activation("hard_swish")(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(32, activation="hard_swish")(x)
    return L.Dense(10, activation="softmax")(x)


def hard_sigmoid_gate(L, ops, x):
    """The silent-error pattern: MobileNetV3's hard-sigmoid written as operators."""
    x = L.Conv2D(16, 3, strides=2, padding="same")(x)
    g = L.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)
    x = x * g
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(10)(x)


def sigmoid_multilabel(L, ops, x):
    x = _conv_bn(L, x, 16, strides=2)
    x = _conv_bn(L, x, 32, strides=2)
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(6, activation="sigmoid")(x)


def tanh_mlp(L, ops, x):
    x = L.Dense(64, activation="tanh")(x)
    x = L.Dense(32, activation="tanh")(x)
    return L.Dense(4)(x)


def relu6_mlp(L, ops, x):
    x = L.Dense(64, activation="relu6")(x)
    x = L.Dropout(0.2)(x)
    x = L.Dense(32, activation="relu")(x)
    return L.Dense(10, activation="softmax")(x)


def global_max_cnn(L, ops, x):
    x = L.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = L.MaxPooling2D(2)(x)
    x = L.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = L.GlobalMaxPooling2D()(x)
    return L.Dense(10)(x)


def broadcast_add(L, ops, x):
    x = L.Conv2D(16, 3, strides=2, padding="same")(x)
    bias = L.GlobalAveragePooling2D(keepdims=True)(x)
    bias = L.Conv2D(16, 1)(bias)
    x = L.Add()([x, bias])
    x = L.ReLU()(x)
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(10)(x)


def rescaling_input(L, ops, x):
    x = L.Rescaling(1 / 127.5, offset=-1.0)(x)
    x = _conv_bn(L, x, 16, strides=2)
    x = _conv_bn(L, x, 32, strides=2)
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(10, activation="softmax")(x)


def normalization_input(L, ops, x):
    x = L.Normalization(mean=[0.5, 0.4, 0.3], variance=[0.09, 0.04, 0.0625])(x)
    x = L.Conv2D(16, 3, strides=2, padding="valid", activation="relu")(x)
    x = L.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(10)(x)


def residual_cnn(L, ops, x):
    x = _conv_bn(L, x, 16)
    for filters in (16, 32):
        shortcut = L.Conv2D(filters, 1, strides=2)(x)
        y = _conv_bn(L, x, filters, strides=2)
        y = L.Conv2D(filters, 3, padding="same")(y)
        x = L.ReLU()(L.Add()([shortcut, y]))
    x = L.AveragePooling2D(2)(x)
    x = L.Flatten()(x)
    return L.Dense(10)(x)


def inception_concat(L, ops, x):
    a = L.Conv2D(8, 1, activation="relu")(x)
    b = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    c = L.MaxPooling2D(3, strides=1, padding="same")(x)
    x = L.Concatenate()([a, b, c])
    x = L.AveragePooling2D(2)(x)
    x = L.SeparableConv2D(24, 3, padding="same", activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(10)(x)


def max_min_merge(L, ops, x):
    x = L.Conv2D(16, 3, padding="same")(x)
    a = L.Conv2D(16, 1)(x)
    b = L.Conv2D(16, 1)(x)
    x = L.Maximum()([a, b])
    x = L.Minimum()([x, L.Conv2D(16, 1)(x)])
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(10)(x)


def swish_ops(L, ops, x):
    x = L.Conv2D(16, 3, strides=2, padding="same")(x)
    x = x * ops.sigmoid(x)
    x = L.Conv2D(16, 3, strides=2, padding="same")(x)
    x = ops.tanh(x) * 0.5 + 0.5
    x = L.GlobalAveragePooling2D()(x)
    return L.Dense(10)(x)


def conv_transpose_autoencoder(L, ops, x):
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = L.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(x)
    return L.Conv2D(1, 3, padding="same", activation="sigmoid")(x)


def upsampling_autoencoder(L, ops, x):
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = L.UpSampling2D(2)(x)
    return L.Conv2D(1, 3, padding="same")(x)


def lstm_accel(L, ops, x):
    x = L.LSTM(16)(x)
    return L.Dense(6, activation="softmax")(x)


def gru_accel(L, ops, x):
    x = L.GRU(16)(x)
    return L.Dense(6, activation="softmax")(x)


def conv1d_accel(L, ops, x):
    x = L.Conv1D(16, 5, activation="relu")(x)
    x = L.MaxPooling1D(2)(x)
    x = L.Conv1D(16, 3, activation="relu")(x)
    x = L.Flatten()(x)
    return L.Dense(6, activation="softmax")(x)


def two_head_detector():
    keras = _keras()
    keras.utils.set_random_seed(0)
    L = keras.layers
    inp = keras.Input((32, 32, 3))
    x = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inp)
    x = L.GlobalAveragePooling2D()(x)
    return keras.Model(inp, [L.Dense(4, name="box")(x), L.Dense(3, activation="softmax", name="cls")(x)]), \
        _uniform(-1, 1)


def two_input_fusion():
    keras = _keras()
    keras.utils.set_random_seed(0)
    L = keras.layers
    a, b = keras.Input((16,)), keras.Input((8,))
    x = L.Concatenate()([L.Dense(8, activation="relu")(a), L.Dense(8, activation="relu")(b)])
    return keras.Model([a, b], L.Dense(4)(x)), _uniform(-1, 1)


def embedding_text():
    keras = _keras()
    keras.utils.set_random_seed(0)
    L = keras.layers
    inp = keras.Input((20,), dtype="int32")
    x = L.Embedding(100, 8)(inp)
    x = L.GlobalAveragePooling1D()(x)
    return keras.Model(inp, L.Dense(2)(x)), lambda rng, n, shape: rng.integers(0, 100, (n, *shape)).astype(np.float32)


MODELS = {
    "mobilenet_v1_0.25": _application("MobileNet", alpha=0.25),
    "mobilenet_v2_0.35": _application("MobileNetV2", alpha=0.35),
    "mobilenet_v3_small": _application("MobileNetV3Small", alpha=0.75),
    "mobilenet_v3_small_minimalistic": _application("MobileNetV3Small", alpha=0.75, minimalistic=True),
    "kws_conv1d": _functional(kws_conv1d, (49, 10), _normal),
    "tcn_causal_conv1d": _functional(tcn_causal, (64, 6), _normal),
    "conv1d_accelerometer": _functional(conv1d_accel, (64, 3), _normal),
    "ds_cnn_kws": _functional(ds_cnn, (49, 10, 1), _normal),
    "se_block_cnn": _functional(se_block_cnn, (32, 32, 3)),
    "se_dense_gate": _functional(se_dense_gate, (32, 32, 3)),
    "leaky_relu_cnn": _functional(leaky_relu_cnn, (32, 32, 3)),
    "prelu_cnn": _functional(prelu_cnn, (32, 32, 3)),
    "elu_cnn": _functional(elu_cnn, (32, 32, 3)),
    "hard_swish_head": _functional(hard_swish_head, (32, 32, 3)),
    "hard_sigmoid_gate": _functional(hard_sigmoid_gate, (32, 32, 3)),
    "sigmoid_multilabel": _functional(sigmoid_multilabel, (32, 32, 3)),
    "swish_tanh_ops": _functional(swish_ops, (32, 32, 3)),
    "tanh_mlp": _functional(tanh_mlp, (20,), _normal),
    "relu6_mlp": _functional(relu6_mlp, (40,), _normal),
    "global_max_cnn": _functional(global_max_cnn, (24, 24, 3)),
    "broadcast_add": _functional(broadcast_add, (32, 32, 3)),
    "rescaling_input": _functional(rescaling_input, (32, 32, 3), _uniform(0, 255)),
    "normalization_input": _functional(normalization_input, (32, 32, 3), _uniform(0, 1)),
    "residual_cnn": _functional(residual_cnn, (32, 32, 3)),
    "inception_concat": _functional(inception_concat, (24, 24, 3)),
    "max_min_merge": _functional(max_min_merge, (16, 16, 3)),
    "conv_transpose_autoencoder": _functional(conv_transpose_autoencoder, (28, 28, 1), _uniform(0, 1)),
    "upsampling_autoencoder": _functional(upsampling_autoencoder, (28, 28, 1), _uniform(0, 1)),
    "lstm_accelerometer": _functional(lstm_accel, (32, 3), _normal),
    "gru_accelerometer": _functional(gru_accel, (32, 3), _normal),
    "two_head_detector": two_head_detector,
    "two_input_fusion": two_input_fusion,
    "embedding_text": embedding_text,
}
