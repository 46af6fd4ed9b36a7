"""The front door: any model, loaded once into a float Graph, then quantized by one scheme.

    from mcucompress.load import load
    loaded = load("model.keras", calib="calib.npz", scheme="qformat")
    loaded.graph, loaded.sha256, loaded.source_tflite

``model`` is a path (a fully int8 ``.tflite``, or a float Keras ``.keras`` / ``.h5``), a Graph
(float or already quantized) or an in-memory Keras model. Keras files are read by
importers/keras_file.py (refused when they carry code, unless ``allow_code``). A float graph goes
through ``passes.optimize`` once (batch norm folded, activations fused: the Keras importer does it,
a float Graph gets it here; the quantizers take optimized graphs) and then through the quantizer
of ``scheme``:

- "int8": TFLite's post-training scheme (quantize/ptq.py), clustered layers per tensor;
- "qformat": power-of-two formats, shift-only kernels (quantize/qformat.py);
- "binary": binary / ternary networks built with binary/layers.py (binary/convert.py), with the
  popcount routine for ``board``'s core.

``sha256`` identifies the model: the file's bytes, or the serialized graph for objects.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcucompress.errors import McuError
from mcucompress.importers.keras_file import KERAS_SUFFIXES
from mcucompress.ir.graph import Graph
from mcucompress.ir.serialize import graph_to_bytes
from mcucompress.passes import optimize

SCHEMES = ("int8", "qformat", "binary")
SCHEME_NAMES = {"int8": "int8", "qformat": "Q-format", "binary": "binary"}


@dataclass(frozen=True)
class LoadedModel:
    graph: Graph              # quantized by the scheme (an int8 .tflite or quantized Graph: as given)
    sha256: str
    source_tflite: Path | None  # the .tflite the graph came from, kept beside the export
    int4_done: bool = False     # int4 layers already re-quantized from the float weights


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load(model, calib=None, scheme: str = "int8", board: str | None = None,
         allow_code: bool = False, int4=None) -> LoadedModel:
    """``model`` quantized by ``scheme`` with calibration inputs ``calib`` (array, batch first, or
    an NPZ path with array 'x'). ``int4``: None, "all" or layer names whose weights are then
    re-quantized to int4 (encode/int4_requantize.py; int8 scheme only). McuError with a one-line reason
    for anything unusable."""
    if scheme not in SCHEMES:
        raise McuError(f"unknown quantization '{scheme}'; expected one of {', '.join(SCHEMES)}")
    if int4 is not None and scheme != "int8":
        raise McuError(f"int4 weights need the int8 scheme, not {SCHEME_NAMES[scheme]}")
    loaded = _load(model, calib, scheme, board, allow_code, int4)
    if int4 is not None and not loaded.int4_done:
        from mcucompress.encode.int4_requantize import int4_weights
        return LoadedModel(int4_weights(loaded.graph, int4), loaded.sha256, loaded.source_tflite)
    return loaded


def _load(model, calib, scheme: str, board, allow_code: bool, int4) -> LoadedModel:
    if isinstance(model, Graph):
        if model.is_quantized:
            if scheme != "int8":
                raise McuError(f"{SCHEME_NAMES[scheme]} quantization needs a float model; this graph is already "
                               "quantized")
            return LoadedModel(model, _sha256(graph_to_bytes(model)), None)
        if calib is None and scheme == "int8":
            raise McuError("a float graph needs calibration data (calib=NPZ) to be quantized")
        return LoadedModel(_quantize(optimize(model), calib, scheme, board, int4), _sha256(graph_to_bytes(model)),
                           None, True)
    if isinstance(model, (str, Path)):
        path = _model_file(model)
        suffix = path.suffix.lower()
        if suffix == ".tflite" and scheme == "int8":
            from mcucompress.importers.tflite import load_tflite
            return LoadedModel(load_tflite(path), _sha256(path.read_bytes()), path)
        if suffix in KERAS_SUFFIXES:
            return LoadedModel(_quantize(_import_keras(path, allow_code, scheme), calib, scheme, board, int4),
                               _sha256(path.read_bytes()), None, True)
        if scheme == "qformat":
            raise McuError(f"{path.name}: Q-format quantization needs a float Keras model (.keras or .h5); "
                           "an int8 .tflite is already quantized")
        if scheme == "binary":
            raise McuError(f"{path.name}: binary quantization needs a Keras model (.keras or .h5) built with "
                           "mcucompress.binary.layers")
        raise McuError(f"{path.name}: unsupported model type '{path.suffix}' (expected .tflite, .keras or .h5)")
    if hasattr(model, "layers"):  # an in-memory Keras model
        float_graph = _import_keras(model, allow_code, scheme)
        return LoadedModel(_quantize(float_graph, calib, scheme, board, int4), _sha256(graph_to_bytes(float_graph)),
                           None, True)
    raise McuError(f"cannot export an object of type {type(model).__name__}")


def _model_file(model) -> Path:
    path = Path(model)
    if not path.is_file():
        raise McuError(f"model file not found: {path}")
    return path


def _import_keras(path_or_model, allow_code: bool, scheme: str) -> Graph:
    """The optimized float graph of a Keras model (importers/keras.py runs passes.optimize)."""
    from mcucompress.importers.keras import load_keras
    if scheme == "binary":
        from mcucompress.binary import layers  # noqa: F401  (registers the custom layers for loading)
    return load_keras(path_or_model, allow_code=allow_code)


def _calibration(calib, float_graph: Graph, scheme: str) -> np.ndarray:
    if calib is None:
        needs = {"int8": "Keras models need", "qformat": "Q-format quantization needs",
                 "binary": "binary networks need"}[scheme]
        raise McuError(f"{needs} calibration data: pass --calib NPZ (array 'x' of inputs)")
    if isinstance(calib, (str, Path)):
        from mcucompress.data import load_port_samples
        xs, _ = load_port_samples(calib, [float_graph.tensor(n).shape for n in float_graph.inputs])
        calib = xs if len(xs) > 1 else xs[0]
    return calib


def _quantize(float_graph: Graph, calib, scheme: str, board: str | None, int4=None) -> Graph:
    """The scheme's quantizer over the optimized float graph; ``int4`` layers re-quantized to
    int4 from their float weights."""
    calib = _calibration(calib, float_graph, scheme)
    if scheme == "qformat":
        from mcucompress.quantize.qformat import quantize_qformat
        return quantize_qformat(float_graph, calib)
    if scheme == "binary":
        from mcucompress.binary.convert import quantize_binary
        from mcucompress.binary.kernel_params import popcount_for
        # ``board`` was checked by the caller (export loads it before the model); it only picks a routine here.
        return quantize_binary(float_graph, calib, popcount_for(board))
    from mcucompress.encode.per_tensor import clustered_layers, per_tensor_weights
    from mcucompress.quantize.ptq import quantize_graph
    quantized = quantize_graph(float_graph, calib)
    # Per-channel scales would turn k shared float values into k values per row; clustered
    # layers get one scale per tensor so their clustering survives into int8 (and the encoders).
    clustered = clustered_layers(float_graph)
    quantized = per_tensor_weights(quantized, float_graph, clustered) if clustered else quantized
    if int4 is None:
        return quantized
    from mcucompress.encode.int4_requantize import int4_weights
    return int4_weights(quantized, int4, float_graph)
