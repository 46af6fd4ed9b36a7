"""A short run of scripts/mutation_test.py: the script applies its patches, the unmutated tree
passes, and two planted bugs (a pad off by one, a wrong codebook index) are caught by the
tflite-micro oracle. The full run and its score: docs/benchmarks/mutation.md."""

import subprocess
import sys

import oracle_models
from conftest import REPO


def test_two_planted_bugs_are_killed_and_the_clean_tree_passes(tmp_path):
    # The two selected oracle tests' models, converted here (this process's converter) rather than
    # once in each of the script's three pytest runs: the converter's output does not depend on
    # the mutated tree.
    models = tmp_path / "oracle_models"
    oracle_models.build("pad", models)
    oracle_models.build("fully_connected", models, sparse=True)
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "mutation_test.py"), "--only", "pad-off-by-one,codebook-index",
         "--tests", "test_op_oracle.py", "--select", "pad or encoded and fully_connected-encodings0",
         "--models", str(models), "--markdown", str(tmp_path / "mutation.md")],
        capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mutation score: 2/2 killed" in result.stdout
    table = (tmp_path / "mutation.md").read_text()
    assert table.count("| killed |") == 2


def test_every_mutant_applies_once():
    sys.path.insert(0, str(REPO / "scripts"))
    import mutation_test

    names = [m.name for m in mutation_test.MUTANTS]
    assert len(names) == len(set(names)) >= 48
    for m in mutation_test.MUTANTS:
        assert (REPO / m.path).read_text().count(m.old) == 1, m.name
        assert m.old != m.new and m.what, m.name
        assert all((REPO / "tests" / t).is_file() for t in m.tests), m.name
