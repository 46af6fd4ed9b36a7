"""The same harness and test vectors built with the host C compiler: the outputs QEMU must match."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from mcucompress.errors import McuError
from mcucompress.resources import templates_dir
from mcucompress.targets.glue import model_glue_source
from mcucompress.targets.manifest import Manifest
from mcucompress.targets.qemu import parse_console
from mcucompress.targets.tools import run_tool
from mcucompress.targets.vectors import vectors_source

HARNESS_FILES = ("mcc_harness.h", "harness.c", "platform_host.c")


def run_on_host(manifest: Manifest, inputs: np.ndarray, work_dir: Path, model_link: str | None = None) -> np.ndarray:
    """Compiles model + harness for the host, runs the inputs, returns int8 outputs (count, bytes).
    ``model_link``: the name of a link beside ``work_dir`` to the exported tree; the tree's files
    are then named through it, so that every tree's identical runtime files compile with the same
    command line (a compiler cache serves them)."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    for name in HARNESS_FILES:
        shutil.copyfile(templates_dir() / "firmware" / name, work_dir / name)
    (work_dir / "mcc_model_glue.c").write_text(model_glue_source(manifest, "host build"))
    (work_dir / "mcc_vectors.c").write_text(vectors_source(manifest, inputs, None, "host build"))
    root = Path("..", model_link) if model_link else manifest.root  # relative to work_dir, the compiler's cwd
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-I.", f"-DMCC_OUTPUT_BYTES={manifest.output_bytes}"]
    flags += [f"-I{root / d}" for d in manifest.include_dirs]
    flags += [f"-D{name}={value}" for name, value in manifest.defines.items()]
    sources = [root / s for s in manifest.sources]
    sources += [Path(n) for n in ("harness.c", "platform_host.c", "mcc_model_glue.c", "mcc_vectors.c")]
    objects = work_dir / "objects"
    shutil.rmtree(objects, ignore_errors=True)
    objects.mkdir()
    linked = _compile(work_dir, sources, flags)
    for k, member in enumerate(manifest.raw.get("members", [])):
        # a model set's member (targets/model_set.py): its own flags, one object, only its
        # prefix's symbols global, as in the firmware
        own = ["-std=c99", "-O2", "-Wall", "-Wextra", *(f"-I{root / d}" for d in member["include_dirs"]),
               *(f"-D{name}={value}" for name, value in member["defines"].items())]
        parts = _compile(work_dir, [root / s for s in member["sources"]], own, f"m{k}_")
        obj = str(Path("objects") / f"member{k}.o")
        _check_build(run_tool(["gcc", "-r", "-nostdlib", "-o", obj, *parts], cwd=work_dir))
        _check_build(run_tool(["objcopy", "--wildcard", f"--keep-global-symbol={member['prefix']}_*", obj],
                              cwd=work_dir))
        linked.append(obj)
    _check_build(run_tool(["gcc", *linked, "-o", "host_harness", "-lm"], cwd=work_dir))
    result = run_tool([str(work_dir / "host_harness")], timeout=600)
    outputs, _ = parse_console(result.stdout)
    if result.returncode != 0 or len(outputs) != len(inputs):
        raise McuError(f"host harness failed with status {result.returncode}: {result.stdout.strip()[-200:]}")
    return np.frombuffer(b"".join(outputs), dtype=np.int8).reshape(len(inputs), -1)


def _compile(work_dir: Path, sources: list[Path], flags: list[str], tag: str = "") -> list[str]:
    """The objects of ``sources`` (in work_dir/objects), one compile per file: a compiler cache
    serves only single-file compiles."""
    objects = []
    for k, source in enumerate(sources):
        obj = Path("objects") / f"{tag}{k:03d}_{source.stem}.o"
        _check_build(run_tool(["gcc", *flags, "-c", str(source), "-o", str(obj)], cwd=work_dir))
        objects.append(str(obj))
    return objects


def _check_build(build) -> None:
    if build.returncode != 0:
        lines = build.stderr.strip().splitlines() or ["no compiler output"]
        first = next((line for line in lines if "error:" in line), lines[0])  # not "In file included from"
        raise McuError(f"host build of the model failed: {first}")
