"""Depthwise layers written out per layer for DSP cores (codegen/dw_gen.py): every window, stride,
padding and requantization the generator handles, byte-identical to the numpy reference on the
host and on the emulated Cortex-M4, M7 and M33, with the DSP instructions and with the portable
helpers."""

import shutil
from dataclasses import replace

import numpy as np
import pytest

from codegen_cases import check_c_matches_reference
from mcucompress.codegen import dw_asm, dw_gen, specialize
from mcucompress.codegen.lower import ProgramBuilder
from mcucompress.export import export
from mcucompress.ir.graph import Graph
from mcucompress.quantize.params import kernel_params
from test_fast_graphs import _Chain

M4 = "cortex-m4"


def written_out_zoo(seed: int = 3) -> Graph:
    """Depthwise layers on small and narrow maps (written out, not on the row-pair planes): 3x3
    at strides 1, 2, (2, 1) and (1, 2) with padded and unpadded edges, 5x5, 2x2 and 1x1 windows,
    ReLU (two-instruction requantization), ReLU6 clamped below int8's top and no activation
    (double rounding), input zero points -128, 0 and 127."""
    rng = np.random.default_rng(seed)
    chain = (_Chain(rng, (1, 13, 11, 6))
             .conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True, zp=-128, activation="relu")
             .conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True, zp=127)
             .conv(0, (3, 3), stride=(2, 2), padding=(1, 1, 1, 1), depthwise=True)
             .conv(0, (5, 5), padding=(2, 2, 2, 2), depthwise=True, zp=-128, activation="relu6")
             .conv(0, (3, 3), stride=(2, 1), padding=(0, 1, 1, 0), depthwise=True, zp=-100, activation="relu")
             .conv(0, (2, 2), padding=(1, 0, 1, 0), depthwise=True, zp=0)
             .conv(0, (1, 1), depthwise=True, zp=-128, activation="relu")
             .conv(0, (3, 3), stride=(1, 2), padding=(1, 1, 1, 1), depthwise=True, activation="relu"))
    return chain.graph("written_out_zoo")


def tall_narrow(seed: int = 4) -> Graph:
    """A keyword spotter's map (25x5, 20 channels, rows in a loop, then at stride 2) and rows
    wider than dw_gen.UNROLL_COLUMNS (columns in a loop) at strides 2 and 1, ReLU and none."""
    rng = np.random.default_rng(seed)
    chain = (_Chain(rng, (1, 25, 5, 20))
             .conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True, zp=-128, activation="relu")
             .conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True, zp=-128, activation="relu")
             .conv(0, (3, 3), stride=(2, 2), padding=(1, 1, 1, 1), depthwise=True, zp=-128, activation="relu"))
    wide = (_Chain(rng, (1, 12, 110, 4))
            .conv(0, (3, 3), stride=(2, 2), padding=(0, 1, 0, 1), depthwise=True, zp=-128, activation="relu")
            .conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True))
    return chain.graph("tall_narrow"), wide.graph("wide_strided")


def edge_zoo(seed: int = 6) -> Graph:
    """Windows wider than the map (7x7 on 5x5, padded by 3; 3x3 on 2x2 and 1x1), one-column and
    one-row windows, stride 3, odd channel counts."""
    rng = np.random.default_rng(seed)
    chain = (_Chain(rng, (1, 5, 5, 5))
             .conv(0, (7, 7), padding=(3, 3, 3, 3), depthwise=True, zp=-128, activation="relu")
             .conv(0, (3, 1), padding=(1, 1, 0, 0), depthwise=True, zp=-7)
             .conv(0, (1, 3), stride=(1, 3), padding=(0, 0, 1, 1), depthwise=True, zp=-128, activation="relu")
             .conv(0, (3, 3), stride=(3, 1), padding=(1, 1, 1, 1), depthwise=True)
             .conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True, zp=-128, activation="relu"))
    return chain.graph("edge_zoo")


