"""Training data for fine-tuning: a train split and a held-out split, in the model's input shape.

The NPZ holds either x_train/y_train/x_test/y_test (as ../shared/datasets/mnist10k.npz), or x/y,
from which the last `val_fraction` (after a seeded shuffle) is held out. Inputs are adapted to the
model: uint8 arrays are scaled to [0, 1] float32, other arrays are cast to float32, and each sample
is reshaped to the model's input shape when the number of values per sample matches (so 28x28
images feed a 784-input MLP or a 28x28x1 CNN). Labels are class indices; one-hot labels are
converted with argmax.

Regression (task "regression", fine-tuned with mean squared error): the targets are float arrays
of the model's output shape, and an NPZ without labels (x_train/x_test or x only) means the
targets are the inputs themselves (an autoencoder). `load_for_model` picks the task.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcucompress.errors import McuError


@dataclass(frozen=True)
class TrainData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    task: str = "classification"  # or "regression" (float targets, mean squared error)

    def subset(self, n_train: int | None = None, n_val: int | None = None) -> "TrainData":
        return TrainData(self.x_train[:n_train], self.y_train[:n_train], self.x_val[:n_val], self.y_val[:n_val],
                         self.task)


def adapt_inputs(x: np.ndarray, input_shape) -> np.ndarray:
    """Scale and reshape raw samples `x` (batch first) to `input_shape` (without batch)."""
    x = np.asarray(x)
    if x.ndim == 0 or x.dtype.kind not in "iuf":
        raise McuError(f"data samples must be a batch of numbers, got dtype {x.dtype} and shape {x.shape}")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    else:
        x = x.astype(np.float32)
    if not np.isfinite(x).all():  # NaN poisons every weight update
        raise McuError("data samples contain NaN or infinite values")
    shape = tuple(int(d) for d in input_shape)
    if x.shape[1:] == shape:
        return x
    if None in shape or int(np.prod(x.shape[1:])) != int(np.prod(shape)):
        raise McuError(f"data samples of shape {x.shape[1:]} do not fit the model input shape {shape}")
    return x.reshape((x.shape[0],) + shape)


def adapt_labels(y: np.ndarray, n: int, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.dtype.kind not in "iuf":
        raise McuError(f"{what} must hold integer class labels, got dtype {y.dtype}")
    if y.ndim == 2 and y.shape[1] > 1:
        y = y.argmax(axis=1)
    y = y.reshape(-1)
    if y.shape[0] != n:
        raise McuError(f"{what} has {y.shape[0]} labels for {n} samples")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise McuError(f"{what} must hold integer class labels")
    return y.astype(np.int64)


def from_arrays(x_train, y_train, x_val, y_val, input_shape) -> TrainData:
    return TrainData(adapt_inputs(x_train, input_shape), adapt_labels(y_train, len(x_train), "y_train"),
                     adapt_inputs(x_val, input_shape), adapt_labels(y_val, len(x_val), "y_val"))


def load_npz(path, input_shape, val_fraction: float = 0.1, seed: int = 0) -> TrainData:
    """Read a training NPZ (see module doc) and adapt it to `input_shape`."""
    path = Path(path)
    if not path.is_file():
        raise McuError(f"data file not found: {path}")
    x_train, y_train, x_val, y_val = _splits(_read(path), path, val_fraction, seed)
    return from_arrays(x_train, y_train, x_val, y_val, input_shape)


def check_labels(data: TrainData, classes: int, unlabelled_ok: bool = False) -> None:
    """Fine-tuning uses sparse cross-entropy over the model's outputs: labels must index them.
    With a teacher (`unlabelled_ok`), training label -1 marks a sample without a label, which
    learns from the teacher's soft targets only."""
    if data.task != "classification":
        return
    y_train = data.y_train[data.y_train != -1] if unlabelled_ok else data.y_train
    labels = np.concatenate([y_train, data.y_val])
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise McuError(f"labels range over {labels.min()}..{labels.max()} but the model has {classes} "
                       f"outputs (labels must be class indices 0..{classes - 1})")


