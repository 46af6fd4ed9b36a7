"""Huffman-coded weights layer by layer on QEMU: instructions per weight of the multi-symbol
lookup-table decoder (encoding huffman_lut, runtime_c/huffman/mcc_fully_connected_huffman_lut_s8.c)
next to the one-code-at-a-time decoder (huffman) and dense int8.

    cd <repo> && PYTHONPATH=. .venv/bin/python scripts/bench_huffman.py [--boards mps2-an386,...]

The layers are those of scripts/bench_fit.py's autoencoder (640-128-...-128-640, Student-t
weights, per-channel int8, about 5 to 6 bits a weight) and one 784 -> 128 layer of the same
kind. Each model is exported once per encoding and measured with `bench`'s per-layer counts
(exact instructions of each kernel call; outputs checked against the host build and the numpy
reference first). Writes docs/benchmarks/huffman.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_fit import autoencoder  # noqa: E402

from mcucompress.cost_suite import measure  # noqa: E402
from mcucompress.encode.choose import ATTR, encoded_weights, weight_matrix  # noqa: E402

ENCODINGS = ("dense", "huffman", "huffman_lut")


def wide_layer():
    """One 784 -> 128 layer with the autoencoder's weight statistics."""
    import bench_fit

    saved = bench_fit.AUTOENCODER
    bench_fit.AUTOENCODER = (784, 128)
    try:
        return autoencoder(seed=3).replace(name="fc784")
    finally:
        bench_fit.AUTOENCODER = saved


def encoded(graph, kind: str):
    ops = [op.with_attrs(**{ATTR: kind}) for op in graph.ops]
    return graph.replace(ops=tuple(ops), name=f"{graph.name}_{kind}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boards", default="mps2-an386")
    parser.add_argument("--models", type=int, default=2, help="1: only the 784 -> 128 layer")
    parser.add_argument("--doc", default=str(REPO / "docs" / "benchmarks" / "huffman.md"))
    args = parser.parse_args()
    boards = args.boards.split(",")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mcc-huffman-") as work:
        for graph in (wide_layer(), autoencoder())[: args.models]:
            for board in boards:
                counts = {k: measure(encoded(graph, k), board, work) for k in ENCODINGS}
                for i, op in enumerate(graph.ops):
                    w, _ = weight_matrix(graph, op)
                    lut = encoded_weights(encoded(graph, "huffman_lut"), encoded(graph, "huffman_lut").ops[i])
                    row = {"model": graph.name, "layer": op.name, "shape": f"{w.shape[1]} -> {w.shape[0]}",
                           "board": board, "weights": int(w.size), "bits": lut.data.num_bits / w.size,
                           "lut_bytes": int(lut.data.lookup.nbytes)}
                    for k in ENCODINGS:
                        row[k] = counts[k][i].instructions
                    rows.append(row)
                    print(f"{board} {graph.name} {op.name} {row['shape']}: {row['bits']:.2f} bits/weight, "
                          + ", ".join(f"{k} {row[k]:,} ({row[k] / w.size:.2f}/weight)" for k in ENCODINGS),
                          flush=True)
    Path(args.doc).write_text(markdown(rows))
    return 0


def markdown(rows) -> str:
    lines = ["# Huffman-coded weights: instructions per weight", "",
             "Command: `PYTHONPATH=. .venv/bin/python scripts/bench_huffman.py`. Exact instructions of one "
             "kernel call (QEMU, `bench`'s per-layer counts; outputs identical to the host build and the "
             "numpy reference). Weights: Student-t (2 degrees of freedom), per-channel int8 "
             "(scripts/bench_fit.py's autoencoder). `huffman_lut`: codes of at most 12 bits and a "
             "4,096-word lookup table in flash (16 KB) that yields up to three weights a lookup; "
             "`huffman`: one code a lookup (codes of up to 8 bits) with its tables built on the stack "
             "each call.", "",
             "| board | model | layer | weights | bits / weight (lut) | dense | huffman | huffman_lut | "
             "instructions / weight: dense, huffman, huffman_lut |",
             "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        per = ", ".join(f"{r[k] / r['weights']:.2f}" for k in ENCODINGS)
        lines.append(f"| {r['board']} | {r['model']} | {r['layer']} ({r['shape']}) | {r['weights']:,} | "
                     f"{r['bits']:.2f} | {r['dense']:,} | {r['huffman']:,} | {r['huffman_lut']:,} | {per} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
