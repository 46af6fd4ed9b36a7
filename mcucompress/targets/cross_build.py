"""Configure and build a firmware project with CMake, Ninja and arm-none-eabi-gcc."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mcucompress.errors import McuError
from mcucompress.targets.board import Board
from mcucompress.targets.budget import Footprint, arena_bytes, measure, overflow_error
from mcucompress.targets.firmware import TOOLCHAIN_FILE
from mcucompress.targets.stack_usage import worst_case_stack
from mcucompress.targets.tools import require_tool, run_tool
from mcucompress.targets.uf2 import write_uf2


def _first_error(log: str) -> str:
    for line in log.splitlines():
        if "error" in line.lower():
            return line.strip()
    return log.strip().splitlines()[-1] if log.strip() else "no output"


def _configured_for(build_dir: Path, project_dir: Path) -> bool:
    """A build folder is reused only if CMake configured it for this very project folder (an
    exported tree may have been moved or renamed since) and with the compiler found on PATH now."""
    cache = build_dir / "CMakeCache.txt"
    if not (build_dir / "build.ninja").is_file() or not cache.is_file():
        return False
    for line in cache.read_text(errors="replace").splitlines():
        if line.startswith("CMAKE_HOME_DIRECTORY:"):
            return (Path(line.split("=", 1)[1]).resolve() == project_dir.resolve()
                    and _configured_compiler(build_dir) == _compiler_on_path())
    return False


def _compiler_on_path() -> Path | None:
    found = shutil.which("arm-none-eabi-gcc")
    return Path(found).resolve() if found else None


def _configured_compiler(build_dir: Path) -> Path | None:
    """The C compiler CMake found when it configured the folder, as its generated
    CMakeCCompiler.cmake records it. The folder outlives that compiler: a wrapper put first on
    PATH (a test session's ccache wrappers) may be gone by the next build, and the folder's build
    rules would call the missing path."""
    for recorded in sorted(build_dir.glob("CMakeFiles/*/CMakeCCompiler.cmake")):
        for line in recorded.read_text(errors="replace").splitlines():
            if line.startswith("set(CMAKE_C_COMPILER "):
                path = Path(line[len("set(CMAKE_C_COMPILER "):].rstrip(")").strip('"'))
                return path.resolve() if path.is_file() else None
    return None


def cross_build(project_dir: Path, board: Board, prefix: str, platform: str = "semihost") -> Path:
    """Builds the firmware (in `build/`, or `build-<platform>/` for other harness platforms) and
    returns the ELF. A memory overflow at link time becomes the budget McuError."""
    project_dir = Path(project_dir)
    build_dir = project_dir / ("build" if platform == "semihost" else f"build-{platform}")
    for tool in ("arm-none-eabi-gcc", "cmake", "ninja"):
        require_tool(tool)
    if not _configured_for(build_dir, project_dir):
        if build_dir.exists():
            shutil.rmtree(build_dir)
        configure = run_tool(["cmake", "-S", str(project_dir), "-B", str(build_dir), "-G", "Ninja",
                              f"-DCMAKE_TOOLCHAIN_FILE={project_dir / TOOLCHAIN_FILE}",
                              f"-DMCC_PLATFORM={platform}"])
        if configure.returncode != 0:
            log = configure.stdout + configure.stderr
            raise McuError(f"configuring the firmware failed: {_first_error(log)}")
    build = run_tool(["cmake", "--build", str(build_dir)])
    log = build.stdout + build.stderr
    (build_dir / "build.log").write_text(log)
    if build.returncode != 0:
        budget = overflow_error(log, board, board.stack_bytes, arena_bytes(build_dir / f"lib{prefix}.a"))
        if budget is not None:
            raise budget
        raise McuError(f"cross build failed: {_first_error(log)} (full log: {build_dir / 'build.log'})")
    elf = build_dir / f"{prefix}_firmware.elf"
    if board.uf2_family is not None:
        write_uf2(elf, board.uf2_family)
    return elf



def build_firmware(project_dir: Path, board: Board, prefix: str, platform: str = "semihost") -> tuple[Path, Footprint]:
    """Cross-builds, measures flash and RAM (the stack as computed from the call graph; a run on
    the target measures it) and records them in `footprint.json` beside the project files."""
    elf = cross_build(project_dir, board, prefix, platform)
    footprint = measure(elf).with_computed_stack(worst_case_stack(elf.parent))
    (Path(project_dir) / "footprint.json").write_text(json.dumps(footprint.as_dict(board), indent=2) + "\n")
    return elf, footprint
