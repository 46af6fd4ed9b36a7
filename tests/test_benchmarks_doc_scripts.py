"""docs/BENCHMARKS.md held to the scripts that measure it: each test re-runs the script (or the
command) behind one of the doc's tables and compares every figure it checks with the doc, within
the drift the doc declares next to that table ("Drift allowed: ..."): instruction counts, flash
and RAM of fixed models and random-weight layers exactly, figures of trained models within the
stated points. The figures are read from the doc (tests/benchdoc.py), never copied here.

Hours of training and emulation in all, so only on request (not in the default tier, not in CI):

    cd tests && PYTHONPATH=.. python -m pytest -m benchdoc test_benchmarks_doc_scripts.py

The MLPerf Tiny Cortex-M rows are tests/test_benchmarks_doc.py's (slow + shared tier)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from benchdoc import allowed_drift, integer, numbers, section, table_rows, tables, within
from conftest import REPO

pytestmark = [
    pytest.mark.benchdoc,
    pytest.mark.slow,
    pytest.mark.qemu,
    pytest.mark.timeout(6 * 3600),
    pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                       reason="needs arm-none-eabi-gcc and qemu-system-arm"),
]


def run_script(args: list[str], cwd: Path, check: bool = True) -> str:
    """One of scripts/ (or a script named by its path in the repository, "docs/benchmarks/x.py")
    run as the doc says (repository root on PYTHONPATH); its standard output. ``check=False`` for
    a script whose failure is itself a figure the doc states."""
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3")
    script = REPO / args[0] if "/" in args[0] else REPO / "scripts" / args[0]
    result = subprocess.run([sys.executable, str(script), *args[1:]], cwd=cwd, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0 or not check, f"{args[0]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def bench(model: Path, boards: list[str], work: Path, defines: tuple[str, ...] = ()) -> dict[str, dict]:
    """`mcucompress bench --json` of one model: board -> its figures."""
    from click.testing import CliRunner

    from mcucompress.cli import cli

    args = ["bench", str(model), "--no-layers", "--json", "--work", str(work)]
    for board in boards:
        args += ["--board", board]
    for define in defines:
        args += ["--define", define]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    (measured,) = json.loads(result.output[result.output.index("["):])
    return {c["board"]: c for c in measured["cores"]}


class Drift:
    """Collects every figure that left its allowed drift, so one run reports them all."""

    def __init__(self, heading: str):
        self.heading = heading
        self.allowed = allowed_drift(heading)
        self.found: list[str] = []
        self.checked = 0

    def check(self, what: str, figure: str, documented: float, measured: float) -> None:
        self.checked += 1
        if not within(documented, measured, self.allowed[figure]):
            self.found.append(f"{what} {figure}: doc {documented:,}, measured {measured:,}")

    def assert_none(self, at_least: int) -> None:
        assert self.checked >= at_least, f"only {self.checked} figures of {self.heading!r} checked"
        assert not self.found, f"docs/BENCHMARKS.md {self.heading!r} is out of date: " + "; ".join(self.found)


# -- Cortex-M0 and Cortex-M33: the MLPerf Tiny and TFLM models on the smallest cores ----------------

SMALLEST = "## Cortex-M0 and Cortex-M33"
SMALLEST_MODELS = {"ResNet-8": "models/mlperf-tiny/pretrainedResnet_quant.tflite",
                   "DS-CNN": "models/mlperf-tiny/kws_ref_model.tflite",
                   "micro_speech (TFLM example)": "models/tflm-examples/micro_speech_quantized.tflite"}


def test_smallest_cores_table(shared_dir, tmp_path):
    drift = Drift(SMALLEST)
    for row in table_rows(SMALLEST, 5):
        if row[0] not in SMALLEST_MODELS:
            continue
        board = re.search(r"\(([^)]+)\)", row[1]).group(1)
        defines = ("MCC_FORCE_REFERENCE=1",) if "portable path" in row[1] else ()
        measured = bench(shared_dir / SMALLEST_MODELS[row[0]], [board], tmp_path / f"w{drift.checked}", defines)[board]
        what = f"{row[0]} on {row[1]}"
        for figure, cell, key in (("instructions", row[2], "instructions"), ("flash", row[3], "flash_bytes"),
                                  ("ram", row[4], "ram_bytes")):
            drift.check(what, figure, numbers(cell)[0], measured[key])
    drift.assert_none(at_least=12)


def _export(model: Path, out: Path, board: str) -> subprocess.CompletedProcess:
    """`mcucompress export MODEL -o OUT --board BOARD` in a child process."""
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="3", COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "mcucompress", "export", str(model), "-o", str(out),
                           "--board", board], cwd=out.parent, env=env, capture_output=True, text=True)


def test_microbit_arena_and_ram_messages(shared_dir, tmp_path):
    """The section's prose on the micro:bit: micro_speech's arena there, and DS-CNN's arena and the
    RAM message `export` gives for it (quoted twice, once whole), which no table holds."""
    text = " ".join(section(SMALLEST).split())
    drift = Drift(SMALLEST)
    speech = _export(shared_dir / "models" / "tflm-examples" / "micro_speech_quantized.tflite", tmp_path / "ms",
                     "microbit")
    assert speech.returncode == 0, speech.stdout[-2000:] + speech.stderr[-2000:]
    arena = re.search(r"arena (\d+) bytes", speech.stdout).group(1)
    documented = re.search(r"RAM instead of [\d,]+ \(arena ([\d,]+) B", text).group(1)
    drift.check("micro_speech on microbit", "arena", numbers(documented)[0], int(arena))
    dscnn = _export(shared_dir / "models" / "mlperf-tiny" / "kws_ref_model.tflite", tmp_path / "kws", "microbit")
    assert dscnn.returncode == 2 and not (tmp_path / "kws").exists(), dscnn.stdout[-2000:] + dscnn.stderr[-2000:]
    message = " ".join((dscnn.stdout + dscnn.stderr).split())
    quotes = re.findall(r'"(RAM \(with a [^"]+?)"', text)
    assert len(quotes) == 2, quotes
    for quote in quotes:
        drift.checked += 1
        if quote not in message:
            drift.found.append(f"DS-CNN on microbit: doc {quote!r}, export says {message!r}")
    arena_bytes, arena_kb = re.search(r"DS-CNN's arena, ([\d,]+) B \(([\d.]+) KB in units of 1,024 B", text).groups()
    said = re.search(r"activation arena ([\d.]+) KB", message).group(1)
    drift.checked += 1
    if not (arena_kb == said == f"{numbers(arena_bytes)[0] / 1024:.1f}"):
        drift.found.append(f"DS-CNN's arena on microbit: doc {arena_bytes} B = {arena_kb} KB, export says {said} KB")
    drift.assert_none(at_least=4)


# -- Issue 11: fast codebook kernels against dense, and `--optimize fit` ----------------------------

CODEBOOK = "### Codebooks in the MAC loop, round 4"
CODEBOOK_M55 = "### Codebooks on the M55 with Helium"
PAIR = re.compile(r"([\d,]+) / ([\d,]+) = ([\d.]+)x")


@pytest.mark.parametrize("heading, board", [(CODEBOOK, "mps2-an386"), (CODEBOOK_M55, "mps3-an547")])
def test_codebook_fast_table(heading, board, tmp_path):
    """Every "codebook / dense = ratio" of the section's rows (M4 rows in round 4's, M55 rows in
    round 5's) is a row of the script's own table on that board."""
    run_script(["bench_codebook_fast.py", "--boards", board, "--doc", str(tmp_path / "cb.md")], tmp_path)
    (measured_table,) = tables((tmp_path / "cb.md").read_text())
    measured = {(int(numbers(r[2])[0]), int(numbers(r[1])[0])) for r in measured_table[1:]}  # (codebook, dense)
    drift = Drift(heading)
    for row in table_rows(heading, 3):
        if "codebook" not in row[0]:
            continue
        for codebook, dense, ratio in PAIR.findall(row[2]):
            pair = (int(codebook.replace(",", "")), int(dense.replace(",", "")))
            closest = min(measured, key=lambda m: abs(m[0] - pair[0]) + abs(m[1] - pair[1]))
            drift.check(f"{row[0]}: codebook", "instructions", pair[0], closest[0])
            drift.check(f"{row[0]}: dense", "instructions", pair[1], closest[1])
            decimals = len(ratio.partition(".")[2])
            assert f"{pair[0] / pair[1]:.{decimals}f}" == ratio, (row[0], pair, ratio)
    drift.assert_none(at_least=16)


INT4 = "### Packed int4 weights, round 6"


def test_int4_table(tmp_path):
    """Every cell of the section's layer table (bytes, dense and int4 instructions and their ratio
    on the M4, M55 and M3) is the script's own for that layer."""
    out = run_script(["bench_int4.py", "--skip-accuracy"], tmp_path)
    (measured_table,) = tables(out)
    measured = {row[0]: row for row in measured_table[1:]}
    drift = Drift(INT4)
    (header, *rows) = table_rows(INT4, 13)
    assert header == measured_table[0], (header, measured_table[0])
    for row in rows:
        got = measured[row[0]]
        for name, documented, value in zip(header[1:], row[1:], got[1:]):
            if name.startswith("ratio"):
                drift.checked += 1
                if documented != value:
                    drift.found.append(f"{row[0]}: {name}: doc {documented}, measured {value}")
                continue
            figure = "flash" if "bytes" in name else "instructions"
            drift.check(f"{row[0]}: {name}", figure, integer(documented), integer(value))
    drift.assert_none(at_least=48)


CODEBOOK_RANGES = re.compile(r"MVE path: conv (?P<m55_conv>[\d.]+-[\d.]+)x, fully connected (?P<m55_fc>[\d.]+-[\d.]+)x"
                             r".*?On the M3 the portable C: conv (?P<m3_conv>[\d.]+-[\d.]+)x of dense, fully connected "
                             r"(?P<m3_fc>[\d.]+-[\d.]+)x")


def test_codebook_ranges_paragraph(tmp_path):
    """The round-4 section's M55 and M3 ranges ("conv 0.77-1.05x, fully connected 0.94-1.14x";
    "On the M3 ... conv 0.61-0.68x"): the lowest and highest codebook / dense ratio of the
    script's conv and fully connected layers on each board, at the doc's decimals."""
    boards = {"m55": "mps3-an547", "m3": "lm3s6965evb"}
    run_script(["bench_codebook_fast.py", "--boards", ",".join(boards.values()), "--doc", str(tmp_path / "cb.md")],
               tmp_path)
    (measured_table,) = tables((tmp_path / "cb.md").read_text())
    header = measured_table[0]
    doc = CODEBOOK_RANGES.search(" ".join(section(CODEBOOK).split())).groupdict()
    drift = Drift(CODEBOOK)
    for core, board in boards.items():
        dense, codebook = header.index(f"dense {board}"), header.index(f"codebook {board}")
        for kind, prefix in (("conv", "conv"), ("fc", "fc ")):
            ratios = [numbers(row[codebook])[0] / numbers(row[dense])[0] for row in measured_table[1:]
                      if row[0].startswith(prefix)]
            documented = doc[f"{core}_{kind}"]
            decimals = len(documented.split("-")[0].partition(".")[2])
            measured = f"{min(ratios):.{decimals}f}-{max(ratios):.{decimals}f}"
            drift.checked += 1
            if measured != documented:
                drift.found.append(f"{board} {kind} codebook / dense range: doc {documented}x, measured {measured}x")
    drift.assert_none(at_least=4)


FIT = "## A default that fits the board"


def test_fit_table_autoencoder_rows(tmp_path):
    """The two autoencoder rows (random Student-t weights: deterministic); the LeNet rows need
    bench_encoded's trained models and are not checked."""
    run_script(["bench_fit.py", "--only", "autoencoder", "--out", str(tmp_path), "--doc", str(tmp_path / "fit.md")],
               tmp_path)
    ae = json.loads((tmp_path / "results.json").read_text())["autoencoder"]
    drift = Drift(FIT)
    rows = {row[0]: row[2] for row in table_rows(FIT, 4)}
    default_m4 = numbers(next(v for k, v in rows.items() if k.startswith("autoencoder")))
    drift.check("autoencoder on mps2-an386, fit", "instructions", default_m4[0], ae["m4_fit"]["instructions"])
    drift.check("autoencoder on mps2-an386, speed", "instructions", default_m4[0], ae["m4_speed"]["instructions"])
    drift.check("autoencoder on mps2-an386, size", "instructions", default_m4[-1], ae["m4_size"]["instructions"])
    fits_m3 = numbers(next(v for k, v in rows.items() if k.startswith("the same on lm3s6965evb")))
    drift.check("autoencoder on lm3s6965evb, fit", "flash", fits_m3[0], ae["m3_fit"]["flash_bytes"])
    drift.check("autoencoder on lm3s6965evb, fit", "instructions", fits_m3[2], ae["m3_fit"]["instructions"])
    drift.check("autoencoder on lm3s6965evb, size", "instructions", fits_m3[-1], ae["m3_size"]["instructions"])
    drift.assert_none(at_least=6)


# -- Issue 7: binary and Q-format networks --------------------------------------------------------

BINARY = "## Binary, ternary and Q-format networks"


def _binary_row(start: str) -> list[str]:
    return next(row for row in table_rows(BINARY, 4) if row[0].startswith(start))


