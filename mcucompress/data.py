"""Sample data for calibration and verification: an NPZ file with ``x`` (and optionally ``y``).

``x`` holds samples in the model's input shape, batch first. With ``input_quant`` (the model's
int8 input quantization) float samples are quantized the way TFLite's Quantize op does it;
samples that are already int8 are returned unchanged.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.graph import QuantParams


def load_samples(npz_path, input_shape, input_quant: QuantParams | None = None):
    """(x, y or None) from ``npz_path``; ``input_shape`` is the model input, with or without batch."""
    path = Path(npz_path)
    if not path.is_file():
        raise McuError(f"sample file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise McuError(f"{path.name}: not a readable .npz file ({str(error).splitlines()[0][:120]})") from None
    if "x" not in arrays:
        found = ", ".join(sorted(arrays)) or "nothing"
        raise McuError(f"{path.name}: no array named 'x' (found {found})")
    x = _check_shape(path.name, arrays["x"], tuple(int(d) for d in input_shape))
    y = arrays.get("y")
    if y is not None:
        _check_labels(path.name, y, len(x))
    if input_quant is not None:
        x = quantize_input(x, input_quant)
    elif x.dtype != np.int8:
        x = x.astype(np.float32)
    return x, y


def _check_shape(name: str, x: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    # input_shape is the graph's (batch 1 first) unless x has exactly one more dimension
    sample = input_shape if x.ndim == len(input_shape) + 1 else input_shape[1:]
    if x.ndim == 0 or tuple(x.shape[1:]) != sample:
        raise McuError(f"{name}: 'x' has shape {tuple(x.shape)}; the model input needs "
                       f"(N, {', '.join(map(str, sample))})")
    if len(x) == 0:
        raise McuError(f"{name}: 'x' holds no samples")
    if x.dtype.kind not in "iuf":
        raise McuError(f"{name}: 'x' has dtype {x.dtype}; expected numbers")
    if x.dtype.kind == "f" and not np.isfinite(x).all():  # would quantize to arbitrary int8 values
        raise McuError(f"{name}: 'x' contains NaN or infinite values")
    return x


def _check_labels(name: str, y: np.ndarray, samples: int) -> None:
    """'y' is optional, but when given it is scored against: class indices or one-hot rows."""
    if y.ndim not in (1, 2) or y.dtype.kind not in "iuf" or not np.isfinite(y).all():
        raise McuError(f"{name}: 'y' (shape {y.shape}, dtype {y.dtype}) must hold class indices (N,) "
                       "or one-hot rows (N, classes) as finite numbers")
    if len(y) != samples:
        raise McuError(f"{name}: 'y' has {len(y)} entries but 'x' has {samples} samples")


def quantize_input(x: np.ndarray, quant: QuantParams) -> np.ndarray:
    """Float samples -> int8: round(x / scale) + zero_point, halves away from zero, saturated."""
    if x.dtype == np.int8:
        return x
    scale = np.float32(quant.scale[0])
    scaled = np.asarray(x, dtype=np.float32) / scale
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + np.float32(0.5))
    return np.clip(rounded + int(quant.zero_point[0]), -128, 127).astype(np.int8)


def synthetic_inputs(shape, count: int, seed: int = 0) -> np.ndarray:
    """``count`` deterministic int8 inputs of ``shape`` (batch 1 first, or one sample) that look
    like data rather than noise: smooth fields at a random scale, contrast and offset plus a
    little noise, over most of the int8 range. Uniform random bytes drive most layers of a real
    model to their clamps (one class, outputs at -128), so a wrong number there goes unseen."""
    sample = tuple(int(n) for n in shape)
    if len(sample) > 1 and sample[0] == 1:
        sample = sample[1:]
    rng = np.random.default_rng(seed)
    return np.stack([_smooth_sample(rng, sample) for _ in range(count)]) if count else \
        np.zeros((0, *sample), dtype=np.int8)


def _smooth_sample(rng: np.random.Generator, sample: tuple[int, ...]) -> np.ndarray:
    # the last axis holds channels (or features of a vector); the others are smooth in space
    spatial, channels = sample[:-1], sample[-1]
    field = rng.standard_normal(tuple(int(rng.integers(2, max(2, n // 2) + 1)) for n in spatial) + (channels,))
    for axis, n in enumerate(spatial):
        field = _stretch(field, axis, n)
    if not spatial and channels >= 3:  # a feature vector: neighbouring features correlate a little
        field = 0.5 * field + 0.5 * np.convolve(field, np.ones(3) / 3.0, mode="same")
    field = field / (field.std() + 1e-6)
    x = rng.uniform(0.3, 1.2) * field + rng.uniform(-0.8, 0.8) + rng.uniform(0.0, 0.3) * rng.standard_normal(sample)
    return np.clip(np.round(x * 80.0), -128, 127).astype(np.int8)


def _stretch(field: np.ndarray, axis: int, size: int) -> np.ndarray:
    """Linear interpolation of ``field`` along ``axis`` to ``size`` points."""
    points = field.shape[axis]
    where = np.linspace(0.0, points - 1, size)
    low = np.floor(where).astype(int)
    high = np.minimum(low + 1, points - 1)
    frac = (where - low).reshape([-1 if a == axis else 1 for a in range(field.ndim)])
    return np.take(field, low, axis=axis) * (1 - frac) + np.take(field, high, axis=axis) * frac
