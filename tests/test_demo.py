"""The README's main job: the demo trains, exports, verifies on the host, runs in QEMU and reports."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None,
                                reason="needs qemu-system-arm and arm-none-eabi-gcc")


def test_demo_runs_end_to_end_and_reports(tmp_path):
    mcucompress = Path(sys.executable).parent / "mcucompress"
    command = [str(mcucompress)] if mcucompress.exists() else [sys.executable, "-m", "mcucompress"]
    result = subprocess.run(command + ["demo", "-o", str(tmp_path / "demo"), "--epochs", "4"],
                            capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-2000:]
    report = result.stdout
    assert "host C vs numpy reference │ byte-identical" in report
    assert "mps2-an386 vs reference" in report and "DIFFERENT" not in report
    assert "instructions / inference" in report
    assert (tmp_path / "demo" / "report.png").stat().st_size > 10_000
    assert (tmp_path / "demo" / "digits_c" / "manifest.json").is_file()
    # TensorFlow's native start-up logging stays off the user's terminal.
    assert "I0000" not in result.stderr and "absl::InitializeLog" not in result.stderr
