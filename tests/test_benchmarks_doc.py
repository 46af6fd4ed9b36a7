"""docs/BENCHMARKS.md's main Cortex-M figures measured again: `mcucompress bench` on the MLPerf
Tiny models must give the instructions per inference, flash and RAM the table states, within
TOLERANCE. The figures are read from the doc, so the doc is what is checked; re-measure and edit
the table when a kernel change moves them."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass

import pytest

from benchdoc import DRIFT_LINE, allowed_drift, drift_headings, integer, section, table_rows
from conftest import REPO

SECTION = "## Cortex-M: QEMU runs"
MODELS = {"ResNet-8": "pretrainedResnet_quant.tflite", "DS-CNN": "kws_ref_model.tflite"}
BUILDS = ("mcucompress", "mcucompress, MVE")   # default builds; the forced-path rows need --define
# Allowed drift per figure, as a fraction of the documented value. Zero: instruction counts are
# exact (a counting plugin) for bench's one deterministic input (they move by about 0.05% from
# input to input: softmax cut-offs, clamps), flash and RAM come from the linker and the measured
# stack high-water mark, so any change is a real change the doc must follow.
TOLERANCE = {"instructions": 0.0, "flash_bytes": 0.0, "ram_bytes": 0.0}


@dataclass(frozen=True)
class DocRow:
    model: str
    board: str
    instructions: int
    flash_bytes: int
    ram_bytes: int


def doc_rows() -> list[DocRow]:
    """The section's default-build rows: model | build | core (board) | instructions | MAC/instr |
    flash | RAM."""
    rows = []
    for cells in table_rows(SECTION, 7):
        if cells[0] not in MODELS or cells[1].strip("*") not in BUILDS:
            continue
        board = re.search(r"\(([^)]+)\)", cells[2])
        rows.append(DocRow(cells[0], board.group(1), integer(cells[3]), integer(cells[5]), integer(cells[6])))
    return rows


def test_the_doc_table_is_found():
    rows = doc_rows()
    assert {r.model for r in rows} == set(MODELS) and len(rows) >= 2 * len(MODELS), rows


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                    reason="needs arm-none-eabi-gcc and qemu-system-arm")
@pytest.mark.parametrize("model", sorted(MODELS))
def test_bench_reproduces_the_documented_figures(mlperf_dir, tmp_path, model):
    from click.testing import CliRunner

    from mcucompress.cli import cli

    rows = [r for r in doc_rows() if r.model == model]
    args = ["bench", str(mlperf_dir / MODELS[model]), "--no-layers", "--json", "--work", str(tmp_path)]
    for row in rows:
        args += ["--board", row.board]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    (measured,) = json.loads(result.output[result.output.index("["):])
    cores = {c["board"]: c for c in measured["cores"]}
    drift = []
    for row in rows:
        for figure, allowed in TOLERANCE.items():
            documented, got = getattr(row, figure), cores[row.board][figure]
            if abs(got - documented) > allowed * documented:
                drift.append(f"{row.board} {figure}: doc {documented:,}, measured {got:,}")
    assert not drift, f"{model}: docs/BENCHMARKS.md is out of date: " + "; ".join(drift)


@pytest.mark.shared
def test_macs_per_instruction_follow_from_the_graph_and_the_instruction_counts(mlperf_dir):
    """The table's MACs / instruction column (every row, the quoted baselines' too): the graph's
    multiply-accumulates over the row's instruction count, to the three decimals shown."""
    from mcucompress.importers.tflite import load_tflite
    from mcucompress.ir.ops import graph_macs

    macs = {model: graph_macs(load_tflite(mlperf_dir / file)) for model, file in MODELS.items()}
    checked = 0
    for cells in table_rows(SECTION, 7):
        if cells[0] in MODELS:
            assert f"{macs[cells[0]] / integer(cells[3]):.3f}" == cells[4].strip("*"), cells
            checked += 1
    assert checked >= 12


def test_the_mutation_score_in_the_doc_is_the_scripts():
    """The test-strength row states the score scripts/mutation_test.py wrote to mutation.md."""
    table = (REPO / "docs" / "benchmarks" / "mutation.md").read_text()
    killed, total, percent = re.search(r"Score: \*\*(\d+)/(\d+) killed \(([\d.]+)%\)\*\*", table).groups()
    rows = [c for c in table_rows("## Test strength", 4) if c[0].startswith("planted bugs")]
    assert len(rows) == 1 and f"{killed} of {total} ({percent}%" in rows[0][2], rows


def test_every_drift_line_of_the_doc_reads():
    """Each table that test_benchmarks_doc_scripts.py (-m benchdoc) re-measures declares the drift
    it allows next to it, in words the tests read."""
    headings = drift_headings()
    assert len(headings) >= 5, headings
    scripts_tests = (REPO / "tests" / "test_benchmarks_doc_scripts.py").read_text()
    for heading in headings:
        drift = allowed_drift(heading)
        assert drift and all(unit in ("exact", "points", "%") for _, unit in drift.values()), (heading, drift)
        # every test a drift line names exists (a renamed test would leave its table unchecked)
        line = section(heading).split(DRIFT_LINE, 1)[1].split("\n\n", 1)[0]
        for name in re.findall(r"\b(test_\w+)\b", line):
            assert f"def {name}(" in scripts_tests or name.startswith(("test_benchmarks_doc", "test_cost_model")) \
                or (REPO / "tests" / f"{name}.py").is_file(), (heading, name)
