"""TensorFlow's own int8 conversion of a Keras model: the outside oracle for Keras exports.

``keras_to_int8_tflite(model, calib)`` returns the bytes of the fully int8 ``.tflite`` (int8
input and output, batch fixed at 1) that ``tf.lite.TFLiteConverter`` writes when it is given the
same calibration samples as our quantizer. tflite-micro runs that file; its distance to the float
model is what our own distance is judged against.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings

import numpy as np

from mcucompress.errors import McuError
from mcucompress.quiet import native_stderr_silenced


def batch1_model(model):
    """The model called on a batch-1 input, so the converter writes static shapes (no SHAPE/PACK)."""
    import keras

    inputs = [keras.Input(batch_shape=(1, *tuple(t.shape)[1:]), dtype=t.dtype) for t in model.inputs]
    outputs = model(inputs[0] if len(inputs) == 1 else inputs, training=False)
    return keras.Model(inputs, outputs)


def keras_to_int8_tflite(model, calib: np.ndarray) -> bytes:
    """Int8 .tflite bytes of ``model`` calibrated on ``calib`` (float samples, batch first)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    samples = np.asarray(calib, dtype=np.float32)
    try:
        fixed = batch1_model(model) if hasattr(model, "inputs") and model.inputs else model
    except Exception:  # tf_keras models and Sequentials without inputs are converted as they are
        fixed = model
    converter = tf.lite.TFLiteConverter.from_keras_model(fixed)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([s[None]] for s in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    try:
        # The converter prints its saved-model summary on stdout and warnings on stderr.
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), native_stderr_silenced():
            warnings.simplefilter("ignore")
            return converter.convert()
    except Exception as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise McuError(f"TensorFlow's converter failed: {first[:200]}") from None
