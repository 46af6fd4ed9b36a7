"""Where `run` and `bench` build a tree's firmware: one project folder per (tree, board) in the
user's cache, used by one run at a time.

The exported tree stays as export wrote it (so a later export may still replace it), concurrent
runs of one tree on one board take turns on an exclusive lock instead of overwriting each other's
test vectors and build, and CMake reaches the tree through a link named `model`, so a tree whose
path holds ';', '"' or '${' builds like any other.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

from mcucompress.build.host import cache_root
from mcucompress.targets.board import Board

MODEL_LINK = "model"

_guard = threading.Lock()
_held: dict[Path, dict] = {}   # lock file -> {"rlock", "depth", "fd"}: re-entrant within a process


def workspaces_root() -> Path:
    return cache_root().parent / "firmware"


@contextmanager
def exclusive(lock_file: Path):
    """An exclusive lock across processes (flock) and threads; the holder may take it again."""
    lock_file = Path(lock_file)
    with _guard:
        entry = _held.setdefault(lock_file, {"rlock": threading.RLock(), "depth": 0, "fd": None})
    with entry["rlock"]:
        if entry["depth"] == 0:
            lock_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
            fcntl.flock(fd, fcntl.LOCK_EX)
            entry["fd"] = fd
        entry["depth"] += 1
        try:
            yield
        finally:
            entry["depth"] -= 1
            if entry["depth"] == 0:
                os.close(entry["fd"])  # closing releases the flock
                entry["fd"] = None


@contextmanager
def firmware_workspace(tree: Path, board: Board):
    """The locked project folder for runs of ``tree`` on ``board`` (kept between runs, so a
    run rebuilds only what changed)."""
    tree = Path(tree).resolve()
    key = hashlib.sha256(os.fsencode(tree)).hexdigest()[:20]
    folder = workspaces_root() / f"{key}-{board.name}"
    with exclusive(folder.with_name(folder.name + ".lock")):
        folder.mkdir(parents=True, exist_ok=True)
        _point_link(folder / MODEL_LINK, tree)
        yield folder
    _prune_abandoned(folder)


def _point_link(link: Path, target: Path) -> None:
    if link.is_symlink() and os.readlink(link) == str(target):
        return
    temporary = link.with_name(f".{link.name}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target, target_is_directory=True)
    os.replace(temporary, link)


def _prune_abandoned(keep: Path) -> None:
    """Removes the workspaces of trees that no longer exist (deleted test folders, moved trees),
    each only if no run holds it."""
    for folder in workspaces_root().iterdir():
        link = folder / MODEL_LINK
        if folder == keep or not folder.is_dir() or not link.is_symlink() or link.exists():
            continue
        lock_file = folder.with_name(folder.name + ".lock")
        try:
            fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if not link.exists():
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass  # in use
        finally:
            os.close(fd)
