"""The fast int8 kernels on emulated Cortex-M: DSP (M4), MVE (M55) and ARMv6-M (M0) paths byte-identical to the
portable path (MCC_FORCE_REFERENCE=1), to the host build, the numpy reference and, for the
MLPerf Tiny models, TensorFlow Lite Micro; and the issue's instruction budgets on the M4."""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from mcucompress.targets.manifest import manifest_json
from mcucompress.targets.runner import run_model
from qemu_sets import QemuSets, selected_params
from test_fast_graphs import GRAPHS, INT8_CONV_GRAPHS, _Chain, on_planes, relu_requant, with_int8_conv_weights

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                       reason="needs arm-none-eabi-gcc and qemu-system-arm"),
]

MODELS = {"resnet": "pretrainedResnet_quant.tflite", "kws": "kws_ref_model.tflite"}
# Issue 4 acceptance on mps2-an386 (instructions per inference) and TFLM + CMSIS-NN's footprint.
M4_BUDGET = {"resnet": 15_000_000, "kws": 3_900_000}
TFLM_M4 = {"resnet": (178_260, 56_896), "kws": (138_840, 24_720)}


def _variant(tree, tmp_path_factory, **defines):
    """A copy of an exported tree built with extra C defines (e.g. MCC_FORCE_REFERENCE=1)."""
    copy = tmp_path_factory.mktemp("variant") / tree.name
    shutil.copytree(tree, copy, ignore=shutil.ignore_patterns("firmware"))
    manifest = manifest_json(copy)
    manifest["defines"].update(defines)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def _sets(tmp_path_factory, samples):
    """The module's runs with ``samples`` inputs each, several trees a firmware (qemu_sets)."""
    return QemuSets(samples, variant=lambda tree, **defines: _variant(tree, tmp_path_factory, **defines))


def _layer_runs(request, tmp_path_factory, samples, graph_of, names, test, other_paths, board=None, cores=None):
    """The runs of the trees exported from ``graph_of(name)`` (for the core ``cores[name]``, else
    none in particular) for the selected cases of ``test``, each on its case's board (else
    ``board``), and of their variants with ``other_paths``'s defines."""
    from mcucompress.export import export

    sets = _sets(tmp_path_factory, samples)
    root = tmp_path_factory.mktemp("layers")
    for name in names:
        sets.add(name, lambda name=name: export(graph_of(name), root / name, prefix=name,
                                                core=(cores or {}).get(name)))
    for params in selected_params(request, test):
        case_board = params.get("board", board)
        sets.plan(params["name"], case_board)
        for defines in other_paths:
            sets.plan(sets.variant(params["name"], **defines), case_board)
    return sets


@pytest.fixture(scope="module")
def model_trees(mlperf_dir, tmp_path_factory):
    from mcucompress.export import export
    root = tmp_path_factory.mktemp("fast_models")
    return {name: export(mlperf_dir / file, root / name, prefix=name) for name, file in MODELS.items()}


@pytest.fixture(scope="module")
def graph_trees(tmp_path_factory):
    from mcucompress.export import export
    root = tmp_path_factory.mktemp("fast_graphs")
    return {name: export(build(), root / name, prefix=name) for name, build in GRAPHS.items()}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_models_fast_path_on_m4_meets_budget_and_matches_reference_path(model_trees, tmp_path_factory, name):
    fast = run_model(model_trees[name], "mps2-an386", samples=2)
    assert fast.checks == {"host": True, "reference": True, "tflite-micro": True}
    assert max(fast.instructions) <= M4_BUDGET[name]
    flash, ram = TFLM_M4[name]
    assert fast.footprint.flash_bytes < flash and fast.footprint.ram_bytes <= ram
    portable = run_model(_variant(model_trees[name], tmp_path_factory, MCC_FORCE_REFERENCE=1),
                         "mps2-an386", samples=2)
    assert np.array_equal(portable.outputs, fast.outputs) and portable.passed
    # The switch really selects another path: the portable one is several times slower.
    assert min(portable.instructions) > 3 * max(fast.instructions)


def test_dscnn_mve_beats_dsp_on_m55(model_trees, tmp_path_factory):
    mve = run_model(model_trees["kws"], "mps3-an547", samples=1)
    dsp = run_model(_variant(model_trees["kws"], tmp_path_factory, MCC_NO_MVE=1), "mps3-an547", samples=1)
    assert mve.checks == dsp.checks == {"host": True, "reference": True, "tflite-micro": True}
    assert np.array_equal(mve.outputs, dsp.outputs)
    assert mve.instructions[0] < dsp.instructions[0]


