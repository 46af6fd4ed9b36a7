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
from mcucompress.ir.serialize import load_graph
from mcucompress.ir.ops import kinds
from mcucompress.reference.interpreters import LiteRT, Tflm
from mcucompress.verify import verify

SAMPLES = 100
# The difference-filter models get more: a one-unit accumulator error moves an output byte of
# theirs about once in a hundred outputs, and the fully connected one has one output per unit.
SAMPLES_EDGES = 1000
# int8 kinds TFLite has no builtin operator for, so no converter-made oracle: checked against the
# float Keras model and independent numpy models in the named test file instead.
EXEMPT: dict[str, str] = {
    "fully_connected_hashed": "test_shared_weights.py",
    "fully_connected_pq": "test_shared_weights.py",
    "early_exit": "test_early_exit.py (TFLite has no early exit: outputs and exits against the numpy "
                  "reference; its head and the rest are ordinary kinds)",
}
# Kinds TensorFlow's converter never writes in int8, so tflite-micro cannot run them: their oracle
# is the float Keras model (test_elu_against_the_float_model below). The converter keeps ELU in
# float (DEQUANTIZE, ELU, QUANTIZE).
FLOAT_ORACLE: dict[str, str] = {"elu": "test_elu_against_the_float_model"}


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


@pytest.fixture(scope="module")
def checked_inputs():
    """(path, calibration) -> (graph, inputs): each model's inputs drawn and checked once (by
    assert_exercises) for all the tests that compare on them."""
    done = {}

    def get(path, calib):
        if path not in done:
            done[path] = _inputs(path, calib)
        return done[path]

    return get


def _inputs(path, calib):
    graph = load_tflite(path)
    count = SAMPLES_EDGES if Path(path).stem.startswith("edges") else SAMPLES
    x = realistic_inputs(graph, count, seed=1, calibration=calib)
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
def test_host_c_matches_the_interpreter(models, checked_inputs, tmp_path, name):
    path, calib = models(name)
    rounding = oracle_models.MODELS[name][2]
    _, x = checked_inputs(path, calib)
    _assert_same(name, _host_outputs(path, tmp_path / name, rounding, x), _interpreter_outputs(path, rounding, x))


def test_every_int8_kind_has_an_oracle_model(models):
    covered = set()
    for name in oracle_models.MODELS:
        covered |= {op.kind for op in load_tflite(models(name)[0]).ops}
    missing = {k.name for k in kinds("int8")} - covered - set(EXEMPT) - set(FLOAT_ORACLE)
    assert not missing, f"int8 op kinds without a tflite-micro oracle model in tests/oracle_models.py: {missing}"
    for kind, test in FLOAT_ORACLE.items():
        assert kind not in covered, f"{kind} now has a tflite-micro oracle model: drop it from FLOAT_ORACLE"
        assert callable(globals().get(test)), test


def test_elu_against_the_float_model(tmp_path):
    """ELU's int8 table (exported from Keras, our quantization) on 100 realistic inputs: byte for
    byte with the numpy reference, and as close to the float Keras model as TensorFlow's own
    conversion run by tflite-micro is (verify's float oracle)."""
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(4)
    shape = (8, 7, 3)
    inp = keras.Input(shape)
    out = keras.layers.ELU()(keras.layers.Conv2D(4, 3, padding="same")(inp))
    keras.Model(inp, out).save(tmp_path / "elu.keras")
    calib = (oracle_models.calibration(shape, seed=4) * 3.0).reshape(-1, *shape)  # into ELU's flat end
    np.savez(tmp_path / "calib.npz", x=calib)
    tree = export(tmp_path / "elu.keras", tmp_path / "out", calib=tmp_path / "calib.npz")
    graph = load_graph(tree / "graph.npz")
    assert "elu" in [op.kind for op in graph.ops]
    x = realistic_inputs(graph, SAMPLES, seed=1, calibration=calib)
    assert_exercises(graph, x)
    spec = graph.tensors[graph.inputs[0]].quant
    x_float = (x.astype(np.float32) - spec.zero_point[0]) * spec.scale[0]
    np.savez(tmp_path / "x.npz", x=x_float.reshape(-1, *shape))
    report = verify(tree, tmp_path / "x.npz")
    assert report.bit_exact and report.oracle is not None and report.oracle.ok, report.oracle
    assert report.oracle.tflm_nrmse is not None, report.oracle.note


@pytest.mark.parametrize("name, encodings", [
    ("fully_connected", ("csr8", "codebook", "huffman")),
    ("fully_connected", ("huffman_sparse", "csr4", "codebook")),
    ("fully_connected", ("csr_seg", "csr8", "csr_seg")),
    ("conv", ("csr8", "csr4", "codebook")),
    # difference filters (sparse already): a bias one unit off reaches their outputs
    ("edges_fc", ("csr8",)),
    ("edges_conv", ("codebook",)),
    # LiteRT's rounding keeps the portable codebook conv (the fast one takes TFLM's 4-bit codebooks)
    ("edges_conv-litert", ("codebook",)),
])
def test_encoded_weights_match_the_dense_model_under_tflite_micro(models, checked_inputs, tmp_path, name, encodings):
    name, _, rounding = name.partition("-")
    rounding = rounding or "tflm"
    path, calib = models(name, sparse=not name.startswith("edges"))
    graph, x = checked_inputs(path, calib)
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
    _assert_same(f"{name} {encodings}", _host_outputs(encoded, tmp_path / "encoded", rounding, x),
                 _interpreter_outputs(path, rounding, x))


@pytest.mark.qemu
@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("name, board", [
    ("depthwise", "mps2-an386"), ("add", "mps2-an386"),
    ("avg_pool_4ch", "mps2-an386"),  # the DSP four-channel average pool
    ("max_pool", "microbit"),  # the ARMv6-M max pool loop
    ("lstm", "mps2-an386"),  # state kept across the invocations of one firmware run
    ("mean", "mps3-an547"),  # MVE sums of channels side by side, four lanes' requantization
])
def test_on_qemu_the_c_matches_tflite_micro(models, checked_inputs, tmp_path, name, board):
    from mcucompress.targets.runner import run_model

    path, calib = models(name)
    _, x = checked_inputs(path, calib)
    np.savez(tmp_path / "x.npz", x=x[:4])
    tree = export(path, tmp_path / name, prefix=name)
    report = run_model(tree, board, data=tmp_path / "x.npz", samples=4)
    assert report.checks == {"host": True, "reference": True, "tflite-micro": True}
