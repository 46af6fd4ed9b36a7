"""The two int8 add kernels by size and core: where the table kernel starts to pay.

    cd <repo> && PYTHONPATH=. .venv/bin/python scripts/bench_add_sizes.py [--boards mps2-an386 ...]

The graph `small_adds` of tests/test_fast_graphs.py (residual adds of 1,183, 343, 112 and 28
values, 7 channels) exported twice, every add on mcc_add_fast_s8 (two 256-entry tables built per
call) and every add on mcc_add_s8 (each element rescaled on its own), and measured with `bench`'s
per-layer counts (exact instructions of one kernel call, outputs checked against the host build and
the numpy reference first). Each kernel's cost is fitted as a + b * size over the two smallest
adds (the larger ones check the line); the crossover is the smallest size where the table kernel
costs no more: specialize.ADD_TABLE_MIN_SIZE holds it per core family.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

BOARDS = ("mps2-an386", "mps2-an505", "mps3-an547", "lm3s6965evb", "microbit")


def counts(kernel_min_size: int, boards, work: Path) -> dict[str, list[tuple[int, int]]]:
    """Per board, (size, instructions) of each add of small_adds with the table kernel from
    ``kernel_min_size`` values on every core."""
    from mcucompress.codegen import specialize
    from mcucompress.export import export
    from mcucompress.targets.bench import bench_model
    from test_fast_graphs import small_adds

    saved = dict(specialize.ADD_TABLE_MIN_SIZE)
    specialize.ADD_TABLE_MIN_SIZE.update({family: kernel_min_size for family in saved})
    try:
        graph = small_adds()
        tree = export(graph, work / f"adds_{kernel_min_size}", prefix="adds")
    finally:
        specialize.ADD_TABLE_MIN_SIZE.update(saved)
    sizes = [graph.output_tensor(op).size for op in graph.ops if op.kind == "add"]
    rows = [row for row in bench_model(tree, list(boards)).layers if row.op.endswith(": add")]
    return {board: [(size, row.instructions[board]) for size, row in zip(sizes, rows)] for board in boards}


def fit(points: list[tuple[int, int]]) -> tuple[float, float]:
    (n1, c1), (n2, c2) = sorted(points)[:2]
    b = (c2 - c1) / (n2 - n1)
    return c1 - b * n1, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", nargs="+", default=list(BOARDS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        table = counts(0, args.boards, Path(tmp))
        plain = counts(10**9, args.boards, Path(tmp))
    print("| board | size | mcc_add_fast_s8 | mcc_add_s8 |")
    print("|---|---:|---:|---:|")
    for board in args.boards:
        for (size, t), (_, p) in zip(table[board], plain[board]):
            print(f"| {board} | {size:,} | {t:,} | {p:,} |")
    print()
    print("| board | table kernel a + b * size | mcc_add_s8 a + b * size | crossover (values) |")
    print("|---|---|---|---:|")
    for board in args.boards:
        (ta, tb), (pa, pb) = fit(table[board]), fit(plain[board])
        cross = math.ceil((ta - pa) / (pb - tb)) if pb > tb else "-"
        print(f"| {board} | {ta:,.0f} + {tb:.1f} n | {pa:,.0f} + {pb:.1f} n | {cross} |")


if __name__ == "__main__":
    main()