@pytest.fixture(scope="module")
def graph_runs(request, graph_trees, tmp_path_factory):
    """The runs of the graphs' trees with three samples: widened (fast and portable) and with int8
    conv weights, every selected case's on its board made together (qemu_sets)."""
    from mcucompress.export import export

    sets = _sets(tmp_path_factory, samples=3)
    root = tmp_path_factory.mktemp("int8_conv_graphs")
    for name in GRAPHS:
        sets.add(name, lambda name=name: graph_trees[name])
        sets.add(("int8", name),
                 lambda name=name: export(with_int8_conv_weights(GRAPHS[name]()), root / name, prefix=name))
    for params in selected_params(request, "test_random_layers_fast_and_portable_paths_identical"):
        sets.plan(params["name"], params["board"])
        sets.plan(sets.variant(params["name"], MCC_FORCE_REFERENCE=1), params["board"])
    for params in selected_params(request, "test_int8_conv_weights_identical_to_widened_on_every_core"):
        sets.plan(params["name"], params["board"])
        sets.plan(("int8", params["name"]), params["board"])
    for params in selected_params(request, "test_direct_pointwise_rows_loop_identical_to_the_pair_loop"):
        sets.plan("pointwise_rows", params["board"])
        for defines in DIRECT_ROWS_PATHS:
            sets.plan(sets.variant("pointwise_rows", **defines), params["board"])
    return sets


@pytest.fixture(scope="module")
def widened_runs(graph_runs):
    """(graph, board) -> the run of the graph's tree on the board with three samples, made once:
    the int8-weights test compares with the run the fast-and-portable test made (runs are
    deterministic: same inputs, same bytes)."""
    return graph_runs.run


@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547", "microbit"])
@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_random_layers_fast_and_portable_paths_identical(graph_runs, widened_runs, name, board):
    fast = widened_runs(name, board)
    assert fast.checks == {"host": True, "reference": True}
    portable = graph_runs.run(graph_runs.variant(name, MCC_FORCE_REFERENCE=1), board)
    assert portable.checks == {"host": True, "reference": True}
    assert np.array_equal(fast.inputs, portable.inputs)
    assert np.array_equal(fast.outputs, portable.outputs)
    assert len(np.unique(fast.outputs)) > 1
    assert max(fast.instructions) < min(portable.instructions)


@pytest.mark.parametrize("board", ["mps2-an386", "mps3-an547", "mps2-an505", "lm3s6965evb", "microbit"])
@pytest.mark.parametrize("name", INT8_CONV_GRAPHS)
def test_int8_conv_weights_identical_to_widened_on_every_core(graph_runs, widened_runs, name, board):
    """mcc_conv2d_fast_w8_s8 (MVE, DSP, ARMv6-M and portable paths) gives the bytes of the widened
    kernel, of the host build and of the numpy reference."""
    assert "mcc_conv2d_fast_w8_s8" in (graph_runs.tree(("int8", name)) / "model.c").read_text()
    int8 = graph_runs.run(("int8", name), board)
    assert int8.checks == {"host": True, "reference": True}
    widened = widened_runs(name, board)
    assert np.array_equal(int8.inputs, widened.inputs)
    assert np.array_equal(int8.outputs, widened.outputs)
    assert len(np.unique(int8.outputs)) > 1


def _single_depthwise(name, shape, stride, activation, seed):
    """One 3x3 depthwise layer alone, so a wrong strip output reaches the model's output unmixed."""
    chain = _Chain(np.random.default_rng(seed), shape)
    chain.conv(0, (3, 3), stride=stride, padding=(1, 1, 1, 1), depthwise=True, activation=activation)
    graph = chain.graph(name)
    if activation != "relu6":
        return graph
    # ReLU6's upper bound 40 steps above zero (zero point -30): both bounds bind (the upper on about
    # 1% of the outputs) and many outputs lie between them; at the chain's own output scale 6.0
    # lands beyond 127 and the upper bound never binds.
    (out,) = graph.outputs
    tensors = dict(graph.tensors)
    tensors[out] = replace(tensors[out], quant=replace(tensors[out].quant, scale=(0.15,), zero_point=(-30,)))
    return replace(graph, tensors=tensors)


# The DSP strip paths one layer each: stride 2 along strips of 8 or more outputs, and a clamped
# (ReLU6) stride-1 layer whose outputs lie below, inside and above the clamp range.
STRIP_LAYERS = {"strip_stride2": ((1, 21, 19, 12), (2, 2), "none"),
                "strip_relu6": ((1, 12, 10, 12), (1, 1), "relu6")}


