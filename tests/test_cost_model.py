"""The per-core cost model of weight encodings (encode/cost_model.py, coefficients fitted by
scripts/fit_cost_model.py) against exact QEMU counts of layers it was not fitted on: every
fully connected and conv2d encoding, on the M3, M4 and M55, within 10% per layer."""

import shutil

import pytest

from mcucompress.encode.cost_model import _coefficients, family, predict
from mcucompress.cost_suite import check_suite, measure
from mcucompress.errors import McuError

HAVE_ARM = bool(shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm"))
BOARDS = {"m0m3": "lm3s6965evb", "m4": "mps2-an386", "m55": "mps3-an547"}


def test_every_family_has_every_encoding():
    families = _coefficients()["families"]
    assert set(families) == set(BOARDS)
    for fam, table in families.items():
        assert table["board"] == BOARDS[fam]
        for key, entry in table.items():
            if key != "board":
                assert len(entry["coef"]) == len(entry["features"]) and min(entry["coef"]) >= 0
                assert entry["max_error"] <= 0.10, (fam, key)


def test_core_families():
    assert family("cortex-m7") == family("cortex-m33") == family("cortex-m4") == "m4"
    assert family("cortex-m0plus") == family("cortex-m3") == "m0m3"
    assert family(None) == "m4"
    with pytest.raises(McuError, match="no cost model for cpu"):
        family("cortex-a53")


@pytest.mark.qemu
@pytest.mark.skipif(not HAVE_ARM, reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("fam", sorted(BOARDS))
def test_predictions_within_ten_percent(fam, tmp_path):
    worst = []
    for graph in check_suite():
        for row in measure(graph, BOARDS[fam], tmp_path):
            predicted = predict(row.op_kind, row.encoding, row.counts, fam)
            error = abs(predicted - row.instructions) / row.instructions
            worst.append((error, row.model, row.layer, predicted, row.instructions))
    assert sorted({w[2] for w in worst}) == [f"conv{i}" for i in range(4)] + [f"fc{i}" for i in range(6)]
    assert max(worst)[0] <= 0.10, max(worst)


@pytest.mark.qemu
@pytest.mark.skipif(not HAVE_ARM, reason="needs arm-none-eabi-gcc and qemu-system-arm")
def test_one_run_counts_each_call_site_as_a_run_of_its_own(tmp_path):
    """count_layers counts every kernel call in one QEMU run (a begin/end pair per call site):
    each count is the one a run counting that call site alone gives, and the one the run that
    checks the outputs counts beside the whole inference (run_model(layers=True), bench's)."""
    from mcucompress.export import export
    from mcucompress.targets.board import load_board
    from mcucompress.targets.layer_counts import count_layers, kernel_call_sites, layer_counts
    from mcucompress.targets.plugin import plugin_path
    from mcucompress.targets.qemu import qemu_command
    from mcucompress.targets.runner import run_model
    from mcucompress.targets.tools import run_tool
    from mcucompress.targets.workspace import firmware_workspace

    graph = next(g for g in check_suite() if g.name == "check_fc_int4")
    tree = export(graph, tmp_path / graph.name, prefix="m", optimize="none")
    board = load_board(BOARDS["m4"])
    with firmware_workspace(tree, board):
        report = run_model(tree, board, layers=True)
        together = count_layers(report.elf, board, report.prefix)
        beside_the_inference = layer_counts(report.call_sites, report.call_passes, board)
        alone = []
        for i, (begin, end, _) in enumerate(kernel_call_sites(report.elf, report.prefix)):
            out = tmp_path / f"alone{i}.txt"
            run_tool(qemu_command(report.elf, board, f"{plugin_path()},begin={begin:#x},end={end:#x},out={out}"))
            alone.append(next(int(line.split()[1]) for line in out.read_text().splitlines()
                              if line.startswith("pass ")))
    assert len(together) == len(graph.ops) and all(c.instructions > 0 for c in together)
    assert [c.instructions for c in together] == alone
    assert beside_the_inference == together
