"""The firmware workspaces' clean-up: workspaces of trees that are gone and their lock files are
removed, a held lock never is, and a run waiting on a lock that the pruner removes locks the file
that replaces it (two runs never hold two different files of one name)."""

import fcntl
import os
import threading
import time

import pytest

from mcucompress.targets import workspace
from mcucompress.targets.board import load_board


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("MCUCOMPRESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(workspace, "_last_prune", {})
    return workspace.workspaces_root()


def _tree(path):
    path.mkdir(parents=True)
    return path


def test_gone_trees_lose_workspace_and_lock_and_held_locks_stay(root, tmp_path):
    board = load_board("mps2-an386")
    gone, kept = _tree(tmp_path / "gone"), _tree(tmp_path / "kept")
    with workspace.firmware_workspace(gone, board) as gone_folder:
        (gone_folder / "build").mkdir()
    gone.rmdir()
    orphan_lock, held_lock = root / "project-0123.lock", root / "project-4567.lock"
    orphan_lock.touch()
    with workspace.exclusive(held_lock):
        workspace._last_prune.clear()
        with workspace.firmware_workspace(kept, board) as kept_folder:
            pass
        assert not gone_folder.exists() and not gone_folder.with_name(gone_folder.name + ".lock").exists()
        assert not orphan_lock.exists()
        assert held_lock.exists()
    assert (kept_folder / workspace.MODEL_LINK).resolve() == kept.resolve()
    assert kept_folder.with_name(kept_folder.name + ".lock").exists()
    # the next scan comes a minute later at the earliest: a new orphan stays until then
    orphan_lock.touch()
    with workspace.firmware_workspace(kept, board):
        pass
    assert orphan_lock.exists()


def _open_descriptors(path):
    return sum(os.path.realpath(f"/proc/self/fd/{fd}") == str(path) for fd in os.listdir("/proc/self/fd"))


def test_a_waiter_on_a_removed_lock_locks_the_new_file(root):
    lock_file = root / "w.lock"
    root.mkdir(parents=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a holder (another process's pruner) that will remove the file
    named_when_locked = []

    def waiter():
        with workspace.exclusive(lock_file):
            held = os.fstat(workspace._held[lock_file]["fd"])
            named = os.stat(lock_file) if lock_file.exists() else None
            named_when_locked.append(named is not None and (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino))

    thread = threading.Thread(target=waiter)
    thread.start()
    deadline = time.monotonic() + 30
    while _open_descriptors(lock_file) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)  # until the waiter has opened the file and waits in flock
    assert _open_descriptors(lock_file) == 2
    lock_file.unlink()
    os.close(fd)
    thread.join(30)
    assert not thread.is_alive()
    assert named_when_locked == [True]
