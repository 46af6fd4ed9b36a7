"""The decoders survive malformed encodings: the fuzz harness under AddressSanitizer and
UndefinedBehaviorSanitizer, driven by gcc and random mutations of valid seeds, and (when clang
is installed) a short libFuzzer run of scripts/fuzz_decoders.sh."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from fuzz_seeds import write_seeds

ROOT = Path(__file__).resolve().parent.parent
KERNELS = ["runtime_c/sparse/mcc_fully_connected_csr_s8.c", "runtime_c/sparse/mcc_fully_connected_csr_seg_s8.c",
           "runtime_c/sparse/mcc_fully_connected_csr_pair_s8.c",
           "runtime_c/codebook/mcc_fully_connected_codebook_s8.c",
           "runtime_c/huffman/mcc_fully_connected_huffman_s8.c", "runtime_c/huffman/mcc_fully_connected_huffman_lut_s8.c",
           "runtime_c/sparse/mcc_conv2d_csr_s8.c", "runtime_c/sparse/mcc_conv2d_csr_fast_s8.c",
           "runtime_c/codebook/mcc_conv2d_codebook_s8.c", "runtime_c/codebook/mcc_conv2d_codebook_fast_s8.c",
           "runtime_c/codebook/mcc_fully_connected_codebook_fast_s8.c", "runtime_c/conv/mcc_conv2d_s8.c",
           "runtime_c/fully_connected/mcc_fully_connected_s8.c", "runtime_c/int4/mcc_conv2d_int4_s8.c",
           "runtime_c/int4/mcc_fully_connected_int4_s8.c"]


def compile_per_object(flags: list[str], sources: list[str], exe: Path) -> None:
    """One compiler call per source, then the link: ccache stores single-source compiles only, so
    the kernels' sanitizer objects are served from it on the next run. The compiles run in the
    repository (relative paths): with -g ccache hashes the working folder, which then stays the same."""
    objects = []
    for i, source in enumerate(sources):
        obj = exe.parent / f"{exe.name}-{i}-{Path(source).stem}.o"
        subprocess.run(["gcc", *flags, "-c", source, "-o", str(obj)], cwd=ROOT, check=True)
        objects.append(str(obj))
    subprocess.run(["gcc", *flags, *objects, "-o", str(exe)], check=True)


def test_mutated_encodings_never_go_out_of_bounds(tmp_path):
    exe = tmp_path / "mutate"
    compile_per_object(["-std=c99", "-g", "-O1", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
                        "-fno-sanitize-recover=undefined", "-Iruntime_c/include"],
                       ["fuzz/fuzz_decoders.c", "fuzz/mutate_main.c", *KERNELS], exe)
    seeds = write_seeds(tmp_path / "seeds")
    result = subprocess.run([str(exe), "800", *map(str, seeds)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"ran {len(seeds) * 801} inputs" in result.stdout


@pytest.mark.skipif(shutil.which("clang") is None, reason="needs clang (libFuzzer)")
def test_libfuzzer_smoke_run(tmp_path):
    env = {**os.environ, "FUZZ_OUT": str(tmp_path)}
    result = subprocess.run(["bash", str(ROOT / "scripts/fuzz_decoders.sh"), "20000"], capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Done 20000 runs" in result.stderr