def _score_check(drift: Drift, what: str, documented: str, measured: float) -> None:
    """A MicroNet score the doc writes ("0.003375", "5.289e-05") against the measured one."""
    drift.checked += 1
    if not same_significant(documented, measured):
        drift.found.append(f"{what} MicroNet score: doc {documented}, measured {measured}")


def _score_in(cell: str, label: str) -> str:
    """The score written after ``label`` in a MicroNet cell ("binary (deployed) 0.003375; float MLP 0.02572")."""
    return re.search(re.escape(label) + r" ([\d.e-]+)", cell).group(1)


def test_binary_dense_row(tmp_path):
    run_script(["bench_binary.py", "dense", "--json", str(tmp_path / "binary.json")], tmp_path)
    dense = json.loads((tmp_path / "binary.json").read_text())["dense"]
    row = _binary_row("1024x1024 binary Dense")
    binary, int8 = numbers(row[2])[:2]
    fastest = min(r["instructions"][0] for key, r in dense.items()
                  if key.startswith("mps2-an386/binary_") and key != "mps2-an386/binarize_only")
    drift = Drift(BINARY)
    drift.check("1024x1024 binary Dense, fastest popcount", "instructions", binary, fastest)
    drift.check("1024x1024 int8 Dense", "instructions", int8, dense["mps2-an386/int8_dense"]["instructions"][0])
    # the score of the binary layer as micronet_scores.py exports it (CSA popcount, with its binarization)
    _score_check(drift, "1024x1024 binary Dense", _score_in(row[3], "binary"),
                 dense["mps2-an386/binary_csa"]["micronet"]["score"])
    _score_check(drift, "1024x1024 int8 Dense", _score_in(row[3], "int8"),
                 dense["mps2-an386/int8_dense"]["micronet"]["score"])
    drift.assert_none(at_least=4)


def test_binary_mlp_row(shared_dir, tmp_path):
    """The binary MLP and storage rows, the whole-MLP row (its instruction range over the script's
    default 20 QEMU inputs, `--optimize speed`), the MicroNet column and counts."""
    run_script(["bench_binary.py", "mnist", "--json", str(tmp_path / "binary.json")], tmp_path)
    mnist = json.loads((tmp_path / "binary.json").read_text())["mnist"]
    mlp = _binary_row("binary MLP")
    binary, float_, _ = numbers(mlp[2])
    storage = numbers(_binary_row("weight storage")[2])
    drift = Drift(BINARY)
    drift.check("binary MLP (host C)", "accuracy", binary, 100 * mnist["binary_deployed_accuracy"])
    drift.check("float MLP", "accuracy", float_, 100 * mnist["float_keras_accuracy"])
    drift.check("binary layers' weight storage", "storage ratio", storage[0], round(mnist["ratio_binary_layers"], 1))
    drift.check("whole model's weight storage", "storage ratio", storage[1], round(mnist["ratio_whole_model"], 1))
    whole = _binary_row("whole binary MLP")
    low, high = re.search(r"(\d+)k-(\d+)k instructions, `--optimize speed`", whole[2]).groups()
    speed = mnist["qemu_mps2_an386_speed"]
    assert all(speed["identical_to"].values()), speed
    drift.check("whole binary MLP, fewest", "whole-model instructions", 1000 * int(low), min(speed["instructions"]))
    drift.check("whole binary MLP, most", "whole-model instructions", 1000 * int(high), max(speed["instructions"]))
    _score_check(drift, "binary MLP (deployed)", _score_in(mlp[3], "binary (deployed)"), mnist["binary_micronet"]["score"])
    _score_check(drift, "float MLP", _score_in(mlp[3], "float MLP"), mnist["float_micronet"]["score"])
    _score_check(drift, "whole binary MLP on mps2-an386", whole[3], speed["micronet"]["score"])
    text = " ".join(section(BINARY).split())
    counts = re.search(r"Binary MLP: ([\d,]+) effective 32-bit parameters and ([\d,]+) ops \(float MLP: ([\d,]+) "
                       r"and ([\d,]+)\)", text).groups()
    for what, documented, measured in (("binary MLP parameters", counts[0], mnist["binary_micronet"]["params"]),
                                       ("binary MLP ops", counts[1], mnist["binary_micronet"]["ops"]),
                                       ("float MLP parameters", counts[2], mnist["float_micronet"]["params"]),
                                       ("float MLP ops", counts[3], mnist["float_micronet"]["ops"])):
        drift.check(what, "micronet counts", numbers(documented)[0], round(measured))
    drift.assert_none(at_least=13)


def test_qformat_digits_row(tmp_path):
    """The Q-format row (accuracies, identity, MicroNet scores) and the paragraph below the table:
    instructions on lm3s6965evb (the mean over 20 test images) and flash (harness, model and the
    20 test vectors, as bench_qformat.py's default)."""
    out = run_script(["bench_qformat.py", "--json", "--samples", "20"], tmp_path)
    r = json.loads(out[out.index("{"):])
    row = _binary_row("Q-format digits CNN")
    qformat, float_ = numbers(row[2])[:2]
    drift = Drift(BINARY)
    drift.check("Q-format digits CNN (host C)", "accuracy", qformat, 100 * r["qformat"]["accuracy_host_c"])
    drift.check("digits CNN (float)", "accuracy", float_, 100 * r["float_accuracy"])
    assert r["qformat"]["host_identical_to_reference"] and all(r["qformat"]["lm3s6965evb"]["identical_to"].values())
    _score_check(drift, "Q-format digits CNN", _score_in(row[3], "Q-format"), r["qformat"]["micronet"]["score"])
    _score_check(drift, "digits CNN int8", _score_in(row[3], "int8 export"), r["int8"]["micronet"]["score"])
    text = " ".join(section(BINARY).split())
    q_k, int8_k, q_flash, int8_flash = re.search(
        r"Q-format digits CNN takes about (\d+)k instructions against (\d+)k for the int8 export of the same model "
        r"\(flash ([\d,]+) B vs ([\d,]+) B[;)]", text).groups()
    for scheme, thousands, flash in (("qformat", q_k, q_flash), ("int8", int8_k, int8_flash)):
        m3 = r[scheme]["lm3s6965evb"]
        assert m3["samples"] == 20, m3
        drift.check(f"digits CNN {scheme} on lm3s6965evb, mean", "whole-model instructions", 1000 * int(thousands),
                    m3["instructions_mean"])
        drift.check(f"digits CNN {scheme} on lm3s6965evb", "flash", numbers(flash)[0], m3["flash_bytes"])
    drift.assert_none(at_least=8)


# -- Issue 5: compression passes on LeNet-300-100 ---------------------------------------------------

COMPRESSION = "## Compression passes on Keras 3"


def test_compression_table(shared_dir, tmp_path):
    run_script(["bench_compression.py", "--data", str(shared_dir / "datasets" / "mnist10k.npz"),
                "--out", str(tmp_path), "--md", str(tmp_path / "compression.md")], tmp_path)
    r = json.loads((tmp_path / "results.json").read_text())
    rows = {row[0]: row for row in table_rows(COMPRESSION, 4)}

    def doc(start: str) -> list[float]:
        return numbers(next(row[2] for key, row in rows.items() if key.startswith(start)))

    drift = Drift(COMPRESSION)
    drift.check("float baseline", "accuracy", doc("(float baseline")[0], 100 * r["baseline_accuracy"])
    sparsity, pruned, _ = doc("magnitude pruning")
    drift.check("magnitude pruning", "sparsity", sparsity, round(100 * r["pruned"]["sparsity"], 1))
    drift.check("magnitude pruning", "accuracy", pruned, 100 * r["pruned"]["accuracy"])
    drift.check("+ 32 clusters", "accuracy", doc("+ 32 clusters")[0], 100 * r["pruned_clustered"]["accuracy"])
    rank, _, low_rank, _ = doc("low-rank")
    drift.check("low-rank fc1", "rank", rank, r["low_rank_fc1"]["rank"])
    drift.check("low-rank fc1", "accuracy", low_rank, 100 * r["low_rank_fc1"]["accuracy"])
    *_, first, second, structured, _ = doc("structured pruning")
    drift.check("structured pruning", "hidden units", first, r["structured"]["hidden_units"][0])
    drift.check("structured pruning", "hidden units", second, r["structured"]["hidden_units"][1])
    drift.check("structured pruning", "accuracy", structured, 100 * r["structured"]["accuracy"])
    for start, measured in (("(float baseline", r["baseline_micronet"]), ("magnitude pruning", r["pruned"]["micronet"]),
                            ("+ 32 clusters", r["pruned_clustered"]["micronet"]),
                            ("low-rank", r["low_rank_fc1"]["micronet"]), ("structured pruning", r["structured"]["micronet"])):
        score = next(row[3] for key, row in rows.items() if key.startswith(start))
        drift.checked += 1
        if not same_significant(score, measured):
            drift.found.append(f"{start} MicroNet score: doc {score}, measured {measured}")
    distillation = next(row for key, row in rows.items() if key.startswith("distillation"))
    teacher = numbers(re.search(r"teacher CNN ([\d.]+)%", distillation[0]).group(1))[0]
    distilled, alone = numbers(distillation[2])[:2]
    d = r["distillation"]
    drift.check("distillation teacher", "accuracy", teacher, 100 * r["teacher_accuracy"])
    drift.check("distilled student, mean of the seeds", "accuracy", distilled, 100 * d["distilled_mean"])
    drift.check("student alone, mean of the seeds", "accuracy", alone, 100 * d["alone_mean"])
    assert d["distilled_mean"] > d["alone_mean"], d
    score = numbers(distillation[3])[0]
    drift.checked += 1
    if not same_significant(distillation[3].split(" ")[0], d["micronet"]):
        drift.found.append(f"distilled student MicroNet score: doc {score}, measured {d['micronet']}")
    drift.assert_none(at_least=18)


M0_DIGITS = "### Cortex-M0: the ARMv6-M paths"


def test_microbit_digits_tables(tmp_path):
    """The acceptance table and the per-layer table of the digits CNN on the emulated micro:bit."""
    run_script(["bench_microbit_digits.py", "--work", str(tmp_path), "--json", str(tmp_path / "m0.json")], tmp_path)
    r = json.loads((tmp_path / "m0.json").read_text())
    acceptance, per_layer = [t for t in tables(section(M0_DIGITS)) if t[0][0] in ("acceptance", "layer")]
    rows = {row[0].split(" ")[0]: row for row in acceptance[1:]}
    drift = Drift(M0_DIGITS)
    accuracy, float_ = numbers(rows["digits"][2])[:2]
    drift.check("digits on the M0", "accuracy", accuracy, 100 * r["accuracy"])
    drift.check("digits float", "accuracy", float_, 100 * r["float_accuracy"])
    (arena,) = numbers(rows["RAM"][0])
    ram, static, stack, flash = numbers(rows["RAM"][2])
    for what, documented, measured in (("arena", arena, r["arena_bytes"]), ("RAM", ram, r["ram_bytes"]),
                                       ("data+bss", static, r["static_ram_bytes"]),
                                       ("stack", stack, r["stack_used"])):
        drift.check(what, "ram", documented, measured)
    drift.check("image", "flash", flash, r["flash_bytes"])
    v6m, portable, _ = numbers(rows["ARMv6-M"][2])
    drift.check("whole model, ARMv6-M paths", "instructions", v6m, r["v6m"]["cores"][0]["instructions"])
    drift.check("whole model, portable path", "instructions", portable, r["portable"]["cores"][0]["instructions"])
    measured = [(a, b) for a, b in zip(r["v6m"]["layers"], r["portable"]["layers"]) if a["kernel"]]
    doc_rows = per_layer[1:]
    assert [row[1] for row in doc_rows] == [a["kernel"] for a, _ in measured], (doc_rows, measured)
    for row, (a, b) in zip(doc_rows, measured):
        drift.check(f"{row[0]}, ARMv6-M paths", "instructions", numbers(row[2])[0], a["instructions"]["microbit"])
        drift.check(f"{row[0]}, portable path", "instructions", numbers(row[3])[0], b["instructions"]["microbit"])
    drift.assert_none(at_least=9 + 2 * len(doc_rows))


def same_at_decimals(documented: str, measured: float) -> bool:
    """A ratio or per-weight figure as the doc writes it ("1.45", "7.33") equals the measured value
    rounded to as many decimals."""
    decimals = len(documented.partition(".")[2])
    return f"{measured:.{decimals}f}" == documented


def layer_key(label: str) -> tuple:
    """One benchmark layer named the doc's way ("CSR conv 3x3 16 -> 32 on 16x16", "fully connected
    784 -> 300") or a script's way ("conv 3x3, 16 -> 32, 16x16", "fc 784 -> 300"): its kind and its
    shape numbers ("3x3" reads as 3)."""
    label = label.split("(")[0]
    return ("conv" in label, tuple(numbers(label)))


# -- Issue 11: CSR against dense at 70/80/90% zeros ---------------------------------------------------

CSR = "### CSR against dense from 70% zeros"
CSR_CELL = re.compile(r"([\d,]+) / ([\d,]+) = ([\d.]+)x; ([\d.]+)x; ([\d.]+)x")


