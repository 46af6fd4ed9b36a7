"""The outside references our numpy interpreter and generated C are checked against:
tflite-micro's Python interpreter and LiteRT's.

One call shape, ``interp(x_int8) -> y_int8``. Which rounding mode each matches:
``Tflm`` and ``LiteRT(path, delegates=False)`` -> "tflm"-like integer kernels (LiteRT's built-in
ones round once); ``LiteRT(path)`` (its default XNNPACK delegate) -> "litert".
``interpreter_outputs`` runs a batch through the interpreter an export's rounding mode follows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from mcucompress.errors import McuError
from mcucompress.quiet import native_stderr_silenced

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

Progress = Callable[[str, int, int], None]  # (stage, done, total)
# ((input scale, zero point), (output ...)); several ports: (list of the inputs', list of the outputs')
Ports = tuple


class _Ports:
    """Several inputs and outputs with one call: a sample is the model's inputs flattened and put
    back to back in port order, and so is the answer (its outputs)."""

    input_shapes: list[tuple[int, ...]]
    float_input: bool

    @property
    def input_shape(self) -> tuple[int, ...]:
        return self.input_shapes[0]

    def _split(self, x: np.ndarray) -> list[np.ndarray]:
        flat, parts, start = np.asarray(x).ravel(), [], 0
        for shape in self.input_shapes:
            size = int(np.prod(shape, dtype=np.int64))
            parts.append(flat[start:start + size].reshape(shape))
            start += size
        if start != flat.size:
            raise McuError(f"a sample of {flat.size} values does not fill the model's inputs ({start} values)")
        return parts

    def __call__(self, x: np.ndarray) -> np.ndarray:
        outs = [np.asarray(y) for y in self.run_ports(self._split(x))]
        return outs[0] if len(outs) == 1 else np.concatenate([y.ravel() for y in outs])


class Tflm(_Ports):
    """tflite-micro's Python interpreter (its reference kernels)."""

    name = "tflite-micro"
    # Its default arena is sized from the file and is too small for models with large activations
    # (the two 128x128 inputs of its own simple_add example); the size does not change any result.
    RETRY_ARENA_BYTES = 16 << 20

    def __init__(self, path):
        from tflite_micro.python.tflite_micro import runtime

        with native_stderr_silenced():  # it logs the failed first arena and each index it is asked past
            try:
                try:
                    self._interp = runtime.Interpreter.from_file(str(path))
                except Exception:
                    self._interp = runtime.Interpreter.from_file(str(path), arena_size=self.RETRY_ARENA_BYTES)
            except Exception as error:  # the binding raises RuntimeError with a multi-line log
                raise McuError(f"tflite-micro cannot load '{path}': {str(error).splitlines()[0]}") from None
            self._inputs = self._details(self._interp.get_input_details)
            self._outputs = self._details(self._interp.get_output_details)
        self.input_shapes = [tuple(int(n) for n in d["shape"]) for d in self._inputs]
        self.float_input = np.dtype(self._inputs[0]["dtype"]) == np.float32

    @staticmethod
    def _details(get) -> list[dict]:
        found = []
        while True:
            try:
                found.append(get(len(found)))
            except (IndexError, RuntimeError, ValueError):
                return found

    def port_quant(self, which: str, index: int = 0) -> tuple[float, int]:
        """(scale, zero point) of the model's input (``"input"``) or output number ``index``."""
        details = (self._inputs if which == "input" else self._outputs)[index]["quantization_parameters"]
        return float(details["scales"][0]), int(details["zero_points"][0])

    def run_ports(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        for k, x in enumerate(xs):
            self._interp.set_input(x, k)
        self._interp.invoke()
        return [self._interp.get_output(k) for k in range(len(self._outputs))]


class LiteRT(_Ports):
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
        sources = self._interp.get_input_details()
        self._in = [d["index"] for d in sources]
        self.input_shapes = [tuple(int(n) for n in d["shape"]) for d in sources]
        self.float_input = np.dtype(sources[0]["dtype"]) == np.float32
        self._out = [d["index"] for d in self._interp.get_output_details()]

    def run_ports(self, xs: list[np.ndarray]) -> list[np.ndarray]:
        for index, x in zip(self._in, xs):
            self._interp.set_tensor(index, x)
        self._interp.invoke()
        return [self._interp.get_tensor(index) for index in self._out]


def interpreter_for(tflite: str | Path, rounding: str) -> Tflm | LiteRT:
    """The interpreter whose arithmetic an export with this rounding mode reproduces."""
    return LiteRT(tflite) if rounding == "litert" else Tflm(tflite)


def interpreter_outputs(tflite: str | Path, x: np.ndarray, rounding: str,
                        progress: Progress | None = None, timeout: float | None = None,
                        ports: Ports | None = None) -> tuple[str, np.ndarray]:
    """(interpreter name, int8 outputs flattened per sample) for a batch of int8 inputs.

    ``ports``: ((scale, zero point) of the int8 input, the same of the int8 output). A model
    with float ports then gets exactly the floats its QUANTIZE op turns into these int8 inputs,
    and its float outputs are turned back into the int8 values its DEQUANTIZE op read. Without
    ``ports`` a float-port model's are read from the file by the importer.

    The interpreter runs in a child process (the serving child, reference/serving_child.py):
    tflite-micro and LiteRT trust their model files, and a crash inside them (a segfault on a
    malformed model) must become a one-line McuError here, not take this process down; it ends
    only the worker the serving child forked for it. ``timeout`` (seconds) bounds the run."""
    from mcucompress.reference import serving_child

    tflite = Path(tflite)
    with tempfile.TemporaryDirectory(prefix="mcucompress-oracle-") as tmp:
        inputs, outputs = Path(tmp) / "x.npy", Path(tmp) / "y.npy"
        np.save(inputs, np.asarray(x, dtype=np.int8))
        name = serving_child.serve("interpret", [str(tflite.resolve()), rounding, str(inputs), str(outputs), ports],
                                   "the reference interpreter", tflite, timeout, progress)
        if not outputs.is_file():
            raise McuError(f"the interpreter for '{tflite}' stopped without an answer")
        return name, np.load(outputs)


def _child_env() -> dict[str, str]:
    """The parent's environment, with this package importable whatever the parent's sys.path."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def _run_child(command: list[str], tflite: Path, progress: Progress | None,
               timeout: float | None, what: str = "the reference interpreter") -> dict[str, str]:
    """Run the child, forwarding its progress lines; its last word on each key is returned."""
    reply: dict[str, str] = {}
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env=_child_env())
    timed_out = threading.Event()

    def stop() -> None:
        timed_out.set()
        child.kill()

    watchdog = threading.Timer(timeout, stop) if timeout else None
    if watchdog:
        watchdog.start()
    try:
        for line in child.stdout:
            key, _, value = line.rstrip("\n").partition(" ")
            if key == "progress" and progress:
                done, total, stage = value.split(" ", 2)
                progress(stage, int(done), int(total))
            else:
                reply[key] = value
        status = child.wait()
    finally:
        if watchdog:
            watchdog.cancel()
        if child.poll() is None:
            child.kill()
            child.wait()
    raise_for_child_end(what, tflite, status, timeout, timed_out.is_set(), reply.get("error"))
    return reply


def raise_for_child_end(what: str, path, status: int, timeout: float | None, timed_out: bool,
                        error: str | None = None) -> None:
    """A child's end as a one-line McuError: timed out, its own error line, killed by a signal or
    a failing exit status; nothing for a clean exit."""
    if timed_out:
        raise McuError(f"{what} did not finish on '{path}' within {timeout:g} s")
    if error is not None:
        raise McuError(error)
    if status < 0:
        raise McuError(f"{what} crashed on '{path}' ({_signal_name(-status)}); "
                       f"the model is malformed or outside what {what.removeprefix('the ')} supports")
    if status != 0:
        raise McuError(f"{what} failed on '{path}' (exit status {status})")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def run_in_process(tflite: str | Path, x: np.ndarray, rounding: str,
                   progress: Progress | None = None, ports: Ports | None = None) -> tuple[str, np.ndarray]:
    """``interpreter_outputs`` in this process: only for files this program made itself."""
    from mcucompress.ir.graph import QuantParams
    from mcucompress.quantize.params import dequantize_output, quantize_input

    interpreter = interpreter_for(tflite, rounding)
    if ports is None and interpreter.float_input:
        ports = _int8_ports(tflite)
    in_quants, out_quants = ([QuantParams((float(s),), (int(z),)) for s, z in _port_list(side)]
                             for side in ports) if ports else ([], [])
    outs = []
    for i, sample in enumerate(x):
        parts = interpreter._split(sample)
        if interpreter.float_input and in_quants:
            parts = [dequantize_output(p, q) for p, q in zip(parts, in_quants)]  # what QUANTIZE maps back
        ys = [np.asarray(y) for y in interpreter.run_ports(parts)]
        if out_quants:
            ys = [quantize_input(y, q) if y.dtype == np.float32 else y  # DEQUANTIZE's int8 input, exactly
                  for y, q in zip(ys, out_quants)]
        outs.append(np.concatenate([np.asarray(y, dtype=np.int8).ravel() for y in ys]))
        if progress:
            progress(interpreter.name, i + 1, len(x))
    return interpreter.name, np.stack(outs)


def _port_list(side) -> list:
    """One (scale, zero point) pair, or a list of them (one per port), as a list."""
    side = list(side)
    return [side] if side and isinstance(side[0], (int, float)) else side


def _int8_ports(tflite: str | Path):
    """(scale, zero point) of the int8 inputs and outputs behind a model's float ports."""
    from mcucompress.importers.tflite import load_tflite

    graph = load_tflite(tflite)
    return tuple([(float(graph.tensors[n].quant.scale[0]), int(graph.tensors[n].quant.zero_point[0]))
                  for n in names] for names in (graph.inputs, graph.outputs))
