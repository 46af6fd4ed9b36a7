"""TensorFlow's own int8 conversion of a Keras model: the outside oracle for Keras exports.

``convert_in_child(model_file, calib_npz)`` does the same in a child process: TensorFlow's
converter crashes (segfaults) on some Keras models (LSTM and GRU layers among them), and a crash
there must become a one-line McuError, not end the caller.

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


PORT_NAME = "mcc_input_"


def batch1_model(model):
    """The model called on a batch-1 input, so the converter writes static shapes (no SHAPE/PACK)."""
    import keras

    several = len(model.inputs) > 1  # then named, so that the converted ports can be matched
    inputs = [keras.Input(batch_shape=(1, *tuple(t.shape)[1:]), dtype=t.dtype,
                          name=f"{PORT_NAME}{k}" if several else None) for k, t in enumerate(model.inputs)]
    outputs = model(inputs[0] if len(inputs) == 1 else inputs, training=False)
    return keras.Model(inputs, outputs)


def keras_to_int8_tflite(model, calib) -> bytes:
    """Int8 .tflite bytes of ``model`` calibrated on ``calib`` (float samples, batch first; a
    list of such arrays, one per input, for a model with several inputs)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    several = isinstance(calib, (list, tuple))
    samples = [np.asarray(c, dtype=np.float32) for c in calib] if several else np.asarray(calib, dtype=np.float32)
    try:
        fixed = batch1_model(model) if hasattr(model, "inputs") and model.inputs else model
    except Exception:  # tf_keras models and Sequentials without inputs are converted as they are
        fixed = model
    converter = tf.lite.TFLiteConverter.from_keras_model(fixed)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if several:  # one sample of each input, in the Keras model's input order
        converter.representative_dataset = lambda: ({f"{PORT_NAME}{k}": c[i][None] for k, c in enumerate(samples)}
                                                     for i in range(len(samples[0])))
    else:
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


def converted_port_order(model, tflite) -> tuple[list[int], list[int]]:
    """(Keras input index of each input of the converted file, Keras output index of each of its
    outputs). The converter orders ports by its signature, not by the Keras model: its serving
    signature names each input as ``batch1_model`` named it and each output ``output_<k>``."""
    n_in, n_out = len(getattr(model, "inputs", None) or [0]), len(getattr(model, "outputs", None) or [0])
    if n_in == 1 and n_out == 1:
        return [0], [0]
    from mcucompress.reference.interpreters import LiteRT

    interp = LiteRT(tflite, delegates=False)._interp
    signature = next(iter(interp._get_full_signature_list().values()), None)
    inputs = [d["index"] for d in interp.get_input_details()]
    outputs = [d["index"] for d in interp.get_output_details()]
    if signature is None:
        raise McuError("TensorFlow's conversion has no signature to match its ports with the Keras model's")
    by_tensor = {index: name for name, index in signature["inputs"].items()}
    try:
        in_order = [0] if n_in == 1 else [int(by_tensor[index].removeprefix(PORT_NAME)) for index in inputs]
        out_by_tensor = {index: int(name.rsplit("_", 1)[1]) for name, index in signature["outputs"].items()}
        out_order = [out_by_tensor[index] for index in outputs]
    except (KeyError, ValueError, IndexError):
        raise McuError("the ports of TensorFlow's conversion do not match the Keras model's by name") from None
    return in_order, out_order


CONVERTER_TIMEOUT = 900.0  # seconds: the converter on the zoo's largest model takes well under a minute


# Conversions this process has made, by _conversion_key: a second conversion of the same model
# file on the same samples (verify's oracle, then the .tflite path of the same model) reuses the
# bytes instead of starting TensorFlow again in a new child.
_CONVERTED: dict[str, bytes] = {}
_CONVERTED_KEPT = 16  # the newest conversions kept (a .tflite of a small model: kilobytes)


