"""`mcucompress compress` end to end, recipes, the report, and one-line user errors."""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from mcucompress.cli import main  # noqa: E402
from mcucompress.compression import low_rank, magnitude_prune  # noqa: E402
from mcucompress.compression.training_data import load_npz  # noqa: E402
from mcucompress.report import layer_stats  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A digits NPZ in x/y form (8x8 uint8-like images) and an untrained-then-briefly-trained MLP."""
    root = tmp_path_factory.mktemp("compress_cli")
    d = load_digits()
    images = (d.images * 255 / 16).astype(np.uint8)
    np.savez(root / "digits.npz", x=images, y=d.target)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="relu", name="fc1"),
                              keras.layers.Dense(16, activation="relu", name="fc2"),
                              keras.layers.Dense(10, activation="softmax", name="out")])
    model.compile("adam", "sparse_categorical_crossentropy")
    data = load_npz(root / "digits.npz", (64,))
    model.fit(data.x_train, data.y_train, epochs=8, batch_size=32, verbose=0)
    model.save(root / "mlp.keras")
    teacher = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3, activation="relu"),
                                keras.layers.Flatten(), keras.layers.Dense(10)])
    teacher.save(root / "teacher.keras")
    return root


def test_prune_and_cluster_from_flags_writes_plain_model_and_report(files, capsys):
    out = files / "small.keras"
    status = main(["compress", str(files / "mlp.keras"), "-o", str(out), "--data", str(files / "digits.npz"),
                   "--prune", "0.7", "--cluster", "8", "--epochs", "1", "-q"])
    assert status == 0
    model = keras.models.load_model(out)
    kernels = [layer.kernel.numpy() for layer in model.layers]
    total = sum(k.size for k in kernels)
    assert sum((k == 0).sum() for k in kernels) == pytest.approx(0.7 * total, abs=1)
    assert all(len(np.unique(k[k != 0])) <= 8 for k in kernels)
    report = json.loads((files / "small.json").read_text())
    assert [row["name"] for row in report["layers"]] == ["fc1", "fc2", "out"]
    assert [s["label"].split()[0] for s in report["stages"]] == ["original", "prune", "cluster"]
    before, after = report["accuracy"]["before"], report["accuracy"]["after"]
    # measured 92.8% -> 79.4% (70% pruned, 8 clusters, one epoch of fine-tuning)
    assert before > 0.85 and before - 0.16 < after <= 1, (before, after)
    assert report["layers"][0]["after"]["bits_per_weight"] <= 3
    micronet = report["micronet"]
    assert micronet["after"]["track"] == "cifar100" and micronet["after"]["ops"] < micronet["before"]["ops"]
    assert 0 < micronet["after"]["score"] < micronet["before"]["score"] / 3  # 70% pruned, 3-bit indices
    page = (files / "small.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "MicroNet score" in page
    # The exporter's importer accepts the result.
    from mcucompress.importers.keras import load_keras

    assert load_keras(str(out)) is not None
    assert "cluster clusters=8: accuracy" in capsys.readouterr().out


def test_recipe_with_teacher_and_mirrored_strategy(files):
    recipe = files / "recipe.yaml"
    recipe.write_text(
        "epochs: 1\n"
        f"teacher: {{path: {files / 'teacher.keras'}, temperature: 2, alpha: 0.5}}\n"
        "passes:\n"
        "  - structured: {layers: {fc1: 0.5}}\n"
        "  - lowrank: {ranks: {fc1: 4}}\n"
        "  - prune: {sparsity: 0.5, layers: {fc2: 0.75}}\n")
    out = files / "recipe_out.keras"
    status = main(["compress", str(files / "mlp.keras"), "-o", str(out), "--data", str(files / "digits.npz"),
                   "--recipe", str(recipe), "--strategy", "mirrored", "-q", "--report", str(files / "r")])
    assert status == 0
    model = keras.models.load_model(out)
    assert [layer.name for layer in model.layers] == ["fc1_lr", "fc1", "fc2", "out"]
    assert model.get_layer("fc1").units == 16 and model.get_layer("fc1_lr").units == 4
    assert np.mean(model.get_layer("fc2").kernel.numpy() == 0) == pytest.approx(0.75)
    report = json.loads((files / "r.json").read_text())
    assert next(r for r in report["layers"] if r["name"] == "fc1")["after"]["rank"] == 4


def test_obs_flag_prunes_every_layer_by_second_order_saliency(files, capsys):
    out = files / "obs.keras"
    assert main(["compress", str(files / "mlp.keras"), "-o", str(out), "--data", str(files / "digits.npz"),
                 "--obs", "0.6", "--epochs", "1", "-q"]) == 0
    model = keras.models.load_model(out)
    assert all(np.mean(layer.kernel.numpy() == 0) == pytest.approx(0.6, abs=0.01) for layer in model.layers)
    assert "obs sparsity=0.6 schedule=polynomial: accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--lowrank", "bits=3"], "--lowrank expects"),
    (["--prune", "0.5", "--data", "MISSING"], "data file not found"),
    ([], "nothing to do"),
    (["--structured", "0.5", "-o", "x.h5"], "must be a .keras file"),
])
def test_user_errors_are_one_line(files, capsys, args, message):
    base = ["compress", str(files / "mlp.keras"), "-o", str(files / "e.keras"), "--data", str(files / "digits.npz")]
    assert main(base + args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_bad_recipe_and_wrong_data_shape_are_user_errors(files, capsys, tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("passes:\n  - squeeze: {}\n")
    assert main(["compress", str(files / "mlp.keras"), "-o", str(tmp_path / "o.keras"), "--data",
                 str(files / "digits.npz"), "--recipe", str(recipe)]) == 2
    np.savez(tmp_path / "wrong.npz", x=np.zeros((10, 5, 5), np.uint8), y=np.zeros(10))
    assert main(["compress", str(files / "mlp.keras"), "-o", str(tmp_path / "o.keras"), "--data",
                 str(tmp_path / "wrong.npz"), "--prune", "0.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "unknown compression pass 'squeeze'" in err[0] and "do not fit the model input shape" in err[1]


def test_layer_stats_count_sparsity_values_bits_and_rank():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((40,)), keras.layers.Dense(30, name="a"), keras.layers.Dense(5, name="b")])
    pruned = magnitude_prune(model, None, 0.5, layers=["a"])
    kernel = pruned.get_layer("a").kernel.numpy()
    kernel[kernel != 0] = np.where(kernel[kernel != 0] > 0, 0.5, -0.25)  # 2 shared values
    pruned.get_layer("a").kernel.assign(kernel)
    stats = layer_stats(low_rank(pruned, None, ranks={"b": 2}))
    assert stats["a"]["sparsity"] == pytest.approx(0.5) and stats["a"]["distinct_values"] == 3
    assert stats["a"]["bits_per_weight"] == 1 and stats["a"]["params"] == 40 * 30 + 30
    assert stats["b"]["rank"] == 2 and stats["b"]["params"] == 2 * (30 + 5) + 5
    assert stats["b"]["bits_per_weight"] == 32 and stats["b"]["rank"] == 2