def _csr_script_rows(doc: Path) -> dict[tuple, dict[int, list[int]]]:
    """bench_csr_fast.py's instruction table: layer -> {share of zeros in %: [dense, CSR] per board
    column}."""
    table, _stored = tables(doc.read_text())
    rows: dict[tuple, dict[int, list[int]]] = {}
    for row in table[1:]:
        label, zeros = row[0].rsplit(", ", 1)
        counts = [int(numbers(c)[0]) for i, c in enumerate(row[1:]) if i % 3 != 2]
        rows.setdefault(layer_key(label), {})[int(numbers(zeros)[0])] = counts
    return rows


def _csr_stored_bytes(doc: Path) -> dict[tuple, dict[int, list[int]]]:
    """bench_csr_fast.py's stored-bytes table: layer -> {share of zeros in %: [dense, CSR, ...] bytes}."""
    _instructions, table = tables(doc.read_text())
    rows: dict[tuple, dict[int, list[int]]] = {}
    for row in table[1:]:
        label, zeros = row[0].rsplit(", ", 1)
        rows.setdefault(layer_key(label), {})[int(numbers(zeros)[0])] = [
            int(numbers(part.split()[-1])[0]) for part in row[1].split(", ")]
    return rows


def _csr_bench(tmp_path: Path, doc_name: str, *options: str) -> dict[tuple, dict[int, list[int]]]:
    """bench_csr_fast.py OPTIONS, its table read back (as _csr_script_rows)."""
    run_script(["bench_csr_fast.py", *options, "--doc", str(tmp_path / doc_name)], tmp_path)
    return _csr_script_rows(tmp_path / doc_name)


def test_csr_fast_table(tmp_path):
    """Every "CSR / dense = ratio; ratio; ratio" cell (M4 and M55 columns) of the CSR acceptance
    table, and the M3 figure of the paragraph below it."""
    measured = _csr_bench(tmp_path, "csr.md", "--boards", "mps2-an386,mps3-an547")
    drift = Drift(CSR)
    for row in table_rows(CSR, 4):
        if not row[0].startswith("CSR "):
            continue
        for board_column, cell in enumerate(row[2:4]):
            match = CSR_CELL.search(cell)
            if match is None:
                continue
            csr, dense, *ratios = match.groups()
            runs = measured[layer_key(row[0].removeprefix("CSR "))]
            what = f"{row[0]} on {('M4', 'M55')[board_column]}"
            dense_m, csr_m = runs[70][2 * board_column:2 * board_column + 2]
            drift.check(f"{what}, dense", "instructions", numbers(dense)[0], dense_m)
            drift.check(f"{what}, CSR at 70%", "instructions", numbers(csr)[0], csr_m)
            for zeros, ratio in zip((70, 80, 90), ratios):
                dense_z, csr_z = runs[zeros][2 * board_column:2 * board_column + 2]
                drift.checked += 1
                if not same_at_decimals(ratio, csr_z / dense_z):
                    drift.found.append(f"{what} at {zeros}% zeros: doc {ratio}x, measured {csr_z / dense_z:.3f}x")
    # The M3 paragraph: "conv 3x3 16 -> 32 at 70% zeros 1,926,067 instructions (lm3s6965evb; ...)"
    m3 = re.search(r"conv 3x3 16 -> 32 at 70% zeros ([\d,]+) instructions\s+\(lm3s6965evb", section(CSR))
    m3_runs = _csr_bench(tmp_path, "csr_m3.md", "--boards", "lm3s6965evb",
                         "--only", "conv 3x3, 16 -> 32")[layer_key("conv 3x3, 16 -> 32, 16x16")]
    drift.check("conv 3x3 16 -> 32 at 70% zeros on lm3s6965evb, CSR", "instructions", numbers(m3.group(1))[0],
                m3_runs[70][1])
    drift.assert_none(at_least=5 * 2 * 5 + 1)


CSR_INT16 = "### Round 10: CSR fully connected against the M4's int16 dense layout"


def test_csr_fc_int16_table(tmp_path):
    """The two instruction rows of the csr_pair vs int16 dense table (M4, five shares of zeros)."""
    zeros = (70, 75, 80, 85, 90)
    measured = _csr_bench(tmp_path, "csr16.md", "--boards", "mps2-an386", "--only", "fc ", "--fc-dense", "int16",
                          "--sparsities", ",".join(str(z / 100) for z in zeros))
    drift = Drift(CSR_INT16)
    for row in table_rows(CSR_INT16, 7):
        if not row[0].startswith("fc "):
            continue
        runs = measured[layer_key(row[0].removesuffix(", mps2-an386"))]
        drift.check(f"{row[0]}, dense int16", "instructions", numbers(row[1])[0], runs[zeros[0]][0])
        for z, cell in zip(zeros, row[2:]):
            drift.check(f"{row[0]}, csr_pair at {z}%", "instructions", numbers(cell)[0], runs[z][1])
    stored = _csr_stored_bytes(tmp_path / "csr16.md")[layer_key("fc 784 -> 300")]
    (bytes_row,) = [row for row in table_rows(CSR_INT16, 7) if row[0].startswith("stored bytes")]
    drift.check("784 -> 300, dense int16", "bytes", numbers(bytes_row[1])[0], stored[zeros[0]][0])
    for z, cell in zip(zeros, bytes_row[2:]):
        drift.check(f"784 -> 300, csr_pair at {z}%", "bytes", numbers(cell)[0], stored[z][1])
    drift.assert_none(at_least=2 * 6 + 6)


# -- Issue 11: packed int4 weights ----------------------------------------------------------------

INT4_ROUND5 = "### Packed int4 weights (issue 11, round 5)"


def test_int4_accuracy_row(shared_dir, tmp_path):
    """The round-5 section's accuracy row (MNIST 784-300-100-10 float, int8 and int4, trained anew,
    seeded); its layer table is a record of round 5's kernels, the round-6 table is checked by
    test_int4_table."""
    out = run_script(["bench_int4.py", "--boards", "mps2-an386",
                      "--mnist", str(shared_dir / "datasets" / "mnist10k.npz")], tmp_path)
    drift = Drift(INT4_ROUND5)
    accuracy_row = next(row for row in table_rows(INT4_ROUND5, 3) if row[0].startswith("accuracy, MNIST"))
    documented = dict(re.findall(r"(float|int8|int4) ([\d.]+)%", accuracy_row[2]))
    got = dict(re.findall(r"(float|int8|int4) ([\d.]+)%", out[out.index("\naccuracy ("):]))
    assert set(documented) == set(got) == {"float", "int8", "int4"}, (documented, got)
    for what in ("float", "int8", "int4"):
        drift.check(f"MNIST 784-300-100-10 {what}", "accuracy", float(documented[what]), float(got[what]))
    drift.assert_none(at_least=3)


# -- Issue 11: the multi-symbol Huffman decoder ----------------------------------------------------

HUFFMAN = "### Huffman with a multi-symbol lookup table"


def _huffman_script_rows(doc: Path) -> list[dict]:
    (table,) = tables(doc.read_text())
    rows = []
    for row in table[1:]:
        weights = int(numbers(row[3])[0])
        shape = re.search(r"\((\d+) -> (\d+)\)", row[2]).groups()
        rows.append({"model": row[1], "shape": f"{shape[0]} -> {shape[1]}", "weights": weights,
                     "bits": float(row[4]), **{k: int(numbers(row[i])[0]) for i, k in
                                               ((5, "dense"), (6, "huffman"), (7, "huffman_lut"))}})
    return rows


def test_huffman_lut_table(tmp_path):
    """The three decoding rows: the 784 -> 128 layer, the autoencoder's 640 -> 128 layer and the
    range over its 128 -> 128 layers (bits a weight, instructions and instructions a weight of
    dense, huffman and huffman_lut)."""
    run_script(["bench_huffman.py", "--boards", "mps2-an386", "--doc", str(tmp_path / "huffman.md")], tmp_path)
    measured = _huffman_script_rows(tmp_path / "huffman.md")
    drift = Drift(HUFFMAN)

    def ratio(what: str, documented: str, value: float) -> None:
        drift.checked += 1
        if not same_at_decimals(documented, value):
            drift.found.append(f"{what}: doc {documented}, measured {value:.3f}")

    rows = {row[0]: row for row in table_rows(HUFFMAN, 3)}
    for start, model in (("Huffman decoding, 784 -> 128", "fc784"), ("the autoencoder's 640 -> 128", "autoencoder")):
        label, _, cell = next(row for key, row in rows.items() if key.startswith(start))
        shape = re.search(r"(\d+ -> \d+)", label).group(1)
        m = next(r for r in measured if r["model"] == model and r["shape"] == shape)
        bits = re.search(r"at ([\d.]+) bits a weight", label).group(1)
        ratio(f"{start}: bits a weight", bits, m["bits"])
        lut, lut_per = re.match(r"([\d,]+) (?:instructions )?= ([\d.]+) a weight", cell).groups()
        drift.check(f"{start}: huffman_lut", "instructions", numbers(lut)[0], m["huffman_lut"])
        ratio(f"{start}: huffman_lut a weight", lut_per, m["huffman_lut"] / m["weights"])
        plain = re.search(r"`huffman`:? ([\d,]+ = )?([\d.]+)", cell)
        if plain.group(1):
            drift.check(f"{start}: huffman", "instructions", numbers(plain.group(1))[0], m["huffman"])
        ratio(f"{start}: huffman a weight", plain.group(2), m["huffman"] / m["weights"])
        dense = re.search(r"dense ([\d.]+)", cell)
        if dense:
            ratio(f"{start}: dense a weight", dense.group(1), m["dense"] / m["weights"])
    label, _, cell = next(row for key, row in rows.items() if key.startswith("its 128 -> 128 layers"))
    square = [r for r in measured if r["model"] == "autoencoder" and r["shape"] == "128 -> 128"]
    low, high = re.search(r"at ([\d.]+)-([\d.]+) bits", label).groups()
    ratio("128 -> 128 layers: fewest bits a weight", low, min(r["bits"] for r in square))
    ratio("128 -> 128 layers: most bits a weight", high, max(r["bits"] for r in square))
    for pattern, kind in ((r"^([\d.]+)-([\d.]+) a weight", "huffman_lut"), (r"`huffman` ([\d.]+)-([\d.]+)", "huffman")):
        low, high = re.search(pattern, cell).groups()
        per = [r[kind] / r["weights"] for r in square]
        ratio(f"128 -> 128 layers: {kind}, fewest a weight", low, min(per))
        ratio(f"128 -> 128 layers: {kind}, most a weight", high, max(per))
    drift.assert_none(at_least=16)


HUFFMAN_M3_RATES = re.compile(r"predicted (?P<lut>[\d.]+) K added instructions for (?P<lut_kb>[\d.]+) KB against "
                              r"(?P<plain>[\d.]+) M for (?P<plain_kb>[\d.]+) KB")


def test_huffman_m3_rates_paragraph(tmp_path):
    """The M3 paragraph below the huffman_lut table: the cost model's instructions added and bytes
    saved by `huffman_lut` and by `huffman` on the autoencoder's 640 -> 128 layer against the
    fastest choice (`bench_fit.py --rates lm3s6965evb`), at the doc's decimals, and its claim that
    the lookup table's rate (instructions a byte saved) is no better there."""
    out = run_script(["bench_fit.py", "--rates", "lm3s6965evb"], tmp_path)
    steps = {kind: (int(added.replace(",", "")), int(saved.replace(",", ""))) for kind, added, saved in
             re.findall(r"^\S+ 640 -> 128 (\w+): \+([\d,]+) instructions for ([\d,]+) B saved", out, re.M)}
    doc = HUFFMAN_M3_RATES.search(" ".join(section(HUFFMAN).split())).groupdict()
    drift = Drift(HUFFMAN)
    for what, documented, measured in (("huffman_lut instructions added (K)", doc["lut"], steps["huffman_lut"][0] / 1e3),
                                       ("huffman_lut bytes saved (KB)", doc["lut_kb"], steps["huffman_lut"][1] / 1e3),
                                       ("huffman instructions added (M)", doc["plain"], steps["huffman"][0] / 1e6),
                                       ("huffman bytes saved (KB)", doc["plain_kb"], steps["huffman"][1] / 1e3)):
        drift.checked += 1
        if not same_at_decimals(documented, measured):
            drift.found.append(f"M3 640 -> 128 {what}: doc {documented}, predicted {measured}")
    # The M3's fit export the paragraph names is the fit table's row (test_fit_table_autoencoder_rows runs it)
    fit_m3 = numbers(next(row[2] for row in table_rows(FIT, 4) if row[0].startswith("the same on lm3s6965evb")))[2]
    prose = re.search(r"three `huffman` layers \(([\d,]+) instructions, the fit table's row", section(HUFFMAN)).group(1)
    drift.check("M3 fit export, the paragraph against the fit table", "instructions", numbers(prose)[0], fit_m3)
    drift.assert_none(at_least=5)
    (lut_added, lut_saved), (added, saved) = steps["huffman_lut"], steps["huffman"]
    assert lut_added / lut_saved >= added / saved, f"the doc says huffman_lut's rate is no better on the M3:\n{out}"


# -- Issue 2: the foundation, bit-exact on the host ------------------------------------------------

FOUNDATION = "## Foundation: bit-exact C on the host"