def _conversion_key(model_file, calib_npz, allow_code: bool) -> str | None:
    """SHA-256 of the model file's bytes, the calibration arrays (dtype, shape, values) and
    allow_code; None when either file cannot be read here (the child then says why)."""
    import hashlib
    from pathlib import Path

    try:
        digest = hashlib.sha256(Path(model_file).read_bytes())
        arrays = calibration_arrays(calib_npz)
    except Exception:  # noqa: BLE001 - any unreadable input: no caching, the child reports it
        return None
    for a in arrays if isinstance(arrays, list) else [arrays]:
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(np.ascontiguousarray(a).tobytes())
    digest.update(b"allow_code" if allow_code else b"safe")
    return digest.hexdigest()


def convert_in_child(model_file, calib_npz, allow_code: bool = False,
                     timeout: float | None = CONVERTER_TIMEOUT) -> bytes:
    """``keras_to_int8_tflite`` of the Keras file ``model_file`` on the samples of ``calib_npz``
    (``x``, or ``x0``, ``x1``, ... per input), run in a child process (once per process for the
    same file contents and samples)."""
    import sys
    import tempfile
    from pathlib import Path

    from mcucompress.reference import serving_child
    from mcucompress.reference.interpreters import _run_child

    key = _conversion_key(model_file, calib_npz, allow_code)
    if key in _CONVERTED:
        return _CONVERTED[key]
    with tempfile.TemporaryDirectory(prefix="mcucompress-convert-") as tmp:
        out = Path(tmp) / "converted.tflite"
        if allow_code:  # the model's own code must not stay loaded for the next model: a child of its own
            command = [sys.executable, "-m", CHILD_MODULE, str(model_file), str(calib_npz), str(out), "1"]
            reply = _run_child(command, Path(model_file), None, timeout, what=CONVERTER)
            answered = "done" in reply
        else:  # the serving child: TensorFlow imported once for model after model
            serving_child.serve("convert", [os.path.abspath(p) for p in (model_file, calib_npz, out)],
                                CONVERTER, model_file, timeout)
            answered = True
        if not answered or not out.is_file():
            raise McuError(f"TensorFlow's converter stopped on '{model_file}' without an answer")
        blob = out.read_bytes()
    if key is not None:
        _CONVERTED[key] = blob
        while len(_CONVERTED) > _CONVERTED_KEPT:
            del _CONVERTED[next(iter(_CONVERTED))]
    return blob


CHILD_MODULE = "mcucompress.reference.tf_converter"
CONVERTER = "TensorFlow's converter"


def calibration_arrays(npz_path):
    """The samples of a calibration NPZ: one array (``x``), or a list of them (``x0``, ``x1``, ...)."""
    with np.load(npz_path, allow_pickle=False) as npz:
        if "x" in npz.files:
            return npz["x"]
        names = sorted((n for n in npz.files if n[:1] == "x" and n[1:].isdigit()), key=lambda n: int(n[1:]))
        if not names:
            raise McuError(f"{npz_path}: no array named 'x' or 'x0'")
        arrays = [npz[n] for n in names]
    return arrays if len(arrays) > 1 else arrays[0]


def convert_to_file(model_file: str, calib_npz: str, out: str, allow_code: bool) -> None:
    """``keras_to_int8_tflite`` of a Keras file on a calibration NPZ, written to ``out``."""
    from pathlib import Path

    from mcucompress.importers.keras_file import open_keras_file

    model = open_keras_file(Path(model_file), allow_code=allow_code)
    Path(out).write_bytes(keras_to_int8_tflite(model, calibration_arrays(calib_npz)))


def _child_main(argv: list[str]) -> int:
    """python -m mcucompress.reference.tf_converter MODEL CALIB.npz OUT.tflite ALLOW_CODE"""
    try:
        convert_to_file(*argv[:3], allow_code=argv[3] == "1")
    except McuError as error:
        print("error " + str(error).replace("\n", " "), flush=True)
        return 2
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(_child_main(sys.argv[1:]))
