"""Early exits: threshold choice, the early_exit op in the reference and the generated C (which
exit each input takes, bit for bit), the compress pass, and exact instruction counts per exit on
an emulated Cortex-M4."""

import os
import shutil

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from mcucompress.build.host import build_host  # noqa: E402
from mcucompress.build.runner import run_host_exits  # noqa: E402
from mcucompress.compression.training_data import from_arrays  # noqa: E402
from mcucompress.compression.exits import add_exits, choose_thresholds, confidence_levels  # noqa: E402
from mcucompress.data import quantize_input  # noqa: E402
from mcucompress.errors import McuError  # noqa: E402
from mcucompress.export import export  # noqa: E402
from mcucompress.compression.exit_layer import EarlyExit  # noqa: E402
from mcucompress.importers.keras_file import open_keras_file  # noqa: E402
from mcucompress.ir.serialize import load_graph  # noqa: E402
from mcucompress.quantize.early_exit import int8_threshold  # noqa: E402
from mcucompress.reference.int8 import run_int8, run_int8_batch_exits  # noqa: E402

HAVE_ARM = bool(shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm"))


def _digits():
    d = load_digits()
    return (d.data.reshape(-1, 8, 8, 1) / 16.0).astype(np.float32), d.target.astype(np.int64)


def _cnn():
    return keras.Sequential([keras.Input((8, 8, 1)),
                             keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
                             keras.layers.MaxPooling2D(name="pool1"),
                             keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
                             keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax", name="out")])


@pytest.fixture(scope="module")
def exit_tree(tmp_path_factory):
    """A digits CNN with one exit after pool1 (trained by add_exits), exported."""
    folder = tmp_path_factory.mktemp("exits")
    x, y = _digits()
    data = from_arrays(x[:1400], y[:1400], x[1400:], y[1400:], (8, 8, 1))
    keras.utils.set_random_seed(0)
    base = _cnn()
    base.compile("adam", "sparse_categorical_crossentropy")
    base.fit(x[:1400], y[:1400], epochs=12, batch_size=32, verbose=0)
    model = add_exits(base, data, after=["pool1"], pool=1, budget=0.01, epochs=5, batch_size=32, verbose=0)
    model.save(folder / "exits.keras")
    np.savez(folder / "calib.npz", x=x[:64])
    tree = export(folder / "exits.keras", folder / "c", calib=folder / "calib.npz")
    return base, model, tree, x[1400:], y[1400:]


def test_int8_threshold_is_the_first_level_at_or_above_the_probability():
    scale, zp = 1.0 / 256, -128
    assert int8_threshold(0.5, scale, zp) == 0          # 128/256 exactly
    assert int8_threshold(0.5 + 1e-6, scale, zp) == 1
    assert int8_threshold(0.0, scale, zp) == -128
    assert int8_threshold(255 / 256, scale, zp) == 127
    assert int8_threshold(1.0, scale, zp) == 128       # above every int8 level: never taken


def test_thresholds_take_confident_inputs_within_the_budget():
    rng = np.random.default_rng(0)
    n = 1000
    labels = rng.integers(0, 10, n)
    final = np.eye(10)[labels] * 0.9 + 0.01             # the full network: always right
    head = np.full((n, 10), 0.02)
    confident = rng.random(n) < 0.6                      # right and sure on 60%, unsure (and wrong) on the rest
    head[np.arange(n), np.where(confident, labels, (labels + 1) % 10)] = np.where(confident, 0.95,
                                                                                  rng.uniform(0.3, 0.6, n))
    [threshold] = choose_thresholds([head], final, labels, budget=0.0)
    assert threshold == pytest.approx(np.floor(0.95 * 256) / 256)
    taken = confidence_levels(head) >= threshold
    assert np.array_equal(taken, confident)
    # with a budget the exit also takes wrong answers, but no more than the budget allows
    [loose] = choose_thresholds([head], final, labels, budget=0.05)
    taken = confidence_levels(head) >= loose
    wrong = np.mean(taken & ~confident)
    assert loose < threshold and 0 < wrong <= 0.05
    # an exit that is never good enough is never taken
    assert choose_thresholds([np.roll(final, 1, axis=1)], final, labels, budget=0.0) == [1.0]


def test_add_exits_keeps_the_network_and_saves_as_one_output_model(exit_tree, tmp_path):
    base, model, tree, x, y = exit_tree
    assert len(model.outputs) == 1
    [exit_layer] = [layer for layer in model.layers if isinstance(layer, EarlyExit)]
    assert 0.0 < exit_layer.threshold <= 1.0
    np.testing.assert_allclose(model.predict(x, verbose=0), base.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    loaded = open_keras_file(tree.parent / "exits.keras")  # safe mode, our registered layer
    assert [layer.threshold for layer in loaded.layers if isinstance(layer, EarlyExit)] == [exit_layer.threshold]


def test_c_takes_the_same_exits_as_the_reference(exit_tree):
    _, _, tree, x, y = exit_tree
    graph = load_graph(tree / "graph.npz")
    assert [op.kind for op in graph.ops].count("early_exit") == 1
    xq = quantize_input(x, graph.tensor(graph.inputs[0]).quant)
    reference, exits = run_int8_batch_exits(graph, xq)
    c_out, c_exits = run_host_exits(build_host(tree), xq, 10)
    assert np.array_equal(c_out, reference) and np.array_equal(c_exits, exits)
    counts = np.bincount(exits, minlength=2)
    assert counts[0] > 0.3 * len(x) and counts[1] > 0      # both paths run
    exit_op = next(op for op in graph.ops if op.kind == "early_exit")
    for sample, taken in list(zip(xq, exits))[:40]:
        values = run_int8(graph, sample, intermediates=True)
        head = values[exit_op.inputs[1]].ravel()
        full = run_int8(graph.replace(ops=_without_exit(graph)), sample).ravel()
        output = values[graph.outputs[0]].ravel()
        assert np.array_equal(output, head if taken == 0 else full)
        assert (int(head.max()) >= int8_threshold(exit_op.attrs["threshold"], 1 / 256, -128)) == (taken == 0)
    accuracy = np.mean(c_out.argmax(axis=1) == y)
    assert accuracy > 0.85


def _without_exit(graph):
    """The graph with its early exit never taken (threshold 1.0)."""
    return tuple(op.with_attrs(threshold=1.0) if op.kind == "early_exit" else op for op in graph.ops)


def test_bad_exit_options_are_user_errors():
    x, y = _digits()
    data = from_arrays(x[:100], y[:100], x[100:120], y[100:120], (8, 8, 1))
    with pytest.raises(McuError, match="no layer named 'nope'"):
        add_exits(_cnn(), data, after=["nope"], epochs=0)
    with pytest.raises(McuError, match="model's output"):
        add_exits(_cnn(), data, after=["out"], epochs=0)
    with pytest.raises(McuError, match="exit head"):
        add_exits(_cnn(), data, after=["pool1"], head="big", epochs=0)


@pytest.mark.qemu
@pytest.mark.skipif(not HAVE_ARM, reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_qemu_counts_instructions_per_exit(exit_tree, tmp_path):
    from mcucompress.targets.runner import run_model

    _, _, tree, x, _ = exit_tree
    np.savez(tmp_path / "x.npz", x=x[:24])
    report = run_model(tree, "mps2-an386", data=tmp_path / "x.npz", samples=24)
    assert report.passed and report.checks["reference exits"]
    per_exit = report.per_exit()
    assert set(per_exit) == {0, 1}
    assert per_exit[0]["mean_instructions"] < 0.7 * per_exit[1]["mean_instructions"]
    as_dict = report.as_dict()
    assert as_dict["exits"] == list(report.exits)
    assert as_dict["mean_instructions"] == pytest.approx(np.mean(report.instructions))


def test_compress_cli_adds_exits(exit_tree, tmp_path):
    from mcucompress.cli import main

    base, _, _, _, _ = exit_tree
    x, y = _digits()
    base.save(tmp_path / "cnn.keras")
    np.savez(tmp_path / "digits.npz", x_train=x[:1400], y_train=y[:1400], x_test=x[1400:], y_test=y[1400:])
    out = tmp_path / "cnn_exits.keras"
    status = main(["compress", str(tmp_path / "cnn.keras"), "-o", str(out), "--data", str(tmp_path / "digits.npz"),
                   "--exits", "pool1", "--epochs", "1", "-q"])
    assert status == 0
    thresholds = [layer.threshold for layer in open_keras_file(out).layers if isinstance(layer, EarlyExit)]
    assert len(thresholds) == 1 and 0.0 < thresholds[0] <= 1.0
    assert main(["compress", str(tmp_path / "cnn.keras"), "-o", str(tmp_path / "bad.keras"), "--data",
                 str(tmp_path / "digits.npz"), "--exits", "conv9", "-q"]) != 0
    assert not (tmp_path / "bad.keras").exists()
