"""Creating the folders a command writes to, with a one-line McuError when the user points at a
place that cannot hold one (under a file, on a read-only or virtual file system)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from mcucompress.errors import McuError


def check_folder_possible(path: str | Path) -> None:
    """Fail early (before a long job) if ``path`` could never be a folder: a file is in the way."""
    path = Path(path).resolve()
    blocker = next((p for p in (path, *path.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise McuError(f"cannot create folder {path}: {blocker} is a file")


def make_folder(path: str | Path) -> Path:
    """``mkdir -p path``; returns the path."""
    path = Path(path)
    check_folder_possible(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise McuError(f"cannot create folder {path}: {error.strerror or error}") from None
    return path


def make_staging_folder(beside: Path) -> Path:
    """An empty hidden folder next to ``beside`` (same file system, so it can be renamed into place)."""
    make_folder(beside.parent)
    try:
        return Path(tempfile.mkdtemp(prefix=f".{beside.name}.", dir=beside.parent))
    except OSError as error:
        raise McuError(f"cannot write in {beside.parent}: {error.strerror or error}") from None


def missing_folders(path: Path) -> list[Path]:
    """``path`` and its ancestors that do not exist yet, innermost first."""
    path = Path(path).resolve()
    return [p for p in (path, *path.parents) if not p.exists()]


def remove_if_empty(folders: list[Path]) -> None:
    """Undo what a failed command created: each folder (innermost first) while it is empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:  # not empty, or already gone
            if folder.exists():
                break
