"""Creating the folders a command writes to, with a one-line McuError when the user points at a
place that cannot hold one (under a file, on a read-only or virtual file system)."""

from __future__ import annotations

import os
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
        staging = Path(tempfile.mkdtemp(prefix=f".{beside.name}.", dir=beside.parent))
        staging.chmod(0o777 & ~current_umask())  # mkdtemp's 0700 would stay on the renamed folder
    except OSError as error:
        raise McuError(f"cannot write in {beside.parent}: {error.strerror or error}") from None
    return staging


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_not_protected(path: Path) -> None:
    """Refuse to replace the root, the home folder, the working folder or a folder holding one of
    them: replacing means deleting, and those hold more than a command's output."""
    path = Path(path).resolve()
    for name, place in (("the working folder", Path.cwd()), ("the home folder", Path.home())):
        place = place.resolve()
        if path == place or path in place.parents:
            what = name if path == place else f"a folder holding {name}"
            raise McuError(f"refusing to replace {path}: it is {what}; name a new or earlier output folder")
    if path == Path(path.anchor):
        raise McuError(f"refusing to replace {path}: it is the root folder")


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
