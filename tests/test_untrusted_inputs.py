"""Hostile or careless inputs other than model files: output folders that hold the user's files,
board files, names that reach C and CMake, paths with CMake's special characters, concurrent runs.

Every case is made here, from a small random graph or a crafted file; nothing outside the test's
own folders may change."""

from __future__ import annotations

import json
import os
import re
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


# --- board files: names only, files only from --boards-dir, every field checked ----------------

SHIPPED_BOARD = """\
name: my-board
description: My board (Cortex-M4F)
cpu: cortex-m4
fpu: fpv4-sp-d16
float_abi: hard
features: {dsp: true, mve: false}
clock_hz: 25000000
memory:
  flash: {origin: 0x00000000, size: 0x00400000}
  ram: {origin: 0x20000000, size: 0x00400000}
stack_bytes: 16384
qemu: {machine: mps2-an386}
flash_tool: {}
"""


def _board_file(folder: Path, text: str = SHIPPED_BOARD, name: str = "my-board") -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["../../evil", "/tmp/evil", "sub/evil", "..", "a\\b", "x\ny", ""])
def test_board_names_are_never_paths(tmp_path, capsys, name):
    from mcucompress.targets.board import load_board

    _board_file(tmp_path / "elsewhere", name="evil")
    with pytest.raises(McuError, match="is not a board name"):
        load_board(name)
    out = tmp_path / "out"
    assert main(["export", "unused.tflite", "-o", str(out), "--board", name]) == 2
    err = capsys.readouterr().err
    assert "is not a board name" in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere"]


def test_own_boards_come_from_a_named_folder(tmp_path, capsys):
    from mcucompress.targets.board import load_board
    from mcucompress.targets.firmware import write_firmware_project

    folder = tmp_path / "my boards"
    _board_file(folder)
    with pytest.raises(McuError, match="unknown board 'my-board'"):
        load_board("my-board")
    board = load_board("my-board", folder)
    assert (board.cpu, board.ram.size, board.qemu_machine) == ("cortex-m4", 4 << 20, "mps2-an386")
    assert main(["boards", "--boards-dir", str(folder)]) == 0
    assert "my-board" in capsys.readouterr().out
    tree = export(small_graph(), tmp_path / "t")
    project = write_firmware_project(tree, board, build=False)
    assert project == tree / "firmware" / "my-board"
    assert "My board (Cortex-M4F)" in (project / "CMakeLists.txt").read_text()


HOSTILE_FIELDS = {
    "description": ('description: "x\\n)\\nexecute_process(COMMAND touch ${CMAKE_SOURCE_DIR}/ran)"',
                    "field 'description' holds '$'"),
    "comment_end": ("description: 'ends the comment */ MEMORY { }'", "field 'description' holds '*'"),
    "cpu": ("cpu: cortex-m4 -fplugin=evil.so", "field 'cpu' must be one of"),
    "fpu": ("fpu: 'fpv4-sp-d16\" -T/etc/passwd'", "field 'fpu' must be one of"),
    "stack": ("stack_bytes: 1e9", "field 'stack_bytes' must be an integer"),
    "stack_bool": ("stack_bytes: true", "field 'stack_bytes' must be an integer"),
    "clock": ("clock_hz: -5", "field 'clock_hz' must be an integer"),
    "memory": ("memory: {flash: {origin: 0xFFFFFFF0, size: 0x100}, ram: {origin: 0, size: 16}}",
               "field 'memory.flash.size' must be an integer"),
    "machine": ("qemu: {machine: 'mps2-an386 -plugin evil.so'}", "field 'qemu.machine' must match"),
    "openocd": ("flash_tool: {openocd: {config: [../../../etc/evil.cfg]}}",
                "field 'flash_tool.openocd.config' must match"),
    "unknown": ("linker_flags: -Wl,--wrap=main", "field 'linker_flags' is not a board field"),
    "feature": ("features: {dsp: 'yes', mve: false}", "field 'features.dsp' must be true or false"),
    "name": ("name: other", "its name 'other' is not the file's"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_FIELDS))