def test_foundation_rows(shared_dir, tmp_path):
    """The host bit-exactness rows (inputs and differing bytes), the numpy reference's oracle row
    and the planned arenas (ResNet-8's row, DS-CNN's in the paragraph below the table)."""
    rows = {row[0]: row for row in table_rows(FOUNDATION, 4)}

    def row(start: str) -> list[str]:
        return next(r for key, r in rows.items() if key.startswith(start))

    count = int(numbers(row("ResNet-8 `.tflite`, host C vs tflite-micro")[2])[1])
    models = str(shared_dir / "models" / "mlperf-tiny")
    host = run_script(["check_host_bitexact.py", "--count", str(count), "--models", models], tmp_path)
    oracle_cell = row("numpy reference")[2]
    reference = run_script(["check_reference.py", "-n", str(int(numbers(oracle_cell)[1]))], tmp_path, check=False)
    drift = Drift(FOUNDATION)
    line = re.compile(r"^(\S+)\s+(tflm|litert)\s+(\d+) inputs\s+vs numpy reference: (\d+) bytes differ, "
                      r"vs ([^:]+): (\d+) bytes differ\s+arena (\d+) B", re.M)
    found = {(m[0], m[1]): m for m in line.findall(host)}
    assert len(found) == 4, host
    for model in ("ResNet-8", "DS-CNN"):
        documented = numbers(row(f"{model} `.tflite`, host C vs tflite-micro")[2])   # [0, 200]
        _, _, inputs, vs_reference, against, vs_interpreter, _ = found[(model, "tflm")]
        assert against == "tflite-micro", found[(model, "tflm")]
        drift.check(f"{model} host C", "inputs", documented[1], int(inputs))
        drift.check(f"{model} host C vs tflite-micro", "differing bytes", documented[0], int(vs_interpreter))
        drift.check(f"{model} host C vs the numpy reference", "differing bytes", documented[0], int(vs_reference))
    litert = numbers(row("both, `--rounding litert`")[2])
    for model in ("ResNet-8", "DS-CNN"):
        _, _, inputs, vs_reference, against, vs_interpreter, _ = found[(model, "litert")]
        assert against.startswith("LiteRT"), found[(model, "litert")]
        drift.check(f"{model} --rounding litert", "inputs", litert[1], int(inputs))
        drift.check(f"{model} --rounding litert vs LiteRT", "differing bytes", litert[0], int(vs_interpreter))
    # "tflm mode vs tflite-micro: 0/200 samples differ (both models); litert mode vs LiteRT: 0/200 (DS-CNN), ..."
    documented = {}
    for clause in oracle_cell.split("; "):
        mode = clause.split(" ")[0]
        for bad, samples, models_named in re.findall(r"(\d+)/(\d+)[a-z ]*\(([^:)]+)", clause):
            for model in (("ResNet-8", "DS-CNN") if models_named == "both models" else (models_named,)):
                documented[(mode, model)] = (int(bad), int(samples))
    files = {"pretrainedResnet_quant.tflite": "ResNet-8", "kws_ref_model.tflite": "DS-CNN"}
    tallies = re.findall(r"^(\S+): (tflm mode vs tflite-micro|litert mode vs LiteRT \(default\)): "
                         r"(\d+)/(\d+) samples differ", reference, re.M)
    assert len(tallies) == 4 and len(documented) == 4, (reference, documented)
    for file, label, bad, samples in tallies:
        doc_bad, doc_samples = documented[(label.split(" ")[0], files[file])]
        drift.check(f"{file} {label}", "inputs", doc_samples, int(samples))
        drift.check(f"{file} {label}", "differing samples", doc_bad, int(bad))
    arena = numbers(row("ResNet-8 planned arena")[2])[0]
    drift.check("ResNet-8 planned arena", "arena", arena, int(found[("ResNet-8", "tflm")][6]))
    ds_arena = re.search(r"DS-CNN's arena is ([\d,]+) B", section(FOUNDATION)).group(1)
    drift.check("DS-CNN planned arena", "arena", numbers(ds_arena)[0], int(found[("DS-CNN", "tflm")][6]))
    drift.assert_none(at_least=20)


def test_tflm_arena_paragraph(mlperf_dir, tmp_path):
    """"TFLM's arena for it is N B": the total tflite-micro's interpreter allocates for DS-CNN, as
    its recording allocator prints it (the allocator writes to the process's own stdout, so in a
    child process)."""
    probe = ("import sys\nfrom tflite_micro.python.tflite_micro import runtime\n"
             "runtime.Interpreter.from_file(sys.argv[1]).print_allocations()\n")
    result = subprocess.run([sys.executable, "-c", probe, str(mlperf_dir / "kws_ref_model.tflite")],
                            capture_output=True, text=True, cwd=tmp_path)
    total = re.search(r"Arena allocation total (\d+) bytes", result.stdout + result.stderr)
    assert total, result.stdout[-2000:] + result.stderr[-2000:]
    documented = re.search(r"TFLM's arena for it is ([\d,]+) B", section(FOUNDATION)).group(1)
    drift = Drift(FOUNDATION)
    drift.check("DS-CNN under tflite-micro", "arena", numbers(documented)[0], int(total.group(1)))
    drift.assert_none(at_least=1)


def test_digits_cnn_row(tmp_path):
    """The digits CNN row: int8 against float accuracy of `tests/test_ptq.py`'s model and data
    ("96.73% vs 96.47% (397 test digits ...") as `docs/benchmarks/keras_ptq_bench.py digits`
    measures them, and `mcucompress demo`'s ("demo 97.33% vs 97.33% (450 test digits)"); the
    figures after the first clause's parenthesis are records."""
    from mcucompress.demo import load_digits_data, run_demo

    cell = next(row[2] for row in table_rows(FOUNDATION, 4) if row[0].startswith("digits CNN"))
    ptq = re.match(r"([\d.]+)% vs ([\d.]+)% \((\d+) test digits", cell).groups()
    demo = re.search(r"demo ([\d.]+)% vs ([\d.]+)% \((\d+) test digits\)", cell).groups()
    out = run_script(["docs/benchmarks/keras_ptq_bench.py", "digits"], tmp_path)
    images, float_acc, int8_acc = re.search(r"digits CNN \((\d+) test images\): float ([\d.]+), ours int8 ([\d.]+)",
                                            out).groups()
    drift = Drift(FOUNDATION)
    drift.check("digits CNN test digits", "inputs", float(ptq[2]), int(images))
    drift.check("digits CNN int8", "accuracy", float(ptq[0]), 100 * float(int8_acc))
    drift.check("digits CNN float", "accuracy", float(ptq[1]), 100 * float(float_acc))
    report = run_demo(tmp_path / "demo")
    drift.check("demo test digits", "inputs", float(demo[2]), len(load_digits_data().y_test))
    drift.check("demo int8", "accuracy", float(demo[0]), 100 * report.int8_accuracy)
    drift.check("demo float", "accuracy", float(demo[1]), 100 * report.float_accuracy)
    drift.assert_none(at_least=6)


def within_ratio(documented: str, measured: float, drift: tuple[float, str]) -> bool:
    """A quotient the doc writes to some decimals ("20.9", "1.36") of two figures that may each
    drift by ``drift`` (a percentage): within twice that drift, plus the rounding of the last decimal."""
    amount, unit = drift
    assert unit in ("%", "exact"), drift
    decimals = len(documented.partition(".")[2])
    return abs(measured - float(documented)) <= 2 * amount / 100 * measured + 0.5 * 10 ** -decimals + 1e-12


def same_significant(documented: str, measured: float) -> bool:
    """A MicroNet score as the doc writes it ("0.0003876", "7.308e-05") equals the measured one
    at as many significant digits."""
    mantissa = documented.lower().split("e")[0].replace(".", "").lstrip("0")
    return f"{measured:.{max(len(mantissa), 1)}g}" == f"{float(documented):.{max(len(mantissa), 1)}g}"


# -- Issue 6 and issue 11: LeNet-300-100 pruned and clustered, encoded, and `fit` on it ---------------

ENCODED = "## Compression that survives onto the device"


def test_encoded_and_lenet_fit_tables(shared_dir, tmp_path):
    """Both issue 6 tables (bench_encoded.py trains LeNet-300-100 anew) and the LeNet rows of the
    `fit` table (bench_fit.py on the same trained models)."""
    data = str(shared_dir / "datasets" / "mnist10k.npz")
    run_script(["bench_encoded.py", "--data", data, "--out", str(tmp_path / "encoded"),
                "--doc", str(tmp_path / "encoded.md")], tmp_path)
    run_script(["bench_fit.py", "--only", "lenet", "--data", data, "--encoded", str(tmp_path / "encoded"),
                "--out", str(tmp_path / "fit"), "--doc", str(tmp_path / "fit.md")], tmp_path)
    r = json.loads((tmp_path / "encoded" / "results.json").read_text())
    lenet = json.loads((tmp_path / "fit" / "results.json").read_text())["lenet"]
    drift = Drift(ENCODED)
    acceptance = {row[0].split(" (")[0]: row for row in table_rows(ENCODED, 3)}
    stored = acceptance["stored weights"]
    float_bytes = numbers(stored[1])[1]
    weights, ratio, constants, ratio_constants = numbers(stored[2])
    measured = r["compressed_encoded"]["qemu"]["constants"]
    drift.check("stored weights", "weight bytes", weights, measured["weights"])
    drift.check("stored weights", "compression ratio", ratio, round(float_bytes / measured["weights"], 1))
    drift.check("all stored constants", "weight bytes", constants, measured["all_constants"])
    drift.check("all stored constants", "compression ratio", ratio_constants,
                round(float_bytes / measured["all_constants"], 1))
    float_accuracy = numbers(acceptance["accuracy"][1])[1]
    accuracy = numbers(acceptance["accuracy"][2])[0]
    drift.check("float LeNet-300-100", "accuracy", float_accuracy, 100 * r["float_accuracy"])
    drift.check("encoded int8 C", "accuracy", accuracy, 100 * r["compressed_encoded"]["host"]["accuracy"])
    assert acceptance["runs on mps2-an386"][2] == "yes"
    assert all(all(r[k]["qemu"]["identical_to"].values()) and r[k]["host"]["identical_to_reference"]
               for k in ("baseline_dense", "compressed_encoded", "compressed_speed")), r
    layer_cell = next(row for key, row in acceptance.items() if key.startswith("784x300 layer"))[2]
    csr, dense = (numbers(x)[0] for x in re.search(r"([\d,]+) vs dense fast kernel ([\d,]+)", layer_cell).groups())
    drift.check("784x300 layer at 90%, CSR 8-bit", "layer instructions", csr, r["fc784x300"]["csr8"]["instructions"])
    drift.check("784x300 layer at 90%, dense", "layer instructions", dense, r["fc784x300"]["dense"]["instructions"])
    exports = {row[0]: row for row in table_rows(ENCODED, 4)}
    for start, label, score_of in (("dense int8", "baseline_dense", "m4_dense"),
                                   ("pruned + clustered, encoded, `--optimize size`", "compressed_encoded",
                                    "m4_compressed_size"),
                                   ("pruned + clustered, encoded, `--optimize speed`", "compressed_speed",
                                    "m4_compressed_size")):
        row = exports[start]
        q = r[label]["qemu"]
        drift.check(start, "flash", numbers(row[1])[0], q["flash_bytes_without_vectors"])
        drift.check(start, "instructions", numbers(row[2])[0], q["instructions_per_inference"][0])
        drift.checked += 1
        if not same_significant(row[3], lenet[score_of]["micronet"]["score"]):
            drift.found.append(f"{start} MicroNet score: doc {row[3]}, measured {lenet[score_of]['micronet']['score']}")
    drift.assert_none(at_least=17)

    fit = Drift(FIT)
    rows = table_rows(FIT, 4)   # the acceptance table's rows come first; later tables are records of their round
    fit_row = next(row for row in rows if row[0].startswith("LeNet-300-100 pruned 92%"))
    size_row = next(row for row in rows if row[0].startswith("the same, `--optimize size`"))
    fitted, dense_instructions = numbers(fit_row[2])[:2]
    fit.check("LeNet fit on mps2-an386", "lenet instructions", fitted, lenet["m4_compressed_fit"]["instructions"])
    fit.check("LeNet dense int8 on mps2-an386", "lenet instructions", dense_instructions,
              lenet["m4_dense"]["instructions"])
    flash_fit, flash_dense = (numbers(x)[0] for x in re.search(r"([\d,]+) B flash vs ([\d,]+) B", fit_row[2]).groups())
    fit.check("LeNet fit on mps2-an386", "lenet flash", flash_fit, lenet["m4_compressed_fit"]["flash_bytes"])
    fit.check("LeNet dense int8 on mps2-an386", "lenet flash", flash_dense, lenet["m4_dense"]["flash_bytes"])
    stated = re.search(r"fc1 and fc2 as `(\w+)`", fit_row[2]).group(1)
    chosen = lenet["m4_compressed_fit"]["encodings"]
    assert chosen["fc1"] == chosen["fc2"] == stated, (stated, chosen)
    size_instructions, size_ratio = numbers(size_row[2])[:2]
    fit.check("LeNet size on mps2-an386", "lenet instructions", size_instructions,
              lenet["m4_compressed_size"]["instructions"])
    fit.checked += 1
    if not within_ratio(re.search(r"= ([\d.]+)x", size_row[2]).group(1), lenet["m4_compressed_size"]["instructions"]
                        / lenet["m4_dense"]["instructions"], fit.allowed["lenet instructions"]):
        fit.found.append(f"LeNet size / dense: doc {size_ratio}x")
    stored = numbers(re.search(r"same plan and ([\d,]+) stored bytes", size_row[2]).group(1))[0]
    fit.check("LeNet size, stored weights", "lenet flash", stored, lenet["m4_compressed_size"]["plan"]["weight_bytes"])
    for cell, key in ((re.search(r"^([\d.e-]+)", fit_row[3]).group(1), "m4_compressed_fit"),
                      (re.search(r"dense int8: ([\d.e-]+)", fit_row[3]).group(1), "m4_dense"),
                      (re.search(r"^([\d.e-]+)", size_row[3]).group(1), "m4_compressed_size")):
        fit.checked += 1
        if not same_significant(cell, lenet[key]["micronet"]["score"]):
            fit.found.append(f"{key} MicroNet score: doc {cell}, measured {lenet[key]['micronet']['score']}")
    fit.assert_none(at_least=10)


