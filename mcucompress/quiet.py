"""Keep TensorFlow's native start-up logging (absl "I0000 ..." lines, CUDA probing) off the
user's terminal. Those lines are written by C++ straight to file descriptor 2 before any Python
logging setting applies, so the only reliable switch is to park fd 2 while TensorFlow loads."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager


@contextmanager
def native_stderr_silenced():
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def preload_tensorflow() -> None:
    """Import TensorFlow now, silently; later imports are free and print nothing."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    try:
        with native_stderr_silenced():
            import tensorflow
    except ImportError:
        return  # the command that needs it reports the missing dependency itself
    # Its Python logger's advice to developers (tf.function retracing, ...) is not for our users.
    tensorflow.get_logger().setLevel("ERROR")
