"""A short coverage-guided fuzzing run of both importers (the long one: scripts/fuzz_importers.py).

Seeds are made here by TensorFlow's converter and Keras; mutants are loaded in process under
atheris. Any exception other than McuError, any message that is not one printable line, any hang
or crash fails the test. One accepted .tflite mutant is also exported, built and compared byte
for byte with tflite-micro.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("atheris")


def _module(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fuzz(kind: str, seeds: Path, work: Path, runs: int) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
    result = subprocess.run([sys.executable, str(ROOT / "fuzz" / "importers.py"), kind, str(work), str(seeds),
                             f"-runs={runs}", "-timeout=60", "-seed=1"],
                            capture_output=True, text=True, env=env, timeout=600)
    findings = sorted(p.name for p in (work / "findings").iterdir())
    assert result.returncode == 0 and not findings, (findings, result.stdout[-3000:])
    for report in (work / "findings").glob("*.txt"):
        pytest.fail(report.read_text())
    return json.loads((work / "stats.json").read_text())


def test_tflite_importer_survives_fuzzing(tmp_path):
    seeds = _module(ROOT / "fuzz" / "importer_seeds.py").write_tflite_seeds(tmp_path / "seeds")
    stats = _fuzz("tflite", seeds[0].parent, tmp_path / "work", runs=400)
    assert stats["tracebacks"] == 0 and stats["cases"] == 400 and stats["refused"] > 0, stats
    # the accepted ones include at least the seeds themselves; check one against tflite-micro
    accepted = sorted((tmp_path / "work" / "accepted").glob("*.tflite"))
    assert accepted
    differential = _module(ROOT / "scripts" / "fuzz_importers.py").differential
    outcome, detail = differential(accepted[0], tmp_path / "diff", inputs=3, timeout=120)
    assert outcome in ("match", "match-litert"), (outcome, detail)


def test_keras_importer_survives_fuzzing(tmp_path):
    seeds = _module(ROOT / "fuzz" / "importer_seeds.py").write_keras_seeds(tmp_path / "seeds")
    stats = _fuzz("keras", seeds[0].parent, tmp_path / "work", runs=60)
    assert stats["tracebacks"] == 0 and stats["cases"] == 60, stats
