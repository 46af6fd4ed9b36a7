"""Fully connected weights one byte each (mcc_fully_connected_fast_s8, what export chooses) vs
the widened two-byte layout (mcc_conv2d_fast_s8, forced through the layers' dense_layout
attribute, as export chose it for --optimize speed before this kernel) vs the portable path
(MCC_FORCE_REFERENCE=1): flash and exact instruction counts on mps2-an386 (Cortex-M4, DSP) and
mps3-an547 (Cortex-M55, MVE; MCC_NO_MVE=1 its DSP path) in QEMU for a 784x300 Dense layer and
LeNet-300-100 (784-300-100-10), random int8 weights; prints a Markdown table.

    PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python scripts/bench_fc_int8.py [--work DIR]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from mcucompress.encode.choose import LAYOUT_ATTR
from mcucompress.errors import McuError
from mcucompress.export import export
from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor
from mcucompress.targets.bench import bench_model, with_defines

M4, M55 = "mps2-an386", "mps3-an547"
MODELS = {"dense784x300": [300], "lenet300_100": [300, 100, 10]}


def _act(name, shape, scale, zp):
    return Tensor(name, shape, "int8", QuantParams((float(np.float32(scale)),), (int(zp),)))


def dense_graph(name: str, units: list[int], seed: int = 0) -> Graph:
    """784 inputs through Dense layers (ReLU but the last), per-channel int8 weights, output
    scales that use the int8 range."""
    rng = np.random.default_rng(seed)
    tensors = {"x": _act("x", (1, 784), 0.02, -128)}
    ops, last = [], "x"
    for i, n in enumerate(units):
        depth = tensors[last].shape[-1]
        scales = tuple(float(np.float32(s)) for s in rng.uniform(0.002, 0.02, n))
        w = Tensor(f"w{i}", (n, depth), "int8", QuantParams(scales, (0,) * n, 0),
                   rng.integers(-127, 128, size=(n, depth), dtype=np.int8))
        b = Tensor(f"b{i}", (n,), "int32", None, rng.integers(-4000, 4000, size=n).astype(np.int32))
        out_scale = 3 * np.sqrt(depth) * 74 * 74 * tensors[last].quant.scale[0] * np.mean(scales) / 128
        last_layer = i == len(units) - 1
        tensors.update({w.name: w, b.name: b,
                        f"t{i}": _act(f"t{i}", (1, n), out_scale, 0 if last_layer else -128)})
        ops.append(Op("fully_connected", f"fc{i}", (last, w.name, b.name), (f"t{i}",),
                      {"activation": "none" if last_layer else "relu"}))
        last = f"t{i}"
    return Graph(tensors, tuple(ops), ("x",), (last,), name=name)


def widened(graph: Graph) -> Graph:
    """The graph with every fully connected layer pinned to the widened two-byte layout."""
    return graph.replace(ops=tuple(op.with_attrs(**{LAYOUT_ATTR: "widened"}) if op.kind == "fully_connected"
                                   else op for op in graph.ops))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=None)
    args = parser.parse_args()
    print("| model | board | build: kernel | weights (B) | flash (B) | RAM (B) | instructions / inference | FC layers' instructions |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="mcc-bench-fc-") as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        for label, units in MODELS.items():
            graph = dense_graph(label, units)
            weights = sum(graph.tensor(op.inputs[1]).size for op in graph.ops)
            size = export(graph, work / f"{label}_size", prefix=label, optimize="size")
            speed = export(widened(graph), work / f"{label}_speed", prefix=label, optimize="speed")
            portable = with_defines(size, work, {"MCC_FORCE_REFERENCE": 1})
            no_mve = with_defines(size, work, {"MCC_NO_MVE": 1})
            builds = [(M4, "--optimize size", size), (M4, "widened layout", speed),
                      (M4, "--optimize size, MCC_FORCE_REFERENCE=1", portable),
                      (M55, "--optimize size", size), (M55, "--optimize size, MCC_NO_MVE=1", no_mve),
                      (M55, "widened layout", speed)]
            for board, name, tree in builds:
                try:
                    bench = bench_model(tree, [board], layers=True)
                except McuError as error:  # e.g. the widened layout overflowing the M55's 512 KB ITCM
                    print(f"| {label} ({weights:,} weights) | {board} | {name} | | | | {error} | |")
                    continue
                core = bench.cores[0]
                fc = sum(r.instructions[board] for r in bench.layers)
                kernels = sorted({r.kernel for r in bench.layers})
                print(f"| {label} ({weights:,} weights) | {board} | {name}: {', '.join(kernels)} | "
                      f"{_weight_bytes(tree):,} | {core.flash_bytes:,} | {core.ram_bytes:,} | "
                      f"{core.instructions:,} | {fc:,} |")


def _weight_bytes(tree: Path) -> int:
    """Bytes of the fully connected layers' weight arrays in the tree's weights.c."""
    import re
    text = (tree / "weights.c").read_text()
    total = 0
    for ctype, length in re.findall(r"const (int8_t|int32_t) \w+_weights\[(\d+)\]", text):
        total += int(length) * (1 if ctype == "int8_t" else 4)
    return total


if __name__ == "__main__":
    main()
