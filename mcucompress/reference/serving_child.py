"""One long-lived child process per process for the outside references: TensorFlow's converter
and the reference interpreters (tflite-micro, LiteRT).

Both run in a child because they trust their inputs: the converter segfaults on some Keras
models (LSTM and GRU layers among them) and the interpreters crash on malformed files; a crash
there must become a one-line McuError, not end the caller. Starting a Python child per call costs
its imports each time (TensorFlow: about 6-10 s of CPU; the interpreters: about 0.3 s), so one
child serves request after request (``python -m mcucompress.reference.serving_child``).

That child is a fork server: it imports what a job needs (TensorFlow for a conversion, the
interpreters' bindings for a run) but runs nothing itself; the jobs run in a worker it forks, and
the worker serves job after job (warm: a small model's second conversion costs half its first).
A crash or a timeout ends only the worker, and the next job gets a new worker forked from the
imported modules, so no crash costs a TensorFlow import again. The server forks only while it has
run no TensorFlow op (its thread pools are made on first use, and a forked copy of a pool has no
threads): importing TensorFlow starts none that a fork would leave holding a lock. The server ends
at the end of its input (this process's exit) or after ``IDLE_EXIT`` seconds without a request.

Protocol: a request a line on the server's standard input (JSON ``{"job": NAME, "args": [...],
"timeout": SECONDS or null}``); the server answers with ``worker PID`` when it forks a worker, any
number of ``progress DONE TOTAL STAGE`` lines, then one ``done JSON``, ``error <one line>``,
``ended STATUS`` (the worker ended without an answer: its exit status, minus the signal that
killed it) or ``timeout`` (the worker was killed after ``timeout`` seconds).
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
    """The fork server's process and the conversation with it."""

    # Seconds the server gets beyond a job's timeout before this process kills it: the server
    # kills the worker itself at the timeout, and is killed only if it does not answer.
    GRACE = 60.0

    def __init__(self, process=None):
        from mcucompress.reference.interpreters import _child_env

        self.process = process or subprocess.Popen([sys.executable, "-m", CHILD_MODULE], text=True,
                                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                   stderr=subprocess.DEVNULL, env=_child_env())
        self.worker: int | None = None  # the pid of the worker the server forked last

    def alive(self) -> bool:
        return self.process.poll() is None

    def ask(self, job: str, args: list, what: str, path, timeout: float | None,
            progress: Callable[[str, int, int], None] | None):
        """The job's answer (a JSON value); a one-line McuError for its refusal, a crash or a
        timeout; ``_QUIET`` if the server ended cleanly without an answer (it went idle just then)."""
        from mcucompress.reference.interpreters import raise_for_child_end

        timed_out = threading.Event()

        def stop() -> None:
            timed_out.set()
            self.process.kill()

        watchdog = threading.Timer(timeout + self.GRACE, stop) if timeout else None
        if watchdog:
            watchdog.start()
        answer = ""
        try:
            self.process.stdin.write(json.dumps({"job": job, "args": args, "timeout": timeout}) + "\n")
            self.process.stdin.flush()
            for line in self.process.stdout:
                key, _, value = line.rstrip("\n").partition(" ")
                if key == "progress":
                    if progress:
                        done, total, stage = value.split(" ", 2)
                        progress(stage, int(done), int(total))
                    continue
                if key == "worker":
                    self.worker = int(value)
                    continue
                answer = line.rstrip("\n")
                break
        except OSError:  # the server had ended: a broken pipe
            answer = ""
        finally:
            if watchdog:
                watchdog.cancel()
        key, _, value = answer.partition(" ")
        if key == "done":
            return json.loads(value)
        if key == "error":
            raise McuError(value)
        if key == "ended":  # the worker crashed (or exited) in the job; the server lives on
            raise_for_child_end(what, path, int(value), timeout, False)
            raise McuError(f"{what} stopped on '{path}' without an answer")
        if key == "timeout":
            raise_for_child_end(what, path, 0, timeout, True)
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


def start_here() -> None:
    """Fork this process's server from this process now, when that is safe: a command that has
    imported TensorFlow for itself then hands the import to the server instead of the server
    importing it again (about 6-10 s of CPU). Safe while TensorFlow has made no context (its
    thread pools come with it) and no other Python thread runs; otherwise nothing happens and the
    server starts as a new process when it is first needed. Only for a process this package owns
    (the command line): threads a host program starts below ``threading`` (execnet's in
    pytest-xdist workers) are not counted."""
    if os.name != "posix" or threading.active_count() != 1 or "tensorflow" not in sys.modules:
        return
    try:
        from tensorflow.python.eager import context

        if context.context_safe() is not None:
            return
    except Exception:  # noqa: BLE001 - another TensorFlow layout: do not guess
        return
    with _CHILD_LOCK:
        if not _CHILD or not _CHILD[0].alive():
            _CHILD[:] = [ServingChild(_ForkedServer())]