# The MVE lines path one layer each: lines along y (20 outputs, 5 whole groups) clamped by ReLU6,
# and along x (18 outputs: the last group tail-predicated), both over channel blocks 8 and 4. The
# export runs such small layers on channel planes; the lines path is built in their place.
MVE_LINE_LAYERS = {"lines_relu6": ((1, 20, 9, 12), (1, 1), "relu6"),
                   "lines_x": ((1, 7, 18, 12), (1, 1), "none")}


def _check_depthwise_outputs(run, activation):
    assert run.checks == {"host": True, "reference": True}
    out = np.asarray(run.outputs)
    assert len(np.unique(out)) > 40, "the inputs leave too few distinct outputs to judge"
    if activation == "relu6":
        lo, hi = int(out.min()), int(out.max())
        assert np.mean(out == lo) > 0.05 and np.mean(out == hi) > 0.005 and np.mean((out > lo) & (out < hi)) > 0.3


def _export_depthwise(root, name, table):
    from mcucompress.export import export

    shape, stride, activation = table[name]
    return export(_single_depthwise(name, shape, stride, activation, seed=3), root / name, prefix=name)


# The lines path replaces the channel planes the export builds for such small layers.
MVE_LINES_DEFINES = {"MCC_DW_MVE_FLAT": 0, "MCC_DW_MVE_LINES": 1}
# Likewise the strided strips replace the row-pair planes the M4 export builds for the stride-2
# layer (the strips stay what a layer whose planes do not fit runs).
STRIP_STRIDE2_DEFINES = {"MCC_DW_DSP_PLANES": 0, "MCC_DW_STRIDE2_STRIPS": 1}


def _strip_or_lines_key(sets, name):
    if name in MVE_LINE_LAYERS:
        return sets.variant(name, **MVE_LINES_DEFINES)
    return sets.variant(name, **STRIP_STRIDE2_DEFINES) if name == "strip_stride2" else name


@pytest.fixture(scope="module")
def strip_and_lines_runs(request, tmp_path_factory):
    """The strip layers' and the MVE lines layers' runs with four samples (qemu_sets)."""
    sets = _sets(tmp_path_factory, samples=4)
    root = tmp_path_factory.mktemp("strips_lines")
    table = {**STRIP_LAYERS, **MVE_LINE_LAYERS}
    for name in table:
        sets.add(name, lambda name=name: _export_depthwise(root, name, table))
    for params in selected_params(request, "test_depthwise_strip_layers_and_mve_lines_match_the_reference"):
        name = params["name"]
        sets.plan(_strip_or_lines_key(sets, name), params["board"])
    return sets


@pytest.mark.parametrize("name, board", [(name, "mps2-an386") for name in sorted(STRIP_LAYERS)] +
                         [(name, "mps3-an547") for name in sorted(MVE_LINE_LAYERS)])
def test_depthwise_strip_layers_and_mve_lines_match_the_reference(strip_and_lines_runs, name, board):
    activation = {**STRIP_LAYERS, **MVE_LINE_LAYERS}[name][2]
    tree = strip_and_lines_runs.tree(name)
    assert "mcc_depthwise_conv2d_fast_s8" in (tree / "model.c").read_text()
    if name in MVE_LINE_LAYERS:
        defines = manifest_json(tree)["defines"]
        assert defines["MCC_DW_MVE_FLAT"] == 1 and defines["MCC_DW_MVE_TAPS"] == 0
    _check_depthwise_outputs(strip_and_lines_runs.run(_strip_or_lines_key(strip_and_lines_runs, name), board),
                             activation)