def test_every_board_field_is_checked(tmp_path, capsys, case):
    line, message = HOSTILE_FIELDS[case]
    import yaml

    text = yaml.safe_dump({**yaml.safe_load(SHIPPED_BOARD), **yaml.safe_load(line)})
    folder = tmp_path / "boards"
    _board_file(folder, text)
    tree = export(small_graph(), tmp_path / "t")
    before = _snapshot(tree)
    assert main(["run", str(tree), "--board", "my-board", "--boards-dir", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: board file {folder / 'my-board.yaml'} is invalid: ") and message in err
    assert err.count("\n") == 1
    assert _snapshot(tree) == before and not (tmp_path / "ran").exists()


def test_shipped_boards_pass_the_schema():
    from mcucompress.targets.board import board_names, load_board

    assert len([load_board(name) for name in board_names()]) >= 11


# --- concurrent runs of one tree, on a path CMake finds hostile --------------------------------

def test_concurrent_runs_on_a_hostile_path_are_all_correct(tmp_path):
    """Four `mcucompress run` processes at once on one tree whose path holds ';', '"', '${' and a
    space, each with its own inputs: every one prints the reference outputs of its own inputs,
    and the tree is left exactly as export wrote it."""
    import shutil
    import subprocess
    import sys

    if not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")):
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm")
    repo = Path(__file__).resolve().parent.parent
    tree = export(small_graph(), tmp_path / 'we;ird "q" ${HOME} $x' / "tree")
    before = _snapshot(tree)
    env = {**os.environ, "PYTHONPATH": str(repo), "MCUCOMPRESS_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, str(repo / "scripts" / "concurrent_runs.py"), str(tree),
                             "--runs", "4"], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["correct"] == 4
    assert _snapshot(tree) == before


# --- names from model files reach C comments, terminals and CMake as plain text ----------------

HOSTILE_NAMES = ["conv*", "a*/ int evil; /*", "x\\", "dense/*", "\u202eevil\u202c", "ctl\x1b[2J\x07",
                 "[bold]x[/]", "line\nbreak"]


def _renamed(graph, name: str):
    from dataclasses import replace

    return graph.replace(ops=(replace(graph.ops[0], name=name),))


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_layer_names_never_break_the_c(tmp_path, name):
    from mcucompress.build.host import build_host

    tree = export(_renamed(small_graph(), name), tmp_path / "t")
    text = (tree / "model.c").read_text()
    assert text.isascii() and all(c.isprintable() or c == "\n" for c in text)
    assert build_host(tree).is_file()  # the tree's CMake build uses -Wall -Wextra -Werror -pedantic


def test_info_prints_names_and_paths_as_plain_text(tmp_path, capsys):
    graph = small_graph()
    graph = graph.replace(ops=(graph.ops[0].__class__(graph.ops[0].kind, "[bold]x[/] \x1b[31mred\u202e",
                                                       graph.ops[0].inputs, graph.ops[0].outputs,
                                                       graph.ops[0].attrs),))
    tree = export(graph, tmp_path / "odd [/] [red]path")
    assert main(["info", str(tree)]) == 0
    out = capsys.readouterr().out
    words = " ".join(out.split())  # a title longer than the console wraps at its spaces
    assert "[bold]x[/]" in words and "odd [/] [red]path" in words
    assert "\x1b" not in out and "\u202e" not in out and "\\x1b[31mred\\u202e" in out


@pytest.mark.parametrize("prefix", ["all", "clean", "help", "install", "int", "while", "_Model", "__x",
                                    "mcc", "mcc_nn", "x" * 33, "my-model"])
def test_unbuildable_prefixes_are_refused(tmp_path, capsys, prefix):
    assert main(["export", "unused.tflite", "-o", str(tmp_path / "t"), "--prefix", prefix]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: prefix '{prefix}' ") and err.count("\n") == 1
    assert not (tmp_path / "t").exists()


def test_a_tree_with_hostile_build_fields_is_refused(tree, capsys):
    from mcucompress.targets.manifest import read_manifest

    manifest = json.loads((tree / "manifest.json").read_text())
    for key, value in (("sources", ["model.c\")\nexecute_process(COMMAND touch ran)#"]),
                       ("include_dirs", ["../../etc"]), ("defines", {"X": "1\"\nexecute_process()"}),
                       ("model_sha256", "x\nexecute_process(COMMAND touch ran)"),
                       ("prefix", "clean")):
        (tree / "manifest.json").write_text(json.dumps({**manifest, key: value}))
        with pytest.raises(McuError):
            read_manifest(tree)
        assert main(["run", str(tree), "--board", "mps2-an386"]) == 2
        assert capsys.readouterr().err.count("\n") == 1


def test_verify_builds_a_tree_on_a_hostile_path(tmp_path, capsys):
    tree = export(small_graph(), tmp_path / 'a;b "c" ${HOME}' / "tree")
    x = np.random.default_rng(0).integers(-128, 128, (3, 5, 5, 3), dtype=np.int8)
    np.savez(tmp_path / "x.npz", x=x)
    assert main(["verify", str(tree), "--data", str(tmp_path / "x.npz"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"]


# --- Keras weights that cannot be quantized --------------------------------------------------

@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_keras_weights_are_one_line_errors(tmp_path, capsys, bad):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="fc")])
    kernel, bias = model.layers[0].get_weights()
    kernel[1, 2] = bad
    model.layers[0].set_weights([kernel, bias])
    path = tmp_path / "bad.keras"
    model.save(path)
    np.savez(tmp_path / "calib.npz", x=np.zeros((4, 4), np.float32))
    for command in (["export", str(path), "-o", str(tmp_path / "t"), "--calib", str(tmp_path / "calib.npz")],
                    ["info", str(path)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: bad.keras: weight 'fc/kernel' holds ") and err.count("\n") == 1
        assert ("NaN" if np.isnan(bad) else "infinite") in err
    assert not (tmp_path / "t").exists()


# --- every export is byte-reproducible across processes and hash seeds -------------------------

def test_exports_are_identical_across_hash_seeds(mlperf_dir, tmp_path):
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, str(repo / "scripts" / "check_reproducible.py"),
                             str(mlperf_dir / "kws_ref_model.tflite"), "--seeds", "0", "1", "2"],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(repo)},
                            timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["identical"]


def test_graph_bytes_do_not_depend_on_the_order_tensors_were_collected():
    from mcucompress.ir.serialize import graph_to_bytes

    graph = small_graph()
    shuffled = graph.replace(tensors=dict(reversed(list(graph.tensors.items()))))
    assert list(shuffled.tensors) != list(graph.tensors)
    assert graph_to_bytes(shuffled) == graph_to_bytes(graph)


def test_concurrent_verifies_of_a_fresh_tree_share_one_host_build(tmp_path, monkeypatch):
    """Four verifies at once on a tree nobody built yet: each builds, all install the same
    executable atomically, and every one compares byte for byte."""
    from concurrent.futures import ThreadPoolExecutor

    from mcucompress.verify import verify

    monkeypatch.setenv("MCUCOMPRESS_CACHE", str(tmp_path / "cache"))
    tree = export(small_graph(3), tmp_path / "t")
    for i in range(4):
        np.savez(tmp_path / f"x{i}.npz", x=np.random.default_rng(i).integers(-128, 128, (5, 5, 5, 3), dtype=np.int8))
    with ThreadPoolExecutor(4) as pool:
        reports = list(pool.map(lambda i: verify(tree, tmp_path / f"x{i}.npz"), range(4)))
    assert all(r.ok and r.samples == 5 for r in reports)
    assert len(list((tmp_path / "cache" / "host-builds").iterdir())) == 1  # no work folder left


@pytest.mark.parametrize("folder", ["a;b", "a$b", 'a"b'])
def test_firmware_projects_inside_trees_refuse_paths_cmake_cannot_build(tmp_path, folder):
    out = tmp_path / folder / "t"
    with pytest.raises(McuError, match=f"cannot build the firmware project in {re.escape(str(out))}"):
        export(small_graph(), out, board="mps2-an386")
    assert list(tmp_path.iterdir()) == []
