"""Where the C runtime, templates and board files live.

A wheel carries them inside the package (see CMakeLists.txt); a source checkout has them at the
repository root. Code asks here instead of guessing paths.
"""

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    for candidate in (_PACKAGE_DIR / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"mcucompress data folder '{name}' is missing from the installation")


def runtime_dir() -> Path:
    """The portable C kernels (`include/` and one folder per op family)."""
    return _data_dir("runtime_c")


def templates_dir() -> Path:
    return _data_dir("templates")


def boards_dir() -> Path:
    return _data_dir("boards")
