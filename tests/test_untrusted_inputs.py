"""Hostile or careless inputs other than model files: output folders that hold the user's files,
board files, names that reach C and CMake, paths with CMake's special characters, concurrent runs.

Every case is made here, from a small random graph or a crafted file; nothing outside the test's
own folders may change."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from codegen_cases import conv_graph
from mcucompress.cli import main
from mcucompress.errors import McuError
from mcucompress.export import export


def small_graph(seed: int = 0):
    return conv_graph(np.random.default_rng(seed), (5, 5), 3, 4, (3, 3))


@pytest.fixture()
def tree(tmp_path) -> Path:
    return export(small_graph(), tmp_path / "out")


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# --- export -o: a folder is replaced only when everything in it is an earlier export's -----------

def test_manifest_lists_every_file_with_its_hash(tree):
    import hashlib

    listed = json.loads((tree / "manifest.json").read_text())["files"]
    on_disk = {p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(listed) == on_disk
    assert all(hashlib.sha256((tree / rel).read_bytes()).hexdigest() == digest
               for rel, digest in listed.items())


def test_an_unchanged_export_is_replaced(tree):
    assert export(small_graph(1), tree) == tree
    assert sorted(p.name for p in tree.parent.iterdir()) == ["out"]  # no staging folder left


@pytest.mark.parametrize("change", ["added", "edited", "nested", "copied_manifest", "old_manifest"])
def test_user_files_keep_the_folder(tmp_path, tree, capsys, change):
    if change == "added":
        (tree / "notes.txt").write_text("mine")
        offender = "notes.txt"
    elif change == "edited":
        (tree / "model.c").write_text((tree / "model.c").read_text() + "/* my fix */\n")
        offender = "model.c"
    elif change == "nested":
        (tree / "host" / "extra").mkdir()
        (tree / "host" / "extra" / "keep.c").write_text("int x;\n")
        offender = "host/extra/keep.c"
    elif change == "copied_manifest":  # a project of the user's that holds a copy of a manifest
        tree = tmp_path / "project"
        tree.mkdir()
        (tree / "manifest.json").write_text((tmp_path / "out" / "manifest.json").read_text())
        (tree / "main.c").write_text("int main(void) { return 0; }\n")
        offender = "main.c"
    else:  # a manifest without the file list (an older export, or a hand-written one)
        manifest = json.loads((tree / "manifest.json").read_text())
        del manifest["files"]
        (tree / "manifest.json").write_text(json.dumps(manifest))
        offender = "CMakeLists.txt"
    before = _snapshot(tree)
    assert main(["export", "unused.tflite", "-o", str(tree)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: refusing to overwrite {tree}: {offender} (") and err.count("\n") == 1
    assert _snapshot(tree) == before
    with pytest.raises(McuError, match="refusing to overwrite"):
        export(small_graph(1), tree)
    assert _snapshot(tree) == before


def test_a_link_named_as_output_is_not_followed(tmp_path, tree):
    link = tmp_path / "link"
    link.symlink_to(tree)
    with pytest.raises(McuError, match="is not a folder"):
        export(small_graph(1), link)
    (tree / "inner").symlink_to(tmp_path)  # a link inside the tree is the user's too
    with pytest.raises(McuError, match="inner"):
        export(small_graph(1), tree)


def test_working_and_home_folders_are_never_replaced(tmp_path, tree, monkeypatch, capsys):
    before = _snapshot(tree)
    monkeypatch.chdir(tree)
    assert main(["export", "unused.tflite", "-o", "."]) == 2
    assert "it is the working folder" in capsys.readouterr().err
    monkeypatch.chdir(tree / "host")
    assert main(["export", "unused.tflite", "-o", ".."]) == 2
    assert "holding the working folder" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tree))
    with pytest.raises(McuError, match="it is the home folder"):
        export(small_graph(1), tree)
    with pytest.raises(McuError, match="refusing to replace /"):
        export(small_graph(1), "/")
    assert _snapshot(tree) == before


def test_trees_get_ordinary_modes(tmp_path):
    old = os.umask(0o022)
    try:
        tree = export(small_graph(), tmp_path / "modes")
    finally:
        os.umask(old)
    assert stat.S_IMODE(tree.stat().st_mode) == 0o755
    assert {stat.S_IMODE(p.stat().st_mode) for p in tree.rglob("*") if p.is_file()} == {0o644}