CODEBOOK_ROUND3 = "### Codebooks in the MAC loop, Deep Compression on a CNN"
COUNTS = r"([\d,]+) effective 32-bit parameters and ([\d,]+) (?:math )?ops"


def test_micronet_counts(tmp_path):
    """The MicroNet parameter and op counts the doc states in prose: the autoencoder and LeNet-300-100
    (fit section), LeNet again (issue 6 section) and the MNIST CNN (round-3 codebook section), from
    one run of scripts/micronet_scores.py (the builders and exports of the benchmark scripts)."""
    run_script(["micronet_scores.py", "autoencoder", "lenet", "deep_cnn", "--json", str(tmp_path / "scores.json")],
               tmp_path)
    scores = json.loads((tmp_path / "scores.json").read_text())

    def counts(section_name: str, label: str) -> tuple[float, float]:
        return scores[section_name][label]["params"], scores[section_name][label]["ops"]

    fit_text = " ".join(section(FIT).split())
    fit = Drift(FIT)
    params, ops = numbers(" ".join(re.search(r"The autoencoder: " + COUNTS, fit_text).groups()))
    for label in scores["autoencoder"]:  # "whatever the encoding": every export of it
        for what, documented, measured in zip(("parameters", "ops"), (params, ops), counts("autoencoder", label)):
            fit.check(f"autoencoder {label} {what}", "autoencoder micronet counts", documented, measured)
    lenet = re.search(r"LeNet pruned \+ clustered ([\d,]+) and ([\d,]+) for both exports, dense int8 ([\d,]+) and "
                      r"([\d,]+)", fit_text).groups()
    compressed = ("pruned + clustered, default (fit)", "pruned + clustered, --optimize size")
    for label, documented in ((compressed[0], lenet[:2]), (compressed[1], lenet[:2]),
                              ("dense int8 (--optimize none)", lenet[2:])):
        for what, doc_value, measured in zip(("parameters", "ops"), documented, counts("lenet", label)):
            fit.check(f"LeNet {label} {what}", "lenet micronet counts", numbers(doc_value)[0], measured)
    fit.assert_none(at_least=2 * len(scores["autoencoder"]) + 6)

    encoded = Drift(ENCODED)
    found = re.search(COUNTS + r" dense; ([\d,]+) and ([\d,]+) pruned \+ clustered", " ".join(section(ENCODED).split()))
    dense, pruned = found.groups()[:2], found.groups()[2:]
    for label, documented in (("dense int8 (--optimize none)", dense), (compressed[0], pruned), (compressed[1], pruned)):
        for what, doc_value, measured in zip(("parameters", "ops"), documented, counts("lenet", label)):
            encoded.check(f"LeNet {label} {what}", "micronet counts", numbers(doc_value)[0], measured)
    encoded.assert_none(at_least=6)

    cnn = Drift(CODEBOOK_ROUND3)
    text = " ".join(section(CODEBOOK_ROUND3).split())
    found = re.search(r"pruned \+ clustered " + COUNTS + r", dense int8 ([\d,]+) and ([\d,]+)", text).groups()
    for label, documented in (("pruned 80% + 15 clusters, --optimize size", found[:2]),
                              ("dense int8 (--optimize none)", found[2:])):
        for what, doc_value, measured in zip(("parameters", "ops"), documented, counts("deep_cnn", label)):
            cnn.check(f"MNIST CNN {label} {what}", "micronet counts", numbers(doc_value)[0], measured)
    cnn.assert_none(at_least=4)


# -- Issue 11: Deep Compression on an MNIST CNN ----------------------------------------------------

DEEP_CNN = re.compile(
    r"`fit --flash-budget (?P<tight>\d+)` (?P<bytes>[\d,]+) B = (?P<ratio>[\d.]+)x below float32, int8 (?P<int8>[\d.]+)% "
    r"against float (?P<float>[\d.]+)%.*?M4 (?P<m4>[\d,]+) against dense (?P<m4_dense>[\d,]+) = (?P<m4_ratio>[\d.]+)x.*?"
    r"conv2 4-bit codebook (?P<conv2>[\d,]+) against (?P<conv2_dense>[\d,]+) = (?P<conv2_ratio>[\d.]+)x, fc1 sparse "
    r"Huffman (?P<fc1>[\d,]+)\), M3 (?P<m3>[\d,]+), M55 (?P<m55>[\d,]+) \(dense (?P<m3_dense>[\d,]+) / "
    r"(?P<m55_dense>[\d,]+)[;)].*?`fit --flash-budget (?P<budget>\d+)` (?P<fit_bytes>[\d,]+) B = (?P<fit_ratio>[\d.]+)x "
    r"at (?P<fit_speed>[\d.]+)x \(fc1 (?P<fit_fc1>\w+)\)\. `--optimize size` (?P<size_bytes>[\d,]+) B = "
    r"(?P<size_ratio>[\d.]+)x at (?P<size_speed>[\d.]+)x dense on the M4.*?\(M3 (?P<size_m3>[\d,]+), M55 "
    r"(?P<size_m55>[\d,]+)\)", re.S)


def test_deep_compression_cnn(shared_dir, tmp_path):
    """The Deep Compression paragraph (`compress --prune 0.8 --cluster 16` on the MNIST CNN,
    bench_deep_cnn.py trains it anew, seeded): weight bytes and ratios, accuracies, whole-model and
    per-layer instructions on the three cores of `fit --flash-budget` at the tight budget, the
    looser budget's export and `--optimize size`."""
    run_script(["bench_deep_cnn.py", "--data", str(shared_dir / "datasets" / "mnist10k.npz"),
                "--out", str(tmp_path / "deep"), "--doc", str(tmp_path / "deep.md")], tmp_path)
    r = json.loads((tmp_path / "deep" / "results.json").read_text())
    doc = DEEP_CNN.search(section(CODEBOOK)).groupdict()
    variants = r["variants"]
    dense = variants["baseline, dense int8 (--optimize none)"]
    size = variants["compressed, --optimize size"]
    fit = variants[f"compressed, --optimize fit --flash-budget {doc['budget']}"]
    tight = variants[f"compressed, --optimize fit --flash-budget {doc['tight']}"]
    drift = Drift(CODEBOOK)

    def figure(key: str) -> float:
        return numbers(doc[key])[0]

    def instructions(variant: dict, board: str) -> int:
        return variant["bench"]["cores"][board]["instructions"]

    def layer(variant: dict, name: str) -> int:
        (row,) = [row for row in variant["bench"]["layers"] if row["layer"].split(":")[0].endswith(name)]
        return row["instructions"]["mps2-an386"]

    def ratio(what: str, documented: str, value: float, figure: str) -> None:
        """A quotient of two figures, each within the drift of ``figure``: within twice it, plus
        the rounding of the doc's last decimal."""
        drift.checked += 1
        if not within_ratio(documented, value, drift.allowed[figure]):
            drift.found.append(f"{what}: doc {documented}x, measured {value:.3f}x")

    float_bytes = r["float32_weight_bytes"]
    drift.check("MNIST CNN fit --flash-budget (tight)", "cnn weight bytes", figure("bytes"), tight["weight_bytes"])
    ratio("tight fit: below float32", doc["ratio"], float_bytes / tight["weight_bytes"], "cnn weight bytes")
    drift.check("MNIST CNN int8 C", "cnn accuracy", figure("int8"), 100 * tight["host"]["accuracy"])
    drift.check("MNIST CNN float", "cnn accuracy", figure("float"), 100 * r["float_accuracy"])
    for key, variant, board in (("m4", tight, "mps2-an386"), ("m4_dense", dense, "mps2-an386"),
                                ("m3", tight, "lm3s6965evb"), ("m3_dense", dense, "lm3s6965evb"),
                                ("m55", tight, "mps3-an547"), ("m55_dense", dense, "mps3-an547"),
                                ("size_m3", size, "lm3s6965evb"), ("size_m55", size, "mps3-an547")):
        drift.check(f"MNIST CNN {key}", "cnn instructions", figure(key), instructions(variant, board))
    ratio("tight fit / dense on the M4", doc["m4_ratio"],
          instructions(tight, "mps2-an386") / instructions(dense, "mps2-an386"), "cnn instructions")
    drift.check("conv2 as a 4-bit codebook", "cnn instructions", figure("conv2"), layer(tight, "conv2"))
    drift.check("conv2 dense", "cnn instructions", figure("conv2_dense"), layer(dense, "conv2"))
    ratio("conv2 codebook / dense", doc["conv2_ratio"], layer(tight, "conv2") / layer(dense, "conv2"), "cnn instructions")
    drift.check("fc1 sparse Huffman", "cnn instructions", figure("fc1"), layer(tight, "fc1"))
    drift.check("MNIST CNN fit --flash-budget", "cnn weight bytes", figure("fit_bytes"), fit["weight_bytes"])
    ratio("fit: below float32", doc["fit_ratio"], float_bytes / fit["weight_bytes"], "cnn weight bytes")
    ratio("fit / dense on the M4", doc["fit_speed"], instructions(fit, "mps2-an386") / instructions(dense, "mps2-an386"),
          "cnn instructions")
    assert fit["encodings"]["fc1"] == doc["fit_fc1"], fit["encodings"]
    drift.check("MNIST CNN --optimize size", "cnn weight bytes", figure("size_bytes"), size["weight_bytes"])
    ratio("size: below float32", doc["size_ratio"], float_bytes / size["weight_bytes"], "cnn weight bytes")
    ratio("size / dense on the M4", doc["size_speed"], instructions(size, "mps2-an386") / instructions(dense, "mps2-an386"),
          "cnn instructions")
    assert all(all(v["bench"]["cores"][b]["identical_to"].values()) and v["host"]["identical_to_reference"]
               for v in variants.values() for b in v["bench"]["cores"]), variants
    drift.assert_none(at_least=23)


# -- Issue 10: the benchmark suite beyond the tuning set --------------------------------------------

SUITE = "## Fast on every model"
SUITE_MODELS = {"ResNet-8": "resnet8", "DS-CNN": "dscnn", "MobileNet V1": "mobilenet_v1_025",
                "MobileNetV2": "mobilenet_v2_035", "SeparableConv CNN": "separable_cnn",
                "dead_channels": "dead_channels", "conv1d_kws": "conv1d_kws", "autoencoder": "fc_autoencoder"}
SUITE_ROWS = {"M4 1x1 conv": ("mps2-an386", "1x1 conv"), "M4 kxk conv": ("mps2-an386", "kxk conv"),
              "M4 depthwise": ("mps2-an386", "depthwise"), "M4 fully connected": ("mps2-an386", "fully connected"),
              "M55 1x1 conv": ("mps3-an547", "1x1 conv"), "M55 depthwise": ("mps3-an547", "depthwise")}
_NAMES = "|".join(re.escape(n) for n in sorted(SUITE_MODELS, key=len, reverse=True))
NAMED_FIRST = re.compile(rf"(?P<name>{_NAMES}) (?P<value>\d+\.\d+)(?!\d| does not fit)")
VALUE_FIRST = re.compile(rf"(?P<value>\d+\.\d+) (?:for )?(?P<name>{_NAMES})")


def current_figures(cell: str) -> str:
    """A cell without its history: what follows its first verdict (" - met", " - not met") and the
    "round N: ..." clauses before it are records of earlier rounds."""
    current = re.split(r" - (?:not )?met\b", cell)[0]
    return re.sub(r"round \d+: [^;)]*", "", current)


def suite_tables(out: str) -> tuple[dict, dict, list[str]]:
    """bench_suite.py's output: {model: model row}, {(model or "whole suite", board): {op type:
    MAC/instr}}, and its notes (skipped boards, portable kernels)."""
    models, types = {}, {}
    for table in tables(out):
        header = table[0]
        for row in table[1:]:
            if header[1] == "MACs":
                models[row[0]] = dict(zip(header, row))
            elif header[1] == "board":
                types[(row[0].strip("*"), row[1])] = {k: float(v) for k, v in zip(header[2:], row[2:]) if v}
    notes = [line for line in out.splitlines() if line.startswith("- ")]
    return models, types, notes


