"""Keras files from strangers: loading one never runs or imports code it names.

Every hostile file is made here: a legacy .h5 and a tf_keras .keras whose Lambda layer touches a
marker file when its bytecode runs, and .keras archives whose config names a Python module that
touches a marker when imported. Each command that opens a Keras file must refuse them with one
line before the marker appears."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mcucompress.cli import main
from mcucompress.errors import McuError
from mcucompress.importers.keras_file import code_in_config, open_keras_file


def _lambda_model(marker: Path):
    import tf_keras

    def touch(x, path=str(marker)):
        open(path, "w").close()  # runs whenever the layer is called: at build time and on load
        return x

    inputs = tf_keras.Input((4,))
    outputs = tf_keras.layers.Dense(2)(tf_keras.layers.Lambda(touch, name="payload")(inputs))
    return tf_keras.Model(inputs, outputs)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    marker = folder / "ran"
    model = _lambda_model(marker)
    files = {"h5": folder / "lambda.h5", "h5_as_keras": folder / "lambda_hdf5.keras",
             "tf_keras_zip": folder / "lambda_tfk.keras"}
    model.save(files["h5"], save_format="h5")
    files["h5_as_keras"].write_bytes(files["h5"].read_bytes())
    model.save(files["tf_keras_zip"], save_format="keras")
    files["module_import"] = _archive_naming_module(folder / "module.keras", "mcc_probe_payload")
    (folder / "mcc_probe_payload.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    np.savez(folder / "calib.npz", x=np.zeros((4, 4), np.float32))
    marker.unlink(missing_ok=True)  # saving called the layer; from here on it must never run
    sys.path.insert(0, str(folder))
    yield {**files, "marker": marker, "calib": folder / "calib.npz", "folder": folder}
    sys.path.remove(str(folder))


def _archive_naming_module(path: Path, module: str) -> Path:
    layer = {"module": module, "class_name": "Payload", "registered_name": "Payload",
             "config": {"name": "payload"}}
    config = {"module": "keras", "class_name": "Sequential", "registered_name": None,
              "config": {"name": "seq", "layers": [layer]}}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.10.0"}))
    return path


COMMANDS = {
    "info": lambda f, h, out: ["info", str(f)],
    "export": lambda f, h, out: ["export", str(f), "-o", str(out), "--calib", str(h["calib"])],
    "export-qformat": lambda f, h, out: ["export", str(f), "-o", str(out), "--calib", str(h["calib"]),
                                         "--quantize", "qformat"],
    "export-binary": lambda f, h, out: ["export", str(f), "-o", str(out), "--calib", str(h["calib"]),
                                        "--quantize", "binary"],
}


@pytest.mark.parametrize("kind", ["h5", "h5_as_keras", "tf_keras_zip", "module_import"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_hostile_keras_file_is_refused_before_anything_runs(kind, command, hostile, tmp_path, capsys):
    out = tmp_path / "out"
    status = main(COMMANDS[command](hostile[kind], hostile, out))
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1 and "refusing to load" in err and "--unsafe-deserialization" in err
    assert ("Lambda" in err) if kind != "module_import" else ("mcc_probe_payload" in err)
    assert not hostile["marker"].exists(), "the file's code ran"
    assert "mcc_probe_payload" not in sys.modules
    assert not out.exists()


def test_compress_refuses_hostile_model_and_teacher(hostile, tmp_path, capsys):
    data = tmp_path / "data.npz"
    np.savez(data, x=np.zeros((8, 4), np.float32), y=np.zeros(8, np.int64))
    for argv in (["compress", str(hostile["h5"]), "-o", str(tmp_path / "s.keras"), "--data", str(data),
                  "--prune", "0.5"],
                 ["compress", str(hostile["h5"]), "-o", str(tmp_path / "s.keras"), "--data", str(data),
                  "--teacher", str(hostile["tf_keras_zip"])]):
        assert main(argv) == 2
        assert "refusing to load" in capsys.readouterr().err
    assert not hostile["marker"].exists()


def test_unsafe_flag_is_the_only_way_past(hostile, capsys):
    with pytest.raises(McuError, match="Lambda"):
        open_keras_file(hostile["h5"])
    assert not hostile["marker"].exists()
    # With the explicit flag the file loads (its code runs: that is what the flag means), and the
    # importer then names the layer it cannot convert.
    assert main(["info", str(hostile["h5"]), "--unsafe-deserialization"]) == 2
    err = capsys.readouterr().err
    assert "Lambda" in err and "not supported" in err and "refusing" not in err
    hostile["marker"].unlink(missing_ok=True)


@pytest.mark.parametrize("config, problem", [
    ({"class_name": "Functional", "config": {"layers": [{"class_name": "Lambda", "config": {"name": "l"}}]}},
     "Lambda"),
    ({"layers": [{"config": {"activation": {"class_name": "__lambda__", "config": {"code": "x"}}}}]},
     "serialized Python function"),
    ({"class_name": "Dense", "config": {"kernel_initializer": {"module": "os", "class_name": "system"}}},
     "module 'os'"),
    ({"module": "keras.layers", "class_name": "Dense", "config": {"name": "d"}}, None),
    ({"module": "mcucompress.binary.layers", "class_name": "BinaryDense", "config": {}}, None),
    ({"module": "kerasx.evil", "class_name": "X", "config": {}}, "kerasx.evil"),
])
def test_code_in_config(config, problem):
    found = code_in_config(config)
    assert (found is None) if problem is None else (problem in found)
