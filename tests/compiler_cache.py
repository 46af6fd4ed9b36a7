"""The C compilers the tests start (CMake host and firmware builds, direct gcc/clang calls) run
through ccache when it is installed.

The suite compiles the same runtime kernels with the same flags for many exported trees; ccache
keys each object by the compiler, its flags and the preprocessed source, and hands back the
object of an identical earlier compile. `CCACHE_BASEDIR=/` makes paths relative to the build
folder, so two trees in different temporary folders share their kernels' objects.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

COMPILERS = ("cc", "gcc", "clang", "arm-none-eabi-gcc")
ENABLED = "MCUCOMPRESS_TESTS_CCACHE"  # set once the PATH holds the wrappers (xdist workers inherit it)

# GCC's -fcallgraph-info files (read for the firmware's stack bound) are not among the outputs
# ccache stores: a cache hit would leave them out, so those compiles run the compiler itself.
WRAPPER = """#!/bin/sh
case " $* " in *" -fcallgraph-info"*) exec {real} "$@" ;; esac
exec {ccache} {real} "$@"
"""


def route_compilers_through_ccache(folder: Path) -> bool:
    """Puts a wrapper for each compiler found into `folder`, first on PATH; False without ccache."""
    ccache = shutil.which("ccache")
    if ccache is None or os.environ.get(ENABLED):
        return False
    folder.mkdir(parents=True, exist_ok=True)
    for name in COMPILERS:
        real = shutil.which(name)
        if real is None:
            continue
        wrapper = folder / name
        wrapper.write_text(WRAPPER.format(real=shlex.quote(real), ccache=shlex.quote(ccache)))
        wrapper.chmod(0o755)
    os.environ["PATH"] = os.pathsep.join([str(folder), os.environ.get("PATH", "")])
    os.environ.setdefault("CCACHE_BASEDIR", "/")
    os.environ[ENABLED] = str(folder)
    return True
