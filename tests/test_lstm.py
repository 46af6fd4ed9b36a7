"""The lstm kind (TFLite's integer UNIDIRECTIONAL_SEQUENCE_LSTM) without TensorFlow: hand-built
graphs of random shapes and quantizations, the compiled C against the numpy reference byte for
byte over consecutive invocations (state carried), `<prefix>_reset`, the int16 sigmoid / tanh
against the functions they approximate, and the importer's one-line refusals.
tflite-micro itself is the oracle in test_op_oracle.py (a converter-made Keras LSTM) and
test_tflm_examples.py (mnist_lstm, dtln)."""

import subprocess
from types import SimpleNamespace

import numpy as np
import pytest

from mcucompress.build.host import build_host
from mcucompress.build.runner import run_host
from mcucompress.errors import McuError
from mcucompress.export import export
from mcucompress.importers.tflite_flatbuffer import RawOp, RawTensor
from mcucompress.importers.tflite_ops import Context, convert_op
from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor
from mcucompress.quantize.lstm_ops import sigmoid_q15, tanh_q15
from mcucompress.reference.int8 import initial_state, run_int8, run_int8_batch


def _lstm_graph(rng, steps, features, units, hidden_zero_point, cell_power, clip, cell_activation="tanh"):
    x_scale, h_scale = 0.03, 1.0 / 128
    tensors = {"x": Tensor("x", (1, steps, features), "int8", QuantParams((x_scale,), (-5,)))}
    names = ["x"]
    for role, shape, in_scale in (("w", (units, features), x_scale), ("r", (units, units), h_scale)):
        for gate in "ifco":
            name = f"{role}_{gate}"
            tensors[name] = Tensor(name, shape, "int8", QuantParams((float(rng.uniform(0.01, 0.05)),), (0,)),
                                   rng.integers(-127, 128, shape).astype(np.int8))
            names.append(name)
    for gate in "ifco":
        w_scale = tensors[f"w_{gate}"].quant.scale[0]
        tensors[f"b_{gate}"] = Tensor(f"b_{gate}", (units,), "int32", QuantParams((x_scale * w_scale,), (0,)),
                                      rng.integers(-3000, 3000, units).astype(np.int32))
        names.append(f"b_{gate}")
    tensors["h"] = Tensor("h", (1, units), "int8", QuantParams((h_scale,), (hidden_zero_point,)), variable=True)
    tensors["c"] = Tensor("c", (1, units), "int16", QuantParams((2.0 ** cell_power,), (0,)), variable=True)
    tensors["y"] = Tensor("y", (1, steps, units), "int8", QuantParams((h_scale,), (hidden_zero_point,)))
    op = Op("lstm", "lstm0", tuple(names + ["h", "c"]), ("y",),
            {"cell_clip": clip, "cell_activation": cell_activation})
    return Graph(tensors, (op,), ("x",), ("y",), name="lstm_case")


CASES = [  # steps, features, units, hidden zero point, cell scale power, cell clip, cell gate
    (5, 7, 6, 0, -11, 10.0, "tanh"),
    (3, 16, 13, -4, -12, 0.0, "tanh"),
    (1, 9, 20, 3, -15, 3.0, "sigmoid"),
    (4, 2, 3, -1, -9, 10.0, "tanh"),
]


@pytest.mark.parametrize("case", CASES)
def test_c_matches_the_reference_across_invocations(tmp_path, case):
    rng = np.random.default_rng(sum(map(abs, case[:5])))
    graph = _lstm_graph(rng, *case)
    x = rng.integers(-128, 128, (8, 1, case[0], case[1])).astype(np.int8)
    tree = export(graph, tmp_path / "out")
    got = run_host(build_host(tree), x.reshape(len(x), -1), graph.tensors["y"].nbytes)
    want = run_int8_batch(graph, x)
    assert np.array_equal(got, want)
    fresh = np.stack([run_int8(graph, xi).ravel() for xi in x])
    assert not np.array_equal(want[1:], fresh[1:]), "the state must carry between invocations"
    assert np.unique(want).size > 8, "outputs spread over the int8 range"


def test_reset_puts_the_state_back(tmp_path):
    rng = np.random.default_rng(5)
    graph = _lstm_graph(rng, 3, 5, 4, -4, -11, 10.0)
    tree = export(graph, tmp_path / "out", prefix="seq")
    main = tmp_path / "reset_main.c"
    main.write_text("""#include <stdio.h>
#include <string.h>
#include "model.h"
int main(void)
{
    int8_t in[15], a[12], b[12], c[12];
    int i;
    for (i = 0; i < 15; ++i) in[i] = (int8_t)(i * 37 - 100);
    if (seq_invoke(in, a) || seq_invoke(in, b)) return 2;
    seq_reset();
    if (seq_invoke(in, c)) return 2;
    printf("%d %d\\n", memcmp(a, b, 12) != 0, memcmp(a, c, 12) == 0);
    return 0;
}
""")
    sources = [tree / "model.c", tree / "weights.c", *sorted((tree / "runtime").rglob("*.c"))]
    binary = tmp_path / "reset"
    subprocess.run(["cc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(tree), "-I",
                    str(tree / "runtime" / "include"), *map(str, sources), str(main), "-o", str(binary)], check=True)
    assert subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout.split() == ["1", "1"]
    state = initial_state(graph)
    assert int(state["h"].ravel()[0]) == -4 and not state["c"].any()  # tflite-micro's reset values


