"""Small int8 .tflite models built with Keras and the real TFLite converter, for the tests.

Weights are random (seeded) and calibration uses random data: the tests compare integer
interpreters with each other, so the models need the right operators, not accuracy.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _keras():
    import tf_keras  # Keras 2 API: the TFLite converter's most reliable input

    return tf_keras


def _conversion_key(model, input_shape, int8_io: bool, seed: int, float32: bool,
                    calibration: np.ndarray | None) -> str | None:
    """What the converter's output is a function of: TensorFlow's and Keras's versions, the model's
    configuration (layer names included) and weights, the options and the calibration samples
    (the default ones as drawn from ``seed``); None when the configuration cannot be serialized."""
    import tensorflow as tf

    try:
        config = model.to_json()
    except (TypeError, ValueError, NotImplementedError):
        return None
    digest = hashlib.sha256(repr((tf.__version__, _keras().__version__, tuple(input_shape), int8_io,
                                  float32)).encode())
    digest.update(config.encode())
    for w in model.get_weights():
        digest.update(repr((w.dtype.str, w.shape)).encode() + np.ascontiguousarray(w).tobytes())
    for sample in _calibration_samples(input_shape, calibration, np.random.default_rng(seed)):
        digest.update(sample.tobytes())
    return digest.hexdigest()[:32]


def _calibration_samples(input_shape, calibration: np.ndarray | None, rng):
    """The converter's representative samples, one (1, *input_shape) float32 array each:
    ``calibration``'s, or 32 of uniform noise drawn from ``rng``."""
    if calibration is not None:
        for sample in calibration:
            yield np.asarray(sample, dtype=np.float32).reshape(1, *input_shape)
        return
    for _ in range(32):
        yield rng.uniform(-1.0, 1.0, size=(1, *input_shape)).astype(np.float32)


def _convert(model, input_shape, path: Path, int8_io: bool = True, seed: int = 0, float32: bool = False,
             calibration: np.ndarray | None = None) -> Path:
    """int8 .tflite (float32=True: the converter's plain float model, no quantization).
    ``calibration``: float samples (N, *input_shape) for the converter; default uniform noise.

    The converter's bytes are kept in the user's build cache, keyed by everything they are made
    from (_conversion_key), like the host builds: a test run converts each model once per
    TensorFlow version instead of every run (0.3-2 s of CPU each), and gets the same bytes."""
    from mcucompress.cache import cache_dir

    key = _conversion_key(model, input_shape, int8_io, seed, float32, calibration)
    kept = cache_dir("tflite-conversions") / f"{key}.tflite" if key else None
    if kept is not None and kept.is_file():
        path.write_bytes(kept.read_bytes())
        return path
    _run_converter(model, input_shape, path, int8_io, seed, float32, calibration)
    if kept is not None:
        kept.parent.mkdir(parents=True, exist_ok=True)
        staged = kept.with_name(f"{kept.name}.{os.getpid()}")
        staged.write_bytes(path.read_bytes())
        os.replace(staged, kept)  # atomic: concurrent test workers each install a whole file
    return path


def _run_converter(model, input_shape, path: Path, int8_io: bool, seed: int, float32: bool,
                   calibration: np.ndarray | None) -> Path:
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    def representative():
        for sample in _calibration_samples(input_shape, calibration, rng):
            yield [sample]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if float32:
        path.write_bytes(converter.convert())
        return path
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    path.write_bytes(converter.convert())
    return path


def _seed(seed: int):
    """Seeds the random draws of the model built next, and restarts Keras's layer names (dense,
    dense_1, ...): a model's names, and so its converted bytes, then do not depend on which
    models the process built before (the conversion cache keys on them)."""
    import tensorflow as tf

    _keras().backend.reset_uids()
    tf.keras.utils.set_random_seed(seed) if hasattr(tf.keras.utils, "set_random_seed") else None
    tf.random.set_seed(seed)
    np.random.seed(seed)


def mlp(path: Path, int8_io: bool = True) -> Path:
    """Dense + ReLU6, Dense + ReLU, Dense, Softmax."""
    k = _keras()
    _seed(1)
    model = k.Sequential([
        k.layers.Input((20,)),
        k.layers.Dense(16, activation="relu6"),
        k.layers.Dense(12, activation="relu"),
        k.layers.Dense(10),
        k.layers.Softmax(),
    ])
    return _convert(model, (20,), path, int8_io)


