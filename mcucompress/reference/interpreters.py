"""The outside references our numpy interpreter and generated C are checked against:
tflite-micro's Python interpreter and LiteRT's.

One call shape, ``interp(x_int8) -> y_int8``. Which rounding mode each matches:
``Tflm`` and ``LiteRT(path, delegates=False)`` -> "tflm"-like integer kernels (LiteRT's built-in
ones round once); ``LiteRT(path)`` (its default XNNPACK delegate) -> "litert".
``interpreter_outputs`` runs a batch through the interpreter an export's rounding mode follows.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from mcucompress.errors import McuError
from mcucompress.quiet import native_stderr_silenced

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class Tflm:
    """tflite-micro's Python interpreter (its reference kernels)."""

    name = "tflite-micro"

    def __init__(self, path):
        from tflite_micro.python.tflite_micro import runtime

        try:
            self._interp = runtime.Interpreter.from_file(str(path))
        except Exception as error:  # the binding raises RuntimeError with a multi-line log
            raise McuError(f"tflite-micro cannot load '{path}': {str(error).splitlines()[0]}") from None
        self.input_shape = tuple(int(n) for n in self._interp.get_input_details(0)["shape"])

    def port_quant(self, which: str) -> tuple[float, int]:
        """(scale, zero point) of the model's first input (``"input"``) or output."""
        details = (self._interp.get_input_details(0) if which == "input"
                   else self._interp.get_output_details(0))["quantization_parameters"]
        return float(details["scales"][0]), int(details["zero_points"][0])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self._interp.set_input(np.asarray(x).reshape(self.input_shape), 0)
        self._interp.invoke()
        return self._interp.get_output(0)


class LiteRT:
    """ai_edge_litert's interpreter; ``delegates=False`` keeps only the built-in kernels."""

    name = "LiteRT"

    def __init__(self, path, delegates: bool = True):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        kwargs = {} if delegates else {
            "experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
        # Its C++ start-up prints an INFO line about the XNNPACK delegate on file descriptor 2.
        with warnings.catch_warnings(), native_stderr_silenced():
            warnings.simplefilter("ignore")
            self._interp = Interpreter(model_path=str(path), **kwargs)
            self._interp.allocate_tensors()
        source = self._interp.get_input_details()[0]
        self._in, self.input_shape = source["index"], tuple(int(n) for n in source["shape"])
        self._out = self._interp.get_output_details()[0]["index"]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self._interp.set_tensor(self._in, np.asarray(x).reshape(self.input_shape))
        self._interp.invoke()
        return self._interp.get_tensor(self._out)


def interpreter_for(tflite: str | Path, rounding: str) -> Tflm | LiteRT:
    """The interpreter whose arithmetic an export with this rounding mode reproduces."""
    return LiteRT(tflite) if rounding == "litert" else Tflm(tflite)


def interpreter_outputs(tflite: str | Path, x: np.ndarray, rounding: str,
                        progress: Progress | None = None) -> tuple[str, np.ndarray]:
    """(interpreter name, int8 outputs flattened per sample) for a batch of int8 inputs."""
    interpreter = interpreter_for(tflite, rounding)
    outs = []
    for i, sample in enumerate(x):
        outs.append(np.asarray(interpreter(sample), dtype=np.int8).ravel().copy())
        if progress:
            progress(interpreter.name, i + 1, len(x))
    return interpreter.name, np.stack(outs)
