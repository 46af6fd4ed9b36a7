"""A plain wheel must carry the C runtime, the templates and the board files inside the package,
and the installed command must start."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        check=True, capture_output=True,
    )
    (built,) = out.glob("mcucompress-*.whl")
    return built


def _top_level_files(root: Path, folder: str) -> set[str]:
    return {p.relative_to(root).as_posix() for p in (root / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts}


@pytest.mark.parametrize("folder", ["runtime_c", "templates", "boards"])
def test_wheel_carries_data_folder(wheel, folder):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"mcucompress/{name}" for name in _top_level_files(REPO, folder)}
    assert expected, f"{folder}/ is empty in the source tree"
    assert expected <= names, f"missing from wheel: {sorted(expected - names)[:5]}"


def test_wheel_carries_every_python_module(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(REPO).as_posix() for p in (REPO / "mcucompress").rglob("*.py")}
    assert modules <= names, f"missing from wheel: {sorted(modules - names)[:5]}"


def test_installed_command_reports_version():
    mcucompress = Path(sys.executable).parent / "mcucompress"
    result = subprocess.run([str(mcucompress), "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.strip().endswith("0.1.0")
