"""A digits CNN inside the micro:bit's 16 KB of RAM (Cortex-M0, QEMU `microbit`): accuracy measured
on the target's own outputs for the whole digits test set, RAM measured (arena + stack + harness),
the ARMv6-M paths against the portable ones, and the budget error of a model that does not fit."""

import json
import shutil

import numpy as np
import pytest

from mcucompress.errors import McuError
from mcucompress.targets.runner import run_model

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                       reason="needs arm-none-eabi-gcc and qemu-system-arm"),
]

BOARD = "microbit"
RAM_BUDGET = 16 * 1024


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    from mcucompress.demo import load_digits_data, train_digits_cnn
    from mcucompress.export import export

    root = tmp_path_factory.mktemp("microbit_digits")
    data = load_digits_data()
    model = train_digits_cnn(data, epochs=8)
    model.save(root / "digits.keras")
    np.savez(root / "calib.npz", x=data.x_train[:200])
    np.savez(root / "test.npz", x=data.x_test, y=data.y_test)
    tree = export(root / "digits.keras", root / "digits_c", calib=root / "calib.npz", prefix="digits", board=BOARD)
    return tree, root / "test.npz", data.y_test


def test_digits_cnn_runs_in_16_kb_of_ram_with_95_percent_accuracy(digits):
    tree, test_npz, labels = digits
    report = run_model(tree, BOARD, data=test_npz, samples=len(labels))
    assert report.checks == {"host": True, "reference": True}
    assert report.samples == len(labels) == 450
    accuracy = float(np.mean(report.outputs.argmax(axis=1) == labels))
    assert accuracy >= 0.95
    assert report.footprint.stack_used is not None  # measured on the target, not estimated
    assert report.footprint.ram_bytes <= RAM_BUDGET
    arena = json.loads((tree / "manifest.json").read_text())["arena_bytes"]
    assert report.footprint.static_ram_bytes >= arena


def test_armv6m_paths_halve_the_instructions_of_the_portable_path(digits, tmp_path):
    from mcucompress.targets.bench import with_defines

    tree, test_npz, _ = digits
    fast = run_model(tree, BOARD, data=test_npz, samples=2)
    portable = run_model(with_defines(tree, tmp_path, {"MCC_FORCE_REFERENCE": 1}), BOARD, data=test_npz, samples=2)
    assert fast.passed and portable.passed
    assert np.array_equal(fast.outputs, portable.outputs)
    assert max(fast.instructions) * 2 <= min(portable.instructions)


def test_a_model_too_big_for_16_kb_is_explained(mlperf_dir, tmp_path):
    from mcucompress.export import export

    with pytest.raises(McuError) as error:
        export(mlperf_dir / "kws_ref_model.tflite", tmp_path / "kws", prefix="kws", board=BOARD)
    message = str(error.value)
    assert message.startswith("the model does not fit microbit: RAM (with a 2.0 KB stack) needs ")
    assert "(activation arena 15.9 KB + stack 2.0 KB + harness and other data" in message
    assert not (tmp_path / "kws").exists()