# The MVE channel planes: stride 1 clamped by ReLU6 over an odd number of output lines and columns
# (lines along y, the plane transposed: 9 outputs a line, the last of 7 lines four outputs a vector),
# stride 1 along x over 5 lines of 13 (a last vector of 1 on the line without a partner) and along
# y over DS-CNN's 5 lines of 25, stride 2
# over an odd number of lines of 11 outputs (a last vector of 3) and along y over 5 lines of 12 -
# all with 64 plane columns or fewer, so the fill writes the blocks of interleaved rows itself
# (lines of 9 to 16 inputs, and longer ones 16 a pass, the rest 8 a pass: 21, 23 and 25 inputs,
# 33 at stride 1 over 5 lines (a last 1) and 48 at stride 2 over 5 lines of 24 (none left), a
# layer clamped by ReLU6; the shortest lines at stride 2, 7 lines of 7) - and wider planes interleaved
# line by line, at stride 1 over 5 lines of 67 and at stride 2 over 5 lines of 35, all over
# channel blocks 8 and 4; and a
# layer in blocks (8 inputs a line) followed by one on the taps path (12 outputs) in one model, so
# both codes are built together.
MVE_FLAT_LAYERS = {"flat_relu6": ((1, 9, 7, 12), (1, 1), "relu6"),
                   "flat_wide_odd": ((1, 5, 13, 12), (1, 1), "none"),
                   "flat_dscnn": ((1, 25, 5, 12), (1, 1), "none"),
                   "flat_plane_odd": ((1, 5, 33, 12), (1, 1), "none"),
                   "flat_plane_stride2": ((1, 9, 69, 12), (2, 2), "none"),
                   "flat_plane_wide": ((1, 5, 67, 12), (1, 1), "none"),
                   "flat_blocks_stride2": ((1, 9, 48, 12), (2, 2), "relu6"),
                   "flat_short_stride2": ((1, 14, 13, 12), (2, 2), "none"),
                   "flat_stride2": ((1, 9, 21, 12), (2, 2), "none"),
                   "flat_tall_stride2": ((1, 23, 9, 12), (2, 2), "none"),
                   "flat_taps": ((1, 8, 6, 12), (2, 2), "none")}


def _flat_graph(name):
    shape, stride, activation = MVE_FLAT_LAYERS[name]
    if name == "flat_taps":
        chain = _Chain(np.random.default_rng(3), (1, 8, 6, 12))
        chain.conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True)
        chain.conv(0, (3, 3), stride=stride, padding=(1, 1, 1, 1), depthwise=True)
        return chain.graph(name)
    return _single_depthwise(name, shape, stride, activation, seed=3)


@pytest.fixture(scope="module")
def flat_runs(request, tmp_path_factory):
    """The MVE planes layers' runs (fast and portable) with four samples (qemu_sets)."""
    return _layer_runs(request, tmp_path_factory, 4, _flat_graph, MVE_FLAT_LAYERS,
                       "test_depthwise_mve_flat_and_taps_layers_match_the_reference", ({"MCC_FORCE_REFERENCE": 1},),
                       board="mps3-an547")


@pytest.mark.parametrize("name", sorted(MVE_FLAT_LAYERS))
def test_depthwise_mve_flat_and_taps_layers_match_the_reference(flat_runs, name):
    activation = MVE_FLAT_LAYERS[name][2]
    tree = flat_runs.tree(name)
    defines = manifest_json(tree)["defines"]
    assert defines["MCC_DW_MVE_FLAT"] == 1 and defines.get("MCC_DW_MVE_TAPS", 1) == (name == "flat_taps")
    fast = flat_runs.run(name, "mps3-an547")
    _check_depthwise_outputs(fast, activation)
    portable = flat_runs.run(flat_runs.variant(name, MCC_FORCE_REFERENCE=1), "mps3-an547")
    assert np.array_equal(fast.inputs, portable.inputs) and np.array_equal(fast.outputs, portable.outputs)


# The DSP channel planes of row pairs (3x3, stride 1 or 2): an odd number of output rows and
# columns (a lone last row and column, run as quads whose missing outputs are overwritten), clamped
# by ReLU6 over an even and an odd output, the smallest plane (4x4 outputs), channel blocks 8 and
# 4; at stride 2 an even output (16x14 -> 8x7) and a clamped odd one (15x13 -> 8x7 with padding);
# a layer without padding (no padding columns or rows in the plane), a depth multiplier of 2 (the
# repeated input), and in one model a tall 12x5 output that keeps the strips path, a stride (2, 1)
# layer on the taps path and a 6x5 output on a plane; a lone last row at stride 2 (13x11 -> 7x6).
# Odd widths run their last quad one column back; input widths of 4-14 columns take the fill's
# four-column passes and its leftover one and two columns, for two rows and for one row beside a
# padding row at the top (odd heights) or bottom (even heights).
DSP_PAIRS_LAYERS = {"pairs_odd": ((1, 9, 7, 12), (1, 1), "none"), "pairs_relu6": ((1, 12, 10, 12), (1, 1), "relu6"),
                    "pairs_relu6_odd": ((1, 7, 9, 20), (1, 1), "relu6"), "pairs_tiny": ((1, 4, 4, 8), (1, 1), "none"),
                    "pairs_stride2": ((1, 16, 14, 8), (2, 2), "none"),
                    "pairs_stride2_relu6": ((1, 15, 13, 12), (2, 2), "relu6"),
                    "pairs_valid": ((1, 8, 11, 12), (1, 1), "none"), "pairs_multiplier": ((1, 7, 6, 6), (1, 1), "none"),
                    "pairs_strips": ((1, 12, 5, 12), (1, 1), "none"),
                    "pairs_stride2_odd": ((1, 13, 11, 8), (2, 2), "none"),
                    "pairs_relu_tails": ((1, 16, 14, 16), (1, 1), "relu")}
