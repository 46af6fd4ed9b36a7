#!/usr/bin/env bash
# Fuzz the encoded-weight decoders (runtime_c/{sparse,codebook,huffman}) with libFuzzer under
# AddressSanitizer and UndefinedBehaviorSanitizer; the fast codebook and the int4 kernels are checked
# against the portable dense kernels (mcc_conv2d_s8, mcc_fully_connected_s8) on every input.
#
#   scripts/fuzz_decoders.sh [RUNS] [KIND]   # default 1,000,000 executions; needs clang (apt-get install clang)
#
# KIND (0-10, see fuzz/fuzz_decoders.c) fuzzes that decoder alone, so each gets RUNS executions of its own.
#
# Seeds come from fuzz/make_seeds.py (valid encodings written by mcucompress.encode), so the
# fuzzer starts from well-formed data and mutates it. Exits non-zero on the first crash.
set -euo pipefail
RUNS="${1:-1000000}"
KIND="${2:-}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${FUZZ_OUT:-$ROOT/build/fuzz}"
CC="${CLANG:-clang}"
command -v "$CC" >/dev/null || { echo "fuzz_decoders: '$CC' not found (apt-get install clang)" >&2; exit 2; }
if [ -n "$KIND" ]; then
  case "$KIND" in [0-9]|10) OUT="$OUT/kind$KIND" ;; *) echo "fuzz_decoders: KIND must be 0-10, not '$KIND'" >&2; exit 2 ;; esac
fi
mkdir -p "$OUT/corpus"
# One compile per source, then the link: ccache (when the caller routes the compiler through it)
# stores single-source compiles only. The compiles run in the repository with relative paths, as
# with -g ccache hashes the working folder.
FLAGS=(-std=c99 -g -O1 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined ${KIND:+-DFUZZ_KIND=$KIND}
       -fno-sanitize-recover=undefined -Iruntime_c/include)
SOURCES=(fuzz/fuzz_decoders.c
  runtime_c/sparse/mcc_fully_connected_csr_s8.c
  runtime_c/sparse/mcc_fully_connected_csr_seg_s8.c
  runtime_c/sparse/mcc_fully_connected_csr_pair_s8.c
  runtime_c/codebook/mcc_fully_connected_codebook_s8.c
  runtime_c/huffman/mcc_fully_connected_huffman_s8.c
  runtime_c/huffman/mcc_fully_connected_huffman_lut_s8.c
  runtime_c/sparse/mcc_conv2d_csr_s8.c
  runtime_c/sparse/mcc_conv2d_csr_fast_s8.c
  runtime_c/codebook/mcc_conv2d_codebook_s8.c
  runtime_c/codebook/mcc_conv2d_codebook_fast_s8.c
  runtime_c/codebook/mcc_fully_connected_codebook_fast_s8.c
  runtime_c/int4/mcc_conv2d_int4_s8.c
  runtime_c/int4/mcc_fully_connected_int4_s8.c
  runtime_c/conv/mcc_conv2d_s8.c
  runtime_c/fully_connected/mcc_fully_connected_s8.c)
OUT="$(cd "$OUT" && pwd)"
mkdir -p "$OUT/obj"
OBJECTS=()
for src in "${SOURCES[@]}"; do
  obj="$OUT/obj/$(basename "${src%.c}").o"
  (cd "$ROOT" && "$CC" "${FLAGS[@]}" -c "$src" -o "$obj")
  OBJECTS+=("$obj")
done
(cd "$ROOT" && "$CC" "${FLAGS[@]}" "${OBJECTS[@]}" -o "$OUT/fuzz_decoders")
# The interpreter running this package: $PYTHON, else the README's .venv, else python3 on PATH.
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON="$(command -v python3)"; fi
fi
PYTHONPATH="$ROOT" "$PYTHON" "$ROOT/fuzz/make_seeds.py" "$OUT/seeds"
"$OUT/fuzz_decoders" -runs="$RUNS" -seed=1 -max_len=4096 -print_final_stats=1 "$OUT/corpus" "$OUT/seeds" \
  2> >(tee "$OUT/last_run.log" >&2)
# Summary for docs/benchmarks/encoded.md (scripts/bench_encoded.py reads it).
{ echo "command: scripts/fuzz_decoders.sh $RUNS${KIND:+ $KIND}"; grep -E '^Done|^stat::|cov:' "$OUT/last_run.log" | tail -7; } > "$OUT/summary.txt"
