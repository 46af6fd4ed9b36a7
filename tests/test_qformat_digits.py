"""Acceptance of Q-format export: the digits CNN (the demo's model, trained on scikit-learn's 8x8
digits) exported with `export --quantize qformat` keeps its float accuracy within 1 point on the
host build, and runs on the Cortex-M3 of lm3s6965evb in QEMU with outputs byte-identical to the
host build and the numpy reference, its convolution and dense kernels free of 64-bit multiplies."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from mcucompress.cli import main

BOARD = "lm3s6965evb"
HAS_CROSS = bool(shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm"))


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    from mcucompress.demo import CALIBRATION_SAMPLES, load_digits_data, train_digits_cnn

    folder = tmp_path_factory.mktemp("qformat_digits")
    data = load_digits_data()
    model = train_digits_cnn(data)
    float_accuracy = float(np.mean(np.argmax(model.predict(data.x_test, verbose=0), axis=1) == data.y_test))
    model.save(folder / "digits.keras")
    np.savez(folder / "calib.npz", x=data.x_train[:CALIBRATION_SAMPLES])
    np.savez(folder / "test.npz", x=data.x_test, y=data.y_test)
    status = main(["export", str(folder / "digits.keras"), "-o", str(folder / "tree"), "--calib",
                   str(folder / "calib.npz"), "--quantize", "qformat", "--prefix", "digits"])
    assert status == 0
    return folder, float_accuracy


def test_qformat_export_keeps_float_accuracy_within_one_point(digits):
    from mcucompress.verify import verify

    folder, float_accuracy = digits
    tree = folder / "tree"
    manifest = json.loads((tree / "manifest.json").read_text())
    assert manifest["quantization"] == "qformat"
    assert any(s.endswith("mcc_conv2d_q7.c") for s in manifest["sources"])
    scale = manifest["input"]["scale"]
    assert manifest["input"]["zero_point"] == 0 and scale == 2.0 ** round(np.log2(scale))
    report = verify(tree, folder / "test.npz")
    assert report.ok and report.samples == 450
    assert report.accuracy >= float_accuracy - 0.01, (report.accuracy, float_accuracy)


@pytest.mark.qemu
@pytest.mark.skipif(not HAS_CROSS, reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_qformat_digits_on_cortex_m3_is_byte_identical(digits):
    from mcucompress.targets.runner import run_model

    folder, _ = digits
    report = run_model(folder / "tree", BOARD, data=folder / "test.npz", samples=12)
    assert report.board.cpu == "cortex-m3"
    assert report.checks == {"host": True, "reference": True}
    assert report.exact_invoke and min(report.instructions) > 100_000
    assert len({row.tobytes() for row in report.outputs}) > 1
    # Shift-only requantization: no 32x32->64 multiply (nor a call to a helper) in the q7 kernels.
    listing = subprocess.run(["arm-none-eabi-objdump", "-d", str(report.elf)], capture_output=True,
                             text=True, check=True).stdout
    bodies = re.findall(r"^[0-9a-f]+ <(mcc_\w+_q7)>:\n(.*?)(?:\n\n|\Z)", listing, re.S | re.M)
    assert {name for name, _ in bodies} == {"mcc_conv2d_q7", "mcc_fully_connected_q7"}
    for name, body in bodies:
        assert not re.search(r"\b(smull|umull|smlal|umlal|bl)\b", body), name


def test_qformat_refuses_an_int8_tflite_in_one_line(mlperf_dir, tmp_path, capsys):
    status = main(["export", str(mlperf_dir / "kws_ref_model.tflite"), "-o", str(tmp_path / "out"),
                   "--quantize", "qformat"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1
    assert "float Keras model" in err and not (tmp_path / "out").exists()
