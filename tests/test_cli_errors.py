"""Bad input a real user produces, through every command: each gives exit status 2, exactly one
`error: ...` line on stderr naming the problem, no traceback and no output folder left behind.

All inputs are made here in a few seconds (a small keyword spotter converted with TensorFlow's
converter and exported, one tiny Keras model, small NPZ files);
missing tools are simulated with a PATH that holds only the tools a case should find.
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from mcucompress.cli import main
from mcucompress.targets.manifest import manifest_json

import tflite_builders as tb


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Every bad (and the few good) inputs the table below names, by placeholder."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from mcucompress.export import export

    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    kws = tb.keyword_spotter(d / "kws.tflite").read_bytes()
    tb.keyword_spotter(d / "kws_float32.tflite", float32=True)
    tb.mlp(d / "other.tflite")
    tree = export(d / "kws.tflite", d / "tree", prefix="kws")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(6, activation="relu"), keras.layers.Dense(3)])
    model.save(d / "small.keras")
    lstm = keras.Sequential([keras.Input((6, 4)), keras.layers.LSTM(4), keras.layers.Dense(3)])
    lstm.save(d / "lstm.keras")

    x8 = rng.normal(size=(40, 8)).astype(np.float32)
    np.savez(d / "calib.npz", x=x8[:16])
    np.savez(d / "train.npz", x=x8, y=rng.integers(0, 3, 40))
    np.savez(d / "train_nan.npz", x=np.where(x8 > 1.5, np.nan, x8), y=rng.integers(0, 3, 40))
    np.savez(d / "train_labels7.npz", x=x8, y=rng.integers(0, 7, 40))
    np.savez(d / "calib_shape.npz", x=np.zeros((16, 9), np.float32))
    np.savez(d / "lstm_calib.npz", x=rng.normal(size=(4, 6, 4)).astype(np.float32))
    kws_x = rng.normal(0, 20, (3, 49, 10, 1)).astype(np.float32)
    np.savez(d / "kws_x.npz", x=kws_x)
    np.savez(d / "kws_noX.npz", data=kws_x)
    np.savez(d / "kws_shape.npz", x=np.zeros((3, 10, 49, 1), np.float32))
    np.savez(d / "kws_nan.npz", x=np.where(kws_x > 30, np.nan, kws_x))
    np.savez(d / "kws_str.npz", x=np.full((1, 49, 10, 1), "a"))
    np.savez(d / "kws_y3d.npz", x=kws_x, y=np.zeros((3, 2, 2)))
    (d / "corrupt.npz").write_bytes(b"PK\x03\x04" + bytes(rng.integers(0, 256, 200, dtype=np.uint8)))
    (d / "empty.tflite").write_bytes(b"")
    (d / "random.tflite").write_bytes(bytes(rng.integers(0, 256, 3000, dtype=np.uint8)))
    (d / "cut.tflite").write_bytes(kws[: len(kws) // 2])
    (d / "random.keras").write_bytes(bytes(rng.integers(0, 256, 3000, dtype=np.uint8)))
    small = (d / "small.keras").read_bytes()
    (d / "cut.keras").write_bytes(small[: len(small) // 2])
    (d / "empty.h5").write_bytes(b"")
    (d / "folder.tflite").mkdir()
    (d / "foreign").mkdir()
    (d / "foreign" / "notes.txt").write_text("keep me")
    (d / "typo.yaml").write_text("passes:\n  - prun: {sparsity: 0.5}\n")
    (d / "option_typo.yaml").write_text("passes:\n  - prune: {sparsty: 0.5}\n")
    (d / "broken.yaml").write_text("passes: [\n  - prune: {")
    (d / "not_a_number.yaml").write_text("passes:\n  - structured: {fraction: abc}\n")
    (d / "exponent.yaml").write_text("passes: [prune]\nlearning_rate: 1e-3\n")

    def variant(name, change):
        copy = d / name
        shutil.copytree(tree, copy)
        change(copy)

    def edit_manifest(copy, change):
        manifest = manifest_json(copy)
        change(manifest)
        (copy / "manifest.json").write_text(json.dumps(manifest))

    variant("tree_no_manifest", lambda t: (t / "manifest.json").unlink())
    variant("tree_bad_json", lambda t: (t / "manifest.json").write_text("{not json"))
    variant("tree_no_weights", lambda t: (t / "weights.c").unlink())
    variant("tree_bad_c", lambda t: (t / "model.c").write_text("int x = ;\n"))
    variant("tree_bad_graph", lambda t: (t / "graph.npz").write_bytes(b"junk"))
    variant("tree_other_tflite", lambda t: shutil.copy(d / "other.tflite", t / "source.tflite"))
    variant("tree_bad_scale", lambda t: edit_manifest(t, lambda m: m["input"].update(scale="abc")))
    return {"D": str(d)}


# (command line with placeholders D = inputs, OUT = output path; phrase in the error)
CASES = {
    # export
    "export-missing-model": ("export D/nope.tflite -o OUT", "model file not found"),
    "export-empty-tflite": ("export D/empty.tflite -o OUT", "is not a TFLite model"),
    "export-random-tflite": ("export D/random.tflite -o OUT", "is not a TFLite model"),
    "export-truncated-tflite": ("export D/cut.tflite -o OUT", "corrupt or truncated TFLite file"),
    "export-float-tflite": ("export D/kws_float32.tflite -o OUT", "is not a fully int8 model"),
    "export-folder-as-model": ("export D/folder.tflite -o OUT", "is a directory"),
    "export-random-keras": ("export D/random.keras -o OUT --calib D/calib.npz", "not a zip archive"),
    "export-truncated-keras": ("export D/cut.keras -o OUT --calib D/calib.npz", "corrupt or truncated"),
    "export-empty-h5": ("export D/empty.h5 -o OUT --calib D/calib.npz", "it is empty"),
    "export-unsupported-layer": ("export D/lstm.keras -o OUT --calib D/lstm_calib.npz", "(LSTM) is not supported"),
    "export-keras-no-calib": ("export D/small.keras -o OUT", "need calibration data"),
    "export-calib-corrupt": ("export D/small.keras -o OUT --calib D/corrupt.npz", "not a readable .npz"),
    "export-calib-no-x": ("export D/small.keras -o OUT --calib D/kws_noX.npz", "no array named 'x'"),
    "export-calib-shape": ("export D/small.keras -o OUT --calib D/calib_shape.npz", "'x' has shape (16, 9)"),
    "export-bad-prefix": ("export D/kws.tflite -o OUT --prefix my-model", "not a C identifier"),
    "export-unknown-board": ("export D/kws.tflite -o OUT --board nosuch", "unknown board 'nosuch'"),
    # the folders it had to create for OUT/nested/tree go too
    "export-too-big-for-board": ("export D/too_big.tflite -o OUT/nested/tree --board lm3s6965evb",
                                 "does not fit lm3s6965evb"),
    "export-foreign-folder": ("export D/kws.tflite -o D/foreign", "refusing to overwrite"),
    "export-out-under-file": ("export D/kws.tflite -o D/calib.npz/out", "is a file"),
    "export-qformat-tflite": ("export D/kws.tflite -o OUT --quantize qformat", "needs a float Keras model"),
    "export-no-output": ("export D/kws.tflite", "Missing option '-o'"),
    # verify
    "verify-foreign-folder": ("verify D/foreign --data D/kws_x.npz", "not an exported model tree"),
    "verify-no-manifest": ("verify D/tree_no_manifest --data D/kws_x.npz", "no manifest.json"),
    "verify-bad-manifest": ("verify D/tree_bad_json --data D/kws_x.npz", "is not valid JSON"),
    "verify-deleted-source": ("verify D/tree_no_weights --data D/kws_x.npz", "lists source 'weights.c'"),
    "verify-broken-source": ("verify D/tree_bad_c --data D/kws_x.npz", "error: expected expression"),
    "verify-corrupt-graph": ("verify D/tree_bad_graph --data D/kws_x.npz", "cannot read graph file"),
    "verify-swapped-tflite": ("verify D/tree_other_tflite --data D/kws_x.npz", "not the model this tree was exported"),
    "verify-bad-scale": ("verify D/tree_bad_scale --data D/kws_x.npz", "invalid scale 'abc'"),
    "verify-data-missing": ("verify D/tree --data D/nope.npz", "sample file not found"),
    "verify-data-corrupt": ("verify D/tree --data D/corrupt.npz", "not a readable .npz"),
    "verify-data-no-x": ("verify D/tree --data D/kws_noX.npz", "no array named 'x' (found data)"),
    "verify-data-shape": ("verify D/tree --data D/kws_shape.npz", "'x' has shape (3, 10, 49, 1)"),
    "verify-data-nan": ("verify D/tree --data D/kws_nan.npz", "NaN or infinite"),
    "verify-data-strings": ("verify D/tree --data D/kws_str.npz", "expected numbers"),
    "verify-labels-3d": ("verify D/tree --data D/kws_y3d.npz", "'y' (shape (3, 2, 2)"),
    # info
    "info-missing": ("info D/nope.tflite", "does not exist"),
    "info-truncated-tflite": ("info D/cut.tflite", "corrupt or truncated TFLite file"),
    "info-foreign-folder": ("info D/foreign", "not an exported model tree"),
    "info-unknown-suffix": ("info D/calib.npz", "expected a .tflite, .keras or .h5"),
    # compress
    "compress-missing": ("compress D/nope.keras -o OUT.keras --data D/train.npz --prune 0.5", "model not found"),
    "compress-tflite": ("compress D/kws.tflite -o OUT.keras --data D/train.npz --prune 0.5",
                        "not a Keras model file"),
    "compress-random-keras": ("compress D/random.keras -o OUT.keras --data D/train.npz --prune 0.5",
                              "not a zip archive"),
    "compress-recipe-typo": ("compress D/small.keras -o OUT.keras --data D/train.npz --recipe D/typo.yaml",
                             "unknown compression pass 'prun'"),
    "compress-recipe-option-typo": ("compress D/small.keras -o OUT.keras --data D/train.npz "
                                    "--recipe D/option_typo.yaml", "unknown option 'sparsty'"),
    "compress-recipe-not-yaml": ("compress D/small.keras -o OUT.keras --data D/train.npz --recipe D/broken.yaml",
                                 "not valid YAML"),
    "compress-recipe-not-a-number": ("compress D/small.keras -o OUT.keras --data D/train.npz "
                                     "--recipe D/not_a_number.yaml", "must be a number, got 'abc'"),
    "compress-recipe-yaml-exponent": ("compress D/small.keras -o OUT.keras --data D/train.npz "
                                      "--recipe D/exponent.yaml", "YAML reads 1e-3 as text"),
    "compress-batch-size-zero": ("compress D/small.keras -o OUT.keras --data D/train.npz --prune 0.5 --batch-size 0",
                                 "batch_size must be a whole number >= 1"),
    "compress-negative-learning-rate": ("compress D/small.keras -o OUT.keras --data D/train.npz --prune 0.5 "
                                        "--learning-rate -1", "learning_rate must be a positive number"),
    "compress-sparsity": ("compress D/small.keras -o OUT.keras --data D/train.npz --prune 1.5", "sparsity must be"),
    "compress-data-nan": ("compress D/small.keras -o OUT.keras --data D/train_nan.npz --prune 0.5",
                          "NaN or infinite"),
    "compress-labels-out-of-range": ("compress D/small.keras -o OUT.keras --data D/train_labels7.npz --prune 0.5",
                                     "the model has 3 outputs"),
    "compress-data-no-labels": ("compress D/small.keras -o OUT.keras --data D/calib.npz --prune 0.5",
                                "has no labels"),
    "compress-output-under-file": ("compress D/small.keras -o D/calib.npz/m.keras --data D/train.npz --prune 0.5",
                                   "is a file"),
    # run / flash / bench
    "run-unknown-board": ("run D/tree --board nosuch", "unknown board 'nosuch'"),
    "run-board-without-qemu": ("run D/tree --board nucleo-f446re", "has no QEMU machine"),
    "run-foreign-folder": ("run D/foreign --board mps2-an386", "not an exported model tree"),
    "run-samples-zero": ("run D/tree --board mps2-an386 --samples 0", "--samples must be at least 1"),
    "run-data-shape": ("run D/tree --board mps2-an386 --data D/kws_shape.npz", "'x' has shape"),
    "flash-unknown-board": ("flash D/tree --board nosuch", "unknown board 'nosuch'"),
    "flash-board-without-tool": ("flash D/tree --board mps2-an386", "has no flashing settings"),
    "flash-wrong-tool": ("flash D/tree --board lm3s6965evb --tool pyocd --dry-run", "has no pyocd settings"),
    "bench-foreign-folder": ("bench D/foreign --board mps2-an386 --no-layers", "not an exported model tree"),
    # demo / boards / the group
    "demo-unknown-board": ("demo -o OUT --board nosuch", "unknown board 'nosuch'"),
    "demo-board-without-qemu": ("demo -o OUT --board nucleo-f446re", "has no QEMU machine"),
    "demo-foreign-folder": ("demo -o D/foreign", "refusing to write into"),
    "boards-extra-argument": ("boards extra", "unexpected extra argument"),
    "unknown-command": ("nosuch", "No such command 'nosuch'"),
}


def _argv(line: str, files: dict, out: Path) -> list[str]:
    return [part.replace("OUT", str(out)).replace("D/", files["D"] + "/")
            for part in line.split()]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(("out", ".out")))


def _check_one_error_line(capsys, status: int, phrase: str) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert status == 2, err
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert phrase in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def too_big(files):
    """A 64x64x32 conv whose activations (about 144 KB) cannot fit the 64 KB RAM of lm3s6965evb."""
    k = tb._keras()
    tb._seed(0)
    model = k.Sequential([k.layers.Input((64, 64, 3)), k.layers.Conv2D(32, 3, padding="same", activation="relu"),
                          k.layers.GlobalAveragePooling2D(), k.layers.Dense(4)])
    return tb._convert(model, (64, 64, 3), Path(files["D"]) / "too_big.tflite")


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_nothing_left(case, files, too_big, tmp_path, capsys):
    line, phrase = CASES[case]
    status = main(_argv(line, files, tmp_path / "out"))
    _check_one_error_line(capsys, status, phrase)
    assert _leftovers(tmp_path) == []
    assert [p.name for p in (Path(files["D"]) / "foreign").iterdir()] == ["notes.txt"]


def _path_with(tmp_path: Path, tools: tuple[str, ...]) -> str:
    """A PATH folder holding only `tools` (links to the real ones)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in tools:
        (folder / tool).symlink_to(shutil.which(tool))
    return str(folder)


@pytest.mark.parametrize("line, tools, phrase", [
    ("export D/kws.tflite -o OUT --board mps2-an386", (), "arm-none-eabi-gcc not found on PATH"),
    ("verify D/tree --data D/kws_x.npz", (), "'cmake' not found on PATH"),
    ("run D/tree --board mps2-an386", (), "gcc not found on PATH"),
    ("demo -o OUT", ("cmake",), "arm-none-eabi-gcc not found on PATH"),
    ("demo -o OUT", ("cmake", "arm-none-eabi-gcc"), "qemu-system-arm not found on PATH"),
], ids=["export-board-no-cross-compiler", "verify-no-cmake", "run-no-compiler", "demo-no-cross-compiler",
        "demo-no-qemu"])
def test_missing_tool_is_one_line(line, tools, phrase, files, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", _path_with(tmp_path, tools))
    monkeypatch.setenv("MCUCOMPRESS_CACHE", str(tmp_path / "cache"))  # no cached host build to fall back on
    status = main(_argv(line, files, tmp_path / "out"))
    _check_one_error_line(capsys, status, phrase)
    assert _leftovers(tmp_path) == []


def test_no_arguments_prints_the_help(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Usage: mcucompress") and "export" in err and "error:" not in err
