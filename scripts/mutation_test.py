#!/usr/bin/env python3
"""Mutation testing: plant one small bug at a time in runtime_c/ or the quantizer and see whether
the fast test tier notices.

The planted bugs are the data file scripts/mutants.toml. Each is a textual patch (one exact,
unique snippet replaced) applied to a temporary copy of the source tree; tests of the default tier
run against that copy (PYTHONPATH) and the mutant is "killed" when they fail: first the tests the
mutant names (its `tests` and `select`), and if they pass, every default file. A kill counts only
if its failing test passes on the unmutated tree (each killing test is run there once, at the
end). The score is counted kills / mutants. Host builds are cached by the content of the exported
tree, so only trees that contain a mutated kernel are rebuilt.

    python scripts/mutation_test.py                     # every mutant
    python scripts/mutation_test.py --only requant-truncate,pad-off-by-one
    python scripts/mutation_test.py --list
    python scripts/mutation_test.py --jobs 2 --results mutants.jsonl --markdown docs/benchmarks/mutation.md

--results keeps every result as it comes (one JSON line each): run the same command again after an
interruption and only the mutants without a result run. The converted .tflite models of
tests/oracle_models.py are reused between mutants (MCUCOMPRESS_ORACLE_MODELS; --models DIR keeps
them in DIR, for a caller that converted them already), so a mutant costs a pytest start or two
and the tests up to the first failure (-x).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COPIED = ("mcucompress", "runtime_c", "templates", "boards", "tests", "docs", "pyproject.toml")
# The fast tier's tests that judge numbers: the fixed-point helpers (seconds), the outside
# oracle (it kills most mutants), then the kernel, encoding and quantizer tests.
DEFAULT_TESTS = ("test_fixedpoint.py", "test_op_oracle.py", "test_kernels_misc.py", "test_encode_kernels.py",
                 "test_ptq.py")
# The default tier's markers without the training runs: the QEMU tests stay, as the DSP and
# ARMv6-M kernel paths run only there.
MARKERS = "not slow and not shared and not zoo"


def _python() -> str:
    """The interpreter that runs the tests: this one when it has pytest (the venv's, as
    `bash run.sh` sets it up), else the repository's .venv, so the script also runs as a command."""
    import importlib.util

    if importlib.util.find_spec("pytest") is not None:
        return sys.executable
    venv = REPO / ".venv" / "bin" / "python"
    if venv.is_file():
        return str(venv)
    raise SystemExit("error: no pytest here and no .venv in the repository (run `bash run.sh setup` first)")


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    what: str
    tests: tuple[str, ...] = ()   # default-tier files where the killing test is expected ...
    select: str = ""              # ... and a pytest -k expression naming it: the first, short try


MUTANTS_FILE = REPO / "scripts" / "mutants.toml"


def load_mutants(path: Path = MUTANTS_FILE) -> tuple[Mutant, ...]:
    """The planted bugs of the data file, in its order."""
    import tomllib

    with open(path, "rb") as f:
        entries = tomllib.load(f)["mutant"]
    return tuple(Mutant(e["name"], e["path"], e["old"], e["new"], e["what"], tuple(e.get("tests", ())),
                        e.get("select", "")) for e in entries)


MUTANTS = load_mutants()


_CONVERT_ONCE = """
import os
from pathlib import Path
import oracle_models
folder = Path(os.environ["MCUCOMPRESS_ORACLE_MODELS"])
for name in oracle_models.MODELS:
    oracle_models.build(name, folder, reuse=True)
for name in ("fully_connected", "conv"):
    oracle_models.build(name, folder, sparse=True, reuse=True)
"""


def apply(mutant: Mutant, root: Path) -> None:
    path = root / mutant.path
    text = path.read_text()
    found = text.count(mutant.old)
    if found != 1:
        raise SystemExit(f"mutant {mutant.name}: its snippet occurs {found} times in {mutant.path}")
    path.write_text(text.replace(mutant.old, mutant.new))