REGRESSION_LOSSES = {"mse", "mean_squared_error", "meansquarederror", "mae", "mean_absolute_error",
                     "meanabsoluteerror", "huber", "log_cosh"}


def compiled_task(model) -> str | None:
    """'regression' or 'classification' from the model's compiled loss, None when it has none."""
    loss = getattr(model, "loss", None)
    if loss is None:
        return None
    name = loss if isinstance(loss, str) else getattr(loss, "name", None) or getattr(loss, "__name__", "")
    name = str(name).lower().replace(" ", "")
    return "regression" if name in REGRESSION_LOSSES else "classification"


def regression_from_arrays(x_train, y_train, x_val, y_val, input_shape, output_shape) -> TrainData:
    return TrainData(adapt_inputs(x_train, input_shape), adapt_inputs(y_train, output_shape),
                     adapt_inputs(x_val, input_shape), adapt_inputs(y_val, output_shape), "regression")


def load_for_model(path, model, val_fraction: float = 0.1, seed: int = 0) -> TrainData:
    """Training data for `model`: class labels, or regression targets when the NPZ has no labels
    (targets = inputs), when the model was compiled with a regression loss, or when float labels
    have the model's output size per sample."""
    input_shape, output_shape = model.inputs[0].shape[1:], model.outputs[0].shape[1:]
    path = Path(path)
    if not path.is_file():
        raise McuError(f"data file not found: {path}")
    arrays = _read(path)
    unlabeled = ({"x_train", "x_test"} <= arrays.keys() and "y_train" not in arrays) or (
        "x" in arrays and "y" not in arrays and "x_train" not in arrays)
    if unlabeled:
        if int(np.prod(output_shape)) != int(np.prod(input_shape)):
            raise McuError(f"{path.name} has no labels ('y' or 'y_train'), so its inputs would be the targets, "
                           f"but the model's output shape {tuple(output_shape)} is not its input shape "
                           f"{tuple(input_shape)}: add labels")
        if "x" in arrays:
            arrays = dict(arrays, y=arrays["x"])
        else:
            arrays = dict(arrays, y_train=arrays["x_train"], y_test=arrays["x_test"])
    task = compiled_task(model)
    if task is None:
        y = arrays.get("y_train", arrays.get("y"))
        per_sample = int(np.prod(np.shape(y)[1:])) if y is not None and np.ndim(y) > 1 else 1
        floats = y is not None and np.asarray(y).dtype.kind == "f" and not np.all(np.mod(y, 1) == 0)
        task = "regression" if unlabeled or (per_sample == int(np.prod(output_shape)) and per_sample > 1
                                             and floats) else "classification"
    if task == "classification":
        return load_npz(path, input_shape, val_fraction, seed)
    x_train, y_train, x_val, y_val = _splits(arrays, path, val_fraction, seed)
    return regression_from_arrays(x_train, y_train, x_val, y_val, input_shape, output_shape)


def _read(path: Path) -> dict:
    try:
        return dict(np.load(path, allow_pickle=False))
    except Exception as error:  # numpy raises several types for corrupt files
        raise McuError(f"cannot read data file {path}: {error}") from None


def _splits(arrays: dict, path, val_fraction: float, seed: int):
    """(x_train, y_train, x_val, y_val) from either NPZ layout (see module doc)."""
    if {"x_train", "y_train", "x_test", "y_test"} <= arrays.keys():
        return arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]
    if {"x", "y"} <= arrays.keys():
        x, y = arrays["x"], arrays["y"]
        if np.ndim(x) == 0 or np.ndim(y) == 0 or len(x) < 2:
            raise McuError(f"{path}: x and y must hold at least 2 samples (one is held out)")
        if len(x) != len(y):
            raise McuError(f"{path}: x has {len(x)} samples but y has {len(y)}")
        order = np.random.default_rng(seed).permutation(len(x))
        n_val = max(1, int(round(len(x) * val_fraction)))
        train, val = order[:-n_val], order[-n_val:]
        return x[train], y[train], x[val], y[val]
    raise McuError(f"{path} needs arrays x_train/y_train/x_test/y_test or x/y (has: {', '.join(sorted(arrays))})")
