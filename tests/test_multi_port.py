"""Models with several inputs and several outputs, end to end: import, calibration on NPZ arrays
x0, x1, the C API (one argument per port), verify against the numpy reference, tflite-micro and
the float model, `info`, and `run` on an emulated Cortex-M4 identical to the host build."""

import os
import shutil

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")

from mcucompress.cli import main  # noqa: E402
from mcucompress.errors import McuError  # noqa: E402
from mcucompress.export import export  # noqa: E402
from mcucompress.ir.serialize import load_graph  # noqa: E402
from mcucompress.reference.int8 import run_int8, run_int8_batch  # noqa: E402
from mcucompress.verify import verify  # noqa: E402

L = keras.layers
HAS_QEMU = bool(shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm"))


def _two_in_two_out(path):
    """An image and a sensor vector in; a regression head and a softmax head out."""
    keras.utils.set_random_seed(0)
    image, sensor = keras.Input((8, 8, 3), name="image"), keras.Input((6,), name="sensor")
    x = L.GlobalAveragePooling2D()(L.Conv2D(8, 3, padding="same", activation="relu")(image))
    z = L.Concatenate()([x, L.Dense(8, activation="relu")(sensor)])
    keras.Model([image, sensor], [L.Dense(4, name="box")(z), L.Dense(3, activation="softmax", name="cls")(z)]
                ).save(path)
    return path


def _samples(path, seed, n):
    rng = np.random.default_rng(seed)
    # realistic inputs: a smooth image and correlated sensor readings, not uniform noise
    ramp = np.linspace(-1, 1, 8, dtype=np.float32)
    image = ramp[None, :, None, None] * rng.uniform(0.3, 1, (n, 1, 1, 3)).astype(np.float32) \
        + ramp[None, None, :, None] * rng.uniform(-1, 1, (n, 1, 1, 3)).astype(np.float32)
    sensor = np.cumsum(rng.normal(0, 0.4, (n, 6)), axis=1).astype(np.float32)
    np.savez(path, x0=image.astype(np.float32), x1=sensor)
    return path


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    folder = tmp_path_factory.mktemp("multi")
    model = _two_in_two_out(folder / "fusion.keras")
    out = export(model, folder / "tree", calib=_samples(folder / "calib.npz", 0, 64), prefix="fusion")
    return out, _samples(folder / "test.npz", 1, 24)


def test_header_takes_each_port(tree):
    out, _ = tree
    header = (out / "model.h").read_text()
    assert ("int fusion_invoke(const int8_t *input0, const int8_t *input1, int8_t *output0, int8_t *output1);"
            in header)
    assert "#define FUSION_INPUT0_BYTES 192" in header and "#define FUSION_INPUT1_BYTES 6" in header
    assert "#define FUSION_OUTPUT_BYTES 7" in header  # both outputs back to back


def test_verify_is_bit_exact_and_as_close_to_float_as_tflm(tree):
    out, data = tree
    report = verify(out, data)
    assert report.bit_exact and report.ok
    assert report.output_bytes == 4 + 3
    oracle = report.oracle
    assert oracle.tflm_nrmse is not None, oracle.note  # TF's conversion matched port by port
    assert oracle.ours_nrmse <= oracle.limit and oracle.ours_nrmse < 0.02


def test_reference_splits_ports_the_way_the_c_api_does(tree):
    out, data = tree
    graph = load_graph(out / "graph.npz")
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, (1, 8, 8, 3)).astype(np.int8)
    b = rng.integers(-128, 128, (1, 6)).astype(np.int8)
    box, cls = run_int8(graph, [a, b])
    row = run_int8_batch(graph, np.concatenate([a.ravel(), b.ravel()])[None])[0]
    np.testing.assert_array_equal(row, np.concatenate([box.ravel(), cls.ravel()]))
    with pytest.raises(McuError, match="2 inputs but 1 arrays"):
        run_int8(graph, [a])


def test_npz_without_the_second_input_is_one_line_error(tree, tmp_path, capsys):
    out, _ = tree
    np.savez(tmp_path / "one.npz", x0=np.zeros((2, 8, 8, 3), np.float32))
    assert main(["verify", str(out), "--data", str(tmp_path / "one.npz")]) != 0
    err = capsys.readouterr().err
    assert "no array named 'x1'" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_info_lists_every_port(tree, capsys):
    out, _ = tree
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "inputs: x0 1x8x8x3 int8" in text and "x1 1x6 int8" in text
    assert "outputs: y0 1x4 int8" in text and "y1 1x3 int8" in text


@pytest.mark.qemu
@pytest.mark.skipif(not HAS_QEMU, reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_runs_on_mps2_an386_identical_to_host(tree):
    from mcucompress.targets.runner import run_model

    out, data = tree
    report = run_model(out, "mps2-an386", data=data, samples=3)
    assert report.checks == {"host": True, "reference": True}
    assert report.exact_invoke and report.outputs.shape == (3, 7)


def test_tflm_simple_add_example_two_inputs(shared_dir, tmp_path):
    """tflite-micro's own two-input example: byte for byte with tflite-micro, on the host and on QEMU."""
    model = shared_dir / "models" / "tflm-examples" / "simple_add_model.tflite"
    out = export(model, tmp_path / "add", prefix="simple_add")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "add.npz", x0=rng.integers(-128, 128, (6, 128, 128, 1)).astype(np.int8),
             x1=rng.integers(-128, 128, (6, 128, 128, 1)).astype(np.int8))
    report = verify(out, tmp_path / "add.npz")
    assert report.bit_exact and [c.against for c in report.comparisons] == ["numpy reference", "tflite-micro"]
    if HAS_QEMU:
        from mcucompress.targets.runner import run_model

        run = run_model(out, "mps2-an386", samples=2)
        assert run.checks == {"host": True, "reference": True, "tflite-micro": True}