def many_channels(seed: int = 9) -> Graph:
    """Channel counts whose NHWC offsets pass the 4095 that LDRSB and STRB take as an immediate
    (a written-out map and a strided one: the pointers are stepped inside a block)."""
    rng = np.random.default_rng(seed)
    chain = (_Chain(rng, (1, 8, 8, 256))
             .conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True, zp=-128, activation="relu")
             .conv(0, (3, 3), stride=(2, 2), padding=(1, 1, 1, 1), depthwise=True, zp=-128, activation="relu"))
    return chain.graph("many_channels")


def strided_rows(seed: int = 11) -> Graph:
    """Rows of several blocks at stride 2 (20 and 10 outputs), whose neighbouring blocks share an
    input column's vertical pair, ReLU and none."""
    rng = np.random.default_rng(seed)
    chain = (_Chain(rng, (1, 6, 40, 4))
             .conv(0, (3, 3), stride=(2, 2), padding=(0, 1, 0, 1), depthwise=True, zp=-128, activation="relu")
             .conv(0, (3, 3), stride=(2, 2), padding=(1, 1, 1, 1), depthwise=True, zp=5))
    return chain.graph("strided_rows")


GRAPHS = {"written_out_zoo": written_out_zoo, "edge_zoo": edge_zoo, "tall_narrow": lambda: tall_narrow()[0],
          "wide_strided": lambda: tall_narrow()[1], "many_channels": many_channels, "strided_rows": strided_rows}


def _generated(graph: Graph) -> list[bool]:
    choices = specialize.choose_kernels(graph, "tflm", M4)
    return [c is not None and c.layer.generated is not None
            for op, c in zip(graph.ops, choices) if op.kind == "depthwise_conv2d"]


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_written_out_depthwise_matches_reference_on_host(tmp_path, name, monkeypatch):
    graph = GRAPHS[name]()
    assert all(_generated(graph))
    # check_c_matches_reference exports for no core in particular: give it the M4's choices
    original = specialize.choose_kernels
    monkeypatch.setattr(specialize, "choose_kernels", lambda g, rounding="tflm", cpu=None: original(g, rounding, M4))
    check_c_matches_reference(tmp_path, graph, "tflm", samples=4)


def test_identical_functions_are_written_once():
    b = ProgramBuilder(None, "m", "tflm", {}, ())
    assert b.function("mcc_m_a", lambda n: f"static int {n}(void) {{ return 1; }}\n") == "mcc_m_a"
    assert b.function("mcc_m_b", lambda n: f"static int {n}(void) {{ return 1; }}\n") == "mcc_m_a"
    assert b.function("mcc_m_c", lambda n: f"static int {n}(void) {{ return 2; }}\n") == "mcc_m_c"
    assert [name for name, _ in b.functions] == ["mcc_m_a", "mcc_m_c"]


def test_info_names_the_written_out_functions(tmp_path):
    """`info` on a tree exported for a DSP core shows the functions its layers call (the export's
    choice, recorded in the manifest), not those of a lowering for no core in particular."""
    import json

    from mcucompress.codegen.kernel_report import kernel_rows

    graph = tall_narrow()[0]
    tree = export(graph, tmp_path / "t", prefix="kws", core=M4)
    layers = json.loads((tree / "manifest.json").read_text())["layers"]
    rows = [kernel for _, kernel, *_ in kernel_rows(graph, "kws", "tflm", layers)]
    assert rows == ["mcc_kws_op0_depthwise_conv2d", "mcc_kws_op1_depthwise_conv2d", "mcc_kws_op2_depthwise_conv2d"]
    anywhere = {name: kernel for name, kernel, *_ in kernel_rows(graph, "kws", "tflm")}
    assert set(anywhere.values()) == {"mcc_depthwise_conv2d_fast_s8"}


