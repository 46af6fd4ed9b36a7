"""tflite-micro's own example models (shared tier) match tflite-micro byte for byte: hello_world
and micro_speech on inputs shaped like data, the two LSTM models (state kept across invocations)
on MNIST digits and on consecutive spectrum frames, on the host and on QEMU.
(simple_add, the two-input example, is in test_multi_port.py; the table is
scripts/tflm_examples.py -> docs/benchmarks/tflm_examples.md.)"""

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from mcucompress.data import synthetic_inputs
from mcucompress.errors import McuError
from mcucompress.export import export
from mcucompress.ir.serialize import load_graph
from mcucompress.reference.int8 import run_int8, run_int8_batch
from mcucompress.targets.manifest import read_manifest
from mcucompress.verify import verify

pytest.importorskip("tflite_micro")


@pytest.mark.parametrize("name", ["hello_world_int8", "micro_speech_quantized"])
def test_example_matches_tflite_micro(shared_dir, tmp_path, name):
    tree = export(shared_dir / "models" / "tflm-examples" / f"{name}.tflite", tmp_path / "out")
    shape = {"hello_world_int8": (1, 1), "micro_speech_quantized": (1, 1960)}[name]
    np.savez(tmp_path / "x.npz", x=synthetic_inputs(shape, 16, seed=3))
    report = verify(tree, tmp_path / "x.npz")
    assert [c.against for c in report.comparisons] == ["numpy reference", "tflite-micro"]
    assert report.bit_exact, report.comparisons


HAS_QEMU = bool(shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm"))
LSTM_EXAMPLES = {"trained_lstm_int8": 24, "dtln_noise_suppression": 32}  # samples: consecutive invocations


@pytest.fixture(scope="module", params=sorted(LSTM_EXAMPLES))
def lstm_tree(request, shared_dir, tmp_path_factory):
    from tflm_examples import realistic_inputs

    name = request.param
    work = tmp_path_factory.mktemp(name)
    tree = export(shared_dir / "models" / "tflm-examples" / f"{name}.tflite", work / "out")
    x = realistic_inputs(f"{name}.tflite", read_manifest(tree).inputs[0], LSTM_EXAMPLES[name], seed=0)
    np.savez(work / "x.npz", x=x)
    return name, tree, work / "x.npz", x


def test_lstm_example_matches_tflite_micro_across_invocations(lstm_tree):
    name, tree, data, x = lstm_tree
    report = verify(tree, data)
    assert [c.against for c in report.comparisons] == ["numpy reference", "tflite-micro"]
    assert report.bit_exact and report.samples == LSTM_EXAMPLES[name], report.comparisons
    # the comparison covers the state: each sample run from the initial state gives other bytes
    graph = load_graph(tree / "graph.npz")
    carried = run_int8_batch(graph, x)
    fresh = np.stack([np.asarray(run_int8(graph, sample)).ravel() for sample in x])
    assert np.array_equal(carried[0], fresh[0]) and not np.array_equal(carried[1:], fresh[1:])
    header = (tree / "model.h").read_text()
    assert "_reset(void);" in header


@pytest.mark.qemu
@pytest.mark.skipif(not HAS_QEMU, reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_lstm_example_on_mps2_an386_identical_to_tflite_micro(lstm_tree):
    from mcucompress.targets.runner import run_model

    _, tree, data, _ = lstm_tree
    report = run_model(tree, "mps2-an386", data=data, samples=6)
    assert report.checks == {"host": True, "reference": True, "tflite-micro": True}
    assert report.exact_invoke