PAIRS_CHAINS = ("pairs_valid", "pairs_multiplier", "pairs_strips", "pairs_relu_tails")
# Exported for a DSP core: its channels clamped at or above the output zero point take the
# two-instruction requantization (MCC_DW_RELU_SHIFT).
PAIRS_CORES = {"pairs_relu_tails": "cortex-m4"}
# The planes of each depthwise layer (grant_two_planes): one where the second plane would raise
# the arena's peak, two where it fits under it (a larger scratch there anyway: the strips' or, in a
# tree for no core in particular, an MVE core's planes), so that both fills run at stride 1 and 2.
PAIRS_PLANES = {"pairs_relu_tails": [1, 2, 2, 2, 2, 2], "pairs_strips": [1, 1, 2], "pairs_tiny": [2],
                "pairs_multiplier": [2], "pairs_odd": [2], "pairs_relu6_odd": [2], "pairs_stride2_relu6": [2],
                "pairs_valid": [2]}


def _pairs_relu_graph():
    """Layers on row-pair planes that take the two-instruction requantization's whole-range tail
    (ReLU at zero point -128, stride 1 and 2) and its clamped tail (ReLU6 at zero point -30,
    stride 2, both bounds binding; ReLU at zero point -30, stride 1), a layer without activation (today's tail), and a ReLU layer half of whose
    channels have weight scales 2^9 smaller: their right shifts lie past the model's window, the
    exporter refuses them, and they keep today's tail beside the others in the same layer. The
    output scales are narrowed so that every layer's outputs take 30 values or more."""
    chain = _Chain(np.random.default_rng(7), DSP_PAIRS_LAYERS["pairs_relu_tails"][0])
    pad = (1, 1, 1, 1)

    def narrower(factor):  # the last output's scale divided: its values spread over more of the int8 range
        t = chain.tensors[chain.last]
        chain.tensors[chain.last] = replace(t, quant=replace(t.quant, scale=(t.quant.scale[0] / factor,)))

    chain.conv(0, (3, 3), padding=pad, depthwise=True, activation="relu", zp=-128)
    chain.conv(0, (3, 3), stride=(2, 2), padding=pad, depthwise=True, activation="relu6", zp=-30)
    narrower(10)
    chain.conv(0, (3, 3), padding=pad, depthwise=True)
    chain.conv(0, (3, 3), padding=pad, depthwise=True, activation="relu", zp=-128)
    w = chain.tensors[chain.ops[-1].inputs[1]]
    scales = tuple(s / 512 if c % 2 else s for c, s in enumerate(w.quant.scale))
    chain.tensors[w.name] = replace(w, quant=replace(w.quant, scale=scales))
    narrower(4)
    chain.conv(0, (3, 3), stride=(2, 2), padding=pad, depthwise=True, activation="relu", zp=-128)
    narrower(8)
    chain.conv(0, (3, 3), padding=pad, depthwise=True, activation="relu", zp=-30)
    narrower(4)
    return chain.graph("pairs_relu_tails")


def test_depthwise_relu_tails_chosen_per_channel_on_dsp_cores_only():
    """The export gives the two-instruction requantization to the channels that can take it, on
    a DSP core only (an M55, M3 or M0 export, or one for no core, keeps its tables), and refuses
    the channels whose right shift lies outside the model's window."""
    from mcucompress.codegen.specialize import choose_kernels, depthwise_relu_shift, kernel_params

    graph = on_planes(_pairs_relu_graph())
    final = depthwise_relu_shift(graph, "tflm", "cortex-m4")
    taken = []
    for op, choice in zip(graph.ops, choose_kernels(graph, cpu="cortex-m4")):
        p = kernel_params(graph, op, "tflm")
        right = -np.asarray(p.shift)
        words = choice.layer.channels[:, 3]
        # j = final - right + 1 in [2, 8] (the accumulators are far from overflowing here)
        window = (p.act_min >= p.output_offset) & (right >= final - 7) & (right <= final - 1)
        assert np.array_equal(words < 0, window) and np.array_equal(words[words < 0], right[words < 0] - final)
        taken.append(int((words < 0).sum()))
    assert taken[2] == 0 and 0 < taken[3] <= 8 and min(taken[:2] + taken[4:]) >= 12
    for cpu in ("cortex-m55", "cortex-m3", "cortex-m0", None):
        assert all((c.layer.channels[:, 3] > 0).all() for c in choose_kernels(graph, cpu=cpu) if c is not None)


