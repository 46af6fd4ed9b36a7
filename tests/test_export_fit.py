"""`--optimize fit`, the export default: the fastest encodings for the board's core, then the
layers that cost the fewest instructions per byte saved compressed until the image fits the
board's flash or a --flash-budget; what it chose and what it cost in the manifest and printed."""

import json
import shutil

import numpy as np
import pytest

from mcucompress.encode.choose import ATTR, Encoded, choose_encodings, encoding_rows, fit_plan
from mcucompress.cost_suite import ConvLayer, FcLayer, conv_chain, fc_chain
from mcucompress.errors import McuError
from mcucompress.export import export
from mcucompress.ir.graph import Op

HAVE_ARM = bool(shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm"))


def _option(kind, nbytes, instructions):
    return Encoded(kind, None, nbytes, 1000, instructions)


def test_fit_plan_takes_the_cheapest_bytes_first_and_stops_when_enough_is_saved():
    options = {
        "a": [_option("dense", 1000, 1000), _option("huffman", 600, 9000)],     # 20 instr / byte
        "b": [_option("dense", 1000, 1000), _option("csr8", 700, 2500)],        # 5 instr / byte
        "c": [_option("dense", 1000, 1000), _option("codebook", 500, 4000)],    # 6 instr / byte
    }
    assert {k: e.kind for k, e in fit_plan(options, 0).items()} == {"a": "dense", "b": "dense", "c": "dense"}
    assert {k: e.kind for k, e in fit_plan(options, 250).items()} == {"a": "dense", "b": "csr8", "c": "dense"}
    # 300 + 500 covers 700; the rate order goes on with c, not a.
    assert {k: e.kind for k, e in fit_plan(options, 700).items()} == {"a": "dense", "b": "csr8", "c": "codebook"}
    # More than everything can save: everything at its smallest.
    assert {k: e.kind for k, e in fit_plan(options, 10**6).items()} == {"a": "huffman", "b": "csr8", "c": "codebook"}


def test_fit_plan_finishes_with_one_cheap_step_when_it_covers_the_rest():
    options = {
        "big": [_option("dense", 10000, 1000), _option("huffman", 4000, 61000)],  # 10 instr / byte
        "small": [_option("dense", 500, 100), _option("csr8", 300, 1000)],        # 4.5 instr / byte
        "mid": [_option("dense", 2000, 500), _option("codebook", 1000, 6500)],    # 6 instr / byte
    }
    plan = fit_plan(options, 1100)
    # small (200 B) first by rate; then 900 B are left: mid covers them for 6,000 instructions.
    assert {k: e.kind for k, e in plan.items()} == {"big": "dense", "small": "csr8", "mid": "codebook"}


def _sparse_mlp():
    layers = (FcLayer(256, 0.0, 16), FcLayer(192, 0.97, 16), FcLayer(64, 0.0, 200), FcLayer(10, 0.0, 256))
    return _unchosen(fc_chain(320, layers, "dense", seed=3))


def _unchosen(g):
    """``g`` with no encoding named on its ops, so that choose_encodings decides each."""
    return g.replace(ops=tuple(Op(op.kind, op.name, op.inputs, op.outputs,
                                  {k: v for k, v in op.attrs.items() if k != ATTR}) for op in g.ops))


def test_fit_without_a_budget_is_speed_and_size_stays_explicit():
    g = _sparse_mlp()
    fit = [r.encoding for r in encoding_rows(choose_encodings(g, "fit"))]
    assert fit == [r.encoding for r in encoding_rows(choose_encodings(g, "speed"))]
    assert fit[1] in ("csr4", "csr8", "csr_seg", "csr_pair") and fit[0] == fit[2] == fit[3] == "dense"
    size = encoding_rows(choose_encodings(g, "size"))
    assert sum(r.bytes for r in size) < sum(r.bytes for r in encoding_rows(choose_encodings(g, "fit")))


def test_dense_conv_weights_stay_dense_on_a_core_without_dsp():
    """On the M3 the fast CSR conv beats the portable dense kernel even with no zeros, but it is
    larger and needs a decoded entry per weight in RAM: speed alone never takes a larger encoding."""
    g = _unchosen(conv_chain(8, 8, (ConvLayer(16), ConvLayer(16, sparsity=0.9)), "dense", seed=1))
    for optimize in ("fit", "speed"):
        rows = encoding_rows(choose_encodings(g, optimize, cpu="cortex-m3"))
        assert rows[0].encoding == "dense", optimize
        assert rows[1].encoding in ("csr4", "csr8"), optimize  # sparse: smaller and faster


def test_weights_budget_without_a_board(tmp_path):
    g = _sparse_mlp()
    fastest = sum(r.bytes for r in encoding_rows(choose_encodings(g, "speed")))
    tree = export(g, tmp_path / "t", prefix="m", flash_budget=fastest - 3000)
    plan = json.loads((tree / "manifest.json").read_text())["weight_plan"]
    assert plan["optimize"] == "fit" and plan["core_family"] == "m4"
    assert plan["weight_bytes"] <= fastest - 3000 and plan["bytes_saved"] >= 3000
    assert plan["instructions_added"] > 0 and plan["changed_from_fastest"]
    with pytest.raises(McuError, match="over the flash budget"):
        export(g, tmp_path / "u", prefix="m", flash_budget=1000)
    assert not (tmp_path / "u").exists()
    with pytest.raises(McuError, match="--optimize speed"):
        export(g, tmp_path / "v", prefix="m", optimize="speed", flash_budget=fastest - 3000)


@pytest.mark.qemu
@pytest.mark.skipif(not HAVE_ARM, reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_fit_compresses_until_the_image_fits_a_budget_and_stays_exact(tmp_path):
    from mcucompress.targets.runner import run_model

    g = _sparse_mlp()
    board = "mps2-an386"
    fast = export(g, tmp_path / "fast", prefix="m", board=board)
    fast_flash = json.loads((fast / "firmware" / board / "footprint.json").read_text())["flash_bytes"]
    budget = fast_flash - 20_000
    tree = export(g, tmp_path / "fit", prefix="m", board=board, flash_budget=budget)
    footprint = json.loads((tree / "firmware" / board / "footprint.json").read_text())
    plan = json.loads((tree / "manifest.json").read_text())["weight_plan"]
    assert footprint["flash_bytes"] <= budget and plan["flash_budget"] == budget
    assert plan["bytes_saved"] >= 20_000 and plan["changed_from_fastest"]
    report = run_model(tree, board, samples=2)
    assert report.checks == {"host": True, "reference": True}
    with pytest.raises(McuError, match="does not fit the flash budget"):
        export(g, tmp_path / "speed", prefix="m", board=board, optimize="speed", flash_budget=budget)
    with pytest.raises(McuError, match="does not fit"):
        export(g, tmp_path / "tiny", prefix="m", board=board, flash_budget=20_000)
    assert not (tmp_path / "tiny").exists()


def test_cli_prints_the_choice(tmp_path):
    from click.testing import CliRunner

    from mcucompress.cli import cli
    from tflite_builders import mlp

    model = mlp(tmp_path / "mlp.tflite")
    result = CliRunner().invoke(cli, ["export", str(model), "-o", str(tmp_path / "t")])
    assert result.exit_code == 0, result.output
    assert "--optimize fit" in result.output and "every layer at its fastest encoding" in result.output
    result = CliRunner().invoke(cli, ["export", str(model), "-o", str(tmp_path / "u"), "--flash-budget", "0"])
    assert result.exit_code == 2 and "flash-budget" in result.output
    np.testing.assert_equal(json.loads((tmp_path / "t" / "manifest.json").read_text())["weight_plan"]["bytes_saved"], 0)


def test_fit_stores_conv_weights_one_byte_each_before_compressing_them():
    """On the M4 dense conv weights are widened to int16 (fastest); the int8 layout halves them
    for a few SXTB16 per 4 weights, far fewer instructions per byte saved than a codebook or
    Huffman: fit takes it first when flash must be saved. On the M55 it is the default."""
    g = _unchosen(conv_chain(8, 8, (ConvLayer(16), ConvLayer(24)), "dense", seed=3))
    fastest = encoding_rows(choose_encodings(g, "fit"))
    assert [(r.encoding, r.dense_layout) for r in fastest] == [("dense", "widened")] * 2
    saved = choose_encodings(g, "fit", save_bytes=fastest[1].bytes // 2)
    rows = encoding_rows(saved)
    assert [(r.encoding, r.dense_layout) for r in rows] == [("dense", "widened"), ("dense", "int8")]
    assert rows[1].bytes * 2 == fastest[1].bytes
    assert rows[1].estimated_instructions > fastest[1].estimated_instructions
    m55 = encoding_rows(choose_encodings(g, "fit", cpu="cortex-m55"))
    assert [(r.encoding, r.dense_layout) for r in m55] == [("dense", "int8")] * 2
