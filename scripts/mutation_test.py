#!/usr/bin/env python3
"""Mutation testing: plant one small bug at a time in runtime_c/ or the quantizer and see whether
the fast test tier notices.

Each mutant is a textual patch (one exact, unique snippet replaced) applied to a temporary copy
of the source tree; the chosen tests run against that copy (PYTHONPATH) and the mutant is
"killed" when they fail. The score is killed / total. Host builds are cached by the content of
the exported tree, so only trees that contain a mutated kernel are rebuilt.

    python scripts/mutation_test.py                     # every mutant, the default test subset
    python scripts/mutation_test.py --only bias-one-channel,pad-off-by-one
    python scripts/mutation_test.py --list
    python scripts/mutation_test.py --markdown docs/benchmarks/mutation.md

The converted .tflite models of tests/oracle_models.py are reused between runs
(MCUCOMPRESS_ORACLE_MODELS), so a mutant costs one pytest start and the tests up to the first
failure (-x).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COPIED = ("mcucompress", "runtime_c", "templates", "boards", "tests", "pyproject.toml")
# The fast tier's tests that judge numbers: the fixed-point helpers (seconds), the outside
# oracle (it kills most mutants), then the kernel, encoding and quantizer tests.
DEFAULT_TESTS = ("test_fixedpoint.py", "test_op_oracle.py", "test_kernels_misc.py", "test_encode_kernels.py",
                 "test_ptq.py")
# The default tier's markers without the training runs: the QEMU tests stay, as the DSP and
# ARMv6-M kernel paths run only there.
MARKERS = "not slow and not shared and not zoo"


def _python() -> str:
    """The interpreter that runs the tests: this one when it has pytest (the venv's, as
    `bash run.sh` sets it up), else the repository's .venv, so the script also runs as a command."""
    import importlib.util

    if importlib.util.find_spec("pytest") is not None:
        return sys.executable
    venv = REPO / ".venv" / "bin" / "python"
    if venv.is_file():
        return str(venv)
    raise SystemExit("error: no pytest here and no .venv in the repository (run `bash run.sh setup` first)")


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    what: str


