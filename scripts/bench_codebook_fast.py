"""Codebook weights of 2- and 4-bit indices against dense int8, layer by layer, on QEMU: the fast
codebook kernels (runtime_c/codebook/mcc_*_codebook_fast_s8.c) next to the dense fast kernels.

    cd <repo> && PYTHONPATH=. .venv/bin/python scripts/bench_codebook_fast.py [--boards mps2-an386,...]

Each layer is a one-layer chain of mcucompress/cost_suite.py (random int8 weights drawn from 16
or 4 values, bias, ReLU) exported twice, dense and as a codebook, and measured with `bench`'s
per-layer counts (exact instructions of the kernel call; outputs checked against the host build
and the numpy reference first). Writes docs/benchmarks/codebook_fast.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mcucompress.cost_suite import ConvLayer, FcLayer, conv_chain, fc_chain, measure  # noqa: E402
from mcucompress.encode.choose import encoded_weights  # noqa: E402

# (label, builder(encoding) -> graph)
LAYERS = (
    ("conv 3x3, 16 -> 32, 16x16, 16 values (4-bit)",
     lambda e: conv_chain(16, 16, (ConvLayer(32, 3, 1, 0.0, 16),), e)),
    ("conv 3x3, 32 -> 32, 8x8, 16 values (4-bit)",
     lambda e: conv_chain(8, 32, (ConvLayer(32, 3, 1, 0.0, 16),), e)),
    ("conv 3x3, 8 -> 16, 13x13, 16 values (4-bit)",
     lambda e: conv_chain(13, 8, (ConvLayer(16, 3, 1, 0.0, 16),), e)),
    ("conv 3x3, 16 -> 32, 16x16, 4 values (2-bit)",
     lambda e: conv_chain(16, 16, (ConvLayer(32, 3, 1, 0.0, 4),), e)),
    ("conv 1x1, 32 -> 64, 8x8, 16 values (4-bit)",
     lambda e: conv_chain(8, 32, (ConvLayer(64, 1, 1, 0.0, 16),), e)),
    ("fc 784 -> 300, 16 values (4-bit)", lambda e: fc_chain(784, (FcLayer(300, 0.0, 16),), e)),
    ("fc 400 -> 64, 16 values (4-bit)", lambda e: fc_chain(400, (FcLayer(64, 0.0, 16),), e)),
    ("fc 784 -> 300, 4 values (2-bit)", lambda e: fc_chain(784, (FcLayer(300, 0.0, 4),), e)),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boards", default="mps2-an386,mps3-an547,lm3s6965evb")
    parser.add_argument("--doc", default=str(REPO / "docs" / "benchmarks" / "codebook_fast.md"))
    args = parser.parse_args()
    boards = args.boards.split(",")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mcc-cbfast-") as work:
        for i, (label, build) in enumerate(LAYERS):
            row = {"label": label}
            for encoding in ("dense", "codebook"):
                graph = build(encoding).replace(name=f"l{i}_{encoding}")
                if encoding == "codebook":
                    row["bits"] = encoded_weights(graph, graph.ops[0]).data.index_bits
                for board in boards:
                    row[(encoding, board)] = measure(graph, board, Path(work) / board)[0].instructions
            print(label, {f"{k[0]}/{k[1]}": v for k, v in row.items() if isinstance(k, tuple)}, flush=True)
            rows.append(row)
    lines = ["# Fast codebook kernels: instructions against dense int8", "",
             "Command: `PYTHONPATH=. .venv/bin/python scripts/bench_codebook_fast.py` (exact QEMU counts of one "
             "kernel call, `bench --layers`; every output identical to the host build and the numpy reference).", "",
             "Dense: the export-time specialised kernels (mcc_conv2d_fast_s8, mcc_fully_connected_fast_s8). "
             "Codebook: mcc_conv2d_codebook_fast_s8 / mcc_fully_connected_codebook_fast_s8 (pairs of indices "
             "looked up in a table of doubled int16 weight pairs built in scratch on each call; 1 KB for 4-bit "
             "indices, 64 B for 2-bit, plus 2 KB of pair pairs for 2-bit layers on DSP cores). Conv: 6 "
             "pixels a pass, every output channel of a block one call of the assembly loop (a last shorter "
             "block 8 a call), requantized in it; fully connected: blocks of 8 rows. The M55 runs the MVE "
             "path: tables of int8 weights per index byte (512 B for 4-bit "
             "indices, 1 KB for 2-bit) looked up by byte gathers, 16 products a VMLADAVA.S8; conv 4 pixels a "
             "pass with int8 columns, fully connected blocks of 8 rows. The M3 runs the portable C (no SMLAD).", "",
             "| layer | " + " | ".join(f"dense {b} | codebook {b} | ratio {b}" for b in boards) + " |",
             "|---|" + "---|---|---|" * len(boards)]
    for row in rows:
        cells = []
        for b in boards:
            d, c = row[("dense", b)], row[("codebook", b)]
            cells.append(f"{d:,} | {c:,} | {c / d:.2f}x")
        lines.append(f"| {row['label']} | " + " | ".join(cells) + " |")
    Path(args.doc).write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
