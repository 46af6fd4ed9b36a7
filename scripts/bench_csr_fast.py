"""CSR (sparse) weights against dense int8 at 70/80/90% zeros, layer by layer, on QEMU: the CSR
kernels (runtime_c/sparse/) next to the dense fast kernels.

    cd <repo> && PYTHONPATH=. .venv/bin/python scripts/bench_csr_fast.py [--boards mps2-an386,...]

CSR conv runs on mcc_conv2d_csr_fast_s8 (codegen/csr_fast.py), 8-bit gaps (csr8); CSR fully
connected in the encoding the exporter takes on the core: on the M55 mcc_fully_connected_csr_seg_s8
(csr_seg: 8-bit column offsets in 256-column segments, MVE gathers), elsewhere
mcc_fully_connected_csr_pair_s8 (csr_pair: windows of two adjacent columns, SMLAD). Each layer is a one-layer chain of mcucompress/cost_suite.py (random int8 weights with the given
share of zeros, bias, ReLU) exported twice, dense and as CSR, and measured with
`bench`'s per-layer counts (exact instructions of the kernel call; outputs checked against the
host build and the numpy reference first). Writes docs/benchmarks/csr_fast.md.

`--fc-dense int16` measures the fully connected layers against the dense layout the exporter
takes for them on DSP cores (int16 weights, twice the flash of int8) instead of the int8 one;
`--sparsities` sets the shares of zeros (e.g. 0.7,0.75,0.8,0.85,0.9 for the crossover).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mcucompress.cost_suite import DENSE_INT16, ConvLayer, FcLayer, conv_chain, fc_chain, measure  # noqa: E402
from mcucompress.encode.choose import encoded_weights  # noqa: E402

SPARSITIES = (0.7, 0.8, 0.9)
# The fully connected CSR encoding per board (FC_ENCODING), else FC_DEFAULT.
FC_ENCODING = {"mps3-an547": "csr_seg"}
FC_DEFAULT = "csr_pair"
# (label, CSR encoding (None: per board), builder(encoding, sparsity) -> graph)
LAYERS = (
    ("fc 784 -> 300", None, lambda e, s: fc_chain(784, (FcLayer(300, s),), e)),
    ("fc 300 -> 100", None, lambda e, s: fc_chain(300, (FcLayer(100, s),), e)),
    ("conv 3x3, 16 -> 32, 16x16", "csr8", lambda e, s: conv_chain(16, 16, (ConvLayer(32, 3, 1, s),), e)),
    ("conv 3x3, 32 -> 32, 8x8", "csr8", lambda e, s: conv_chain(8, 32, (ConvLayer(32, 3, 1, s),), e)),
    ("conv 1x1, 32 -> 64, 8x8", "csr8", lambda e, s: conv_chain(8, 32, (ConvLayer(64, 1, 1, s),), e)),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boards", default="mps2-an386,mps3-an547")
    parser.add_argument("--encoding", default=None,
                        help="one CSR encoding for every layer (csr8, csr4, csr_seg, csr_pair)")
    parser.add_argument("--only", default="", help="measure only layers whose label contains this text")
    parser.add_argument("--fc-dense", choices=("int8", "int16"), default="int8",
                        help="dense layout of the fully connected baselines (int16: the exporter's on DSP cores)")
    parser.add_argument("--sparsities", default=",".join(str(s) for s in SPARSITIES))
    parser.add_argument("--doc", default=str(REPO / "docs" / "benchmarks" / "csr_fast.md"))
    args = parser.parse_args()
    boards = args.boards.split(",")
    sparsities = tuple(float(s) for s in args.sparsities.split(","))
    fc_dense = DENSE_INT16 if args.fc_dense == "int16" else "dense"
    rows = []
    with tempfile.TemporaryDirectory(prefix="mcc-csrfast-") as work:
        for i, (label, encoding, build) in enumerate(LAYERS):
            if args.only not in label:
                continue
            dense = {}
            dense_graph = build(fc_dense if label.startswith("fc") else "dense", 0.0).replace(name=f"l{i}_dense")
            for board in boards:
                dense[board] = measure(dense_graph, board, Path(work) / board)[0].instructions
            for s in sparsities:
                row = {"label": f"{label}, {s:.0%} zeros", "dense": dense, "csr": {},
                       "bytes": {"dense": stored_bytes(dense_graph)}}
                for b in boards:
                    kind = args.encoding or encoding or FC_ENCODING.get(b, FC_DEFAULT)
                    graph = build(kind, s).replace(name=f"l{i}_{int(s * 100)}_{kind}")
                    row["csr"][b] = measure(graph, b, Path(work) / b)[0].instructions
                    row["bytes"][kind] = stored_bytes(graph)
                print(row["label"], row["dense"], row["csr"], flush=True)
                rows.append(row)
    title = "dense int8" if args.fc_dense == "int8" else "dense (fully connected layers on int16 weights)"
    lines = [f"# CSR kernels: instructions against {title}", "",
             "Command: `PYTHONPATH=. .venv/bin/python scripts/bench_csr_fast.py"
             + ("" if args.fc_dense == "int8" else f" --fc-dense int16 --sparsities {args.sparsities}")
             + "` (exact QEMU counts of one "
             "kernel call, `bench --layers`; every output identical to the host build and the numpy "
             "reference).", "",
             "Dense: the export-time specialised kernels (mcc_conv2d_fast_s8, "
             + ("mcc_fully_connected_fast_w16_s8 on int16 weights for the fully connected layers"
                if args.fc_dense == "int16" else "mcc_fully_connected_fast_s8") + "), "
             "same weights with the zeros kept. CSR: "
             + ("fully connected mcc_fully_connected_csr_seg_s8 on mps3-an547 (csr_seg: 8-bit column offsets "
                "in 256-column segments), mcc_fully_connected_csr_pair_s8 elsewhere (csr_pair: windows of two "
                "adjacent columns) / mcc_conv2d_csr_fast_s8 (csr8: 8-bit gaps), the exporter's kernels"
                if args.encoding is None else f"every layer stored as {args.encoding}")
             + ". Ratio = CSR / dense (below 1: CSR is faster).", "",
             "| layer | " + " | ".join(f"dense {b} | CSR {b} | ratio {b}" for b in boards) + " |",
             "|---|" + "---|---|---|" * len(boards)]
    for row in rows:
        cells = [f"{row['dense'][b]:,} | {row['csr'][b]:,} | {row['csr'][b] / row['dense'][b]:.2f}x"
                 for b in boards]
        lines.append(f"| {row['label']} | " + " | ".join(cells) + " |")
    # What each layer's weights take in flash (the encoder's own count), after the instructions.
    lines += ["", "| layer | stored bytes |", "|---|---|"]
    lines += [f"| {row['label']} | " + ", ".join(f"{kind} {n:,}" for kind, n in row["bytes"].items()) + " |"
              for row in rows]
    Path(args.doc).write_text("\n".join(lines) + "\n")
    return 0


def stored_bytes(graph) -> int:
    """The flash bytes of a one-layer chain's weights as the exporter encodes them."""
    encoded = encoded_weights(graph, graph.ops[0])
    return encoded.nbytes if encoded is not None else int(graph.tensor(graph.ops[0].inputs[1]).data.nbytes)


if __name__ == "__main__":
    raise SystemExit(main())