def _pairs_graph(name):
    if name == "pairs_relu_tails":
        return on_planes(_pairs_relu_graph())
    shape, stride, activation = DSP_PAIRS_LAYERS[name]
    if name in PAIRS_CHAINS:
        chain = _Chain(np.random.default_rng(5), shape)
        pad = (0, 0, 0, 0) if name == "pairs_valid" else (1, 1, 1, 1)
        chain.conv(0, (3, 3), padding=pad, depthwise=True, multiplier=2 if name == "pairs_multiplier" else 1)
        if name == "pairs_strips":
            chain.conv(0, (3, 3), stride=(2, 1), padding=(1, 1, 1, 1), depthwise=True)
            chain.conv(0, (3, 3), padding=(1, 1, 1, 1), depthwise=True)
        return chain.graph(name)
    return _single_depthwise(name, shape, stride, activation, seed=3)


# The paths the row-pair planes are compared with: the strips or taps path, the portable path.
PAIRS_OTHER_PATHS = ({"MCC_DW_DSP_PLANES": 0}, {"MCC_FORCE_REFERENCE": 1})


@pytest.fixture(scope="module")
def pairs_runs(request, tmp_path_factory):
    """The row-pair planes layers' runs (planes, strips and portable) with four samples (qemu_sets)."""
    return _layer_runs(request, tmp_path_factory, 4, _pairs_graph, DSP_PAIRS_LAYERS,
                       "test_depthwise_dsp_pairs_layers_match_the_strips_and_portable_paths", PAIRS_OTHER_PATHS,
                       cores=PAIRS_CORES)


@pytest.mark.parametrize("board", ["mps2-an386", "mps2-an505"])
@pytest.mark.parametrize("name", sorted(DSP_PAIRS_LAYERS))
def test_depthwise_dsp_pairs_layers_match_the_strips_and_portable_paths(pairs_runs, name, board):
    """The row-pair planes (MCC_DW_DSP_PLANES) give the bytes of the strips or taps path they
    replace, of the portable path, of the host build and of the numpy reference, on the M4 and the
    M33."""
    activation = DSP_PAIRS_LAYERS[name][2]
    tree = pairs_runs.tree(name)
    assert manifest_json(tree)["defines"]["MCC_DW_DSP_PLANES"] == 1
    assert ("MCC_DW_RELU_SHIFT" in manifest_json(tree)["defines"]) == (name in PAIRS_CORES)
    # the planes each layer has (the second only where it leaves the arena's peak): both fills
    from mcucompress.codegen.specialize import choose_kernels

    choices = choose_kernels(_pairs_graph(name), cpu=PAIRS_CORES.get(name))
    assert [c.layer.planes for c in choices if c is not None] == PAIRS_PLANES.get(name, [1])
    fast = pairs_runs.run(name, board)
    if name in PAIRS_CHAINS:
        assert fast.checks == {"host": True, "reference": True} and len(np.unique(fast.outputs)) > 20
    else:
        _check_depthwise_outputs(fast, activation)
    for defines in PAIRS_OTHER_PATHS:
        other = pairs_runs.run(pairs_runs.variant(name, **defines), board)
        assert np.array_equal(fast.inputs, other.inputs)
        assert np.array_equal(fast.outputs, other.outputs), defines
        if "MCC_DW_DSP_PLANES" in defines and name in ("pairs_relu6", "pairs_stride2", "pairs_stride2_relu6"):
            assert max(fast.instructions) < min(other.instructions)


# 1x1 convs that take few_k_channels_mve on the M55: 8 and 16 input channels, clamped (ReLU6)
# and not, whose pixel counts leave 3, 1 and 2 pixels after the whole quads (the tail's spare
# lanes repeat the last pixel and must not be stored).
SHORT_POINTWISE = {"pw8_rest3": ((1, 5, 7, 8), (16, 10)),
                   "pw16_rest1": ((1, 3, 3, 16), (24, 16)),
                   "pw8_rest2": ((1, 2, 5, 8), (8, 8))}


