"""Run a host harness on many inputs: one process, inputs and outputs through binary files."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from mcucompress.errors import McuError


def run_host(exe, inputs: np.ndarray, output_bytes: int) -> np.ndarray:
    """int8 outputs (N, output_bytes) of the harness for int8 inputs (N, ...)."""
    return run_host_exits(exe, inputs, output_bytes)[0]


def run_host_exits(exe, inputs: np.ndarray, output_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """(int8 outputs (N, output_bytes), early exit taken per input: 0 for models without) of
    the harness, which prints "exit <input> <exit>" for a model with early exits."""
    inputs = np.ascontiguousarray(inputs, dtype=np.int8)
    count = len(inputs)
    with tempfile.TemporaryDirectory(prefix="mcc-run-") as tmp:
        in_path, out_path = Path(tmp) / "inputs.bin", Path(tmp) / "outputs.bin"
        in_path.write_bytes(inputs.tobytes())
        result = subprocess.run([str(exe), str(in_path), str(out_path)], capture_output=True, text=True)
        if result.returncode != 0:
            raise McuError(f"host harness failed: {(result.stderr.strip() or 'exit %d' % result.returncode)[:300]}")
        raw = np.frombuffer(out_path.read_bytes(), dtype=np.int8)
    if raw.size != count * output_bytes:
        raise McuError(f"host harness wrote {raw.size} bytes for {count} inputs of {output_bytes} output bytes")
    exits = np.zeros(count, dtype=np.int64)
    for line in result.stdout.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "exit" and int(words[1]) < count:
            exits[int(words[1])] = int(words[2])
    return raw.reshape(count, output_bytes), exits
