"""Export entry of ``--quantize``: int8 (export.load_model), qformat (a float model - Keras file or
object, or float Graph - quantized to Q format here) or binary (binary/deploy.py: load_binary);
and the name of the scheme a quantized graph uses, for the manifest.

    export("model.keras", "out/", calib="calib.npz", quantize="qformat")
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from mcucompress.errors import McuError
from mcucompress.importers.keras_file import KERAS_SUFFIXES
from mcucompress.ir.graph import Graph
from mcucompress.ir.serialize import graph_to_bytes
from mcucompress.ir.ops import op_kind

QUANTIZE_SCHEMES = ("int8", "qformat", "binary")


def quantization_scheme(graph: Graph) -> str:
    """"qformat" when the graph has Q-format ops, "binary" with binary ones, else "int8"."""
    schemes = {kind.scheme for kind in map(op_kind, {op.kind for op in graph.ops}) if kind is not None}
    for scheme in ("qformat", "binary"):
        if scheme in schemes:
            return scheme
    return "int8"


def load_qformat(model, calib, per_channel: bool = True, allow_code: bool = False) -> tuple[Graph, str, None]:
    """(Q-format graph, sha256 of the model's bytes, None): the shape ``export.load_model`` returns."""
    from mcucompress.importers.keras import load_keras

    if isinstance(model, Graph):
        if model.is_quantized:
            raise McuError("Q-format quantization needs a float model; this graph is already quantized")
        float_graph, digest = model, hashlib.sha256(graph_to_bytes(model)).hexdigest()
    elif isinstance(model, (str, Path)):
        path = Path(model)
        if not path.is_file():
            raise McuError(f"model file not found: {path}")
        if path.suffix.lower() not in KERAS_SUFFIXES:
            raise McuError(f"{path.name}: Q-format quantization needs a float Keras model (.keras or .h5); "
                           "an int8 .tflite is already quantized")
        float_graph, digest = load_keras(path, allow_code=allow_code), hashlib.sha256(path.read_bytes()).hexdigest()
    elif hasattr(model, "layers"):
        float_graph = load_keras(model)
        digest = hashlib.sha256(graph_to_bytes(float_graph)).hexdigest()
    else:
        raise McuError(f"cannot export an object of type {type(model).__name__}")
    return _quantize(float_graph, calib, per_channel), digest, None


def _quantize(float_graph: Graph, calib, per_channel: bool) -> Graph:
    from mcucompress.quantize.qformat import quantize_qformat

    if calib is None:
        raise McuError("Q-format quantization needs calibration data: pass --calib NPZ (array 'x' of inputs)")
    if isinstance(calib, (str, Path)):
        from mcucompress.data import load_samples

        calib, _ = load_samples(calib, float_graph.tensor(float_graph.inputs[0]).shape)
    return quantize_qformat(float_graph, calib, per_channel=per_channel)


def load_quantized(model, calib, quantize: str, board: str | None = None, allow_code: bool = False):
    """Dispatch of export's ``quantize`` option; McuError for an unknown scheme. ``board`` picks
    the popcount routine of binary networks (binary/deploy.py)."""
    if quantize not in QUANTIZE_SCHEMES:
        raise McuError(f"unknown quantization '{quantize}'; expected one of {', '.join(QUANTIZE_SCHEMES)}")
    if quantize == "qformat":
        return load_qformat(model, calib, allow_code=allow_code)
    if quantize == "binary":
        from mcucompress.binary.deploy import load_binary

        return load_binary(model, calib, board=board, allow_code=allow_code)
    from mcucompress.export import load_model

    return load_model(model, calib, allow_code=allow_code)