def test_suite_table(shared_dir, tmp_path):
    """The issue 10 acceptance table: MAC/instr per op type over the suite and per model, the M55
    speed-up per model, the MLPerf rows, the dead-channel model, and no portable kernel."""
    out = run_script(["bench_suite.py", "--work", str(tmp_path / "suite")], tmp_path)
    models, types, notes = suite_tables(out)
    assert not [n for n in notes if "portable kernels" in n], notes
    drift = Drift(SUITE)
    rows = {row[0]: row for row in table_rows(SUITE, 3)}
    for label, (board, kind) in SUITE_ROWS.items():
        cell = current_figures(rows[label][2])
        lead = re.match(r"(\d+\.\d+)", cell)
        if lead:
            drift.check(f"{label}, whole suite", "mac per instruction", float(lead.group(1)),
                        types[("whole suite", board)][kind])
        named = {(m["name"], m["value"]) for p in (NAMED_FIRST, VALUE_FIRST) for m in p.finditer(cell)}
        for name, value in named:
            drift.check(f"{label}, {name}", "mac per instruction", float(value), types[(SUITE_MODELS[name], board)][kind])
        span = re.search(r"(\d+\.\d+)-(\d+\.\d+)(?: per model|[;)])", cell)
        if span:
            per_model = [t[kind] for (model, b), t in types.items() if b == board and model != "whole suite" and kind in t]
            drift.check(f"{label}, lowest model", "mac per instruction", float(span.group(1)), min(per_model))
            drift.check(f"{label}, highest model", "mac per instruction", float(span.group(2)), max(per_model))
    speed = current_figures(next(row for key, row in rows.items() if key.startswith("M55 every model"))[2])
    for match in NAMED_FIRST.finditer(speed):
        drift.check(f"M55 against M4, {match['name']}", "speed-up", float(match["value"]),
                    float(models[SUITE_MODELS[match["name"]]]["M4/M55"]))
    for name in re.findall(rf"({_NAMES}) \d+\.\d+ does not fit", speed):
        assert models[SUITE_MODELS[name]]["M55 instructions"] == "-", models[SUITE_MODELS[name]]
        assert any(n.startswith(f"- {SUITE_MODELS[name]} on mps3-an547") for n in notes), notes
    for label, model in (("ResNet-8 on M4", "resnet8"), ("DS-CNN on M4", "dscnn")):
        cell = rows[label][2]
        drift.check(label, "mlperf instructions", numbers(cell)[0], numbers(models[model]["M4 instructions"])[0])
        flash = re.search(r"flash ([\d,]+) B", cell).group(1)
        drift.check(label, "mlperf flash", numbers(flash)[0], numbers(models[model]["M4 flash (B)"])[0])
    dead = next(row for key, row in rows.items() if key.startswith("dead channels"))[2]
    m4, m55 = re.search(r"-> ([\d,]+) instructions.*M55 [\d,]+ -> ([\d,]+)", dead).groups()
    drift.check("dead_channels on the M4", "instructions", numbers(m4)[0],
                numbers(models["dead_channels"]["M4 instructions"])[0])
    drift.check("dead_channels on the M55", "instructions", numbers(m55)[0],
                numbers(models["dead_channels"]["M55 instructions"])[0])
    assert numbers(models["dead_channels"]["constant / patched channels"])[0] > 0, models["dead_channels"]
    drift.assert_none(at_least=25)


# -- Issues 3 and 4: the forced-path rows of the Cortex-M table and the int8 fully connected layer ----

CORTEX_M = "## Cortex-M: QEMU runs"
FORCED = {"mcucompress, DSP path only": "MCC_NO_MVE=1", "mcucompress, portable C path": "MCC_FORCE_REFERENCE=1"}
CORES = {"M4": "mps2-an386", "M55": "mps3-an547"}


def test_cortex_m_forced_path_rows(mlperf_dir, tmp_path):
    """The DSP-path-only and portable-path rows (tests/test_benchmarks_doc.py holds the default
    builds' rows)."""
    from test_benchmarks_doc import MODELS

    drift = Drift(CORTEX_M)
    for row in table_rows(CORTEX_M, 7):
        if row[0] not in MODELS or row[1] not in FORCED:
            continue
        board = CORES[row[2].split(" ")[0]]
        measured = bench(mlperf_dir / MODELS[row[0]], [board], tmp_path / f"w{drift.checked}", (FORCED[row[1]],))[board]
        for figure, cell, key in (("instructions", row[3], "instructions"), ("flash", row[5], "flash_bytes"),
                                  ("ram", row[6], "ram_bytes")):
            drift.check(f"{row[0]}, {row[1]} on {board}", figure, numbers(cell)[0], measured[key])
    drift.assert_none(at_least=12)


def test_fully_connected_int8_paragraph(tmp_path):
    """"a 784x300 layer: F B flash and N instructions on M4, M on M55 with MVE, against P for the
    portable kernel" (scripts/bench_fc_int8.py, random weights; whole inferences of the one-layer
    model, as issue 6's "dense fast kernel 289,208")."""
    out = run_script(["bench_fc_int8.py", "--work", str(tmp_path / "fc")], tmp_path)
    (table,) = tables(out)
    runs = {(row[0].split(" ")[0], row[1], row[2].split(":")[0]): row for row in table[1:]}
    text = " ".join(section(CORTEX_M).split())
    flash, m4, m55, portable = re.search(r"a 784x300 layer: ([\d,]+) B flash and ([\d,]+) instructions on M4, "
                                         r"([\d,]+) on M55 with MVE, against ([\d,]+) for the portable kernel",
                                         text).groups()
    drift = Drift(CORTEX_M)

    def layer(board: str, build: str) -> list[str]:
        return runs[("dense784x300", board, build)]

    drift.check("784x300 layer on the M4", "flash", numbers(flash)[0], numbers(layer("mps2-an386", "--optimize size")[4])[0])
    for what, documented, row in (("M4", m4, layer("mps2-an386", "--optimize size")),
                                  ("M55 with MVE", m55, layer("mps3-an547", "--optimize size")),
                                  ("M4 portable", portable, layer("mps2-an386", "--optimize size, MCC_FORCE_REFERENCE=1"))):
        drift.check(f"784x300 layer, {what}", "instructions", numbers(documented)[0], numbers(row[6])[0])
    drift.assert_none(at_least=4)


# -- Issue 15: tflite-micro's example models and the zoo --------------------------------------------

BREADTH = "## Operator breadth and the outside oracle"


def _breadth_row(start: str) -> list[str]:
    return next(row for row in table_rows(BREADTH, 3) if row[0].startswith(start))


def test_tflm_examples_rows(shared_dir, tmp_path):
    """"5 of 5" example models byte-identical (scripts/tflm_examples.py), the two LSTM examples
    on mps2-an386 (instructions per invoke over 8 consecutive inputs, flash and RAM) and TFLM's
    two-input simple_add there (`run --samples 2`)."""
    import numpy as np

    sys.path.insert(0, str(REPO / "scripts"))
    from tflm_examples import realistic_inputs

    from mcucompress.data import port_array_names
    from mcucompress.export import export
    from mcucompress.targets.manifest import read_manifest
    from mcucompress.targets.runner import run_model

    out = run_script(["tflm_examples.py", "--out", str(tmp_path / "tflm.md")], tmp_path)
    matched, total = re.search(r"\*\*(\d+) of (\d+)\*\*", (tmp_path / "tflm.md").read_text()).groups()
    drift = Drift(BREADTH)
    documented = re.search(r"\*\*(\d+) of (\d+)\*\*", _breadth_row("tflite-micro's example models")[2]).groups()
    drift.check("tflite-micro examples byte-identical", "counts", float(documented[0]), int(matched))
    drift.check("tflite-micro examples", "counts", float(documented[1]), int(total))
    cell = " ".join(_breadth_row("the two LSTM examples")[2].split())
    for name, file in (("mnist_lstm", "trained_lstm_int8.tflite"), ("dtln", "dtln_noise_suppression.tflite")):
        figures = re.search(rf"{name}: (\d+) consecutive \w+ identical[^;]*?, ([\d,]+)-([\d,]+) instructions per "
                            rf"invoke.*?flash ([\d,]+) B, RAM ([\d,]+) B", cell).groups()
        samples = int(figures[0])
        tree = export(shared_dir / "models" / "tflm-examples" / file, tmp_path / name)
        ports = read_manifest(tree).inputs
        batches = [realistic_inputs(file, p, samples, seed=k) for k, p in enumerate(ports)]
        np.savez(tmp_path / f"{name}.npz", **dict(zip(port_array_names("x", len(ports)), batches)))
        report = run_model(tree, "mps2-an386", data=tmp_path / f"{name}.npz", samples=samples)
        assert report.checks and all(report.checks.values()), (name, report.checks)
        assert "tflite-micro" in report.checks, report.checks
        drift.check(f"{name}, fewest instructions per invoke", "instructions", numbers(figures[1])[0],
                    min(report.instructions))
        drift.check(f"{name}, most instructions per invoke", "instructions", numbers(figures[2])[0],
                    max(report.instructions))
        drift.check(f"{name}", "flash", numbers(figures[3])[0], report.footprint.flash_bytes)
        drift.check(f"{name}", "ram", numbers(figures[4])[0], report.footprint.ram_bytes)
    two_inputs = " ".join(_breadth_row("models with two inputs and two outputs")[2].split())
    instructions, ram = re.search(r"`simple_add_model.tflite`: identical to host, reference and tflite-micro, "
                                  r"([\d,]+) instructions, ([\d,]+) B RAM", two_inputs).groups()
    tree = export(shared_dir / "models" / "tflm-examples" / "simple_add_model.tflite", tmp_path / "simple_add")
    report = run_model(tree, "mps2-an386", samples=2)
    assert report.checks.get("tflite-micro") and all(report.checks.values()), report.checks
    drift.check("simple_add on mps2-an386", "instructions", numbers(instructions)[0], max(report.instructions))
    drift.check("simple_add on mps2-an386", "ram", numbers(ram)[0], report.footprint.ram_bytes)
    assert "byte-identical" in out
    drift.assert_none(at_least=12)


def test_zoo_counts(tmp_path):
    """The zoo rows: models exporting and verifying from `.keras` ("30 of 33") and `.tflite` files
    matching tflite-micro ("29 of the 29" it runs, "33 measured"), no silent errors."""
    run_script(["zoo.py", "--out", str(tmp_path / "zoo.md")], tmp_path)
    table = (tmp_path / "zoo.md").read_text()
    keras_ok, rows = re.search(r"\*\*\.keras: (\d+) of (\d+)\*\*", table).groups()
    tflite_ok, tflm_runs = re.search(r"\*\*\.tflite: (\d+) of \d+\*\*.*?tflite-micro runs (\d+) of", table).groups()
    assert "(no silent errors" in table, table[:2000]
    drift = Drift(BREADTH)
    keras = re.search(r"\*\*(\d+) of (\d+)\*\*", _breadth_row("zoo models exporting and verifying")[2]).groups()
    drift.check(".keras exports that verify", "counts", float(keras[0]), int(keras_ok))
    drift.check("zoo models", "counts", float(keras[1]), int(rows))
    cell = _breadth_row("zoo models matching tflite-micro")[2]
    matched, runs = re.search(r"\*\*(\d+) of the (\d+)\*\* files tflite-micro runs \((\d+) measured", cell).groups()[:2]
    measured = re.search(r"\((\d+) measured", cell).group(1)
    drift.check(".tflite files byte-identical", "counts", float(matched), int(tflite_ok))
    drift.check(".tflite files tflite-micro runs", "counts", float(runs), int(tflm_runs))
    drift.check("zoo models", "counts", float(measured), int(rows))
    assert "no silent errors" in _breadth_row("zoo models exporting and verifying")[2]
    drift.assert_none(at_least=5)


# -- Issue 14: lecture techniques (seeded training, figures the mean of the doc's seeds) -------------

LECTURES = "## Lecture techniques"


def run_lecture(bench_name: str, options: list[str], tmp_path: Path) -> dict:
    """scripts/bench_lectures.py BENCH OPTIONS with its results in tmp_path; the saved results."""
    run_script(["bench_lectures.py", bench_name, *options, "--out", str(tmp_path / "lectures")], tmp_path)
    return json.loads((tmp_path / "lectures" / f"{bench_name}.json").read_text())


def lecture_table(first_cell: str, cells: int) -> dict[str, list[str]]:
    """The lecture table whose first data row starts with ``first_cell``: {first cell: row}."""
    for table in tables(section(LECTURES)):
        if len(table[0]) == cells and len(table) > 1 and table[1][0].startswith(first_cell):
            return {row[0]: row for row in table[1:]}
    raise AssertionError(f"no table starting with {first_cell!r} in {LECTURES!r}")


def _command_options(paragraph_start: str) -> list[str]:
    """The options of the `scripts/bench_lectures.py BENCH ...` command the doc names in the
    paragraph that starts with ``paragraph_start``."""
    text = section(LECTURES)
    paragraph = text[text.index(paragraph_start):]
    return re.search(r"`scripts/bench_lectures.py \w+([^`]*)`", paragraph).group(1).split()


