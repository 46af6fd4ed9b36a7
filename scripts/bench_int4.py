"""Packed int4 weights against dense int8, layer by layer on QEMU, and the accuracy they cost.

    cd <repo> && PYTHONPATH=. .venv/bin/python scripts/bench_int4.py [--boards mps2-an386,...]
        [--mnist ../shared/datasets/mnist.npz] [--skip-accuracy]

Layers: one-layer chains of mcucompress/cost_suite.py (random int8 weights, bias, ReLU) exported
dense and with the weights re-quantized to int4 (encode/int4_requantize.py), measured with `bench`'s
per-layer counts (exact instructions of one kernel call; outputs checked against the host build
and the numpy reference first). Flash: the weights as the kernels store them (int8: one byte a
weight, fully connected rows padded to 4, the dense conv kernel's widened 2-byte layout; int4:
half a byte, rows padded to 8).

Accuracy: a small MLP (784-300-100-10 on MNIST when --mnist names the npz with x_train, y_train,
x_test, y_test; else 64-32-10 on scikit-learn's digits) trained with Keras, exported int8 and int4
(every layer), top-1 of the numpy integer reference (bit-exact with the C) on the test set.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mcucompress.cost_suite import ConvLayer, FcLayer, conv_chain, fc_chain, int4_chain, measure  # noqa: E402

LAYERS = (
    ("fc 784 -> 300", lambda: fc_chain(784, (FcLayer(300),), "dense")),
    ("fc 300 -> 100", lambda: fc_chain(300, (FcLayer(100),), "dense")),
    ("conv 3x3, 16 -> 32, 16x16", lambda: conv_chain(16, 16, (ConvLayer(32, 3, 1),), "dense")),
    ("conv 1x1, 32 -> 64, 8x8", lambda: conv_chain(8, 32, (ConvLayer(64, 1, 1),), "dense")),
)


def stored_bytes(graph, int4: bool) -> tuple[int, int]:
    """(int8 bytes at one a weight, bytes as the layer's kernel stores them)."""
    op = graph.ops[0]
    w = graph.tensor(op.inputs[1])
    units, k = int(w.shape[0]), int(np.prod(w.shape[1:]))
    if int4:
        return units * k, units * (-(-k // 8) * 8) // 2
    if op.kind == "conv2d":
        return units * k, 2 * units * (-(-k // 8) * 8)
    return units * k, units * (-(-k // 4) * 4)


def layer_rows(boards, work: Path) -> list[dict]:
    rows = []
    for i, (label, build) in enumerate(LAYERS):
        dense = build().replace(name=f"l{i}_dense")
        int4 = int4_chain(build()).replace(name=f"l{i}_int4")
        row = {"label": label, "int8_bytes": stored_bytes(dense, False)[0],
               "dense_bytes": stored_bytes(dense, False)[1], "int4_bytes": stored_bytes(int4, True)[1]}
        for board in boards:
            row[("dense", board)] = measure(dense, board, work / board)[0].instructions
            row[("int4", board)] = measure(int4, board, work / board)[0].instructions
        print(label, row, flush=True)
        rows.append(row)
    return rows


def _data(mnist: str | None):
    if mnist:
        d = np.load(mnist)
        flat = lambda x: (x.reshape(len(x), -1) / 255.0).astype(np.float32)  # noqa: E731
        return flat(d["x_train"]), d["y_train"], flat(d["x_test"]), d["y_test"], (300, 100), "MNIST"
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    return x[:1400], y[:1400], x[1400:], y[1400:], (32,), "scikit-learn digits"


def accuracy(mnist: str | None, work: Path, seed: int = 0) -> dict:
    import keras

    from mcucompress.load import load
    from mcucompress.encode.int4_requantize import int4_weights
    from mcucompress.quantize.params import quantize_input
    from mcucompress.reference.int8 import run_int8

    x_train, y_train, x_test, y_test, hidden, name = _data(mnist)
    keras.utils.set_random_seed(seed)
    inp = keras.Input((x_train.shape[1],))
    h = inp
    for units in hidden:
        h = keras.layers.Dense(units, activation="relu")(h)
    model = keras.Model(inp, keras.layers.Dense(10)(h))
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=8 if mnist else 60, batch_size=64, verbose=0)
    float_acc = float(np.mean(np.argmax(model.predict(x_test, verbose=0), 1) == y_test))
    int8 = load(model, x_train[:200]).graph
    out = {"dataset": name, "layers": "-".join(str(n) for n in (x_train.shape[1], *hidden, 10)),
           "float": float_acc, "test": len(y_test)}
    for label, graph in (("int8", int8), ("int4", int4_weights(int8, "all", _float_graph(model)))):
        q = graph.tensor(graph.inputs[0]).quant
        pred = np.array([np.argmax(run_int8(graph, quantize_input(x[None], q))) for x in x_test])
        out[label] = float(np.mean(pred == y_test))
    return out


def _float_graph(model):
    from mcucompress.importers.keras import load_keras
    return load_keras(model)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boards", default="mps2-an386,mps3-an547,lm3s6965evb")
    parser.add_argument("--mnist", default=None)
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    boards = args.boards.split(",")
    with tempfile.TemporaryDirectory(prefix="mcc-int4-") as tmp:
        work = Path(tmp)
        rows = layer_rows(boards, work)
        acc = None if args.skip_accuracy else accuracy(args.mnist, work)
    print("| layer | int8 weight bytes | dense kernel bytes | int4 bytes | "
          + " | ".join(f"dense {b} | int4 {b} | ratio {b}" for b in boards) + " |")
    print("|---|---|---|---|" + "---|---|---|" * len(boards))
    for r in rows:
        cells = [f"{r[('dense', b)]:,} | {r[('int4', b)]:,} | {r[('int4', b)] / r[('dense', b)]:.2f}x" for b in boards]
        print(f"| {r['label']} | {r['int8_bytes']:,} | {r['dense_bytes']:,} | {r['int4_bytes']:,} | "
              + " | ".join(cells) + " |")
    if acc:
        print(f"\naccuracy ({acc['dataset']}, {acc['layers']}, {acc['test']} test samples): float "
              f"{100 * acc['float']:.2f}%, int8 {100 * acc['int8']:.2f}%, int4 {100 * acc['int4']:.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
