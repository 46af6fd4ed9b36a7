"""Packed int4 weights (TFLite's INT4: values -8..7, two a byte, the lower index in the low
nibble, one scale per output channel, zero point 0): the packing, the opt-in re-quantization,
INT4 .tflite files imported and checked against tflite-micro byte for byte, the C kernels against
the numpy reference on the host and on QEMU (M4, M55, M3), and bad int4 data refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mcucompress.build.host import build_host
from mcucompress.build.runner import run_host
from mcucompress.cost_suite import ConvLayer, FcLayer, conv_chain, fc_chain, int4_chain
from mcucompress.encode.choose import ATTR, choose_encodings, encoded_weights
from mcucompress.encode.int4 import pack_int4, row_words, unpack_int4
from mcucompress.errors import McuError
from mcucompress.export import export
from mcucompress.importers.tflite import load_tflite
from mcucompress.encode.int4_requantize import int4_weights
from mcucompress.reference.int8 import run_int8
from mcucompress.reference.interpreters import Tflm


def test_packing_follows_tflite():
    # tensor_utils::UnpackDenseInt4IntoInt8: element 2i in the low nibble of byte i, 2i+1 in
    # the high one, sign-extended; an odd count leaves the last high nibble 0
    values = np.array([1, -2, 7, -8, 3], dtype=np.int8)
    packed = pack_int4(values)
    assert packed.tolist() == [0xE1, 0x87, 0x03]
    assert unpack_int4(packed, 5).tolist() == values.tolist()
    words, k_padded = row_words(np.array([[1, -2, 7, -8, 3, 0, 0, -1, 5]]))
    assert k_padded == 16 and words.tolist() == [[0xF00387E1, 0x5]]


def test_bad_int4_data_is_refused():
    with pytest.raises(McuError, match="int4 values must lie in -8..7, found -9..3"):
        pack_int4(np.array([3, -9]))
    with pytest.raises(McuError, match="cannot hold 5 values"):
        unpack_int4(np.zeros(2, np.uint8), 5)   # an odd count needs ceil(5 / 2) = 3 bytes
    graph = fc_chain(20, (FcLayer(6),), "dense").replace(name="bad")
    op = graph.ops[0].with_attrs(**{ATTR: "int4"})  # int8 weights that are no int4 values
    with pytest.raises(McuError, match="op 'fc0': int4 values must lie in -8..7"):
        encoded_weights(graph.replace(ops=(op,)), op)
    with pytest.raises(McuError, match="--int4: no fully connected or conv2d layer named 'nope'"):
        int4_weights(graph, ["nope"])


def test_requantization_is_per_channel_symmetric():
    graph = conv_chain(6, 5, (ConvLayer(7, 3, 1),), "dense", seed=2)
    before = graph.tensor(graph.ops[0].inputs[1])
    after = int4_weights(graph)
    w = after.tensor(graph.ops[0].inputs[1])
    assert after.ops[0].attrs[ATTR] == "int4"
    q8 = np.asarray(before.data, np.float64).reshape(7, -1)
    peak = np.abs(q8).max(1) * np.asarray(before.quant.scale, np.float64)
    assert np.allclose(np.asarray(w.quant.scale), peak / 7, rtol=1e-6)
    q4 = np.asarray(w.data).reshape(7, -1)
    assert q4.min() >= -7 and q4.max() <= 7 and (np.abs(q4).max(1) == 7).all()
    assert set(w.quant.zero_point) == {0}


def test_optimize_never_chooses_int4():
    # weights that already are int4 values: still no --optimize mode picks the lossy encoding
    graph = int4_chain(fc_chain(40, (FcLayer(16), FcLayer(8)), "dense"))
    plain = graph.replace(ops=tuple(op.with_attrs(**{ATTR: "dense"}) for op in graph.ops))
    stripped = plain.replace(ops=tuple(type(op)(op.kind, op.name, op.inputs, op.outputs,
                                                {k: v for k, v in op.attrs.items() if k != ATTR})
                                       for op in plain.ops))
    for mode in ("fit", "size", "speed", "none"):
        chosen = choose_encodings(stripped, mode)
        assert all(op.attrs[ATTR] != "int4" for op in chosen.ops), mode
    assert [op.attrs[ATTR] for op in choose_encodings(graph, "size").ops] == ["int4", "int4"]


def _to_int4(src: Path, dst: Path) -> Path:
    """The converter's int8 model with its conv2d weights stored as INT4 per output channel and
    its fully connected weights as INT4 per tensor (tflite-micro's fully connected kernel takes
    per-channel INT4 only for int16 inputs), one weight at -8; biases re-quantized to the new scales."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    model = s.ModelT.InitFromPackedBuf(src.read_bytes(), 0)
    sg = model.subgraphs[0]
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    for op in sg.operators:
        kind = names[model.operatorCodes[op.opcodeIndex].builtinCode]
        if kind not in ("CONV_2D", "FULLY_CONNECTED"):
            continue
        w, b = sg.tensors[op.inputs[1]], sg.tensors[op.inputs[2]]
        q8 = np.frombuffer(bytes(bytearray(model.buffers[w.buffer].data)), np.int8).reshape(w.shape[0], -1)
        real = q8 * np.asarray(w.quantization.scale, np.float64)[:, None]
        peak = np.abs(real).max(axis=1) if kind == "CONV_2D" else np.full(len(real), np.abs(real).max())
        step = (peak / 7).astype(np.float32).astype(np.float64)
        q4 = np.clip(np.round(real / step[:, None]), -8, 7).astype(np.int8)
        q4[0, np.argmin(real[0])] = -8
        in_scale = sg.tensors[op.inputs[0]].quantization.scale[0]
        bias = np.frombuffer(bytes(bytearray(model.buffers[b.buffer].data)), np.int32) * np.asarray(
            b.quantization.scale, np.float64)
        bias_step = (in_scale * step).astype(np.float32).astype(np.float64)
        model.buffers[b.buffer].data = np.round(bias / bias_step).astype("<i4").view(np.uint8)
        b.quantization.scale = [float(v) for v in bias_step] if kind == "CONV_2D" else [float(bias_step[0])]
        b.quantization.zeroPoint = [0] * len(b.quantization.scale)
        w.quantization.scale = [float(v) for v in step] if kind == "CONV_2D" else [float(step[0])]
        w.quantization.zeroPoint = [0] * len(w.quantization.scale)
        w.type = s.TensorType.INT4
        model.buffers[w.buffer].data = pack_int4(q4)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    dst.write_bytes(bytes(builder.Output()))
    return dst


