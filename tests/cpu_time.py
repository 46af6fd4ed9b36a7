"""`pytest -p cpu_time`: the CPU seconds each test and each test file took (its process and the
children it waited for: compilers, QEMU, converter children), printed after the run. On a
machine shared with other work, CPU time says where the suite's time goes; wall durations
(`--durations`) mostly say how busy the machine was.

Not counted per test: a child still running when the test ends (the serving converter child,
whose CPU appears only in the whole run's total, e.g. under /usr/bin/time).

With pytest-xdist it also prints when each worker's last test ended: the idle tail is the time
from the first worker's end to the last one's. `--cpu-costs=PATH` (with "=": pytest takes a separate
value for a test path when it looks for its rootdir) folds the per-test CPU into
the costs file that orders the work units (cost_schedule.py)."""

from __future__ import annotations

import resource
import time
from collections import defaultdict
from pathlib import Path

import pytest

SHOWN = 40
_started = pytest.StashKey[float]()
_per_phase: dict[str, dict[str, float]] = defaultdict(dict)  # test -> {setup/call/teardown: seconds}
_started_at = time.monotonic()
_worker_last: dict[str, float] = {}  # xdist worker -> when its last report arrived (s since start)


def pytest_addoption(parser):
    parser.addoption("--cpu-costs", metavar="PATH", default=None,
                     help="fold each test's CPU seconds into this costs file (cost_schedule.py)")


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    item.stash[_started] = _cpu_seconds()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    now = _cpu_seconds()
    # the reports of one test share its user_properties list: one entry per phase
    outcome.get_result().user_properties.append((f"cpu_seconds_{call.when}", now - item.stash[_started]))
    item.stash[_started] = now


def pytest_runtest_logreport(report):
    worker = getattr(getattr(report, "node", None), "gateway", None)
    if worker is not None:
        _worker_last[worker.id] = time.monotonic() - _started_at
    for name, value in report.user_properties:
        if name.startswith("cpu_seconds_"):
            _per_phase[report.nodeid][name] = value


def pytest_terminal_summary(terminalreporter, config):
    if not _per_phase:
        return
    per_test = {nodeid: sum(phases.values()) for nodeid, phases in _per_phase.items()}
    if config.getoption("cpu_costs"):
        from cost_schedule import record_costs

        record_costs(per_test, Path(config.getoption("cpu_costs")))
    per_file: dict[str, float] = defaultdict(float)
    for nodeid, seconds in per_test.items():
        per_file[nodeid.split("::")[0]] += seconds
    write = terminalreporter.write_line
    terminalreporter.section(f"CPU seconds: {sum(per_test.values()):.0f} in tests")
    write("per file:")
    for path, seconds in sorted(per_file.items(), key=lambda kv: -kv[1])[:SHOWN]:
        write(f"{seconds:9.1f}  {path}")
    write("per test:")
    for nodeid, seconds in sorted(per_test.items(), key=lambda kv: -kv[1])[:SHOWN]:
        write(f"{seconds:9.1f}  {nodeid}")
    if len(_worker_last) > 1:
        ends = sorted(_worker_last.values())
        write("workers' last test ended at " + ", ".join(
            f"{worker} {at:.0f} s" for worker, at in sorted(_worker_last.items()))
            + f" (idle tail {ends[-1] - ends[0]:.0f} s)")
