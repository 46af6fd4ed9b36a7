"""Every runtime kernel compiles for Cortex-M with strict warnings at the optimisation levels
users build with: debug builds (-O0 keeps r7 as the frame pointer, which the hand-scheduled
assembly loops must then leave alone) as well as release builds."""

import shutil
import subprocess
from pathlib import Path

import pytest

from mcucompress.resources import runtime_dir

pytestmark = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")

CORES = {
    "cortex-m0": ["-mcpu=cortex-m0", "-mfloat-abi=soft"],
    "cortex-m4": ["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    "cortex-m55": ["-mcpu=cortex-m55", "-mfloat-abi=hard"],
}


# -Os: what the Arduino cores build with, where register pressure is highest for the assembly loops.
# Defines a model's tree may add (codegen/render.py) are built at every level too.
@pytest.mark.parametrize("core, level", [(core, level) for core in sorted(CORES) for level in ("-O0", "-O2", "-Os")])
def test_runtime_cross_compiles_strictly(core, level, tmp_path):
    root = runtime_dir()
    sources = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.c"))
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-mthumb", *CORES[core], level,
             "-DMCC_DW_STRIDE2_STRIPS=1", "-DMCC_DW_MVE_LINES=1", "-DMCC_CONV_1X1_C8=1", "-DMCC_DW_MVE_FLAT=1",
             "-DMCC_CONV_MVE_FEW_K=1", "-DMCC_DW_DSP_PLANES=1", "-DMCC_CONV_RELU_SHIFT=9", "-Iinclude"]
    # One source per call: ccache (tests/compiler_cache.py) stores no object of a call that
    # compiles several, and the runtime changes a few files at a time. The compiles run in the
    # runtime folder with relative paths, so that a checkout in another folder (CI's) is served
    # the objects a run in any other checkout stored.
    for source in sources:
        obj = tmp_path / f"{Path(source).stem}.o"
        result = subprocess.run(["arm-none-eabi-gcc", *flags, "-c", source, "-o", str(obj)], cwd=root,
                                capture_output=True, text=True)
        assert result.returncode == 0, f"{source}:\n{result.stderr[-3000:]}"
    assert len(list(tmp_path.glob("*.o"))) == len(sources)