# The paths the channel-by-channel loops are compared with: the pair loop, the portable path.
POINTWISE_OTHER_PATHS = ({"MCC_CONV_MVE_FEW_K": 0}, {"MCC_FORCE_REFERENCE": 1})


def _short_pointwise_graph(name):
    shape, outs = SHORT_POINTWISE[name]
    chain = _Chain(np.random.default_rng(11), shape)
    chain.conv(outs[0], (1, 1), activation="relu6")
    chain.conv(outs[1], (1, 1))
    return with_int8_conv_weights(chain.graph(name))


@pytest.fixture(scope="module")
def short_pointwise_runs(request, tmp_path_factory):
    """The short pointwise convs' runs (MVE loops, pair loop, portable) with three samples (qemu_sets)."""
    return _layer_runs(request, tmp_path_factory, 3, _short_pointwise_graph, SHORT_POINTWISE,
                       "test_short_pointwise_convs_on_mve_identical_to_the_pair_loop", POINTWISE_OTHER_PATHS,
                       board="mps3-an547")


@pytest.mark.parametrize("name", sorted(SHORT_POINTWISE))
def test_short_pointwise_convs_on_mve_identical_to_the_pair_loop(short_pointwise_runs, name):
    """The channel-by-channel MVE loops (MCC_CONV_MVE_FEW_K) give the bytes of the two-pixel pair
    loop, of the portable path, of the host build and of the numpy reference, in fewer
    instructions."""
    tree = short_pointwise_runs.tree(name)
    assert manifest_json(tree)["defines"]["MCC_CONV_MVE_FEW_K"] == 1
    fast = short_pointwise_runs.run(name, "mps3-an547")
    assert fast.checks == {"host": True, "reference": True}
    assert len(np.unique(fast.outputs)) > 1
    for defines in POINTWISE_OTHER_PATHS:
        other = short_pointwise_runs.run(short_pointwise_runs.variant(name, **defines), "mps3-an547")
        assert np.array_equal(fast.inputs, other.inputs)
        assert np.array_equal(fast.outputs, other.outputs), defines
        assert max(fast.instructions) < min(other.instructions), defines


# pointwise_rows built with the direct rows loop, with and without the one-pixel loop.
DIRECT_ROWS_PATHS = ({"MCC_CONV_DIRECT_ROWS": 1}, {"MCC_CONV_DIRECT_ROWS": 1, "MCC_CONV_ONE_PIXEL": 0})


@pytest.mark.parametrize("board", ["mps2-an386", "mps2-an505"])
def test_direct_pointwise_rows_loop_identical_to_the_pair_loop(graph_trees, graph_runs, widened_runs, board):
    """pointwise_rows' 1x1 layers built with MCC_CONV_DIRECT_ROWS (the channel-pair loop widens
    and runs every pair of pixels: rows across pairs, strided rows, rows of one pixel, clamped and
    full range, one to two passes of groups) give the bytes of the C loop around the pair loop
    (the tree's own build), of the host build and of the numpy reference, in fewer instructions,
    on the M4 and the M33; with the one-pixel loop that the tree builds (a lone last pixel after
    the loop's pairs) and without it (that pixel as a pair with itself)."""
    tree = graph_trees["pointwise_rows"]
    assert manifest_json(tree)["defines"].get("MCC_CONV_ONE_PIXEL") == 1
    assert "MCC_CONV_DIRECT_ROWS" not in manifest_json(tree)["defines"]
    pairs = widened_runs("pointwise_rows", board)
    for defines in DIRECT_ROWS_PATHS:
        rows = graph_runs.run(graph_runs.variant("pointwise_rows", **defines), board)
        assert rows.checks == {"host": True, "reference": True}
        assert np.array_equal(rows.inputs, pairs.inputs)
        assert np.array_equal(rows.outputs, pairs.outputs), defines
        if "MCC_CONV_ONE_PIXEL" not in defines:
            assert max(rows.instructions) < min(pairs.instructions)
    assert len(np.unique(pairs.outputs)) > 1


# Softmax rows on the M55's MVE path, four classes a pass: 10 classes (a last pass of 2), 37 (of 1),
# four rows of 5 and three rows of 17, one class, and input scales from 0.02 (every class inside the
# exp's range) to 0.4 (differences below diff_min give -128 without an exp).
SOFTMAX_LAYERS = {"softmax_10": ((1, 10), 0.1), "softmax_37": ((1, 37), 0.02), "softmax_rows": ((1, 4, 5), 0.4),
                  "softmax_17": ((1, 3, 17), 0.25), "softmax_one": ((1, 2, 1), 0.1)}


