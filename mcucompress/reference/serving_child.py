"""One long-lived child process per process for the outside references: TensorFlow's converter
and the reference interpreters (tflite-micro, LiteRT).

Both run in a child because they trust their inputs: the converter segfaults on some Keras
models (LSTM and GRU layers among them) and the interpreters crash on malformed files; a crash
there must become a one-line McuError, not end the caller. Starting a Python child per call costs
its imports each time (TensorFlow: about 10 s of CPU; the interpreters: about 1 s), so one child
serves request after request (``python -m mcucompress.reference.serving_child``). A crash or a
timeout ends only that child, and the next request starts a new one. The child ends at the end of
its input (this process's exit) or after ``IDLE_EXIT`` seconds without a request.

Protocol: a request a line on the child's standard input (JSON ``{"job": NAME, "args": [...]}``);
the child answers with any number of ``progress DONE TOTAL STAGE`` lines, then one
``done JSON`` or ``error <one line>``.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import threading
from typing import Callable

from mcucompress.errors import McuError

CHILD_MODULE = "mcucompress.reference.serving_child"


def _idle_exit() -> float:
    """Seconds without a request after which the child ends (and frees its memory): 120, or
    MCUCOMPRESS_CONVERTER_IDLE_S (the test suite keeps its children longer: on a busy machine a
    gap of two minutes between conversions would otherwise cost a new TensorFlow import)."""
    try:
        return max(1.0, float(os.environ.get("MCUCOMPRESS_CONVERTER_IDLE_S", "120")))
    except ValueError:
        return 120.0


IDLE_EXIT = _idle_exit()


class ServingChild:
    """The child process and the conversation with it."""

    def __init__(self):
        from mcucompress.reference.interpreters import _child_env

        self.process = subprocess.Popen([sys.executable, "-m", CHILD_MODULE], text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, env=_child_env())

    def alive(self) -> bool:
        return self.process.poll() is None

    def ask(self, job: str, args: list, what: str, path, timeout: float | None,
            progress: Callable[[str, int, int], None] | None):
        """The job's answer (a JSON value); a one-line McuError for its refusal, a crash or a
        timeout; ``_QUIET`` if the child ended cleanly without an answer (it went idle just then)."""
        from mcucompress.reference.interpreters import raise_for_child_end

        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            self.process.kill()

        watchdog = threading.Timer(timeout, stop) if timeout else None
        if watchdog:
            watchdog.start()
        answer = ""
        try:
            self.process.stdin.write(json.dumps({"job": job, "args": args}) + "\n")
            self.process.stdin.flush()
            for line in self.process.stdout:
                key, _, value = line.rstrip("\n").partition(" ")
                if key == "progress":
                    if progress:
                        done, total, stage = value.split(" ", 2)
                        progress(stage, int(done), int(total))
                    continue
                answer = line.rstrip("\n")
                break
        except OSError:  # the child had ended: a broken pipe
            answer = ""
        finally:
            if watchdog:
                watchdog.cancel()
        key, _, value = answer.partition(" ")
        if key == "done":
            return json.loads(value)
        if key == "error":
            raise McuError(value)
        raise_for_child_end(what, path, self.process.wait(), timeout, timed_out.is_set())
        return _QUIET


_QUIET = object()
_CHILD: list[ServingChild] = []  # this process's serving child, started on first use
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


def serve(job: str, args: list, what: str, path, timeout: float | None = None,
          progress: Callable[[str, int, int], None] | None = None):
    """``job`` run on ``args`` in the serving child, a new child when the last one has ended (a
    second try when it ended quietly, going idle just as the request came)."""
    with _CHILD_LOCK:
        for _ in range(2):
            if not _CHILD or not _CHILD[0].alive():
                _CHILD[:] = [ServingChild()]
            reply = _CHILD[0].ask(job, args, what, path, timeout, progress)
            if reply is not _QUIET:
                return reply
        raise McuError(f"{what} stopped on '{path}' without an answer")


# --- the child's side -------------------------------------------------------------------------


def _convert(model_file: str, calib_npz: str, out: str) -> None:
    from mcucompress.reference.tf_converter import convert_to_file

    try:
        convert_to_file(model_file, calib_npz, out, allow_code=False)
    finally:
        _forget_models()


def _interpret(tflite: str, rounding: str, inputs: str, outputs: str, ports, report) -> str:
    import numpy as np

    from mcucompress.reference.interpreters import run_in_process

    try:
        name, outs = run_in_process(tflite, np.load(inputs), rounding, report, ports)
    except McuError:
        raise
    except Exception as error:  # the interpreter's own refusal of the model
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise McuError(f"the reference interpreter refused '{tflite}': {first}") from None
    np.save(outputs, outs)
    return name


def _tflm_probe(tflite: str) -> None:
    """tflite-micro loads ``tflite`` and invokes it once on zeros (McuError or a crash if not)."""
    import numpy as np

    from mcucompress.reference.interpreters import Tflm

    t = Tflm(tflite)
    t.run_ports([np.zeros(s, np.int8) for s in t.input_shapes])


def _forget_models() -> None:
    """Keras's global state (models, generated layer names) back to a new process's."""
    import gc

    for name in ("keras", "tf_keras"):
        if name in sys.modules:
            sys.modules[name].backend.clear_session()
    gc.collect()


def _main() -> int:
    import select

    answers = os.fdopen(os.dup(1), "w")  # the converter prints on standard output: answers get their own
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)

    def report(stage: str, done: int, total: int) -> None:
        answers.write(f"progress {done} {total} {stage}\n")
        answers.flush()

    jobs = {"convert": lambda *a: _convert(*a), "interpret": lambda *a: _interpret(*a, report),
            "tflm_probe": lambda *a: _tflm_probe(*a)}
    while select.select([sys.stdin], [], [], IDLE_EXIT)[0]:
        line = sys.stdin.readline()
        if not line:
            break
        request = json.loads(line)
        try:
            answer = "done " + json.dumps(jobs[request["job"]](*request["args"]))
        except McuError as error:
            answer = "error " + str(error).replace("\n", " ")
        except Exception as error:  # noqa: BLE001 - a refusal inside TensorFlow or an interpreter
            first = (str(error).strip().splitlines() or [""])[0]
            answer = f"error {type(error).__name__}: {first}"
        answers.write(answer + "\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(_main())