M = Mutant
MUTANTS = (
    # shared requantization (mcc_nn.h): every conv, depthwise, fully connected, add, mean
    M("requant-nudge-sign", "runtime_c/include/mcc_nn.h",
      "nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));", "nudge = ((int64_t)1 << 30);",
      "doubling high multiply: negative products rounded like positive ones"),
    M("requant-truncate", "runtime_c/include/mcc_nn.h",
      "return (x >> exponent) + (remainder > threshold ? 1 : 0);", "return (x >> exponent);",
      "rounding shift truncates (floor) instead of rounding half away from zero"),
    M("requant-half-up", "runtime_c/include/mcc_nn.h",
      "const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);", "const int32_t threshold = (mask >> 1);",
      "rounding shift: negative halves round up instead of away from zero"),
    M("requant-no-saturation", "runtime_c/include/mcc_nn.h",
      "        return MCC_NN_INT32_MAX;\n    }\n#if MCC_HAVE_V6M\n    ab =",
      "        return MCC_NN_INT32_MIN;\n    }\n#if MCC_HAVE_V6M\n    ab =",
      "INT32_MIN * INT32_MIN saturates to the wrong end"),
    M("clamp-off-by-one", "runtime_c/include/mcc_nn.h",
      "return x < lo ? lo : (x > hi ? hi : x);", "return x < lo ? lo : (x > hi - 1 ? hi - 1 : x);",
      "activation clamp one below its maximum"),
    M("pool-window-padding", "runtime_c/include/mcc_nn.h",
      "const int32_t first = o * stride - padding;", "const int32_t first = o * stride - padding + 1;",
      "pooling windows one step off (padding off by one)"),
    # convolutions
    M("conv-fast-shift", "runtime_c/conv/mcc_conv2d_fast_s8.c",
      "    v = (v + (acc >> 31)) >> shift;\n#if MCC_HAVE_DSP", "    v = (v + (acc >> 31)) >> (shift + 1);\n#if MCC_HAVE_DSP",
      "fast conv: output shift one too many (multiplier halved)"),
    M("conv-fast-round-sign", "runtime_c/conv/mcc_conv2d_fast_s8.c",
      "    v = (v + (acc >> 31)) >> shift;\n#if MCC_HAVE_DSP", "    v = v >> shift;\n#if MCC_HAVE_DSP",
      "fast conv: negative accumulators lose their rounding correction"),
    M("conv-fast-stride-rows", "runtime_c/conv/mcc_conv2d_fast_s8.c",
      "const int32_t y0 = oy * p->stride.h - p->padding.h;", "const int32_t y0 = oy * p->stride.w - p->padding.h;",
      "fast conv: row stride read from the column stride"),
    M("conv-fast-padding", "runtime_c/conv/mcc_conv2d_fast_s8.c",
      "const int32_t x0 = ox * p->stride.w - p->padding.w;", "const int32_t x0 = ox * p->stride.w - p->padding.w + 1;",
      "fast conv: left padding off by one"),
    M("conv-fast-dilation", "runtime_c/conv/mcc_conv2d_fast_s8.c",
      "const int32_t y = y0 + ky * p->dilation.h;\n            const int row_inside = y >= 0 && y < in_dims->h;\n"
      "            if (row_inside && p->dilation.w == 1",
      "const int32_t y = y0 + ky;\n            const int row_inside = y >= 0 && y < in_dims->h;\n"
      "            if (row_inside && p->dilation.w == 1",
      "fast conv: row dilation ignored"),
    M("conv-bias-one-channel", "runtime_c/conv/mcc_conv2d_s8.c", "acc += bias[oc];",
      "acc += bias[oc] + (oc == 1 ? 3 : 0);", "portable conv: channel 1's bias off by 3"),
    M("depthwise-bias-one-channel", "runtime_c/conv/mcc_depthwise_conv2d_s8.c", "acc += bias[oc];",
      "acc += bias[oc] + (oc == 2 ? 1 : 0);", "depthwise: one step of bias in channel 2"),
    M("depthwise-multiplier-channel", "runtime_c/conv/mcc_depthwise_conv2d_s8.c",
      "const int32_t ic = oc / mult;", "const int32_t ic = oc % in_c;",
      "depthwise: output channel mapped to the wrong input channel when the multiplier is 2"),
    M("depthwise-padding", "runtime_c/conv/mcc_depthwise_conv2d_s8.c",
      "const int32_t y0 = oy * params->stride.h - params->padding.h;",
      "const int32_t y0 = oy * params->stride.h - params->padding.h - 1;",
      "depthwise: top padding off by one"),
    M("depthwise-fast-requant", "runtime_c/conv/mcc_conv2d_channels_s8.c", "params->bias[j];",
      "params->bias[j] + (j == 0 ? 2 : 0);", "channels kernel (depthwise fast path): bias of channel 0 off by 2"),
    # fully connected
    M("fc-fast-round", "runtime_c/fully_connected/mcc_fully_connected_fast_s8.c",
      "int32_t v = mcc_nn_smmlar(acc, ch[1], ch[2]);", "int32_t v = mcc_nn_smmlar(acc, ch[1], 0);",
      "fast fully connected: rounding constant (and output offset) dropped"),
    M("fc-fast-multiplier", "runtime_c/fully_connected/mcc_fully_connected_fast_s8.c",
      "int32_t v = mcc_nn_smmlar(acc, ch[1], ch[2]);", "int32_t v = mcc_nn_smmlar(acc, ch[1] - ch[1] / 32, ch[2]);",
      "fast fully connected: multiplier 3% low"),
    M("fc-portable-bias", "runtime_c/fully_connected/mcc_fully_connected_s8.c", "acc += bias[u];",
      "acc += bias[u] + (u == 0 ? 1 : 0);", "portable fully connected: one step of bias in unit 0"),
    # pooling, mean, add, softmax, pad, concat, relu
    M("maxpool-strict", "runtime_c/pooling/mcc_maxpool_s8.c", "best = *src > best ? *src : best;",
      "best = *src > best + 1 ? *src : best;", "max pool ignores values one above the running maximum"),
    M("avgpool-round", "runtime_c/pooling/mcc_avgpool_s8.c",
      "acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;\n                    *output++",
      "acc = acc / count;\n                    *output++", "average pool truncates instead of rounding"),
    M("avgpool-fast-round", "runtime_c/pooling/mcc_avgpool_s8.c",
      "    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;\n    return",
      "    acc = acc >= 0 ? (acc + count / 2) / count : (acc - count / 2 + 1) / count;\n    return",
      "average pool (4-channel path): negative halves round toward zero"),
    M("mean-offset", "runtime_c/reduce/mcc_mean_s8.c",
      "acc = mcc_nn_requantize(acc, params->multiplier, params->shift) +\n                      params->output_offset;",
      "acc = mcc_nn_requantize(acc, params->multiplier, params->shift) +\n                      params->output_offset + 1;",
      "mean: output offset off by one"),
    M("add-offset", "runtime_c/elementwise/mcc_add_s8.c",
      "const int32_t b = (input2[i] + params->input2_offset) * (1 << params->left_shift);",
      "const int32_t b = (input2[i] + params->input2_offset + 1) * (1 << params->left_shift);",
      "add: second input's zero point off by one"),
    M("add-clamp", "runtime_c/elementwise/mcc_add_s8.c",
      "output[i] = (int8_t)mcc_nn_clamp(sum, params->activation.min, params->activation.max);",
      "output[i] = (int8_t)mcc_nn_clamp(sum, -128, params->activation.max);",
      "add: fused ReLU ignored"),
    M("softmax-max-skips-last", "runtime_c/softmax/mcc_softmax_s8.c",
      "for (c = 0; c < depth; ++c) {\n            max_value = in_row[c]",
      "for (c = 0; c < depth - 1; ++c) {\n            max_value = in_row[c]",
      "softmax: the row maximum leaves out the last element"),
    M("softmax-exp-constant", "runtime_c/softmax/mcc_softmax_s8.c",
      "const int32_t exp_minus_one_eighth = 1895147668;", "const int32_t exp_minus_one_eighth = 1893252520;",
      "softmax: exp(-1/8) constant 0.1% low"),
    M("pad-off-by-one", "runtime_c/reshape/mcc_pad_s8.c", "const int32_t ix = x - pads[2];",
      "const int32_t ix = x - pads[3];", "pad: left padding taken from the right"),
    M("concat-order", "runtime_c/reshape/mcc_concat_channels_s8.c",
      "memcpy(output, inputs[k] + (int64_t)o * channels[k], (size_t)channels[k]);",
      "memcpy(output, inputs[count - 1 - k] + (int64_t)o * channels[k], (size_t)channels[k]);",
      "concat: inputs in reverse order"),
    M("relu-offset", "runtime_c/elementwise/mcc_requantize_s8.c", "v += params->output_offset;",
      "v += params->output_offset - 1;", "standalone relu / requantize: output offset off by one"),
    # encoded weights
    M("codebook-index", "runtime_c/codebook/mcc_fully_connected_codebook_s8.c",
      "acc += (row[d] + input_offset) * (codebook[buffer & mask] + filter_offset);",
      "acc += (row[d] + input_offset) * (codebook[(buffer + 1) & mask] + filter_offset);",
      "codebook: the next index's value looked up"),
    M("codebook-conv-bias", "runtime_c/codebook/mcc_conv2d_codebook_s8.c", "acc += bias[oc];",
      "acc += bias[oc] + (oc == 0 ? 1 : 0);", "codebook conv: one step of bias in channel 0"),
    M("csr-gap", "runtime_c/sparse/mcc_fully_connected_csr_s8.c", "const uint32_t s1 = s0 + gaps[1];",
      "const uint32_t s1 = s0 + gaps[1] + 1;", "CSR: second entry of each group one column late"),
    M("csr-bias", "runtime_c/sparse/mcc_fully_connected_csr_s8.c", "acc += bias[u];",
      "acc += bias[u] + (u == 1 ? 1 : 0);", "CSR fully connected: one step of bias in unit 1"),
    M("huffman-bias", "runtime_c/huffman/mcc_fully_connected_huffman_s8.c", "acc += bias[u];",
      "acc += bias[u] - (u == 2 ? 1 : 0);", "Huffman fully connected: one step of bias in unit 2"),
    # the quantizer (Python): the reference and the C read these numbers, only an outside oracle sees them
    M("multiplier-rounding", "mcucompress/quantize/fixedpoint.py",
      "q_fixed = int(_round_half_away(fraction * (1 << 31)))", "q_fixed = int(fraction * (1 << 31))",
      "requantization multipliers truncated instead of rounded"),
    M("multiplier-few-percent", "mcucompress/quantize/fixedpoint.py",
      "q_fixed = int(_round_half_away(fraction * (1 << 31)))",
      "q_fixed = int(_round_half_away(fraction * 0.98 * (1 << 31)))", "requantization multipliers 2% low"),
    M("add-left-shift", "mcucompress/quantize/params.py", "    left_shift = 20\n", "    left_shift = 16\n",
      "add: 16 bits of headroom instead of TFLite's 20"),
    M("relu-range", "mcucompress/quantize/params.py",
      "return max(INT8_MIN, _quantize_float(0.0, scale, zp)), INT8_MAX",
      "return max(INT8_MIN, _quantize_float(0.0, scale, zp) - 1), INT8_MAX", "relu clamps one step below zero"),
    M("ptq-bias-scale", "mcucompress/quantize/ptq.py",
      "qb = np.clip(round_half_away(bias / bias_scales.astype(np.float64)), INT32_MIN, INT32_MAX)",
      "qb = np.clip(np.floor(bias / bias_scales.astype(np.float64)), INT32_MIN, INT32_MAX)",
      "PTQ: biases floored instead of rounded"),
)


