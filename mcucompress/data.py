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
    path, arrays = _read_npz(npz_path)
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


def _read_npz(npz_path) -> tuple[Path, dict[str, np.ndarray]]:
    """(path, its arrays by name), or a one-line McuError when it is missing or unreadable."""
    path = Path(npz_path)
    if not path.is_file():
        raise McuError(f"sample file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return path, {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise McuError(f"{path.name}: not a readable .npz file ({str(error).splitlines()[0][:120]})") from None


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


# -- several inputs or outputs ---------------------------------------------------------------
# A model with several inputs reads NPZ arrays x0, x1, ... (labels y0, y1, ... per output); one
# with a single input reads x (or x0). Below the NPZ level a sample of such a model is one int8
# row: its inputs flattened and put back to back in port order (the outputs likewise), which is
# what the C harnesses, the host build and the firmware vectors carry.

def port_array_names(prefix: str, count: int) -> tuple[str, ...]:
    """The NPZ names of ``count`` ports: ("x",) for one, ("x0", "x1", ...) for several."""
    return (prefix,) if count == 1 else tuple(f"{prefix}{k}" for k in range(count))


def load_port_samples(npz_path, input_shapes, input_quants=None):
    """([x per input], y or None) from ``npz_path``: ``x`` (or ``x0``) for one input, ``x0``,
    ``x1``, ... for several, each checked against its input's shape and with equal sample counts.
    ``y`` is the labels of the first output (``y`` or ``y0``). ``input_quants``: one QuantParams
    (or None) per input, as ``load_samples``'s ``input_quant``."""
    shapes = [tuple(int(d) for d in s) for s in input_shapes]
    quants = list(input_quants) if input_quants is not None else [None] * len(shapes)
    path, arrays = _read_npz(npz_path)
    names = port_array_names("x", len(shapes))
    if len(shapes) == 1 and "x" not in arrays and "x0" in arrays:
        names = ("x0",)
    missing = [n for n in names if n not in arrays]
    if missing:
        found = ", ".join(sorted(arrays)) or "nothing"
        raise McuError(f"{path.name}: no array named {', '.join(repr(n) for n in missing)} (found {found})")
    xs = []
    for name, shape, quant in zip(names, shapes, quants):
        x = _check_shape(path.name, arrays[name], shape).copy()
        x = quantize_input(x, quant) if quant is not None else (x if x.dtype == np.int8 else x.astype(np.float32))
        xs.append(x)
    if len({len(x) for x in xs}) != 1:
        raise McuError(f"{path.name}: {', '.join(names)} hold different numbers of samples "
                       f"({', '.join(str(len(x)) for x in xs)})")
    y = arrays.get("y", arrays.get("y0"))
    if y is not None:
        _check_labels(path.name, y, len(xs[0]))
    return xs, y


def join_ports(arrays) -> np.ndarray:
    """Per-port batches -> one row per sample: the ports flattened and put back to back."""
    arrays = [np.asarray(a) for a in arrays]
    return np.concatenate([a.reshape(len(a), -1) for a in arrays], axis=1)


def split_ports(rows: np.ndarray, shapes) -> list[np.ndarray]:
    """Rows of ports back to back -> one batch per port, each (N, *shape without batch 1)."""
    rows = np.asarray(rows)
    rows = rows.reshape(len(rows), -1)
    parts, start = [], 0
    for shape in shapes:
        sample = tuple(int(d) for d in shape)
        sample = sample[1:] if len(sample) > 1 and sample[0] == 1 else sample
        size = int(np.prod(sample, dtype=np.int64))
        parts.append(rows[:, start:start + size].reshape(len(rows), *sample))
        start += size
    if start != rows.shape[1]:
        raise McuError(f"a sample holds {rows.shape[1]} values but the ports take {start}")
    return parts
