"""Compression beyond classifiers: autoencoders with MSE, feature (hint) distillation."""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from mcucompress.cli import main  # noqa: E402
from mcucompress.compression import distill, fine_tune  # noqa: E402
from mcucompress.compression.training_data import load_for_model  # noqa: E402
from mcucompress.compression.finetune import evaluate, feature_distillation_loss  # noqa: E402


def _autoencoder(code=16, hidden=32):
    return keras.Sequential([keras.Input((64,)), keras.layers.Dense(hidden, activation="relu", name="enc1"),
                             keras.layers.Dense(code, activation="relu", name="code"),
                             keras.layers.Dense(hidden, activation="relu", name="dec1"),
                             keras.layers.Dense(64, activation="sigmoid", name="out")])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("autoencoder")
    images = (load_digits().images * 255 / 16).astype(np.uint8)
    np.savez(root / "digits_x.npz", x=images)  # no labels: the targets are the inputs
    keras.utils.set_random_seed(0)
    model = _autoencoder()
    data = load_for_model(root / "digits_x.npz", model)
    fine_tune(model, data, epochs=15, batch_size=32, verbose=0).save(root / "ae.keras")
    return root


def test_unlabeled_data_means_reconstruction_and_compiled_loss_decides(files):
    model = keras.models.load_model(files / "ae.keras")
    data = load_for_model(files / "digits_x.npz", model)
    assert data.task == "regression" and data.y_train.shape == data.x_train.shape
    np.testing.assert_array_equal(data.y_val, data.x_val)
    metric, value = evaluate(model, data)
    assert metric == "mse" and value < 0.05  # trained: well below the ~0.1 of predicting the mean
    labels = files / "labels.npz"
    np.savez(labels, x=np.zeros((20, 64), np.float32), y=np.eye(10, dtype=np.float32)[np.arange(20) % 10])
    classifier = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    assert load_for_model(labels, classifier).task == "classification"  # one-hot rows: class labels
    classifier.compile("adam", "mse")
    assert load_for_model(labels, classifier).y_train.shape == (18, 10)  # compiled MSE: regression targets


def test_compress_prunes_an_autoencoder_and_reports_reconstruction_error(files, capsys):
    out = files / "ae_small.keras"
    assert main(["compress", str(files / "ae.keras"), "-o", str(out), "--data", str(files / "digits_x.npz"),
                 "--prune", "0.6", "--epochs", "3", "-q"]) == 0
    text = capsys.readouterr().out
    assert "original: reconstruction/regression error (MSE)" in text
    report = json.loads((files / "ae_small.json").read_text())
    assert report["metric"] == "mse" and "accuracy" not in report
    before, after = report["mse"]["before"], report["mse"]["after"]
    assert 0 < before < 0.05 and 0 < after < 2 * before
    assert [s["label"].split()[0] for s in report["stages"]] == ["original", "prune"]
    assert "Mean squared error" in (files / "ae_small.html").read_text()


def test_feature_distillation_loss_and_hinted_student(files):
    rng = np.random.default_rng(0)
    s, t = rng.normal(size=(5, 8)).astype(np.float32), rng.normal(size=(5, 8)).astype(np.float32)
    got = float(feature_distillation_loss(0.25, s, t, temperature=2.0, alpha=0.5))
    assert got == pytest.approx(0.25 + 0.5 * 4.0 * np.mean((s - t) ** 2), rel=1e-5)
    teacher = keras.models.load_model(files / "ae.keras")
    data = load_for_model(files / "digits_x.npz", teacher)
    keras.utils.set_random_seed(1)
    student = _autoencoder(code=16, hidden=16)
    hinted = distill(student, teacher, data, hint=("code", "code"), temperature=1.0, alpha=0.1, epochs=8,
                     batch_size=32, verbose=0)
    keras.utils.set_random_seed(1)
    alone = fine_tune(_autoencoder(code=16, hidden=16), data, epochs=8, batch_size=32, verbose=0)

    def code_gap(model):
        encode = keras.Model(model.inputs[0], model.get_layer("code").output)
        reference = keras.Model(teacher.inputs[0], teacher.get_layer("code").output)
        return float(np.mean((encode.predict(data.x_val, verbose=0) - reference.predict(data.x_val, verbose=0)) ** 2))

    assert code_gap(hinted) < 0.8 * code_gap(alone)
    predict_the_mean = float(np.mean((data.y_val - data.y_train.mean(axis=0)) ** 2))
    assert evaluate(hinted, data)[1] < 0.9 * predict_the_mean