def copy_tree(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in COPIED:
        src = REPO / name
        (shutil.copytree(src, dest / name, ignore=ignore) if src.is_dir() else shutil.copy2(src, dest / name))


def run_tests(root: Path, tests: tuple[str, ...], models: Path, timeout: float,
              select: str | None = None, first_failure: bool = True) -> tuple[bool, str, list[str]]:
    """(failed, pytest's last line, the failing tests). A selection that matches no test
    (pytest's exit 5) is no failure."""
    env = dict(os.environ, PYTHONPATH=str(root), MCUCOMPRESS_ORACLE_MODELS=str(models),
               PYTHONDONTWRITEBYTECODE="1")
    command = [_python(), "-m", "pytest", *(["-x"] if first_failure else []), "-q", "-p", "no:cacheprovider",
               "-m", MARKERS, *tests]
    if select:
        command += ["-k", select]
    try:
        result = subprocess.run(command, cwd=root / "tests", env=env, capture_output=True, text=True,
                                timeout=timeout)
    except subprocess.TimeoutExpired:
        return True, "timed out", []
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    failing = [line.split()[1] for line in lines if line.startswith(("FAILED ", "ERROR "))]
    return result.returncode not in (0, 5), (lines[-1] if lines else f"exit {result.returncode}"), failing


def tests_for(mutant: Mutant, chosen: tuple[str, ...] | None) -> tuple[str, ...]:
    """The files a mutant runs: --tests when given, else its own files first, then the defaults."""
    if chosen is not None:
        return chosen
    return tuple(dict.fromkeys(mutant.tests + DEFAULT_TESTS))


@dataclass(frozen=True)
class Result:
    """One mutant's run; or, named CLEAN + a test id, that test run on the unmutated tree
    (killed: it failed there too, so it proves nothing about a mutant)."""
    name: str
    killed: bool
    last: str
    failing: str
    seconds: float


CLEAN = "clean:"


def counts(r: Result, results: dict[str, Result]) -> bool:
    """A kill counts when its failing test passes on the unmutated tree (or the tests hung)."""
    return r.killed and (not r.failing or not results.get(CLEAN + r.failing, r).killed)


def read_results(path: Path | None) -> dict[str, Result]:
    """Results of an earlier (interrupted) run, one JSON object a line."""
    if path is None or not path.is_file():
        return {}
    rows = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {r["name"]: Result(**r) for r in rows}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated mutant names")
    parser.add_argument("--tests", help="comma-separated test files (default: the mutant's own files "
                        "from %s, then %s)" % (MUTANTS_FILE.name, ",".join(DEFAULT_TESTS)))
    parser.add_argument("--select", help="pytest -k expression narrowing the tests")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--markdown", type=Path, help="write the results table to this file")
    parser.add_argument("--results", type=Path,
                        help="append each result to this JSON-lines file; mutants already in it are "
                             "not run again (resume an interrupted run)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per mutant (a hang is a kill)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at once")
    parser.add_argument("--models", type=Path,
                        help="folder of converted oracle models (tests/oracle_models.py's names) to reuse and "
                             "to add to (default: a temporary one); a caller that already converted them "
                             "spares every pytest run the converter")
    args = parser.parse_args(argv)
    mutants = MUTANTS
    if args.only:
        wanted = args.only.split(",")
        unknown = set(wanted) - {m.name for m in MUTANTS}
        if unknown:
            raise SystemExit(f"unknown mutants: {', '.join(sorted(unknown))}")
        mutants = tuple(m for m in MUTANTS if m.name in wanted)
    if args.list:
        for m in mutants:
            print(f"{m.name:<28} {m.path:<55} {m.what}")
        return 0
    chosen = tuple(args.tests.split(",")) if args.tests else None
    for m in mutants:  # every snippet must exist before anything runs
        if (REPO / m.path).read_text().count(m.old) != 1:
            raise SystemExit(f"mutant {m.name}: its snippet does not occur exactly once in {m.path}")
    done = read_results(args.results)
    results = {name: r for name, r in done.items() if name.startswith(CLEAN)}
    results.update({m.name: done[m.name] for m in mutants if m.name in done})
    todo = [m for m in mutants if m.name not in done]
    lock = threading.Lock()

    def record(result: Result) -> None:
        with lock:
            if args.results:
                with open(args.results, "a") as f:
                    f.write(json.dumps(asdict(result)) + "\n")
            if result.name:
                results[result.name] = result
                if args.markdown:  # partial results survive an interrupted run
                    write_markdown(args.markdown, markdown(mutants, results, chosen))

    with tempfile.TemporaryDirectory(prefix="mcc-mutants-") as tmp:
        models = args.models.resolve() if args.models else Path(tmp) / "oracle_models"
        if args.jobs > 1 and todo:  # the converted models, once, before mutants running together share them
            subprocess.run([_python(), "-c", _CONVERT_ONCE], cwd=REPO / "tests", check=True,
                           env=dict(os.environ, PYTHONPATH=str(REPO), MCUCOMPRESS_ORACLE_MODELS=str(models)))

        def one(m: Mutant) -> Result:
            root = Path(tmp) / m.name
            copy_tree(root)
            apply(m, root)
            start = time.monotonic()
            killed, last, failing = False, "", []
            if chosen is None and (m.tests or m.select):  # where the killing test should be
                killed, last, failing = run_tests(root, m.tests or DEFAULT_TESTS, models, args.timeout,
                                                  m.select or args.select)
            if not killed:  # then every file, unselected
                killed, last, failing = run_tests(root, tests_for(m, chosen), models, args.timeout, args.select)
            shutil.rmtree(root, ignore_errors=True)
            return Result(m.name, killed, last, failing[0] if failing else "", time.monotonic() - start)

        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
            for r in pool.map(one, todo):
                record(r)
                print(f"{'killed ' if r.killed else 'SURVIVED'} {r.name:<28} {r.seconds:6.0f} s  "
                      f"{r.failing or r.last}", flush=True)
        # Each killing test once on the unmutated tree: a test that fails there kills nothing.
        killers = sorted({results[m.name].failing for m in mutants if results[m.name].killed} - {""}
                         - {name[len(CLEAN):] for name in done if name.startswith(CLEAN)})
        if killers:
            clean = Path(tmp) / "clean"
            copy_tree(clean)
            start = time.monotonic()
            _, last, failing = run_tests(clean, tuple(killers), models, args.timeout * len(killers),
                                         first_failure=False)
            for test in killers:
                record(Result(CLEAN + test, test in failing, last, test if test in failing else "",
                              time.monotonic() - start))
            results.update({name: r for name, r in done.items() if name.startswith(CLEAN)})
            print(f"the {len(killers)} killing tests on the unmutated tree: {last}", flush=True)
    rows = [results[m.name] for m in mutants]
    killed = sum(counts(r, results) for r in rows)
    print(f"mutation score: {killed}/{len(rows)} killed ({100.0 * killed / len(rows):.1f}%)")
    if args.markdown:
        write_markdown(args.markdown, markdown(mutants, results, chosen))
    return 0 if killed == len(rows) else 1


BEGIN, END = "<!-- mutation results -->", "<!-- end of mutation results -->"


def write_markdown(path: Path, table: str) -> None:
    """The results into ``path``: between its BEGIN and END lines when it has them (the prose
    around them stays), else the whole file."""
    text = path.read_text() if path.is_file() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        table = f"{head}{BEGIN}\n{table}{END}{rest.split(END, 1)[1]}"
    path.write_text(table)


def markdown(mutants, results: dict[str, Result], chosen) -> str:
    rows = [(m, results[m.name]) for m in mutants if m.name in results]
    killed = sum(counts(r, results) for _, r in rows)
    tests = ", ".join(chosen) if chosen else (f"each mutant's own files (`tests` in {MUTANTS_FILE.name}), "
                                              f"then {', '.join(DEFAULT_TESTS)}")
    lines = [f"Score: **{killed}/{len(rows)} killed ({100.0 * killed / len(rows):.1f}%)**, tests: "
             f"{tests} (`-m \"{MARKERS}\"`, stop at the first failure).", "",
             "| mutant | file | planted bug | result | first failing test |", "|---|---|---|---|---|"]
    for m, r in rows:
        result = ("killed" if counts(r, results) else
                  "**killed by a test that fails unmutated**" if r.killed else "**survived**")
        failing = f"`{r.failing}`" if r.failing else ("timed out" if r.last == "timed out" else "")
        lines.append(f"| `{m.name}` | `{m.path}` | {m.what} | {result} | {failing} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