def cnn(path: Path) -> Path:
    """same/valid/strided conv, max and average pooling, depthwise with multiplier 2,
    zero padding, global average pooling (MEAN), dense, softmax."""
    k = _keras()
    _seed(2)
    model = k.Sequential([
        k.layers.Input((15, 14, 3)),
        k.layers.Conv2D(8, 3, padding="same", activation="relu"),
        k.layers.MaxPooling2D(2, padding="same"),
        k.layers.Conv2D(8, 3, strides=2, padding="valid", activation="relu6"),
        k.layers.ZeroPadding2D(((1, 2), (0, 1))),
        k.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="relu"),
        k.layers.AveragePooling2D(2, strides=1, padding="same"),
        k.layers.Conv2D(6, 2, strides=(2, 1), padding="same"),
        k.layers.GlobalAveragePooling2D(),
        k.layers.Dense(5),
        k.layers.Softmax(),
    ])
    return _convert(model, (15, 14, 3), path)


def branches(path: Path) -> Path:
    """Two convolution branches joined by Concatenate on channels, a residual Add, a
    strided max pool, a strided depthwise conv without activation (negative outputs) and an
    average pool with SAME padding at the borders."""
    k = _keras()
    _seed(3)
    inp = k.layers.Input((12, 12, 4))
    a = k.layers.Conv2D(6, 3, padding="same", activation="relu")(inp)
    b = k.layers.Conv2D(2, 1, padding="same")(inp)
    c = k.layers.Concatenate(axis=-1)([a, b])
    d = k.layers.Conv2D(8, 3, padding="same")(c)
    e = k.layers.Activation("relu")(k.layers.Add()([c, d]))
    f = k.layers.MaxPooling2D(3, strides=2, padding="same")(e)
    f = k.layers.DepthwiseConv2D(3, strides=2, padding="same")(f)
    g = k.layers.AveragePooling2D(3, strides=2, padding="same")(f)
    h = k.layers.Flatten()(g)
    out = k.layers.Dense(4, activation="softmax")(h)
    return _convert(k.Model(inp, out), (12, 12, 4), path)


def dilated(path: Path) -> Path:
    """Dilated convolutions: the converter emits SPACE_TO_BATCH_ND, conv, BATCH_TO_SPACE_ND."""
    k = _keras()
    _seed(5)
    model = k.Sequential([
        k.layers.Input((12, 11, 2)),
        k.layers.Conv2D(4, 3, dilation_rate=2, padding="same"),
        k.layers.DepthwiseConv2D(3, dilation_rate=(2, 3), padding="same", activation="relu"),
        k.layers.Conv2D(3, (2, 3), dilation_rate=(3, 2), padding="valid"),
        k.layers.Flatten(),
        k.layers.Dense(3),
    ])
    return _convert(model, (12, 11, 2), path)


def keyword_spotter(path: Path, float32: bool = False) -> Path:
    """A small DS-CNN-like keyword spotter on 49x10 MFCC frames: strided conv, depthwise-separable
    block, global average pooling, dense, softmax (12 classes)."""
    k = _keras()
    _seed(6)
    model = k.Sequential([
        k.layers.Input((49, 10, 1)),
        k.layers.Conv2D(8, (10, 4), strides=2, padding="same", activation="relu"),
        k.layers.DepthwiseConv2D(3, padding="same", activation="relu"),
        k.layers.Conv2D(8, 1, activation="relu"),
        k.layers.GlobalAveragePooling2D(),
        k.layers.Dense(12),
        k.layers.Softmax(),
    ])
    return _convert(model, (49, 10, 1), path, float32=float32)


def with_unsupported_op(path: Path) -> Path:
    """A model with a BATCH_MATMUL (an outer product of two Dense outputs), which mcucompress does
    not support. Batch fixed at 1, so the converter writes no SHAPE op in front of it."""
    import tensorflow as tf

    k = _keras()
    _seed(4)
    inp = k.layers.Input((8,), batch_size=1)
    a = k.layers.Reshape((4, 1))(k.layers.Dense(4)(inp))
    b = k.layers.Reshape((1, 4))(k.layers.Dense(4)(inp))
    model = k.Model(inp, k.layers.Lambda(lambda t: tf.matmul(t[0], t[1]))([a, b]))
    return _convert(model, (8,), path)


_BUILT: dict[str, Path] = {}


def all_models(folder: Path) -> dict[str, Path]:
    """Build every test model once per process (the converter takes seconds)."""
    if not _BUILT:
        folder.mkdir(parents=True, exist_ok=True)
        _BUILT["mlp"] = mlp(folder / "mlp.tflite")
        _BUILT["mlp_float_io"] = mlp(folder / "mlp_float_io.tflite", int8_io=False)
        _BUILT["cnn"] = cnn(folder / "cnn.tflite")
        _BUILT["branches"] = branches(folder / "branches.tflite")
        _BUILT["dilated"] = dilated(folder / "dilated.tflite")
        _BUILT["unsupported"] = with_unsupported_op(folder / "unsupported.tflite")
    return dict(_BUILT)