@pytest.fixture(scope="module")
def int4_tflite(tmp_path_factory):
    from tflite_builders import _convert, _keras, _seed

    folder = tmp_path_factory.mktemp("int4")
    k = _keras()
    _seed(4)
    inp = k.layers.Input((9, 8, 3), batch_size=1)
    x = k.layers.Conv2D(16, 3, padding="same", activation="relu")(inp)
    x = k.layers.Conv2D(12, 3, strides=2, activation="relu")(x)
    x = k.layers.Dense(21, activation="relu")(k.layers.Flatten()(x))
    model = k.Model(inp, k.layers.Dense(10)(x))
    rng = np.random.default_rng(3)
    model.set_weights([w if w.ndim > 1 else rng.uniform(-0.3, 0.3, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    calib = np.random.default_rng(0).uniform(-1, 1, (32, 9, 8, 3)).astype(np.float32)
    int8 = _convert(model, (9, 8, 3), folder / "int8.tflite", calibration=calib)
    return _to_int4(int8, folder / "int4.tflite")


def test_int4_tflite_matches_tflite_micro(int4_tflite, tmp_path):
    graph = load_tflite(int4_tflite)
    kinds = {op.kind: op.attrs.get(ATTR) for op in graph.ops if op.kind in ("conv2d", "fully_connected")}
    assert kinds == {"conv2d": "int4", "fully_connected": "int4"}
    assert min(int(graph.tensor(op.inputs[1]).data.min()) for op in graph.ops if op.attrs.get(ATTR)) == -8
    x = np.random.default_rng(1).integers(-128, 128, (40, 1, 9, 8, 3)).astype(np.int8)
    tflm = Tflm(int4_tflite)
    want = np.stack([np.asarray(tflm(xi)).reshape(-1) for xi in x]).astype(np.int8)
    ours = np.stack([np.asarray(run_int8(graph, xi)).reshape(-1) for xi in x]).astype(np.int8)
    assert np.array_equal(ours, want)
    assert len(np.unique(want)) > 5   # the inputs move the outputs
    tree = export(int4_tflite, tmp_path / "tree", optimize="fit")
    layers = json.loads((tree / "manifest.json").read_text())["layers"]
    assert {layer["kernel"] for layer in layers if layer["encoding"] == "int4"} == \
        {"mcc_conv2d_int4_s8", "mcc_fully_connected_int4_s8"}
    got = run_host(build_host(tree), x.reshape(len(x), -1), want.shape[1])
    assert np.array_equal(got, want)


def test_bad_int4_tflite_is_refused(int4_tflite, tmp_path, capsys):
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    model = s.ModelT.InitFromPackedBuf(int4_tflite.read_bytes(), 0)
    w = next(t for t in model.subgraphs[0].tensors if t.type == s.TensorType.INT4)
    model.buffers[w.buffer].data = model.buffers[w.buffer].data[:-1]  # one byte short of the nibbles
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    bad = tmp_path / "short.tflite"
    bad.write_bytes(bytes(builder.Output()))
    from mcucompress.cli import main

    assert main(["export", str(bad), "-o", str(tmp_path / "out")]) != 0
    err = capsys.readouterr().err
    assert "x int4 needs" in err and "(two values a byte)" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_cli_int4_prints_bits_and_bytes(int4_tflite, tmp_path, capsys):
    from mcucompress.cli import main

    args = ["export", str(int4_tflite.with_name("int8.tflite")), "-o"]
    assert main(args + [str(tmp_path / "a"), "--int4", "all"]) == 0
    out = capsys.readouterr().out
    assert "int4 weights (4 bits a weight, two a byte, one scale per output channel) in 4 layer(s)" in out
    assert main(["info", str(tmp_path / "a")]) == 0   # the cost model prices int4, the kernel table lists it
    out = capsys.readouterr().out
    assert "mcc_conv2d_int4_s8" in out and "mcc_fully_connected_int4_s8" in out and "int4" in out
    assert main(args + [str(tmp_path / "b"), "--int4", "nope"]) != 0
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [err.strip()] and "--int4: no fully connected or conv2d layer named 'nope'" in err
    assert not (tmp_path / "b").exists()


def _chains():
    # fully connected: 10 words a row (the assembly loop only), 3 (loop and one word), blocks of
    # 4 rows and the 1-3 left; conv: 49 pixels (blocks of 4 and a last one of 1), in_c 12 (the
    # staged columns), 16 and 8 (widened straight from the input, padded taps), 9 words, stride 2
    fc = int4_chain(fc_chain(75, (FcLayer(21), FcLayer(20), FcLayer(6), FcLayer(3)), "dense", seed=3))
    conv = int4_chain(conv_chain(7, 12, (ConvLayer(16, 3, 1), ConvLayer(8, 1, 1), ConvLayer(13, 3, 1),
                                         ConvLayer(9, 3, 2)), "dense", seed=4))
    return fc.replace(name="i4fc"), conv.replace(name="i4conv")


def test_int4_kernels_match_the_reference_on_the_host(tmp_path):
    for graph in _chains():
        tree = export(graph, tmp_path / graph.name, prefix="i4", optimize="none")
        x = np.random.default_rng(2).integers(-128, 128, (20,) + graph.tensor(graph.inputs[0]).shape).astype(np.int8)
        want = np.stack([np.asarray(run_int8(graph, xi)).reshape(-1) for xi in x]).astype(np.int8)
        got = run_host(build_host(tree), x.reshape(len(x), -1), want.shape[1])
        assert np.array_equal(got, want)


@pytest.mark.qemu
@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547", "lm3s6965evb"])
def test_int4_kernels_on_qemu(board, tmp_path):
    from mcucompress.targets.runner import run_model

    for graph in _chains():
        tree = export(graph, tmp_path / graph.name, prefix="i4", optimize="none")
        source = "\n".join(p.read_text() for p in tree.rglob("model.c"))
        assert "_int4_s8(" in source
        report = run_model(tree, board, samples=3)
        assert report.checks == {"host": True, "reference": True}