def test_int16_sigmoid_and_tanh_follow_the_functions():
    x = np.arange(-32768, 32768, dtype=np.int64)  # Q3.12
    real = x / 4096.0
    sigmoid = sigmoid_q15(x).astype(np.float64) / 32768
    tanh = tanh_q15(x).astype(np.float64) / 32768
    assert np.abs(sigmoid - 1 / (1 + np.exp(-real))).max() < 2e-4
    assert np.abs(tanh - np.tanh(real)).max() < 4e-4
    assert np.all(np.diff(sigmoid_q15(x).astype(np.int64)) >= 0) and np.all(np.diff(tanh_q15(x).astype(np.int64)) >= 0)


def _raw_lstm(change=None):
    """The raw tensors and UNIDIRECTIONAL_SEQUENCE_LSTM op of a 2-unit, 3-feature, 4-step model."""
    def tensor(i, shape, dtype, data=True, variable=False):
        values = np.zeros(shape, dtype=dtype) if data else None
        return RawTensor(i, f"t{i}", shape, dtype, (0.1,), (0,), 0, values, variable)

    tensors = [tensor(0, (1, 4, 3), "int8", data=False)]
    tensors += [tensor(i, (2, 3), "int8") for i in range(1, 5)] + [tensor(i, (2, 2), "int8") for i in range(5, 9)]
    tensors += [tensor(i, (2,), "int32") for i in range(9, 13)]
    tensors += [tensor(13, (1, 2), "int8", data=False, variable=True),
                tensor(14, (1, 2), "int16", data=False, variable=True),
                tensor(15, (1, 4, 2), "int8", data=False), tensor(16, (2,), "int8")]
    inputs = [0, 1, 2, 3, 4, 5, 6, 7, 8, -1, -1, -1, 9, 10, 11, 12, -1, -1, 13, 14, -1, -1, -1, -1]
    options = SimpleNamespace(fusedActivationFunction=4, cellClip=10.0, projClip=0.0, timeMajor=False,
                              asymmetricQuantizeInputs=False, diagonalRecurrentTensors=False)
    if change:
        change(tensors, inputs, options)
    op = RawOp(0, "UNIDIRECTIONAL_SEQUENCE_LSTM", tuple(inputs), (15,), options)
    return op, Context(tuple(tensors), {t.index: t.name for t in tensors})


def test_the_importer_maps_the_operator():
    op, ctx = _raw_lstm()
    converted = convert_op(op, ctx)
    assert converted.kind == "lstm" and len(converted.inputs) == 15
    assert converted.attrs == {"cell_clip": 10.0, "cell_activation": "tanh"}


def _set(position, value):
    def change(tensors, inputs, options):
        inputs[position] = value
    return change


def _state_not_variable(tensors, inputs, options):
    tensors[14] = RawTensor(14, "t14", (1, 2), "int16", (0.1,), (0,), 0, None, False)


@pytest.mark.parametrize("change, reason", [
    (_set(9, 16), "peephole tensors are not supported"),
    (_set(16, 16), "projection tensors are not supported"),
    (_set(21, 16), "layer normalization tensors are not supported"),
    (_set(1, -1), "CIFG"),
    (_state_not_variable, "the cell state must be a variable tensor"),
    (lambda t, i, o: setattr(o, "timeMajor", True), "time major"),
    (lambda t, i, o: setattr(o, "fusedActivationFunction", 1), "TANH or SIGMOID"),
    (lambda t, i, o: setattr(o, "projClip", 2.0), "projection clip"),
])
def test_unsupported_variants_are_refused_in_one_line(change, reason):
    op, ctx = _raw_lstm(change)
    with pytest.raises(McuError) as refused:
        convert_op(op, ctx)
    assert reason in str(refused.value) and "UNIDIRECTIONAL_SEQUENCE_LSTM" in str(refused.value)
    assert "\n" not in str(refused.value)


def test_litert_rounding_is_refused_in_one_line(tmp_path):
    graph = _lstm_graph(np.random.default_rng(0), 2, 3, 2, 0, -11, 10.0)
    with pytest.raises(McuError, match="only tflite-micro's arithmetic"):
        export(graph, tmp_path / "out", rounding="litert")
    assert not (tmp_path / "out").exists()


def test_info_counts_the_state_and_the_lstm(tmp_path, capsys):
    from mcucompress.cli import main

    graph = _lstm_graph(np.random.default_rng(1), 4, 6, 5, 2, -11, 10.0)
    tree = export(graph, tmp_path / "out")
    assert main(["info", str(tree)]) == 0
    text = capsys.readouterr().out
    assert "state kept across invocations: 15 bytes" in text  # 5 int8 hidden + 5 int16 cell
    assert "MicroNet score" in text and " lstm " in text
