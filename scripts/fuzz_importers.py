"""Long fuzzing run of the .tflite and .keras importers, with a differential check.

    python scripts/fuzz_importers.py --work /tmp/fuzz --tflite-runs 100000 --keras-runs 10000

1. Seeds are made on the spot (fuzz/importer_seeds.py: TensorFlow's converter, Keras 3 saves).
2. fuzz/importers.py runs under atheris for each importer, in child processes; a run that libFuzzer
   stops (a crash, a hang beyond --timeout seconds, memory beyond its limit) is recorded as a
   finding and restarted until the requested number of cases has been tried.
3. Meanwhile every accepted .tflite with a structure not seen before is exported, built on the
   host (builds are cached by content), run on a few inputs, and compared byte for byte with
   tflite-micro (in a child process, with a timeout) and with the numpy reference. An accepted
   model whose outputs differ, or whose export fails with anything but a one-line McuError, is a
   finding.

WORK/summary.json holds the counts; findings are in WORK/<kind>/findings and WORK/differential.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# An accepted mutant whose activations or weights exceed this is not run (numpy reference time).
MAX_DIFFERENTIAL_BYTES = 1 << 21


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def make_seeds(work: Path, kind: str) -> Path:
    folder = work / f"seeds-{kind}"
    if not folder.is_dir() or not any(folder.iterdir()):
        subprocess.run([sys.executable, str(ROOT / "fuzz" / "importer_seeds.py"), kind, str(folder)],
                       check=True, env=_child_env(), stdout=subprocess.DEVNULL)
    return folder


def _stats(work: Path) -> dict:
    try:
        return json.loads((work / "stats.json").read_text())
    except (OSError, ValueError):
        return {"cases": 0}


class FuzzRun:
    """One importer's fuzzing, restarted after each libFuzzer stop until ``runs`` cases ran."""

    def __init__(self, kind: str, work: Path, seeds: Path, runs: int, timeout: int):
        self.kind, self.work, self.seeds, self.runs, self.timeout = kind, work, seeds, runs, timeout
        self.stops: list[str] = []
        self.process: subprocess.Popen | None = None
        self.log = work / "fuzz.log"
        work.mkdir(parents=True, exist_ok=True)

    @property
    def done(self) -> bool:
        return _stats(self.work)["cases"] >= self.runs

    def poll(self) -> bool:
        """Start or restart the child as needed; False once the requested cases have run."""
        if self.process is not None and self.process.poll() is None:
            return True
        if self.process is not None:
            status = self.process.returncode
            self.process = None
            if status != 0:
                tail = self.log.read_text(errors="replace").splitlines()[-40:]
                reason = next((line for line in tail if "ERROR: libFuzzer" in line or "Error" in line),
                              f"exit status {status}")
                self.stops.append(reason.strip())
        if self.done or len(self.stops) > 50:
            return False
        remaining = self.runs - _stats(self.work)["cases"]
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "fuzz" / "importers.py"), self.kind, str(self.work), str(self.seeds),
                 f"-runs={remaining}", f"-timeout={self.timeout}"],
                stdout=log, stderr=subprocess.STDOUT, env=_child_env())
        return True


