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
import subprocess
from pathlib import Path

COMPILERS = ("cc", "gcc", "clang", "arm-none-eabi-gcc")
CALL_GRAPHS = "mcucompress-call-graphs"  # beside ccache's own folders, in its cache_dir
ENABLED = "MCUCOMPRESS_TESTS_CCACHE"  # set once the PATH holds the wrappers (xdist workers inherit it)

# GCC's -fcallgraph-info file (`x.c.ci` beside `x.c.obj`, read for the firmware's stack bound) is
# not among the outputs ccache stores. The wrapper keeps each one it sees compiled in CALL_GRAPHS,
# named by the hash of the object and of the option, and puts it back beside a cached object with
# that hash; an object whose call graph is not kept is compiled again.
WRAPPER = """#!/bin/sh
obj=; graph_option=; compile_only=; previous=
for arg; do
  case "$arg" in -fcallgraph-info*) graph_option=$arg ;; -c) compile_only=1 ;; esac
  [ "$previous" = -o ] && obj=$arg
  previous=$arg
done
[ -n "$graph_option" ] || exec {ccache} {real} "$@"
[ -n "$compile_only" ] && [ -n "$obj" ] && command -v sha256sum >/dev/null || exec {real} "$@"
graph="${{obj%.*}}.ci"
rm -f "$graph"
{ccache} {real} "$@" || exit $?
hash=$({{ cat "$obj" && echo "$graph_option"; }} | sha256sum) || exit 1
kept={graphs}/${{hash%% *}}.ci
if [ ! -f "$graph" ]; then
  if [ -f "$kept" ]; then cp "$kept" "$graph"; exit $?; fi
  {real} "$@" || exit $?
fi
cp "$graph" "$kept.$$" && mv "$kept.$$" "$kept"
"""


def route_compilers_through_ccache(folder: Path) -> bool:
    """Puts a wrapper for each compiler found into `folder`, first on PATH; False without ccache."""
    ccache = shutil.which("ccache")
    if ccache is None or os.environ.get(ENABLED):
        return False
    folder.mkdir(parents=True, exist_ok=True)
    graphs = Path(subprocess.run([ccache, "-k", "cache_dir"], capture_output=True, text=True).stdout.strip()
                  or folder) / CALL_GRAPHS
    graphs.mkdir(parents=True, exist_ok=True)
    for name in COMPILERS:
        real = shutil.which(name)
        if real is None:
            continue
        wrapper = folder / name
        wrapper.write_text(WRAPPER.format(real=shlex.quote(real), ccache=shlex.quote(ccache),
                                          graphs=shlex.quote(str(graphs))))
        wrapper.chmod(0o755)
    os.environ["PATH"] = os.pathsep.join([str(folder), os.environ.get("PATH", "")])
    os.environ.setdefault("CCACHE_BASEDIR", "/")
    os.environ[ENABLED] = str(folder)
    return True
