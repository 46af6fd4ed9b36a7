"""The front door (mcucompress/load.py): every model form and scheme through one function, with
one-line errors, and the optimize pass run once."""

import hashlib

import numpy as np
import pytest

from mcucompress import passes
from mcucompress.errors import McuError
from mcucompress.ir.ops import graph_scheme
from mcucompress.ir.serialize import graph_to_bytes
from mcucompress.load import load
from test_qformat_quantize import _float_graph


@pytest.fixture(scope="module")
def float_graph():
    rng = np.random.default_rng(0)
    return _float_graph(rng), rng.uniform(-1, 1, (32, 6, 6, 3)).astype(np.float32)


def test_a_float_graph_is_quantized_by_each_scheme(float_graph):
    graph, calib = float_graph
    int8 = load(graph, calib)
    assert graph_scheme(int8.graph) == "int8" and int8.graph.is_quantized
    assert int8.sha256 == hashlib.sha256(graph_to_bytes(graph)).hexdigest() and int8.source_tflite is None
    qformat = load(graph, calib, "qformat")
    assert graph_scheme(qformat.graph) == "qformat"
    # a quantized graph passes through as it is, with its own digest
    again = load(int8.graph)
    assert again.graph is int8.graph and again.sha256 == hashlib.sha256(graph_to_bytes(int8.graph)).hexdigest()


def test_optimize_runs_once(float_graph, monkeypatch):
    graph, calib = float_graph
    calls = []
    real = passes.optimize
    monkeypatch.setattr("mcucompress.load.optimize", lambda g: calls.append(g) or real(g))
    load(graph, calib)
    assert calls == [graph]


def test_an_int8_tflite_keeps_its_source(mlperf_dir):
    path = mlperf_dir / "kws_ref_model.tflite"
    loaded = load(path)
    assert loaded.source_tflite == path and loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("model, calib, scheme, message", [
    ("graph", None, "int4", "unknown quantization 'int4'"),
    ("graph", None, "int8", "needs calibration data"),
    ("graph", None, "qformat", "Q-format quantization needs calibration data"),
    ("quantized", None, "qformat", "already quantized"),
    ("graph", None, "binary", "binary networks need calibration data"),
    ("quantized", None, "binary", "binary quantization needs a float model"),
    ("missing.keras", None, "int8", "model file not found"),
    (3, None, "int8", "cannot export an object of type int"),
])
def test_unusable_input_is_a_one_line_error(float_graph, tmp_path, model, calib, scheme, message):
    graph, data = float_graph
    model = {"graph": graph, "quantized": load(graph, data).graph}.get(model, model)
    if model == "missing.keras":
        model = tmp_path / model
    with pytest.raises(McuError, match=message) as error:
        load(model, calib, scheme)
    assert "\n" not in str(error.value)


def test_a_file_of_another_type_is_refused(tmp_path):
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\0")
    with pytest.raises(McuError, match="unsupported model type '.onnx'"):
        load(path)
    with pytest.raises(McuError, match="needs a float Keras model"):
        load(path, None, "qformat")