def _export_softmax(root, name):
    from codegen_cases import act, single_op
    from mcucompress.export import export

    shape, scale = SOFTMAX_LAYERS[name]
    graph = single_op("softmax", {"x": act("x", shape, scale, 3), "y": act("y", shape, 1.0 / 256, -128)},
                      ("x",), "y", beta=1.0)
    return export(replace(graph, name=name), root / name, prefix=name)


@pytest.fixture(scope="module")
def softmax_runs(request, tmp_path_factory):
    sets = _sets(tmp_path_factory, samples=4)
    root = tmp_path_factory.mktemp("softmax")
    for name in SOFTMAX_LAYERS:
        sets.add(name, lambda name=name: _export_softmax(root, name))
    for params in selected_params(request, "test_softmax_mve_rows_match_the_reference"):
        sets.plan(params["name"], "mps3-an547")
    return sets


@pytest.mark.parametrize("name", sorted(SOFTMAX_LAYERS))
def test_softmax_mve_rows_match_the_reference(softmax_runs, name):
    run = softmax_runs.run(name, "mps3-an547")
    assert run.checks == {"host": True, "reference": True}
    out = np.asarray(run.outputs)
    if name == "softmax_one":
        assert np.all(out == 127)
    else:
        assert len(np.unique(out)) > 4
    if name == "softmax_rows":
        assert np.mean(out == -128) > 0.1


@pytest.fixture(scope="module")
def relu_requant_runs(request, tmp_path_factory):
    """relu_requant exported for a DSP core (five layers requantized in two instructions, two in
    four) and for any core (all in four), and the DSP tree's portable path, three samples each."""
    from mcucompress.export import export

    sets = _sets(tmp_path_factory, samples=3)
    root = tmp_path_factory.mktemp("relu_requant")
    sets.add("dsp", lambda: export(relu_requant(), root / "dsp", prefix="relu_dsp", optimize="none",
                                   core="cortex-m4"))
    sets.add("any", lambda: export(relu_requant(), root / "any", prefix="relu_any", optimize="none"))
    for params in selected_params(request, "test_two_instruction_requantization_identical_to_the_four"):
        for key in ("dsp", "any", sets.variant("dsp", MCC_FORCE_REFERENCE=1), sets.variant("dsp", **RELU_ROWS)):
            sets.plan(key, params["board"])
    return sets


# relu_requant's tree with the direct rows walk built in (its 1x1 layers on 16 channels then run
# every pair of pixels inside the channel-pair loop, the two-instruction tail's copy included)
RELU_ROWS = {"MCC_CONV_DIRECT_ROWS": 1}


@pytest.mark.parametrize("board", ["mps2-an386", "mps2-an505"])
def test_two_instruction_requantization_identical_to_the_four(relu_requant_runs, board):
    """The layers of MCC_CONV_RELU_SHIFT (SMMLA, SSAT with the shift: the channel-pair loop clamped
    and not, with and without the direct rows walk, the 8-channel row and pixel loops, the
    one-pixel loop, the C of a lone last channel) next to layers of the four-instruction tail give
    the bytes of the tree for any core, of the portable path, of the host build (the C of the
    same tails) and of the numpy reference, in fewer instructions, on the M4 and the M33."""
    sets = relu_requant_runs
    assert manifest_json(sets.tree("dsp"))["defines"]["MCC_CONV_RELU_SHIFT"] == 12
    assert "MCC_CONV_RELU_SHIFT" not in manifest_json(sets.tree("any"))["defines"]
    fast = sets.run("dsp", board)
    assert fast.checks == {"host": True, "reference": True}
    assert len(np.unique(fast.outputs)) > 1
    for other in ("any", sets.variant("dsp", MCC_FORCE_REFERENCE=1)):
        run = sets.run(other, board)
        assert run.checks == {"host": True, "reference": True}
        assert np.array_equal(fast.inputs, run.inputs)
        assert np.array_equal(fast.outputs, run.outputs), other
        assert max(fast.instructions) < min(run.instructions), other
    rows = sets.run(sets.variant("dsp", **RELU_ROWS), board)
    assert rows.checks == {"host": True, "reference": True}
    assert np.array_equal(rows.inputs, fast.inputs) and np.array_equal(rows.outputs, fast.outputs)
