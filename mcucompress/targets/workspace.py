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
import time
from contextlib import contextmanager
from pathlib import Path

from mcucompress.cache import cache_dir
from mcucompress.targets.board import Board

MODEL_LINK = "model"

_guard = threading.Lock()
_held: dict[Path, dict] = {}   # lock file -> {"rlock", "depth", "fd"}: re-entrant within a process
PRUNE_INTERVAL_S = 60.0
_last_prune: dict[Path, float] = {}   # workspaces folder -> time.monotonic() of this process's last scan


def workspaces_root() -> Path:
    return cache_dir("firmware")


@contextmanager
def exclusive(lock_file: Path):
    """An exclusive lock across processes (flock) and threads; the holder may take it again."""
    lock_file = Path(lock_file)
    with _guard:
        entry = _held.setdefault(lock_file, {"rlock": threading.RLock(), "depth": 0, "fd": None})
    with entry["rlock"]:
        if entry["depth"] == 0:
            lock_file.parent.mkdir(parents=True, exist_ok=True)
            while True:
                fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
                fcntl.flock(fd, fcntl.LOCK_EX)
                if _still_named(fd, lock_file):
                    break
                os.close(fd)  # the pruner removed this file while we waited: lock the new one
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


def project_lock(project: Path):
    """The lock of a firmware project that is not a workspace (the tree's own, which `flash`
    builds); the lock file lives in the cache, so the tree gains no file."""
    key = hashlib.sha256(os.fsencode(Path(project).resolve())).hexdigest()[:20]
    return exclusive(workspaces_root() / f"project-{key}.lock")


def _point_link(link: Path, target: Path) -> None:
    if link.is_symlink() and os.readlink(link) == str(target):
        return
    temporary = link.with_name(f".{link.name}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target, target_is_directory=True)
    os.replace(temporary, link)


def _still_named(fd: int, path: Path) -> bool:
    """Whether the locked file ``fd`` is still the one at ``path``: a lock file is removed only by
    its holder, so whoever locked it before that must open the path again."""
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)


def _prune_abandoned(keep: Path) -> None:
    """Removes the workspaces of trees that no longer exist (deleted test folders, moved trees) and
    their lock files, each only if no run holds it; lock files with no workspace beside them go
    too. A process scans the folder at most once every PRUNE_INTERVAL_S seconds: a scan costs a
    few system calls per entry, and the tests' runs leave hundreds."""
    root = keep.parent
    now = time.monotonic()
    with _guard:
        if now - _last_prune.get(root, -PRUNE_INTERVAL_S) < PRUNE_INTERVAL_S:
            return
        _last_prune[root] = now
    with os.scandir(root) as scan:
        entries = {entry.name: entry for entry in scan}
    for name, entry in entries.items():
        if name.endswith(".lock"):
            if name[:-len(".lock")] not in entries:
                _remove_unheld(root / name)
            continue
        folder = root / name
        if folder == keep or not entry.is_dir(follow_symlinks=False):
            continue
        link = folder / MODEL_LINK
        if link.is_symlink() and not link.exists():
            _remove_unheld(folder.with_name(name + ".lock"), abandoned=folder)


def _remove_unheld(lock_file: Path, abandoned: Path | None = None) -> None:
    """Removes ``abandoned`` (a workspace whose tree is gone) and then ``lock_file``, if no one
    holds the lock; the file is removed while locked, so a waiter finds it gone (`exclusive`)."""
    try:
        fd = os.open(lock_file, os.O_RDWR | (os.O_CREAT if abandoned is not None else 0), 0o666)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if not _still_named(fd, lock_file):
            return
        if abandoned is not None:
            if (abandoned / MODEL_LINK).exists():
                return  # its tree came back
            shutil.rmtree(abandoned, ignore_errors=True)
            if abandoned.exists():
                return
        lock_file.unlink()
    except OSError:
        pass  # in use
    finally:
        os.close(fd)
