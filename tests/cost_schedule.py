"""The order pytest-xdist hands work to its workers under `--dist loadfile` (run.sh's mode).

A work unit is a test file, as with loadfile (a module's fixtures are built once), except in the
files of SPREAD_FILES, where each test is a unit of its own. Units start longest first by the CPU
seconds recorded for their tests in cpu_costs.json, so the short ones fill the end of the run and
no worker sits idle while the other finishes a long file. A test the file does not list is priced
at the mean of the cheap ones. The order depends only on the collection and the file: every run
hands out the same units in the same order.

Re-record the file after tests move (`pytest -p cpu_time --cpu-costs=cpu_costs.json` over the
three tiers); a stale file only makes the order less good, never changes what runs.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

COSTS_FILE = Path(__file__).resolve().parent / "cpu_costs.json"

# Files whose tests share no module fixture and each take seconds: one test a unit, so that both
# workers share them (the model zoo: one independent model a test).
SPREAD_FILES = frozenset({"test_zoo.py"})

# Tests cheaper than this are not listed one by one: each is priced at the mean of such tests.
LISTED_FROM = 0.2


def work_unit(nodeid: str) -> str:
    """The unit a test belongs to: its file, or the test itself in a SPREAD_FILES file."""
    path = nodeid.split("::", 1)[0]
    return nodeid if Path(path).name in SPREAD_FILES else path


def load_costs(path: Path = COSTS_FILE) -> dict:
    """{"other_tests": CPU seconds of an unlisted test, "tests": {nodeid: CPU seconds}}."""
    costs = json.loads(path.read_text()) if path.is_file() else {}
    return {"other_tests": costs.get("other_tests", 0.1), "tests": costs.get("tests", {})}


def record_costs(per_test: dict[str, float], path: Path = COSTS_FILE) -> None:
    """Fold one run's CPU seconds per test into the file: the tests it ran are re-priced, the
    others kept (so one tier can be re-recorded alone)."""
    costs = load_costs(path)
    tests = {nodeid: seconds for nodeid, seconds in costs["tests"].items() if nodeid not in per_test}
    tests.update({nodeid: round(seconds, 2) for nodeid, seconds in per_test.items() if seconds >= LISTED_FROM})
    cheap = [seconds for seconds in per_test.values() if seconds < LISTED_FROM]
    other = round(statistics.mean(cheap), 3) if cheap else costs["other_tests"]
    path.write_text(json.dumps({"other_tests": other, "tests": dict(sorted(tests.items()))}, indent=0) + "\n")


def unit_cost(nodeids, costs: dict) -> float:
    return sum(costs["tests"].get(nodeid, costs["other_tests"]) for nodeid in nodeids)


def make_scheduler(config, log):
    """The cost-ordered scheduler for `--dist loadfile`; None (xdist's own) for every other mode."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class CostOrderedScheduling(LoadScopeScheduling):
        def __init__(self, config, log):
            super().__init__(config, log.costordered)
            self.costs = load_costs()

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

        def _assign_work_unit(self, node) -> None:
            # the dearest unit left goes first (ties by name); the base class pops the queue's head
            dearest = max(self.workqueue, key=lambda unit: (
                unit_cost(self.workqueue[unit], self.costs), unit))
            self.workqueue.move_to_end(dearest, last=False)
            super()._assign_work_unit(node)

    return CostOrderedScheduling(config, log)
