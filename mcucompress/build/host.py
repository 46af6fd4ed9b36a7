"""Host build of an exported tree with CMake and the system C compiler, cached by content.

The cache key is a hash of every file the build reads (CMakeLists.txt, sources, headers), so an
unchanged tree is never rebuilt and a changed one never reuses a stale binary.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from mcucompress.cache import cache_dir
from mcucompress.errors import McuError
from mcucompress.targets.manifest import manifest_json

BUILD_SUFFIXES = (".c", ".h", ".txt")


def cache_root() -> Path:
    return cache_dir("host-builds")


def _toolchain_identity() -> bytes:
    """First lines of `cmake --version` and `cc --version`: a new compiler means a new build."""
    lines = []
    for tool in ("cmake", os.environ.get("CC", "cc")):
        found = shutil.which(tool)
        try:
            stat = os.stat(found) if found else None
        except OSError:
            stat = None
        lines.append(_version_line(tool, found, stat and (stat.st_mtime_ns, stat.st_size, stat.st_ino)))
    return "\n".join(lines).encode()


@functools.lru_cache(maxsize=16)
def _version_line(tool: str, found: str | None, identity) -> str:
    """The first line of ``tool --version``, asked once per process for the same executable (the
    same path, and the same file there): a test run builds hundreds of trees."""
    try:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout
    except OSError:
        out = ""
    return out.splitlines()[0] if out else f"{tool}: missing"


def tree_key(tree: Path) -> str:
    """Hash of the toolchain and of the paths and bytes of every build input in the tree."""
    digest = hashlib.sha256(_toolchain_identity())
    for path in sorted(p for p in tree.rglob("*") if p.is_file() and p.suffix in BUILD_SUFFIXES
                       and "firmware" not in p.relative_to(tree).parts):
        digest.update(path.relative_to(tree).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def _prefix(tree: Path) -> str:
    try:
        return manifest_json(tree)["prefix"]
    except (McuError, KeyError):
        raise McuError(f"{tree}: not an exported tree (no readable manifest.json)") from None


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise McuError(f"'{name}' not found on PATH; it is needed to build on the host")
    return found


def build_host(tree) -> Path:
    """Path of the tree's host harness executable, building it if the cache has none."""
    tree = Path(tree).resolve()
    prefix = _prefix(tree)
    final = cache_root() / tree_key(tree)
    exe = final / f"{prefix}_host"
    if exe.is_file():
        return exe
    cmake = _tool("cmake")
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=final.parent))
    try:
        source = work / "tree"  # CMake cannot configure a folder whose path holds ';': a link can
        source.symlink_to(tree, target_is_directory=True)
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        _run([cmake, "-S", str(source), "-B", str(work / "build"), *generator, "-DCMAKE_BUILD_TYPE=Release"],
             "configure")
        _run([cmake, "--build", str(work / "build")], "build")
        built = work / "build" / f"{prefix}_host"
        if not built.is_file():
            raise McuError(f"host build of {tree} produced no {built.name}")
        final.mkdir(exist_ok=True)
        staged = work / f"{exe.name}.copy"  # on the cache's file system, private to this build
        shutil.copy2(built, staged)
        os.replace(staged, exe)  # atomic: concurrent builders of one tree each install a whole file
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return exe


def _run(cmd: list[str], what: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).splitlines()
        # a compiler diagnostic ("file:line: error: ...") first: the echoed command holds "-Werror"
        lines = ([line for line in output if "error:" in line.lower()]
                 or [line for line in output if "error" in line.lower()])
        first = lines[0].strip() if lines else (result.stderr.strip().splitlines() or ["?"])[-1]
        raise McuError(f"host {what} failed: {first[:300]}")