class _ForkedServer:
    """The parts of subprocess.Popen that ServingChild uses, for a server forked from this process."""

    def __init__(self):
        import warnings

        requests_r, requests_w = os.pipe()
        answers_r, answers_w = os.pipe()
        with warnings.catch_warnings():  # Python 3.12 warns of any fork in a process with threads
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the server: it never returns from here
            try:
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd, target in ((requests_r, 0), (answers_w, 1), (devnull, 2)):
                    os.dup2(fd, target)
                for fd in (requests_r, requests_w, answers_r, answers_w, devnull):
                    os.close(fd)
                sys.stdin = open(0, closefd=False)
                _main()
            finally:
                os._exit(0)
        os.close(requests_r)
        os.close(answers_w)
        self.pid, self.returncode = pid, None
        self.stdin, self.stdout = os.fdopen(requests_w, "w"), os.fdopen(answers_r)

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        import time

        if timeout is None and self.returncode is None:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        deadline = time.monotonic() + (timeout or 0)
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(CHILD_MODULE, timeout)
            time.sleep(0.01)
        return self.returncode

    def kill(self) -> None:
        import signal

        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)


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


# What the server imports before it forks a worker for a job: the worker then starts with them.
# Imports only: the server runs no job itself.
_JOB_MODULES = {
    "convert": ("tensorflow", "keras", "mcucompress.reference.tf_converter",
                "mcucompress.importers.keras_file"),
    "interpret": ("tflite_micro.python.tflite_micro.runtime", "ai_edge_litert.interpreter",
                  "mcucompress.reference.interpreters"),
    "tflm_probe": ("tflite_micro.python.tflite_micro.runtime", "mcucompress.reference.interpreters"),
}


def _serve_jobs(requests, answers) -> None:
    """The worker's loop: one request a line from ``requests``, each answered on ``answers``
    (progress lines, then ``done JSON`` or ``error <one line>``), until the end of ``requests``."""

    def report(stage: str, done: int, total: int) -> None:
        answers.write(f"progress {done} {total} {stage}\n")
        answers.flush()

    jobs = {"convert": lambda *a: _convert(*a), "interpret": lambda *a: _interpret(*a, report),
            "tflm_probe": lambda *a: _tflm_probe(*a)}
    for line in requests:
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


class _Worker:
    """A worker forked from the server, with a pipe each way."""

    def __init__(self, server_files: list):
        import warnings

        requests_r, self.requests = os.pipe()
        answers_r, answers_w = os.pipe()
        with warnings.catch_warnings():  # Python 3.12 warns of any fork in a process with threads
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the worker: it never returns from here
            status = 1
            try:
                _die_with_parent()
                os.close(self.requests)
                os.close(answers_r)
                for f in server_files:
                    f.close()
                with os.fdopen(requests_r) as requests, os.fdopen(answers_w, "w") as answers:
                    _serve_jobs(requests, answers)
                status = 0
            finally:
                os._exit(status)
        os.close(requests_r)
        os.close(answers_w)
        self.pid, self.answers, self.pending = pid, answers_r, b""

    def send(self, line: str) -> bool:
        try:
            os.write(self.requests, line.encode())
            return True
        except OSError:  # it has ended
            return False

    def next_line(self, deadline: float | None) -> str | None:
        """The worker's next answer line; None at its end or at the deadline (then ``late`` is set)."""
        import select
        import time

        self.late = False
        while b"\n" not in self.pending:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and (wait <= 0 or not select.select([self.answers], [], [], wait)[0]):
                self.late = True
                return None
            chunk = os.read(self.answers, 65536)
            if not chunk:
                return None
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line.decode()

    def end(self, kill: bool = False) -> int:
        """Its exit status once it has ended (told to by closing its input, or killed): the exit
        code, or minus the signal that ended it."""
        import signal

        if kill:
            os.kill(self.pid, signal.SIGKILL)
        for fd in (self.requests, self.answers):
            try:
                os.close(fd)
            except OSError:
                pass
        status = os.waitpid(self.pid, 0)[1]
        return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _die_with_parent() -> None:
    """The worker is killed when the server ends (killed by its parent at a missed timeout), so
    that no conversion runs on with nobody to answer (Linux; elsewhere it ends at its next read)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _main() -> int:
    import importlib
    import select
    import time

    answers = os.fdopen(os.dup(1), "w")  # the converter prints on standard output: answers get their own
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    imported: set[str] = set()
    worker: _Worker | None = None
    try:
        while select.select([sys.stdin], [], [], IDLE_EXIT)[0]:
            line = sys.stdin.readline()
            if not line:
                break
            request = json.loads(line)
            timeout = request.get("timeout")
            deadline = time.monotonic() + timeout if timeout else None
            needed = [m for m in _JOB_MODULES.get(request["job"], ()) if m not in imported]
            if needed:  # imported here once, so that every worker forked from now on has them
                for name in needed:
                    try:
                        importlib.import_module(name)
                    except Exception:  # noqa: BLE001 - missing or broken: the worker's job says why
                        pass
                imported.update(needed)
                if worker:  # forked without them: a new one saves it importing them itself
                    worker.end()
                    worker = None
            if worker is None or not worker.send(line):
                if worker:
                    worker.end()
                worker = _Worker([answers, sys.stdin])
                answers.write(f"worker {worker.pid}\n")
                worker.send(line)
            while True:
                reply = worker.next_line(deadline)
                if reply is None:
                    late = worker.late
                    status = worker.end(kill=late)
                    worker = None
                    reply = "timeout" if late else f"ended {status}"
                answers.write(reply + "\n")
                answers.flush()
                if reply.split(" ", 1)[0] != "progress":
                    break
    finally:
        if worker:
            worker.end()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(_main())
