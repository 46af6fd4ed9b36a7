"""Builds the instruction-counting QEMU plugin with the host C compiler, once per source version.

The shared object is cached under $XDG_CACHE_HOME/mcucompress (default ~/.cache) keyed by the hash
of its source, so it is rebuilt only when the source changes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from mcucompress.errors import McuError
from mcucompress.targets.tools import run_tool

SOURCE_DIR = Path(__file__).resolve().parent / "icount_plugin"
SOURCES = ("icount.c", "plugin_api.h")


def _cache_root() -> Path:
    """$XDG_CACHE_HOME/mcucompress or ~/.cache/mcucompress; the temp folder when neither is writable."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mcucompress"
    try:
        base.mkdir(parents=True, exist_ok=True)
        if os.access(base, os.W_OK):
            return base
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / f"mcucompress-cache-{os.getuid()}"


def plugin_path() -> Path:
    """The built plugin, compiling it first when the cache lacks this version."""
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update((SOURCE_DIR / name).read_bytes())
    target = _cache_root() / f"icount-{digest.hexdigest()[:16]}" / "libmcc_icount.so"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    result = run_tool(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic",
                       "-shared", "-fPIC", "-fvisibility=hidden", "-o", str(partial),
                       str(SOURCE_DIR / "icount.c")])
    if result.returncode != 0:
        raise McuError(f"building the QEMU instruction-count plugin failed: {result.stderr.strip()[:300]}")
    os.replace(partial, target)  # atomic: concurrent builders never see a half-written file
    return target
