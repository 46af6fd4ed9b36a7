"""The real interpreters the numpy reference is checked against: tflite-micro and LiteRT.

Thin wrappers with one call shape, ``interp(x_int8) -> y_int8``, for tests, the
check_reference script and verification. Which rounding mode each one matches:
``Tflm`` and ``LiteRT(path, delegates=False)`` -> "tflm"; ``LiteRT(path)`` (XNNPACK) -> "litert".
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from mcucompress.errors import McuError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class Tflm:
    """tflite-micro's Python interpreter (its reference kernels)."""

    def __init__(self, path):
        from tflite_micro.python.tflite_micro import runtime

        try:
            self._interp = runtime.Interpreter.from_file(str(path))
        except Exception as error:  # the binding raises RuntimeError with a multi-line log
            raise McuError(f"tflite-micro cannot load '{path}': {str(error).splitlines()[0]}") from None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self._interp.set_input(x, 0)
        self._interp.invoke()
        return self._interp.get_output(0)


class LiteRT:
    """ai_edge_litert's interpreter; ``delegates=False`` keeps only the built-in kernels."""

    def __init__(self, path, delegates: bool = True):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        kwargs = {} if delegates else {
            "experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._interp = Interpreter(model_path=str(path), **kwargs)
        self._interp.allocate_tensors()
        self._in = self._interp.get_input_details()[0]["index"]
        self._out = self._interp.get_output_details()[0]["index"]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self._interp.set_tensor(self._in, x)
        self._interp.invoke()
        return self._interp.get_tensor(self._out)