def test_wide_stride_one_maps_stay_on_the_planes():
    """Rows a written-out layer would run in a column loop stay on the row-pair planes (from 400
    outputs); a 24x24 map is written out."""
    rng = np.random.default_rng(5)
    graph = (_Chain(rng, (1, 24, 24, 8)).conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True, activation="relu")
             .graph("square"))
    assert _generated(graph) == [True]
    graph = (_Chain(rng, (1, 8, 56, 8)).conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True, activation="relu")
             .conv(0, (3, 3), depthwise=True, activation="relu").graph("wide"))
    assert _generated(graph) == [False, True]   # 8x56 outputs, then 6x54: fewer than 400
    op = graph.ops[0]
    assert specialize.generated_depthwise(graph, op, kernel_params(graph, op, "tflm"), "tflm") is not None


@pytest.mark.parametrize("kh, kw", [(3, 3), (5, 5), (4, 3), (3, 1), (1, 3)])
def test_weight_words_hold_each_tap_where_the_layout_says(kh, kw):
    """Every word holds the taps its name says (vertical: a tap and the one below, horizontal: a
    tap and its right neighbour, or 0 past a one-column kernel), every tap is in a word, and
    tap() names a word that holds it."""
    layout = dw_gen.WordLayout(kh, kw)
    w = np.arange(2 * kh * kw).reshape(2, kh * kw) - kh * kw
    words = layout.words(w).view(np.uint32)
    assert words.shape == (2, layout.count) and len(layout.names()) == layout.count
    taps = np.concatenate([w.reshape(2, kh, kw), np.zeros((2, kh, 1), dtype=w.dtype)], axis=2)
    halves = {}
    for name in layout.names():
        ky, kx = (int(v) for v in name[1:].split("_"))
        word = words[:, layout.index(name)]
        lo, hi = (word & 0xFFFF).astype(np.uint16).view(np.int16), (word >> 16).astype(np.uint16).view(np.int16)
        below = (ky + 1, kx) if name[0] == "v" else (ky, kx + 1)
        assert np.array_equal(lo, taps[:, ky, kx]) and np.array_equal(hi, taps[:, below[0], below[1]])
        halves[name] = {"b": lo, "t": hi}
    for ky in range(kh):
        for kx in range(kw):
            name, half = layout.tap(ky, kx)
            assert np.array_equal(halves[name][half], taps[:, ky, kx])


@pytest.mark.qemu
@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("board", ["mps2-an386", "mps2-an500", "mps2-an505"])   # M4, M7, M33
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_written_out_depthwise_identical_on_dsp_cores(tmp_path, name, board):
    from test_fast_kernels_qemu import _variant
    from mcucompress.targets.runner import run_model

    tree = export(GRAPHS[name](), tmp_path / name, prefix=name, core=M4)
    fast = run_model(tree, board, samples=3)
    assert fast.checks == {"host": True, "reference": True}
    assert len(np.unique(fast.outputs)) > 1

    class _Factory:   # _variant's tmp_path_factory
        @staticmethod
        def mktemp(name):
            path = tmp_path / f"{name}{len(list(tmp_path.iterdir()))}"
            path.mkdir()
            return path

    portable = run_model(_variant(tree, _Factory, MCC_FORCE_REFERENCE=1), board, samples=3)
    assert np.array_equal(portable.outputs, fast.outputs)
    assert max(fast.instructions) < min(portable.instructions)
    # the same functions with their blocks in C (dw_asm's assembly off): same bytes, more instructions
    assert "__asm__ volatile" in (tree / "model.c").read_text()
    c_blocks = run_model(_variant(tree, _Factory, MCC_NO_DW_ASM=1), board, samples=3)
    assert c_blocks.checks == {"host": True, "reference": True}
    assert np.array_equal(c_blocks.outputs, fast.outputs)
    assert max(fast.instructions) < min(c_blocks.instructions)