def _random_inputs(shape: tuple[int, ...], count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(-128, 128, size=(count, *shape), dtype=np.int64)
    x[0] = -128  # the extremes reach saturation and the accumulator bounds
    x[1] = 127
    return x.astype(np.int8)


def differential(model: Path, out: Path, inputs: int, timeout: float) -> tuple[str, str]:
    """(outcome, detail): "match" ("match-litert" for dilated chains), "refused" (one-line McuError at export), "skipped" (too large
    to run here), "oracle-refused" (tflite-micro refuses or crashes on a model we accept), or a
    finding: "mismatch", "exception"."""
    from mcucompress.build.host import build_host
    from mcucompress.build.runner import run_host
    from mcucompress.errors import McuError
    from mcucompress.export import export
    from mcucompress.ir.serialize import load_graph
    from mcucompress.reference.int8 import run_int8_batch
    from mcucompress.reference.interpreters import interpreter_outputs

    from mcucompress.importers.tflite_flatbuffer import read_tflite

    # tflite-micro's PyPI build computes SPACE_TO_BATCH_ND chains (dilated convolutions) wrongly
    # (tests/test_reference_int8.py): those models are checked against LiteRT instead.
    dilated = any(op.opname in ("SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND") for op in read_tflite(model).ops)
    rounding = "litert" if dilated else "tflm"
    tree = out / "tree"
    try:
        export(model, tree, rounding=rounding)
    except McuError as error:
        return "refused", str(error)
    manifest = json.loads((tree / "manifest.json").read_text())
    graph = load_graph(tree / "graph.npz")
    if max([t.nbytes for t in graph.tensors.values()] + [manifest["arena_bytes"]]) > MAX_DIFFERENTIAL_BYTES:
        return "skipped", "larger than the differential budget"
    x = _random_inputs(tuple(manifest["input"]["shape"]), inputs, seed=len(model.name))
    c_out = run_host(build_host(tree), x, int(manifest["output"]["bytes"]))
    ours = run_int8_batch(graph, x, rounding).reshape(len(x), -1)
    ports = tuple((float(manifest[k]["scale"]), int(manifest[k]["zero_point"])) for k in ("input", "output"))
    try:
        name, theirs = interpreter_outputs(model, x, rounding, timeout=timeout, ports=ports)
    except McuError as error:
        return "oracle-refused", str(error)
    theirs = theirs.reshape(len(x), -1)
    if theirs.shape != c_out.shape or np.any(theirs != c_out) or np.any(ours != c_out):
        differs = int(np.count_nonzero(theirs != c_out)) if theirs.shape == c_out.shape else -1
        return "mismatch", (f"{differs} of {c_out.size} bytes differ from {name}, "
                            f"{int(np.count_nonzero(ours != c_out))} from the numpy reference")
    return ("match-litert" if dilated else "match"), ""


FINDINGS = ("mismatch", "exception", "hang")


class _Hang(Exception):
    pass


def _hang(signum, frame):
    raise _Hang()


class Differential:
    """Works through WORK/tflite/accepted/ as the fuzzer fills it."""

    def __init__(self, work: Path, inputs: int, timeout: float):
        self.work = work
        self.folder = work / "differential"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.results_file = self.folder / "results.json"
        self.results: dict[str, list[str]] = (json.loads(self.results_file.read_text())
                                              if self.results_file.is_file() else {})
        self.inputs, self.timeout = inputs, timeout

    def pending(self) -> list[Path]:
        return sorted((p for p in self.work.glob("tflite*/accepted/*.tflite") if p.stem not in self.results),
                      key=lambda p: p.stat().st_mtime)

    def step(self) -> bool:
        """Check one pending model; False when none is pending."""
        todo = self.pending()
        if not todo:
            return False
        model = todo[0]
        with tempfile.TemporaryDirectory(prefix="fuzz-diff-") as tmp:
            signal.signal(signal.SIGALRM, _hang)
            signal.alarm(int(self.timeout) * 3)
            try:
                outcome, detail = differential(model, Path(tmp), self.inputs, self.timeout)
            except _Hang:
                outcome, detail = "hang", f"export, build and runs took over {int(self.timeout) * 3} s"
            except Exception:
                outcome, detail = "exception", traceback.format_exc()
            finally:
                signal.alarm(0)
        self.results[model.stem] = [outcome, detail]
        if outcome in FINDINGS:
            shutil.copyfile(model, self.folder / f"{outcome}-{model.name}")
            (self.folder / f"{outcome}-{model.stem}.txt").write_text(detail)
        self.results_file.write_text(json.dumps(self.results, indent=1))
        return True

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome, _ in self.results.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts


def summary(work: Path, runs: dict[str, FuzzRun], diff: Differential, started: float) -> dict:
    result: dict = {"seconds": round(time.time() - started)}
    for name, run in runs.items():
        stats = _stats(run.work)
        findings = sorted(p.name for p in (run.work / "findings").glob("*") if p.suffix != ".txt")
        result[name] = {**stats, "libfuzzer_stops": run.stops, "finding_files": findings}
        total = result.setdefault(f"{run.kind} total", {})
        for key in ("cases", "refused", "accepted", "tracebacks"):
            total[key] = total.get(key, 0) + stats.get(key, 0)
        total["libfuzzer_stops"] = total.get("libfuzzer_stops", 0) + len(run.stops)
    result["differential"] = diff.counts()
    (work / "summary.json").write_text(json.dumps(result, indent=1))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="working folder (outside the repository)")
    parser.add_argument("--tflite-runs", type=int, default=100_000)
    parser.add_argument("--keras-runs", type=int, default=10_000)
    parser.add_argument("--timeout", type=int, default=30, help="seconds one case may take (a hang beyond)")
    parser.add_argument("--inputs", type=int, default=4, help="inputs per differential check")
    parser.add_argument("--tflite-workers", type=int, default=1, help="parallel .tflite fuzzing processes")
    args = parser.parse_args()
    work = args.work.resolve()
    started = time.time()
    runs = {}
    workers = max(1, args.tflite_workers)
    for i in range(workers):  # each worker its own corpus and share of the cases
        name = "tflite" if workers == 1 else f"tflite-{i}"
        count = args.tflite_runs // workers + (1 if i < args.tflite_runs % workers else 0)
        if count > 0:
            runs[name] = FuzzRun("tflite", work / name, make_seeds(work, "tflite"), count, args.timeout)
    if args.keras_runs > 0:
        runs["keras"] = FuzzRun("keras", work / "keras", make_seeds(work, "keras"), args.keras_runs, args.timeout)
    diff = Differential(work, args.inputs, timeout=120)
    last_report = 0.0
    while True:
        active = [kind for kind, run in runs.items() if run.poll()]
        checked = diff.step()
        if time.time() - last_report > 60:
            print(json.dumps(summary(work, runs, diff, started)), flush=True)
            last_report = time.time()
        if not active and not checked:
            break
        if not checked:
            time.sleep(5)
    result = summary(work, runs, diff, started)
    print(json.dumps(result, indent=1))
    bad = sum(r["tracebacks"] + r["libfuzzer_stops"] for k, r in result.items() if k.endswith(" total")) \
        + sum(result["differential"].get(f, 0) for f in FINDINGS)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
