"""The order `--dist loadfile` hands out work (cost_schedule.py): dearest unit first, the zoo one
test a unit, costs recorded per test."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from cost_schedule import load_costs, record_costs, unit_cost, work_unit

HERE = Path(__file__).resolve().parent


def test_a_file_is_one_unit_and_a_zoo_test_its_own():
    assert work_unit("tests/test_ptq.py::test_x[a]") == "tests/test_ptq.py"
    assert work_unit("tests/test_zoo.py::test_zoo_model[mlp]") == "tests/test_zoo.py::test_zoo_model[mlp]"


def test_recording_reprices_the_tests_that_ran_and_keeps_the_others(tmp_path):
    path = tmp_path / "costs.json"
    record_costs({"t.py::a": 3.0, "t.py::b": 0.05, "t.py::c": 0.15, "u.py::d": 1.0}, path)
    record_costs({"u.py::d": 2.5, "u.py::e": 0.1}, path)
    costs = load_costs(path)
    assert costs["tests"] == {"t.py::a": 3.0, "u.py::d": 2.5}
    assert costs["other_tests"] == 0.1  # the mean of the cheap tests of the last run
    assert unit_cost(["t.py::a", "t.py::b", "t.py::new"], costs) == 3.2


def test_workers_start_on_the_dearest_units(tmp_path):
    # a project of its own: its conftest installs the scheduler, its costs file prices the units
    shutil.copy(HERE / "cost_schedule.py", tmp_path)
    (tmp_path / "conftest.py").write_text(
        "import os, pytest\n"
        "from cost_schedule import make_scheduler\n"
        "@pytest.hookimpl(tryfirst=True, optionalhook=True)\n"
        "def pytest_xdist_make_scheduler(config, log):\n"
        "    return make_scheduler(config, log)\n"
        "@pytest.fixture(autouse=True)\n"
        "def log_start(request):\n"
        "    with open(os.environ['ORDER_LOG'], 'a') as f:\n"
        "        f.write(os.environ['PYTEST_XDIST_WORKER'] + ' ' + request.node.nodeid + '\\n')\n")
    for name, count in (("test_many", 6), ("test_dear", 1), ("test_mid", 2), ("test_zoo", 3)):
        (tmp_path / f"{name}.py").write_text(
            "import pytest\n@pytest.mark.parametrize('k', range(%d))\ndef test_k(k):\n    pass\n" % count)
    (tmp_path / "cpu_costs.json").write_text(json.dumps({"other_tests": 0.1, "tests": {
        "test_dear.py::test_k[0]": 50.0, "test_mid.py::test_k[0]": 20.0, "test_zoo.py::test_k[2]": 30.0}}))
    log = tmp_path / "order.log"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
                          "--dist", "loadfile"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, env={**os.environ, "ORDER_LOG": str(log)})
    assert run.returncode == 0, run.stdout + run.stderr
    started: dict[str, list[str]] = {}
    for line in log.read_text().splitlines():
        worker, nodeid = line.split(" ", 1)
        started.setdefault(worker, []).append(nodeid)
    assert sum(map(len, started.values())) == 12
    firsts = {tests[0] for tests in started.values()}
    assert firsts == {"test_dear.py::test_k[0]", "test_zoo.py::test_k[2]"}