@pytest.mark.skipif(not shutil.which("arm-none-eabi-gcc"), reason="needs arm-none-eabi-gcc")
def test_fit_tries_the_shared_kernel_before_compressing_weights(tmp_path):
    """Over a flash budget, fit first puts the written-out layers back on the fast kernel (one
    copy of code) when that image is the smaller, every weight as it was; where the written-out
    functions are the smaller code, it keeps them and compresses weights instead."""
    import json

    def flash(tree):
        return json.loads((tree / "firmware" / "mps2-an386" / "footprint.json").read_text())["flash_bytes"]

    def conv_layout(tree):
        return json.loads((tree / "manifest.json").read_text())["weight_encodings"]["conv2d_last"]["dense_layout"]

    def graph_of(name, *layers):
        chain = _Chain(np.random.default_rng(8), (1, 14, 14, 8))
        for kernel, stride in layers:
            pad = (kernel[0] // 2,) * 2 + (kernel[1] // 2,) * 2
            chain.conv(0, kernel, stride=stride, padding=pad, depthwise=True, zp=-128, activation="relu")
        chain.conv(32, (1, 1), zp=-128, activation="relu")
        graph = chain.graph(name)
        last = graph.ops[-1]
        ops = graph.ops[:-1] + (replace(last, name="conv2d_last"),)
        return replace(graph, ops=ops)

    many = graph_of("many", ((3, 3), (1, 1)), ((5, 5), (1, 1)), ((3, 3), (1, 2)), ((5, 3), (1, 1)),
                    ((3, 3), (2, 1)), ((3, 5), (1, 1)), ((3, 3), (1, 1)))
    one = graph_of("one", ((3, 3), (1, 1)))
    for graph, shared_smaller in ((many, True), (one, False)):
        reserve = graph.tensor(graph.inputs[0]).nbytes + graph.tensor(graph.outputs[0]).nbytes
        roomy = export(graph, tmp_path / f"{graph.name}_roomy", board="mps2-an386")
        shared = export(specialize.without_written_out(graph), tmp_path / f"{graph.name}_shared", board="mps2-an386")
        assert "MCC_NOINLINE" in (roomy / "model.c").read_text()
        assert conv_layout(roomy) == conv_layout(shared) == "widened"
        assert (flash(shared) < flash(roomy)) == shared_smaller
        budget = (flash(shared) + 64 if shared_smaller else flash(roomy) - 200) + reserve
        tight = export(graph, tmp_path / f"{graph.name}_tight", board="mps2-an386", flash_budget=budget)
        assert ("MCC_NOINLINE" in (tight / "model.c").read_text()) != shared_smaller
        assert flash(tight) + reserve <= budget
        assert (conv_layout(tight) == "widened") == shared_smaller   # else its weights one byte each


def test_asm_registers_are_reused_at_a_last_use_and_never_overcommitted():
    """dw_asm's linear scan: a register is free again once its value is read for the last time
    (a long chain of short-lived values fits); a pointer keeps its pinned register while live;
    more values live at once than free registers refuses the block (None: it stays C)."""

    chain = []
    for i in range(40):   # 40 values, two live at a time
        chain += [(f"ldrsb {{d}}, [{{0}}, #{2 * i}]", f"x{i}", ("src",)),
                  (f"ldrsb {{d}}, [{{0}}, #{2 * i + 1}]", f"y{i}", ("src",)),
                  ("pkhbt {d}, {0}, {1}, lsl #16", f"p{i}", (f"x{i}", f"y{i}")),
                  (f"strb {{0}}, [{{1}}, #{i}]", None, (f"p{i}", "dst"))]
    regs = dw_asm._allocate(chain)
    assert regs["src"] == "r0" and regs["dst"] == "r1"
    assert all(regs[f"x{i}"] not in ("r0", "r1") for i in range(39))   # src and dst still live
    free = len(dw_asm.REGISTERS) - 2

    def live(n):   # n loads, all read only after the last one, src and dst read at the end
        ops = [(f"ldrsb {{d}}, [{{0}}, #{i}]", f"x{i}", ("src",)) for i in range(n)]
        return ops + [("strb {0}, [{1}, #0]", None, (f"x{i}", "dst")) for i in range(n)] + \
            [("ldrsb {d}, [{0}, #0]", "last", ("src",)), ("strb {0}, [{1}, #0]", None, ("last", "dst"))]

    assert dw_asm._allocate(live(free)) is not None
    assert dw_asm._allocate(live(free + 1)) is None


@pytest.mark.parametrize("stride, shared", [(1, 2), (2, 1)])
def test_neighbouring_blocks_pack_their_shared_columns_once(monkeypatch, stride, shared):
    """In a row of four blocks of six (24 outputs) each block after the first takes the vertical
    pairs of the input columns it shares with the block before (two at stride 1, one at stride
    2) from that block: two loads and a pack fewer a column."""
    shape = dw_gen.DwShape(24 * stride, 24 * stride, 8, 24, 24, 3, 3, stride, stride, 1, 1)
    words = 1 + dw_gen.WordLayout(3, 3).count + 2
    layer = dw_gen.DwGenLayer(shape, np.zeros(8 * words, np.int32), words, -128, 8, -128, 127)
    writer = dw_gen._Writer(layer, asm=False)
    writer.captured = []
    writer.row(0, 5, ("ri", 5 * stride - 1), ("ro", 5))
    blocks = [block for _, _, block in writer.captured]
    consts = writer._consts(dict.fromkeys(name for _, biases, _ in blocks for name in biases.values()))

    def count(lines, instruction):
        return sum(line.strip().startswith(f'"{instruction} ') for line in lines)

    carried = dw_asm.sequence(blocks, consts, {"src": "ri", "dst": "ro"})
    monkeypatch.setattr(dw_asm, "with_carries", lambda blocks: None)
    plain = dw_asm.sequence(blocks, consts, {"src": "ri", "dst": "ro"})
    assert len(blocks) == 4 and carried is not None and plain is not None
    assert count(plain, "ldrsb") - count(carried, "ldrsb") == 3 * shared * 2
    assert count(plain, "pkhbt") - count(carried, "pkhbt") == 3 * shared


def test_column_loop_leaves_the_fewest_written_blocks():
    """A 24-wide stride-2 row (the right border cut): 3 passes of 6 and one written block of 6,
    not 3 passes, a block of 5 and one of 1."""
    shape = dw_gen.DwShape(48, 48, 4, 24, 24, 3, 3, 2, 2, 0, 0)
    layer = dw_gen.DwGenLayer(shape, np.zeros(4 * 10, np.int32), 10, -128, 8, -128, 127)
    writer = dw_gen._Writer(layer, asm=False)
    groups = []
    writer._sweep(0, shape.wo, 12, 6, [shape.cols(ox) for ox in range(shape.wo)],
                  lambda d, start, passes: groups.append(("loop", start, passes)),
                  lambda d, oxs: groups.append(("block", oxs[0], len(oxs))))
    assert groups == [("loop", 0, 3), ("block", 18, 6)]


def test_generated_text_is_the_same_under_any_hash_seed():
    """The class biases' slots in mcc_cb (and so the assembly's offsets) follow the blocks'
    order, not a set's: two interpreters with different hash seeds write the same function."""
    import os
    import subprocess
    import sys

    code = ("import numpy as np; from mcucompress.codegen import dw_gen; "
            "s = dw_gen.DwShape(25, 5, 8, 25, 5, 3, 3, 1, 1, 1, 1); "
            "print(dw_gen.c_function('f', dw_gen.DwGenLayer(s, np.zeros(80, np.int32), 10, -128, 8, -128, 127)))")
    texts = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env=dict(os.environ, PYTHONHASHSEED=seed)).stdout for seed in ("1", "2", "3")]
    assert "mcc_cb[1]" in texts[0] and texts[0] == texts[1] == texts[2]
