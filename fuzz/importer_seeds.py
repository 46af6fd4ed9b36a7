"""Seed corpora for fuzz/importers.py, made on the spot: small int8 .tflite files from
TensorFlow's converter (the test models of tests/tflite_builders.py) and small Keras 3 models
saved as .keras. Nothing downloaded, nothing checked in.

    python fuzz/importer_seeds.py tflite|keras OUT_DIR
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent


def _builders():
    """tests/tflite_builders.py, one module per process: it builds its models once per process,
    so a test process that has built them already (for other tests) hands them over."""
    path = ROOT / "tests" / "tflite_builders.py"
    loaded = sys.modules.get("tflite_builders")
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() == path.resolve():
        return loaded
    spec = importlib.util.spec_from_file_location("tflite_builders", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["tflite_builders"] = module
    spec.loader.exec_module(module)
    return module


def write_tflite_seeds(folder: Path) -> list[Path]:
    """mlp (int8 and float ports), cnn, branches, dilated and an unsupported-op model, in ``folder``."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for built in _builders().all_models(folder).values():  # built in another folder if built before
        if built.parent.resolve() != folder.resolve():
            shutil.copyfile(built, folder / built.name)
        paths.append(folder / built.name)
    return sorted(paths)


def _keras_models():
    import keras

    L = keras.layers
    keras.utils.set_random_seed(0)
    mlp = keras.Sequential([keras.Input((12,)), L.Dense(8, activation="relu"), L.Dense(4), L.Softmax()])
    inp = keras.Input((10, 9, 2))
    x = L.Conv2D(4, 3, padding="same")(inp)
    x = L.BatchNormalization()(x)
    x = L.ReLU(6.0)(x)
    y = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = L.Add()([x, y])
    x = L.MaxPooling2D(2)(x)
    x = L.ZeroPadding2D(1)(x)
    x = L.AveragePooling2D(2, strides=1)(x)
    x = L.GlobalAveragePooling2D()(x)
    cnn = keras.Model(inp, L.Dense(3, activation="softmax")(x))
    inp = keras.Input((8, 8, 3))
    a = L.Conv2D(3, 1, activation="relu")(inp)
    b = L.SeparableConv2D(2, 3, padding="same")(inp)
    x = L.Concatenate()([a, b])
    x = L.Flatten()(L.Conv2D(2, 3, strides=2, dilation_rate=1)(x))
    branches = keras.Model(inp, L.Dense(2)(L.Dropout(0.5)(x)))
    return {"mlp": mlp, "cnn": cnn, "branches": branches}


def write_keras_seeds(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, model in _keras_models().items():
        path = folder / f"{name}.keras"
        model.save(path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    kind, out = sys.argv[1], Path(sys.argv[2])
    sys.path.insert(0, str(ROOT))
    written = write_tflite_seeds(out) if kind == "tflite" else write_keras_seeds(out)
    print("\n".join(str(p) for p in written))
