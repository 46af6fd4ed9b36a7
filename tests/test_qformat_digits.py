"""Acceptance of Q-format export: the digits CNN (the demo's model, trained on scikit-learn's 8x8
digits) exported with `export --quantize qformat` keeps its float accuracy within 1 point on the
host build, and runs on the Cortex-M3 of lm3s6965evb in QEMU with outputs byte-identical to the
host build and the numpy reference, its convolution and dense kernels free of 64-bit multiplies.
A residual Keras network covers the other layer kinds of the Q-format path."""

import re
import shutil
import subprocess

import numpy as np
import pytest

from mcucompress.cli import main
from mcucompress.targets.manifest import manifest_json

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
    manifest = manifest_json(tree)
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


def test_keras_residual_network_exports_bit_exact_and_tracks_keras(tmp_path):
    """Every Keras layer kind the Q-format path handles (batch norm folded, depthwise, relu6, add,
    standalone relu, average pool, zero padding, concatenate, global average pool), untrained
    weights: host C == reference, and its outputs follow Keras's from input to input."""
    import keras

    from mcucompress.build.host import build_host
    from mcucompress.build.runner import run_host
    from mcucompress.export import export
    from mcucompress.ir.graph import QuantParams
    from mcucompress.quantize.params import quantize_input
    from mcucompress.verify import verify

    keras.utils.set_random_seed(3)
    inp = keras.Input((10, 10, 3))
    a = keras.layers.Conv2D(8, 3, padding="same")(inp)
    a = keras.layers.BatchNormalization()(a, training=False)
    a = keras.layers.ReLU()(a)
    b = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")(a)
    b = keras.layers.Conv2D(8, 1)(b)
    s = keras.layers.ReLU()(keras.layers.Add()([a, b]))
    s = keras.layers.AveragePooling2D(2)(s)
    s = keras.layers.ZeroPadding2D(1)(s)
    c = keras.layers.Concatenate()([s, keras.layers.MaxPooling2D(1)(s)])
    g = keras.layers.GlobalAveragePooling2D()(c)
    out = keras.layers.Dense(6)(keras.layers.Dense(12, activation="relu")(g))
    model = keras.Model(inp, out)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (120, 10, 10, 3)).astype(np.float32)
    np.savez(tmp_path / "calib.npz", x=x[:80])
    np.savez(tmp_path / "test.npz", x=x[80:])
    tree = export(model, tmp_path / "res", calib=tmp_path / "calib.npz", quantize="qformat")
    assert manifest_json(tree)["quantization"] == "qformat"
    model_c = (tree / "model.c").read_text()
    for kernel in ("mcc_conv2d_q7(", "mcc_depthwise_conv2d_q7(", "mcc_add_q7(", "mcc_fully_connected_q7("):
        assert kernel in model_c, kernel
    assert verify(tree, tmp_path / "test.npz").ok
    manifest = manifest_json(tree)
    port = manifest["input"]
    q = quantize_input(x[80:], QuantParams((port["scale"],), (port["zero_point"],)))
    got = run_host(build_host(tree), q, manifest["output"]["bytes"]) * manifest["output"]["scale"]
    want = model.predict(x[80:], verbose=0)
    # Per-sample deviations from the mean output: what distinguishes one input from another.
    got_dev, want_dev = got - got.mean(axis=0), want - want.mean(axis=0)
    assert np.abs(got - want).max() < 0.05 * np.ptp(want)
    assert np.corrcoef(got_dev.ravel(), want_dev.ravel())[0, 1] > 0.9
