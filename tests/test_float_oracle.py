"""verify on a Keras export judges the C against the float model and TensorFlow's own conversion
(run by tflite-micro), so an importer that computes the wrong function cannot pass."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
keras = pytest.importorskip("keras")
pytest.importorskip("tflite_micro")

from mcucompress.export import export  # noqa: E402
from mcucompress.importers import keras_ops  # noqa: E402
from mcucompress.float_oracle import limit_for, nrmse  # noqa: E402
from mcucompress.verify import verify  # noqa: E402

L = keras.layers


def _hard_sigmoid_classifier(path):
    keras.utils.set_random_seed(3)
    inp = keras.Input((12, 12, 3))
    x = L.Conv2D(8, 3, padding="same")(inp)
    x = L.ReLU(6.0)(x + 3.0) * (1.0 / 6.0)
    x = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    keras.Model(inp, L.Dense(6)(x)).save(path)
    return path


def _data(folder, seed, n):
    x = np.random.default_rng(seed).uniform(-1, 1, (n, 12, 12, 3)).astype(np.float32)
    np.savez(folder / f"x{seed}.npz", x=x)
    return folder / f"x{seed}.npz"


def _dropping_add(b, layer, args, kwargs, out_shape):
    """The importer's old behaviour: the one tensor argument returned, the constant lost."""
    return next(a for a in args if isinstance(a, keras_ops.TensorArg))


def test_silent_error_fails_verify_and_the_fix_passes(tmp_path, monkeypatch):
    model = _hard_sigmoid_classifier(tmp_path / "hsig.keras")
    calib, test = _data(tmp_path, 0, 48), _data(tmp_path, 1, 24)

    with monkeypatch.context() as patch:
        patch.setitem(keras_ops.OP_CONVERTERS, "Add", _dropping_add)
        broken = export(model, tmp_path / "broken", calib=calib)
    report = verify(broken, test)
    assert report.bit_exact  # the C matches our (wrong) graph byte for byte ...
    assert not report.ok  # ... and the oracle catches it
    assert report.oracle.ours_nrmse > report.oracle.limit
    assert report.oracle.tflm_nrmse is not None and report.oracle.tflm_nrmse < 0.02

    fixed = export(model, tmp_path / "fixed", calib=calib)
    report = verify(fixed, test)
    assert report.bit_exact and report.ok
    assert report.oracle.ours_nrmse <= report.oracle.limit
    assert report.oracle.ours_top1 >= 0.9
    assert report.to_dict()["oracle"]["ok"] is True


def test_oracle_measures():
    ref = np.array([[0.0, 1.0], [2.0, 4.0]])
    assert nrmse(ref, ref) == 0.0
    assert nrmse(ref + 0.4, ref) == pytest.approx(0.1)
    assert limit_for(None) == 0.05
    assert limit_for(0.001) == 0.02
    assert limit_for(0.1) == pytest.approx(0.15)


def test_oracle_inputs_are_the_same_bytes_every_time(tmp_path):
    from mcucompress.float_oracle import write_oracle_inputs

    model = _hard_sigmoid_classifier(tmp_path / "m.keras")
    calib = _data(tmp_path, 0, 8)
    trees = [tmp_path / "a", tmp_path / "b"]
    entries = [write_oracle_inputs(t, model, calib, allow_code=False) for t in trees]
    assert entries[0] == entries[1] and entries[0]["float_oracle"]["model"] == "oracle/model.keras"
    for name in ("model.keras", "calibration.npz"):
        assert (trees[0] / "oracle" / name).read_bytes() == (trees[1] / "oracle" / name).read_bytes()
    assert write_oracle_inputs(tmp_path / "c", tmp_path / "x.tflite", calib, allow_code=False) is None


def test_a_conversion_is_reused_only_for_the_same_model_bytes_and_samples(tmp_path):
    """verify's oracle converts its stored copy; converting the original files again (the zoo's
    .tflite path) reuses that conversion, and nothing else does."""
    from mcucompress.float_oracle import write_oracle_inputs
    from mcucompress.reference.tf_converter import _conversion_key

    model = _hard_sigmoid_classifier(tmp_path / "m.keras")
    calib = _data(tmp_path, 0, 8)
    write_oracle_inputs(tmp_path / "tree", model, calib, allow_code=False)
    stored = (tmp_path / "tree" / "oracle" / "model.keras", tmp_path / "tree" / "oracle" / "calibration.npz")
    key = _conversion_key(model, calib, False)
    assert key is not None and _conversion_key(*stored, False) == key
    assert _conversion_key(model, calib, True) != key
    other = np.load(calib)["x"].copy()
    other[0, 0, 0, 0] += 0.5
    np.savez(tmp_path / "other.npz", x=other)
    assert _conversion_key(model, tmp_path / "other.npz", False) != key
    assert _conversion_key(tmp_path / "missing.keras", calib, False) is None


def test_one_serving_child_converts_model_after_model_and_outlives_a_timeout(tmp_path):
    """TensorFlow starts once per process for all conversions; each conversion is the one a new
    process makes (Keras's state is reset between them), and a conversion that times out ends
    only its worker: the next one runs in a new worker forked from the same server, which does
    not import TensorFlow again."""
    from mcucompress.errors import McuError
    from mcucompress.reference import serving_child, tf_converter

    model = _hard_sigmoid_classifier(tmp_path / "m.keras")
    calib, other = _data(tmp_path, 0, 8), _data(tmp_path, 2, 8)
    tf_converter._CONVERTED.clear()
    first = tf_converter.convert_in_child(model, calib)
    server, worker = serving_child._CHILD[0].process.pid, serving_child._CHILD[0].worker
    assert tf_converter.convert_in_child(model, other) != first
    tf_converter._CONVERTED.clear()
    assert tf_converter.convert_in_child(model, calib) == first
    assert (serving_child._CHILD[0].process.pid, serving_child._CHILD[0].worker) == (server, worker)
    tf_converter._CONVERTED.clear()
    with pytest.raises(McuError, match="did not finish on .* within 0.01 s"):
        tf_converter.convert_in_child(model, calib, timeout=0.01)
    assert tf_converter.convert_in_child(model, calib) == first
    assert serving_child._CHILD[0].worker != worker
    assert serving_child._CHILD[0].process.pid == server
