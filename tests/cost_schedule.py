"""The order pytest-xdist hands work to its workers under `--dist loadfile` (run.sh's mode).

A work unit is a test file, as with loadfile (a module's fixtures are built once), except in the
files of SPREAD_FILES, where each test is a unit of its own. Units start longest first by the CPU
seconds recorded for them in cpu_costs.json, so the short ones fill the end of the run and no
worker sits idle while the other finishes a long file. A unit the file does not know yet is
priced at the median recorded second per test times its number of tests. The order depends only
on the collection and the file: every run hands out the same units in the same order.

Re-record the file after tests move (`pytest -p cpu_time --cpu-costs cpu_costs.json` over the
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


def work_unit(nodeid: str) -> str:
    """The unit a test belongs to: its file, or the test itself in a SPREAD_FILES file."""
    path = nodeid.split("::", 1)[0]
    return nodeid if Path(path).name in SPREAD_FILES else path


def load_costs(path: Path = COSTS_FILE) -> dict:
    """{"median_test": CPU seconds of the median test, "units": {unit: CPU seconds}}."""
    costs = json.loads(path.read_text()) if path.is_file() else {}
    return {"median_test": costs.get("median_test", 1.0), "units": costs.get("units", {})}


def record_costs(per_test: dict[str, float], path: Path = COSTS_FILE) -> None:
    """Fold one run's CPU seconds per test into the file: the units it ran are replaced, the
    others kept (so one tier can be re-recorded alone)."""
    costs = load_costs(path)
    units: dict[str, float] = {}
    for nodeid, seconds in per_test.items():
        units[work_unit(nodeid)] = units.get(work_unit(nodeid), 0.0) + seconds
    costs["units"].update({unit: round(seconds, 1) for unit, seconds in units.items()})
    costs["units"] = dict(sorted(costs["units"].items()))
    if per_test:
        costs["median_test"] = round(statistics.median(per_test.values()), 3)
    path.write_text(json.dumps(costs, indent=1) + "\n")


def unit_cost(unit: str, nodeids, costs: dict) -> float:
    known = costs["units"].get(unit)
    return known if known is not None else costs["median_test"] * len(nodeids)


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
                unit_cost(unit, self.workqueue[unit], self.costs), unit))
            self.workqueue.move_to_end(dearest, last=False)
            super()._assign_work_unit(node)

    return CostOrderedScheduling(config, log)
