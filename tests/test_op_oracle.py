"""Every int8 op kind against an outside oracle: a minimal Keras model per kind and shape family,
converted by TensorFlow's converter, run by tflite-micro (LiteRT where tflite-micro's PyPI build
is wrong) and by the exported C on the host, byte for byte on 100 inputs drawn from the model's
calibration data, after checking that those inputs move the layers. Encoded weights (CSR,
codebook, Huffman) are compared with tflite-micro running the same, dense, model; a few models
also run on QEMU."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import oracle_models
from realistic_inputs import assert_exercises, realistic_inputs
from mcucompress.build.host import build_host
from mcucompress.build.runner import run_host
from mcucompress.encode.choose import ATTR, CONV_ENCODINGS, ENCODINGS
from mcucompress.export import export
from mcucompress.importers.tflite import load_tflite
from mcucompress.ir.ops import kinds
from mcucompress.reference.interpreters import LiteRT, Tflm

SAMPLES = 100
# int8 kinds TFLite has no single builtin operator for, so no converter-made oracle: none today.
EXEMPT: dict[str, str] = {}
# Kinds whose tflite-micro comparison lives in their own family's test file (random shapes and
# quantization, converter-made or hand-built .tflite files run by tflite-micro) rather than in
# oracle_models.py. ELU: TensorFlow's converter keeps ELU in float, so its int8 kernel is checked
# from Keras against the float model there; the rest are byte-for-byte against tflite-micro.
ORACLE_ELSEWHERE: dict[str, str] = {
    **{kind: "test_lut_ops.py" for kind in ("logistic", "tanh", "leaky_relu", "elu", "hard_swish", "requantize")},
    **{kind: "test_broadcast_ops.py" for kind in ("mul", "sub", "prelu", "maximum", "minimum", "resize_nearest")},
    "reduce_max": "test_reduce_ops.py",
    "transpose_conv2d": "test_transpose_conv.py",
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """name -> (.tflite, calibration samples); each model converted once, on first use.
    MCUCOMPRESS_ORACLE_MODELS names a folder whose converted models are kept and reused
    (scripts/mutation_test.py: the converter's output does not depend on this project)."""
    kept = os.environ.get("MCUCOMPRESS_ORACLE_MODELS")
    folder = Path(kept) if kept else tmp_path_factory.mktemp("oracle_models")
    built = {}

    def get(name, sparse=False):
        if (name, sparse) not in built:
            built[name, sparse] = oracle_models.build(name, folder, sparse, reuse=bool(kept))
        return built[name, sparse]

    return get


def _inputs(path, calib):
    graph = load_tflite(path)
    x = realistic_inputs(graph, SAMPLES, seed=1, calibration=calib)
    assert_exercises(graph, x)
    return graph, x


def _interpreter_outputs(path, rounding, x):
    run = LiteRT(path) if rounding == "litert" else Tflm(path)
    return np.stack([np.asarray(run(xi)).reshape(-1) for xi in x]).astype(np.int8)


def _host_outputs(model, tree, rounding, x):
    tree = export(model, tree, rounding=rounding)
    graph = load_tflite(model) if not hasattr(model, "ops") else model
    out_bytes = graph.tensors[graph.outputs[0]].nbytes
    return run_host(build_host(tree), x.reshape(len(x), -1), out_bytes)


def _assert_same(name, got, want):
    bad = np.argwhere(got != want)
    assert bad.size == 0, (f"{name}: {len(bad)} bytes differ in {len(np.unique(bad[:, 0]))} of {len(got)} "
                           f"inputs, first at {bad[0].tolist()}: C {got[tuple(bad[0])]} vs oracle {want[tuple(bad[0])]}")


@pytest.mark.parametrize("name", sorted(oracle_models.MODELS))
def test_host_c_matches_the_interpreter(models, tmp_path, name):
    path, calib = models(name)
    rounding = oracle_models.MODELS[name][2]
    _, x = _inputs(path, calib)
    _assert_same(name, _host_outputs(path, tmp_path / name, rounding, x), _interpreter_outputs(path, rounding, x))


def test_every_int8_kind_has_an_oracle_model(models):
    covered = set()
    for name in oracle_models.MODELS:
        covered |= {op.kind for op in load_tflite(models(name)[0]).ops}
    missing = {k.name for k in kinds("int8")} - covered - set(EXEMPT) - set(ORACLE_ELSEWHERE)
    assert not missing, f"int8 op kinds without a tflite-micro oracle model in tests/oracle_models.py: {missing}"
    here = Path(__file__).parent
    for kind, test_file in ORACLE_ELSEWHERE.items():
        assert "tflite_micro" in (here / test_file).read_text().replace("tflite-micro", "tflite_micro"), (kind, test_file)


@pytest.mark.parametrize("name, encodings", [
    ("fully_connected", ("csr8", "codebook", "huffman")),
    ("fully_connected", ("huffman_sparse", "csr4", "codebook")),
    ("conv", ("csr8", "csr4", "codebook")),
])
def test_encoded_weights_match_the_dense_model_under_tflite_micro(models, tmp_path, name, encodings):
    path, calib = models(name, sparse=True)
    graph, x = _inputs(path, calib)
    allowed = CONV_ENCODINGS if name == "conv" else ENCODINGS
    ops, layers = [], iter(encodings)
    for op in graph.ops:
        if op.kind in ("conv2d", "fully_connected"):
            encoding = next(layers)
            assert encoding in allowed
            op = op.with_attrs(**{ATTR: encoding})
        ops.append(op)
    encoded = graph.replace(ops=tuple(ops))
    assert next(layers, None) is None, "every listed encoding is used"
    _assert_same(f"{name} {encodings}", _host_outputs(encoded, tmp_path / "encoded", "tflm", x),
                 _interpreter_outputs(path, "tflm", x))


@pytest.mark.qemu
@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("name", ["depthwise", "add", "avg_pool_4ch"])  # the last: a DSP-only path
def test_on_qemu_the_c_matches_tflite_micro(models, tmp_path, name):
    from mcucompress.targets.runner import run_model

    path, calib = models(name)
    _, x = _inputs(path, calib)
    np.savez(tmp_path / "x.npz", x=x[:4])
    tree = export(path, tmp_path / name, prefix=name)
    report = run_model(tree, "mps2-an386", data=tmp_path / "x.npz", samples=4)
    assert report.checks == {"host": True, "reference": True, "tflite-micro": True}