def test_lecture_obs_table(shared_dir, tmp_path):
    r = run_lecture("obs", _command_options("**Optimal Brain Surgeon**"), tmp_path)
    rows = lecture_table("float baseline", 5)
    drift = Drift(LECTURES)
    drift.check("float baseline", "accuracy", numbers(rows["float baseline"][2])[0], 100 * r["baseline"])
    drift.checked += 1
    if not same_significant(rows["float baseline"][4], r["baseline_micronet"]):
        drift.found.append(f"float baseline MicroNet score: doc {rows['float baseline'][4]}, measured {r['baseline_micronet']}")
    labels = {"magnitude (polynomial schedule)": "magnitude (polynomial schedule)",
              "L-OBS, one-shot in 3 rounds, then fine-tuning": "OBS (L-OBS, one-shot, 3 rounds)",
              "L-OBS on the polynomial schedule": "OBS (L-OBS, polynomial schedule)",
              "OBD (Fisher diagonal) on the polynomial schedule": "OBD (Fisher diagonal, polynomial schedule)"}
    measured = {row["method"]: row for row in r["rows"]}
    for label, key in labels.items():
        row, m = rows[label], measured[key]
        drift.check(label, "sparsity", numbers(row[1])[0], round(100 * m["sparsity"]))
        drift.check(label, "accuracy", numbers(row[2])[0], 100 * m["accuracy"])
        drift.check(label, "points lost", numbers(row[3])[0], m["loss_points"])
        if "micronet" in m:
            drift.checked += 1
            if not same_significant(row[4], m["micronet"]):
                drift.found.append(f"{label} MicroNet score: doc {row[4]}, measured {m['micronet']}")
    drift.assert_none(at_least=17)


def _macs_accuracy_score(drift: Drift, label: str, row: list[str], macs: int, accuracy: float,
                         score: float | None) -> None:
    drift.check(label, "conv macs", numbers(row[1])[0], macs)
    drift.check(label, "accuracy", numbers(row[2])[0], 100 * accuracy)
    if score is not None:
        drift.checked += 1
        if not same_significant(row[3], score):
            drift.found.append(f"{label} MicroNet score: doc {row[3]}, measured {score}")


def test_lecture_flatten_table(shared_dir, tmp_path):
    r = run_lecture("flatten", _command_options("**Flattened convolutions**"), tmp_path)
    rows = list(lecture_table("small CNN", 4).values())
    drift = Drift(LECTURES)
    _macs_accuracy_score(drift, "small CNN", rows[0], r["conv_macs_before"], r["baseline"], r["micronet_before"])
    _macs_accuracy_score(drift, "flattened, fitted", rows[1], r["conv_macs_after"], r["fitted"], None)
    _macs_accuracy_score(drift, "flattened + fine-tuning", rows[2], r["conv_macs_after"], r["flattened"],
                         r["micronet_after"])
    # "191,808 (3.41x fewer)" and "95.47% (-1.03)": the ratio at the doc's decimals, the points the
    # fine-tuned model stands from the small CNN (the acceptance's "<= 1 point lost")
    drift.check("flattened, fewer conv MACs", "conv macs", numbers(rows[2][1])[1],
                round(r["conv_macs_before"] / r["conv_macs_after"], 2))
    drift.check("flattened + fine-tuning, against the small CNN", "points lost", numbers(rows[2][2])[1],
                100 * (r["flattened"] - r["baseline"]))
    assert r["export_status"] == 0, r
    drift.assert_none(at_least=10)


def test_lecture_resnet_table(shared_dir, tmp_path):
    r = run_lecture("resnet", _command_options("**Filter pruning across residual adds**"), tmp_path)
    rows = list(lecture_table("small ResNet", 4).values())
    drift = Drift(LECTURES)
    _macs_accuracy_score(drift, "small ResNet", rows[0], r["conv_macs_before"], r["baseline"], r["micronet_before"])
    _macs_accuracy_score(drift, "pruned ResNet", rows[1], r["conv_macs_after"], r["pruned"], r["micronet_after"])
    drift.assert_none(at_least=6)


def test_lecture_autoencoder_paragraph(shared_dir, tmp_path):
    r = run_lecture("autoencoder", _command_options("**Autoencoder**"), tmp_path)
    (run,) = r["runs"]
    text = " ".join(section(LECTURES).split())
    before, after = re.search(r"Reconstruction MSE on x_test: ([\d.]+) before, ([\d.]+) after", text).groups()
    score_before, score_after = re.search(r"MicroNet score \(CIFAR-100 track\): ([\d.e-]+) before, ([\d.e-]+) after",
                                          text).groups()
    drift = Drift(LECTURES)
    drift.check("autoencoder before compress", "mse", float(before), run["mse"]["before"])
    drift.check("autoencoder after compress", "mse", float(after), run["mse"]["after"])
    for what, documented, measured in (("before", score_before, run["micronet"]["before"]["score"]),
                                       ("after", score_after, run["micronet"]["after"]["score"])):
        drift.checked += 1
        if not same_significant(documented, measured):
            drift.found.append(f"autoencoder MicroNet score {what}: doc {documented}, measured {measured}")
    drift.assert_none(at_least=4)


DISTILL_KEYS = {"teacher CNN": "teacher", "student alone, 80 epochs": "alone_same_steps", "student alone": "alone"}


def _distill_check(drift: Drift, rows: dict[str, list[str]], r: dict) -> None:
    import numpy as np

    alone = 100 * r["mean"]["alone"]
    for label, row in rows.items():
        key = next((k for start, k in DISTILL_KEYS.items() if label.startswith(start)), None)
        if key is None:
            temperature, alpha = re.search(r"T=([\d.]+), alpha=([\d.]+)", label).groups()
            key = f"T={float(temperature):g} alpha={float(alpha):g}"
        values = [100 * v for v in r["per_seed"][key]]
        mean_doc, std_doc, *per_seed_doc = numbers(row[1])
        drift.check(label, "accuracy", mean_doc, float(np.mean(values)))
        drift.check(f"{label}, standard deviation", "accuracy", std_doc, float(np.std(values)))
        # "mean ± std (seed 0, seed 1, seed 2)": the seeds' own figures where the cell gives them
        assert len(per_seed_doc) in (0, len(values)), (label, row[1])
        for seed, (documented, measured) in enumerate(zip(per_seed_doc, values)):
            drift.check(f"{label}, seed {seed}", "accuracy", documented, measured)
        if numbers(row[2]):
            drift.check(f"{label}, against the student alone", "accuracy", numbers(row[2])[0],
                        float(np.mean(values)) - alone)


def test_lecture_distill_few_table(shared_dir, tmp_path):
    r = run_lecture("distill_few", [], tmp_path)
    drift = Drift(LECTURES)
    _distill_check(drift, lecture_table("teacher CNN (1,000 labels)", 3), r)
    text = " ".join(section(LECTURES).split())
    pairs = re.search(r"Per seed \(alone / distilled T=4 alpha=0.5\): ([\d., /]+)\.", text).group(1)
    documented = [numbers(pair) for pair in pairs.split(",")]
    assert len(documented) == len(r["per_seed"]["alone"]), pairs
    for seed, (alone, distilled) in enumerate(documented):
        drift.check(f"student alone, seed {seed}", "accuracy", alone, 100 * r["per_seed"]["alone"][seed])
        drift.check(f"distilled T=4 alpha=0.5, seed {seed}", "accuracy", distilled,
                    100 * r["per_seed"]["T=4 alpha=0.5"][seed])
    drift.assert_none(at_least=22)


def test_lecture_distill_table(shared_dir, tmp_path):
    r = run_lecture("distill", [], tmp_path)
    drift = Drift(LECTURES)
    _distill_check(drift, lecture_table("teacher CNN (8,000 labels)", 3), r)
    drift.assert_none(at_least=25)


def test_lecture_exits_paragraph(shared_dir, tmp_path):
    """Seed 0 of the re-measured early exits (the paragraph "Re-measured on ... exits --seeds 3";
    the table above it is a record of the kernels before, see the paragraph)."""
    r = run_lecture("exits", ["--seeds", "1", "--baseline-epochs", "4", "--finetune-epochs", "3"], tmp_path)
    (run,) = r["runs"]
    text = " ".join(section(LECTURES).split())
    doc = re.search(r"seed 0 gives the same accuracies \(full ([\d.]+)%, with the exit ([\d.]+)%, [-\d.]+; exit 0 "
                    r"taken by ([\d,]+) inputs\) at ([\d,]+) against ([\d,]+) instructions per inference, "
                    r"\*\*([\d.]+)%\*\* of the full network \(exit 0: ([\d,]+) on average, full path ([\d,]+)\)",
                    text).groups()
    full, ex = run["full"], run["exits"]
    drift = Drift(LECTURES)
    drift.check("full network", "accuracy", float(doc[0]), 100 * full["c_accuracy"])
    drift.check("with the exit", "accuracy", float(doc[1]), 100 * ex["c_accuracy"])
    drift.check("inputs taking exit 0", "exits taken", numbers(doc[2])[0], ex["per_exit"]["0"]["inputs"])
    drift.check("with the exit, mean", "instructions", numbers(doc[3])[0], ex["mean_instructions"])
    drift.check("full network, mean", "instructions", numbers(doc[4])[0], full["mean_instructions"])
    drift.check("with the exit, share of the full network", "instructions", float(doc[5]),
                100 * ex["mean_instructions"] / full["mean_instructions"])
    drift.check("exit 0, mean", "instructions", numbers(doc[6])[0], ex["per_exit"]["0"]["mean_instructions"])
    drift.check("full path through the exit model, mean", "instructions", numbers(doc[7])[0],
                ex["per_exit"]["1"]["mean_instructions"])
    # the setup paragraph: the exit's threshold (its probability and the int8 softmax output it
    # compares with) and the full network's range over the inputs QEMU ran
    probability, int8_output = re.search(r"at most 0.3 points there\): ([\d.]+) \(int8 softmax output >= (-?\d+)",
                                         text).groups()
    (threshold,) = run["thresholds"]
    drift.check("exit 0 threshold", "exit threshold", float(probability), round(threshold, len(probability) - 2))
    drift.check("exit 0 threshold, int8 softmax output", "exit threshold", float(int8_output),
                round(threshold * 256) - 128)
    low, high = re.search(r"the full network on 100: its count does not depend on the input, ([\d,]+)-([\d,]+)\)",
                          text).groups()
    drift.check("full network, fewest", "instructions", numbers(low)[0], full["min_instructions"])
    drift.check("full network, most", "instructions", numbers(high)[0], full["max_instructions"])
    _exit_trees_micronet(drift, text, tmp_path / "lectures")
    assert full["bit_exact_host"] and ex["bit_exact_host"] and all(ex["qemu_identical"].values()), run
    drift.assert_none(at_least=16)


def _exit_trees_micronet(drift: Drift, text: str, trees: Path) -> None:
    """The MicroNet paragraph of the exported trees (what `mcucompress info TREE` prints): both
    scores at the doc's digits, the full network's effective parameters and its ops in millions
    (counts of non-zero int8 weights, so they move with the trained weights: held exactly)."""
    from mcucompress.report.micronet import tree_micronet

    full_score, params, ops, exit_score = re.search(
        r"full network ([\d.]+) \(([\d,]+) effective parameters, ([\d.]+) M ops\), with the exit ([\d.]*\d)",
        text).groups()
    full, exits = tree_micronet(trees / "cnn_full_c"), tree_micronet(trees / "cnn_exits_c")
    for what, documented, measured in (("full network", full_score, full.score), ("with the exit", exit_score,
                                                                                    exits.score)):
        drift.checked += 1
        if not same_significant(documented, measured):
            drift.found.append(f"{what} MicroNet score: doc {documented}, measured {measured}")
    drift.check("full network, MicroNet effective parameters", "micronet score", numbers(params)[0], round(full.params))
    drift.check("full network, MicroNet ops in millions", "micronet score", float(ops), round(full.ops / 1e6, 1))


# -- Issue 14: HashedNets and product quantization -------------------------------------------------

SHARED_WEIGHTS = "### Hashed and product-quantized weights"


def _shared_weights_row(start: str) -> str:
    return " ".join(next(row for row in table_rows(SHARED_WEIGHTS, 3) if row[0].startswith(start))[2].split())


def run_shared_weights(args: list[str], tmp_path: Path) -> dict:
    run_script(["bench_shared_weights.py", *args, "--out", str(tmp_path / "sw"), "--doc", str(tmp_path / "sw.md")],
               tmp_path)
    return {name: json.loads((tmp_path / "sw" / f"{name}.json").read_text()) for name in ("hashed", "pq")
            if (tmp_path / "sw" / f"{name}.json").is_file()}