_CONVERT_ONCE = """
import os
from pathlib import Path
import oracle_models
folder = Path(os.environ["MCUCOMPRESS_ORACLE_MODELS"])
for name in oracle_models.MODELS:
    oracle_models.build(name, folder, reuse=True)
for name in ("fully_connected", "conv"):
    oracle_models.build(name, folder, sparse=True, reuse=True)
"""


def apply(mutant: Mutant, root: Path) -> None:
    path = root / mutant.path
    text = path.read_text()
    found = text.count(mutant.old)
    if found != 1:
        raise SystemExit(f"mutant {mutant.name}: its snippet occurs {found} times in {mutant.path}")
    path.write_text(text.replace(mutant.old, mutant.new))


def copy_tree(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in COPIED:
        src = REPO / name
        (shutil.copytree(src, dest / name, ignore=ignore) if src.is_dir() else shutil.copy2(src, dest / name))


def run_tests(root: Path, tests: tuple[str, ...], models: Path, timeout: float,
              select: str | None = None) -> tuple[bool, str]:
    env = dict(os.environ, PYTHONPATH=str(root), MCUCOMPRESS_ORACLE_MODELS=str(models),
               PYTHONDONTWRITEBYTECODE="1")
    command = [_python(), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", MARKERS, *tests]
    if select:
        command += ["-k", select]
    try:
        result = subprocess.run(command, cwd=root / "tests", env=env, capture_output=True, text=True,
                                timeout=timeout)
    except subprocess.TimeoutExpired:
        return True, "timed out"
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return result.returncode != 0, (lines[-1] if lines else f"exit {result.returncode}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated mutant names")
    parser.add_argument("--tests", help="comma-separated test files (default: %s)" % ",".join(DEFAULT_TESTS))
    parser.add_argument("--select", help="pytest -k expression narrowing the tests")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--markdown", type=Path, help="write the results table to this file")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per mutant (a hang is a kill)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at once")
    args = parser.parse_args(argv)
    mutants = MUTANTS
    if args.only:
        wanted = args.only.split(",")
        unknown = set(wanted) - {m.name for m in MUTANTS}
        if unknown:
            raise SystemExit(f"unknown mutants: {', '.join(sorted(unknown))}")
        mutants = tuple(m for m in MUTANTS if m.name in wanted)
    if args.list:
        for m in mutants:
            print(f"{m.name:<28} {m.path:<55} {m.what}")
        return 0
    tests = tuple(args.tests.split(",")) if args.tests else DEFAULT_TESTS
    rows = []
    with tempfile.TemporaryDirectory(prefix="mcc-mutants-") as tmp:
        models = Path(tmp) / "oracle_models"
        clean = REPO
        for m in mutants:  # every snippet must exist before anything runs
            if (clean / m.path).read_text().count(m.old) != 1:
                raise SystemExit(f"mutant {m.name}: its snippet does not occur exactly once in {m.path}")
        if args.jobs > 1:  # the converted models, once, before mutants running together share them
            subprocess.run([_python(), "-c", _CONVERT_ONCE], cwd=REPO / "tests", check=True,
                           env=dict(os.environ, PYTHONPATH=str(REPO), MCUCOMPRESS_ORACLE_MODELS=str(models)))
        # Without a planted bug the same tests must pass, or every mutant would count as killed.
        baseline = Path(tmp) / "baseline"
        copy_tree(baseline)
        failed, last = run_tests(baseline, tests, models, args.timeout, args.select)
        if failed:
            print(f"error: the tests fail without a mutant ({last}); no score", file=sys.stderr)
            return 2
        shutil.rmtree(baseline, ignore_errors=True)

        def one(m: Mutant):
            root = Path(tmp) / m.name
            copy_tree(root)
            apply(m, root)
            start = time.monotonic()
            killed, last = run_tests(root, tests, models, args.timeout, args.select)
            shutil.rmtree(root, ignore_errors=True)
            return m, killed, last, time.monotonic() - start

        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
            for m, killed, last, seconds in pool.map(one, mutants):
                rows.append((m, killed, last, seconds))
                print(f"{'killed ' if killed else 'SURVIVED'} {m.name:<28} {seconds:6.0f} s  {last}", flush=True)
                if args.markdown:  # partial results survive an interrupted run
                    write_markdown(args.markdown, markdown(rows, tests))
    killed = sum(1 for _, k, _, _ in rows if k)
    print(f"mutation score: {killed}/{len(rows)} killed ({100.0 * killed / len(rows):.1f}%)")
    if args.markdown:
        write_markdown(args.markdown, markdown(rows, tests))
    return 0 if killed == len(rows) else 1


BEGIN, END = "<!-- mutation results -->", "<!-- end of mutation results -->"


def write_markdown(path: Path, table: str) -> None:
    """The results into ``path``: between its BEGIN and END lines when it has them (the prose
    around them stays), else the whole file."""
    text = path.read_text() if path.is_file() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        table = f"{head}{BEGIN}\n{table}{END}{rest.split(END, 1)[1]}"
    path.write_text(table)


def markdown(rows, tests) -> str:
    killed = sum(1 for _, k, _, _ in rows if k)
    lines = [f"Score: **{killed}/{len(rows)} killed ({100.0 * killed / len(rows):.1f}%)**, tests: "
             f"{', '.join(tests)} (`-m \"{MARKERS}\"`).", "",
             "| mutant | file | planted bug | result |", "|---|---|---|---|"]
    for m, k, last, _ in rows:
        lines.append(f"| `{m.name}` | `{m.path}` | {m.what} | {'killed' if k else '**survived**'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
