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

import atexit
import contextlib
import io
import os
import subprocess
import threading
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
        else:
            answered = _convert_in_serving_child(model_file, calib_npz, out, timeout)
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


def _idle_exit() -> float:
    """Seconds without a request after which the serving child ends (and frees its memory): 120,
    or MCUCOMPRESS_CONVERTER_IDLE_S (the test suite keeps its children longer: on a busy machine
    a gap of two minutes between conversions would otherwise cost a new TensorFlow import)."""
    try:
        return max(1.0, float(os.environ.get("MCUCOMPRESS_CONVERTER_IDLE_S", "120")))
    except ValueError:
        return 120.0


IDLE_EXIT = _idle_exit()


class _ConverterChild:
    """One child process that converts model after model (``python -m CHILD_MODULE --serve``):
    TensorFlow is imported once, not once per conversion (about 10 s of CPU each). A crash or a
    timeout ends only that child, and the next conversion starts a new one."""

    def __init__(self):
        import sys

        from mcucompress.reference.interpreters import _child_env

        self.process = subprocess.Popen([sys.executable, "-m", CHILD_MODULE, "--serve"], text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, env=_child_env())

    def alive(self) -> bool:
        return self.process.poll() is None

    def convert(self, model_file, calib_npz, out, timeout: float | None) -> bool:
        """True once the child wrote ``out``; a one-line McuError for its refusal, crash or timeout;
        False if it ended quietly without an answer (it went idle just then: try again)."""
        import json

        from mcucompress.reference.interpreters import raise_for_child_end

        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            self.process.kill()

        watchdog = threading.Timer(timeout, stop) if timeout else None
        if watchdog:
            watchdog.start()
        try:
            request = [os.path.abspath(p) for p in (model_file, calib_npz, out)]  # the child keeps its first folder
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            answer = self.process.stdout.readline().rstrip("\n")
        except OSError:  # the child had ended: a broken pipe
            answer = ""
        finally:
            if watchdog:
                watchdog.cancel()
        if answer == "done":
            return True
        if answer.startswith("error "):
            raise McuError(answer.removeprefix("error "))
        raise_for_child_end(CONVERTER, model_file, self.process.wait(), timeout, timed_out.is_set())
        return False


_CHILD: list[_ConverterChild] = []  # this process's serving child, started on first use
_CHILD_LOCK = threading.Lock()


@atexit.register
def _end_serving_child() -> None:
    """At exit the serving child is told to end (its input closes) and waited for, never left behind."""
    for child in _CHILD:
        child.process.stdin.close()
        try:
            child.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()


def _convert_in_serving_child(model_file, calib_npz, out, timeout: float | None) -> bool:
    """The serving child's conversion, in a new child when the last one has ended (a second try
    when it ended quietly, going idle just as the request came)."""
    with _CHILD_LOCK:
        for _ in range(2):
            if not _CHILD or not _CHILD[0].alive():
                _CHILD[:] = [_ConverterChild()]
            if _CHILD[0].convert(model_file, calib_npz, out, timeout):
                return True
        return False


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


def _convert_one(model_file: str, calib_npz: str, out: str, allow_code: bool) -> str:
    """"done" once ``out`` holds the conversion, else "error <one line>"."""
    from pathlib import Path

    from mcucompress.importers.keras_file import open_keras_file

    try:
        model = open_keras_file(Path(model_file), allow_code=allow_code)
        Path(out).write_bytes(keras_to_int8_tflite(model, calibration_arrays(calib_npz)))
    except McuError as error:
        return "error " + str(error).replace("\n", " ")
    return "done"


def _child_main(argv: list[str]) -> int:
    """python -m mcucompress.reference.tf_converter MODEL CALIB.npz OUT.tflite ALLOW_CODE"""
    answer = _convert_one(*argv[:3], allow_code=argv[3] == "1")
    print(answer, flush=True)
    return 0 if answer == "done" else 2


def _serve() -> int:
    """python -m mcucompress.reference.tf_converter --serve: a request a line on standard input
    (JSON [model, calibration, out]), an answer a line ("done" or "error <why>"); ends at the end
    of its input or after IDLE_EXIT seconds without a request."""
    import json
    import select
    import sys

    answers = os.fdopen(os.dup(1), "w")  # the converter prints on standard output: answers get their own
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    while select.select([sys.stdin], [], [], IDLE_EXIT)[0]:
        line = sys.stdin.readline()
        if not line:
            break
        model_file, calib_npz, out = json.loads(line)
        answers.write(_convert_one(model_file, calib_npz, out, allow_code=False) + "\n")
        answers.flush()
        _forget_models()
    return 0


def _forget_models() -> None:
    """Keras's global state (models, generated layer names) back to a new process's."""
    import gc
    import sys

    for name in ("keras", "tf_keras"):
        if name in sys.modules:
            sys.modules[name].backend.clear_session()
    gc.collect()


if __name__ == "__main__":
    import sys

    sys.exit(_serve() if sys.argv[1:] == ["--serve"] else _child_main(sys.argv[1:]))