def test_hashed_rows(shared_dir, tmp_path):
    """The two HashedNets rows: 3 seeds of hashing at 1/8 with 16 and 4 clusters against pruning
    at 97% and 98% (`hashed --sparsities 0.97 0.98`, the doc's nine processes in one)."""
    h = run_shared_weights(["hashed", "--sparsities", "0.97", "0.98"], tmp_path)["hashed"]
    configs = {row["config"]: row for row in h["configs"]}
    pruned = {round(100 * row["sparsity"]): row for row in h["pruned"]}
    drift = Drift(SHARED_WEIGHTS)
    first = _shared_weights_row("HashedNets, 8x fewer stored weights")
    stored, weights = re.search(r"([\d,]+) stored 4-bit bucket indices for ([\d,]+) weights", first).groups()
    drift.check("hashed 1/8, stored bucket indices", "stored weights", numbers(stored)[0],
                configs["8x16"]["runs"][0]["stored_weights"])
    drift.check("LeNet-300-100", "stored weights", numbers(weights)[0], h["weights"])
    loss, int8, std, float_, hashed = re.search(
        r"\*\*-([\d.]+) points\*\* \(int8 C ([\d.]+)% ± ([\d.]+) vs float ([\d.]+)%, mean of 3 seeds; ([\d.]+)% after "
        r"hashing", first).groups()
    row = configs["8x16"]
    float_mean = 100 * sum(h["float"]) / len(h["float"])
    drift.check("hashed 1/8 + 16 clusters, int8 C", "accuracy", float(int8), 100 * row["int8_mean"])
    drift.check("hashed 1/8 + 16 clusters, seed deviation", "accuracy", float(std), 100 * row["int8_std"])
    drift.check("LeNet-300-100 float", "accuracy", float(float_), float_mean)
    drift.check("hashed 1/8 + 16 clusters, points lost", "accuracy", float(loss), float_mean - 100 * row["int8_mean"])
    drift.check("hashed 1/8 before clustering", "accuracy", float(hashed),
                100 * sum(run["hashed_float"] for run in row["runs"]) / len(row["runs"]))
    second = _shared_weights_row("HashedNets flash image")
    pairs = re.findall(r"([\d,]+) B at ([\d.]+)% ± ([\d.]+)", second)
    for (flash, accuracy, deviation), (what, measured) in zip(pairs, (("hashed 1/8 + 16 clusters", configs["8x16"]),
                                                                       ("pruned 97%", pruned[97]),
                                                                       ("hashed 1/8 + 4 clusters", configs["8x4"]),
                                                                       ("pruned 98%", pruned[98]))):
        drift.check(what, "flash", numbers(flash)[0], measured["flash_mean"])
        drift.check(what, "accuracy", float(accuracy), 100 * measured["int8_mean"])
        drift.check(f"{what}, seed deviation", "accuracy", float(deviation), 100 * measured["int8_std"])
    assert len(pairs) == 4, second
    drift.assert_none(at_least=19)


def test_pq_row(shared_dir, tmp_path):
    """The product-quantization row: fc1 as 8 x 32 on 3 seeds against the dense int8 model."""
    import numpy as np

    p = run_shared_weights(["pq", "--pq-configs", "8x32"], tmp_path)["pq"]
    (pq,) = p["configs"]
    dense = p["dense"]
    cell = _shared_weights_row("product quantization of fc1")
    fc1, fc1_dense, low, high = re.search(r"([\d,]+) vs ([\d,]+) instructions \([\d.]+x; ([\d,]+)-([\d,]+) over the seeds",
                                          cell).groups()
    loss, int8, std, dense_int8, dense_std = re.search(
        r"\*\*-([\d.]+) points\*\* \(int8 C ([\d.]+)% ± ([\d.]+) vs dense int8 ([\d.]+)% ± ([\d.]+)", cell).groups()
    layer = [run["layer_instructions"][0] for run in pq["runs"]]
    drift = Drift(SHARED_WEIGHTS)
    drift.check("fc1 as PQ 8 x 32, mean", "instructions", numbers(fc1)[0], float(np.mean(layer)))
    drift.check("fc1 dense, mean", "instructions", numbers(fc1_dense)[0],
                float(np.mean([run["layer_instructions"][0] for run in dense["runs"]])))
    drift.check("fc1 as PQ, fewest", "instructions", numbers(low)[0], min(layer))
    drift.check("fc1 as PQ, most", "instructions", numbers(high)[0], max(layer))
    drift.check("PQ int8 C", "accuracy", float(int8), 100 * pq["int8_mean"])
    drift.check("PQ int8 C, seed deviation", "accuracy", float(std), 100 * pq["int8_std"])
    drift.check("dense int8 C", "accuracy", float(dense_int8), 100 * dense["int8_mean"])
    drift.check("dense int8 C, seed deviation", "accuracy", float(dense_std), 100 * dense["int8_std"])
    drift.check("PQ against dense int8", "accuracy", float(loss), 100 * (dense["int8_mean"] - pq["int8_mean"]))
    assert all(run["int8"]["identical_to_reference"] and all(run["qemu"]["identical_to"].values())
               for run in pq["runs"] + dense["runs"])
    drift.assert_none(at_least=9)


# -- Issue 13: untrusted input --------------------------------------------------------------------

UNTRUSTED = "## Untrusted input (issue 13)"


def _seeds(text: str) -> list[str]:
    low, high = re.search(r"seeds (\d+)-(\d+)", text).groups()
    return [str(s) for s in range(int(low), int(high) + 1)]


def test_untrusted_input_rows(shared_dir, tmp_path):
    """Every export of the reproducibility row identical across processes and seeds
    (scripts/check_reproducible.py), and "20 of 20" concurrent runs correct
    (scripts/concurrent_runs.py; the wall time is a record of a loaded machine)."""
    import numpy as np

    from mcucompress.export import export
    from test_untrusted_inputs import small_graph

    rows = {row[0].split(" (")[0]: row for row in table_rows(UNTRUSTED, 3)}
    cell = " ".join(next(row for key, row in rows.items() if key.startswith("every export byte-identical"))[2].split())
    tflite_part, h5_part, board_part = cell.split(". Before")[0].split("; ")[:3]
    drift = Drift(UNTRUSTED)
    models = {"pretrainedResnet": shared_dir / "models" / "mlperf-tiny" / "pretrainedResnet.h5",
              "kws_ref_model": shared_dir / "models" / "mlperf-tiny" / "kws_ref_model.tflite",
              "pretrainedResnet_quant": shared_dir / "models" / "mlperf-tiny" / "pretrainedResnet_quant.tflite",
              "hello_world_int8": shared_dir / "models" / "tflm-examples" / "hello_world_int8.tflite",
              "micro_speech_quantized": shared_dir / "models" / "tflm-examples" / "micro_speech_quantized.tflite"}

    def identical(names: list[str], seeds: list[str], *options: str) -> None:
        out = run_script(["check_reproducible.py", *(str(models[n]) for n in names), "--seeds", *seeds, *options],
                         tmp_path)
        reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert len(reports) == len(names), out
        for report in reports:
            drift.check(f"{report['model']} over seeds {seeds} {options}", "counts", 1, int(report["identical"]))

    identical(re.findall(r"`(\w+)`", tflite_part), _seeds(tflite_part))
    calib = tmp_path / "calib.npz"
    np.savez(calib, x=np.random.default_rng(0).random((16, 32, 32, 3), dtype=np.float32))
    int8_seeds, qformat_seeds = re.findall(r"seeds \d+-\d+", h5_part)
    identical(["pretrainedResnet"], _seeds(int8_seeds), "--calib", str(calib))
    identical(["pretrainedResnet"], _seeds(qformat_seeds), "--calib", str(calib), "--option", "quantize=qformat")
    identical(re.findall(r"`(\w+)`", board_part), _seeds(board_part), "--option", "board=mps2-an386")
    concurrent = next(row for key, row in rows.items() if key.startswith("20 concurrent"))
    runs = int(numbers(concurrent[0])[0])
    tree = export(small_graph(), tmp_path / 'a;b "c" ${x} $y' / "tree")
    out = run_script(["concurrent_runs.py", str(tree), "--runs", str(runs)], tmp_path)
    report = json.loads(out.splitlines()[-1])
    correct, of = re.match(r"([\d,]+) of ([\d,]+)", concurrent[2]).groups()
    drift.check("concurrent runs", "counts", int(of), report["runs"])
    drift.check("concurrent runs correct", "counts", int(correct), report["correct"])
    drift.assert_none(at_least=9)


def test_layer_zoo_on_the_m0(tmp_path):
    """The randomised layer_zoo graph on the micro:bit, ARMv6-M paths against the portable path:
    the whole-model sentence and the per-layer table."""
    from click.testing import CliRunner

    from mcucompress.cli import cli
    from mcucompress.export import export
    from test_fast_graphs import layer_zoo

    tree = export(layer_zoo(), tmp_path / "zoo", prefix="zoo")
    measured = {}
    for build, defines in (("v6m", ()), ("portable", ("--define", "MCC_FORCE_REFERENCE=1"))):
        result = CliRunner().invoke(cli, ["bench", str(tree), "--board", "microbit", "--json",
                                          "--work", str(tmp_path / build), *defines])
        assert result.exit_code == 0, result.output
        (measured[build],) = json.loads(result.output[result.output.index("["):])
    text = " ".join(section(M0_DIGITS).split())
    whole = re.search(r"the randomised `layer_zoo` graph of `tests/test_fast_graphs.py` ([\d,]+) vs ([\d,]+) "
                      r"instructions", text).groups()
    drift = Drift(M0_DIGITS)
    drift.check("layer_zoo, ARMv6-M paths", "layer_zoo instructions", numbers(whole[0])[0],
                measured["v6m"]["cores"][0]["instructions"])
    drift.check("layer_zoo, portable path", "layer_zoo instructions", numbers(whole[1])[0],
                measured["portable"]["cores"][0]["instructions"])
    (table,) = [t for t in tables(section(M0_DIGITS)) if t[0][0] == "layer_zoo layer"]
    layers = [(a, b) for a, b in zip(measured["v6m"]["layers"], measured["portable"]["layers"]) if a["kernel"]]
    assert len(layers) == len(table) - 1, (table, layers)
    for row, (a, b) in zip(table[1:], layers):
        if row[1] != a["kernel"]:
            drift.found.append(f"layer_zoo {row[0]}: doc kernel {row[1]}, measured {a['kernel']}")
        if not same_at_decimals(row[4].rstrip("x"), b["instructions"]["microbit"] / a["instructions"]["microbit"]):
            drift.found.append(f"layer_zoo {row[0]}: doc ratio {row[4]}")
        drift.check(f"layer_zoo {row[0]}, ARMv6-M paths", "layer_zoo instructions", numbers(row[2])[0],
                    a["instructions"]["microbit"])
        drift.check(f"layer_zoo {row[0]}, portable path", "layer_zoo instructions", numbers(row[3])[0],
                    b["instructions"]["microbit"])
    drift.assert_none(at_least=2 + 2 * 8)


def test_cortex_m_acceptance_figures_follow_from_the_table():
    """The acceptance list under the Cortex-M table restates the table's rows: instructions in
    millions, ratios against the quoted baseline, flash and RAM shares of TFLM's, M55 paths."""
    from test_benchmarks_doc import MODELS

    rows = {(row[0], row[1].strip("*"), row[2].strip("*").split(" ")[0]): row for row in table_rows(CORTEX_M, 7)
            if row[0] in MODELS}

    def figure(model: str, build: str, core: str, column: int) -> float:
        return numbers(rows[(model, build, core)][column])[0]

    text = " ".join(section(CORTEX_M).split())
    drift = Drift(CORTEX_M)

    def stated(what: str, documented: str, value: float) -> None:
        drift.checked += 1
        if not same_at_decimals(documented, value):
            drift.found.append(f"{what}: doc {documented}, table gives {value:.4f}")

    ours = {m: figure(m, "mcucompress", "M4", 3) for m in MODELS}
    tflm = {m: figure(m, "TFLM + CMSIS-NN (quoted baseline)", "M4", 3) for m in MODELS}
    resnet = re.search(r"ResNet-8 ([\d.]+)M <= 15M instructions \(([\d.]+)x fewer", text).groups()
    dscnn = re.search(r"DS-CNN ([\d.]+)M <= 3.9M \(([\d.]+)x against", text).groups()
    for model, (millions, ratio) in (("ResNet-8", resnet), ("DS-CNN", dscnn)):
        stated(f"{model} M4 instructions in millions", millions, ours[model] / 1e6)
        stated(f"{model} against the quoted baseline", ratio, tflm[model] / ours[model])
    m55 = re.findall(r"([\d.]+)M vs ([\d.]+)M", text.split("On the M55 the MVE path beats the DSP path")[1])[:2]
    for model, (mve, dsp) in zip(("ResNet-8", "DS-CNN"), m55):
        stated(f"{model} M55 MVE path, millions", mve, figure(model, "mcucompress, MVE", "M55", 3) / 1e6)
        stated(f"{model} M55 DSP path, millions", dsp, figure(model, "mcucompress, DSP path only", "M55", 3) / 1e6)
    flash = re.search(r"ResNet-8 (\d+)%, DS-CNN (\d+)% of TFLM's image\), RAM at\s+most TFLM's \((\d+)%, (\d+)%\)", text)
    shares = flash.groups()
    for i, model in enumerate(("ResNet-8", "DS-CNN")):
        stated(f"{model} flash share of TFLM's", shares[i],
               100 * figure(model, "mcucompress", "M4", 5) / figure(model, "TFLM + CMSIS-NN (quoted baseline)", "M4", 5))
        stated(f"{model} RAM share of TFLM's", shares[2 + i],
               100 * figure(model, "mcucompress", "M4", 6) / figure(model, "TFLM + CMSIS-NN (quoted baseline)", "M4", 6))
    drift.assert_none(at_least=12)
