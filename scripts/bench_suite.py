"""A benchmark suite beyond the two models the kernels were tuned on: models built in code (no
downloads: keras.applications with weights=None, layers trained briefly on the MNIST digits in
/work/shared/datasets), converted to int8 .tflite by TensorFlow's converter (batch fixed at 1,
calibrated on real digits), plus ResNet-8 and DS-CNN from MLPerf Tiny; each exported and run with
`mcucompress bench` on the M4 (mps2-an386) and the M55 (mps3-an547). Prints Markdown: per model
the instructions on both cores, and MACs per instruction by op type (1x1 conv, other convs, first
conv, depthwise, fully connected) per model and over the whole suite.

    PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python scripts/bench_suite.py [--work DIR] [--only NAME...]
        [--optimize none|size|speed] [--boards mps2-an386 mps3-an547] [--totals]

Weights are exported dense (--optimize none) unless told otherwise: the figures are the kernels'.
A model that hits an unsupported op, or does not fit a board, is reported with its error line
and skipped (on that board).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SHARED = Path(__file__).resolve().parents[2] / "shared"
BOARDS = ["mps2-an386", "mps3-an547"]
OP_TYPES = ["first conv", "1x1 conv", "kxk conv", "depthwise", "fully connected"]
MLPERF = {"resnet8": "pretrainedResnet_quant.tflite", "dscnn": "kws_ref_model.tflite"}


# -- data and models ---------------------------------------------------------------------------

def digits():
    data = np.load(SHARED / "datasets/mnist10k.npz")
    return (data["x_train"].astype(np.float32) / 255.0, data["y_train"].astype(np.int64))


def _images96(x):
    import tensorflow as tf

    return tf.image.resize(np.repeat(x[..., None], 3, axis=-1), (96, 96)).numpy() * 2.0 - 1.0


def _train(model, x, y, loss="sparse_categorical_crossentropy", epochs=1):
    model.compile(optimizer="adam", loss=loss)
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    return model


def mobilenet_v1(k, x, y):
    base = k.applications.MobileNet(input_shape=(96, 96, 3), alpha=0.25, weights=None, classes=10,
                                    input_tensor=k.Input((96, 96, 3), batch_size=1))
    images = _images96(x[:600])
    return _train(base, images, y[:600]), images


def mobilenet_v2(k, x, y):
    base = k.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=10,
                                      input_tensor=k.Input((96, 96, 3), batch_size=1))
    images = _images96(x[:600])
    return _train(base, images, y[:600]), images


def conv1d_kws(k, x, y):
    """A keyword spotter's shape: 1-D convolutions over 28 time steps of 28 features (digit rows
    standing in for MFCC frames)."""
    inp = k.Input((28, 28), batch_size=1)
    h = inp
    for filters, kernel, stride in ((32, 5, 1), (48, 3, 2), (64, 3, 1), (64, 3, 2)):
        h = k.layers.Conv1D(filters, kernel, strides=stride, padding="same")(h)
        h = k.layers.BatchNormalization()(h)
        h = k.layers.ReLU()(h)
    h = k.layers.GlobalAveragePooling1D()(h)
    out = k.layers.Dense(10, activation="softmax")(h)
    data = x[:4000] * 2.0 - 1.0
    return _train(k.Model(inp, out), data, y[:4000], epochs=2), data


def fc_autoencoder(k, x, y):
    """MLPerf Tiny's anomaly-detection autoencoder shape on 784 inputs."""
    inp = k.Input((784,), batch_size=1)
    h = inp
    for units in (128, 128, 64, 8, 64, 128, 128):
        h = k.layers.Dense(units)(h)
        h = k.layers.BatchNormalization()(h)
        h = k.layers.ReLU()(h)
    out = k.layers.Dense(784)(h)
    data = x[:4000].reshape(-1, 784)
    return _train(k.Model(inp, out), data, data, loss="mse", epochs=2), data


def separable_cnn(k, x, y):
    inp = k.Input((28, 28, 1), batch_size=1)
    h = k.layers.Conv2D(16, 3, padding="same", activation="relu")(inp)
    for filters, stride in ((32, 2), (32, 1), (64, 2), (64, 1)):
        h = k.layers.SeparableConv2D(filters, 3, strides=stride, padding="same", activation="relu")(h)
    h = k.layers.GlobalAveragePooling2D()(h)
    out = k.layers.Dense(10, activation="softmax")(h)
    data = x[:4000, :, :, None] * 2.0 - 1.0
    return _train(k.Model(inp, out), data, y[:4000], epochs=2), data


def dead_channels(k, x, y):
    """A small CNN with batch norm whose gammas went to zero on a quarter of the channels, as
    weight decay leaves them: after folding, all-zero weights and a negative bias (dead ReLU)."""
    inp = k.Input((28, 28, 1), batch_size=1)
    h = inp
    for filters, kernel, stride in ((24, 3, 2), (32, 1, 1), (32, 3, 1), (48, 1, 1), (48, 3, 2), (64, 1, 1)):
        h = k.layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False)(h)
        h = k.layers.BatchNormalization()(h)
        h = k.layers.ReLU()(h)
    h = k.layers.GlobalAveragePooling2D()(h)
    out = k.layers.Dense(10, activation="softmax")(h)
    data = x[:4000, :, :, None] * 2.0 - 1.0
    model = _train(k.Model(inp, out), data, y[:4000])
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, k.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            dead = rng.choice(len(gamma), len(gamma) // 4, replace=False)
            gamma[dead], beta[dead] = 0.0, -rng.uniform(0.5, 2.0, len(dead))
            layer.set_weights([gamma, beta, mean, var])
    return model, data


BUILDERS = {"mobilenet_v1_025": mobilenet_v1, "mobilenet_v2_035": mobilenet_v2, "conv1d_kws": conv1d_kws,
            "fc_autoencoder": fc_autoencoder, "separable_cnn": separable_cnn, "dead_channels": dead_channels}


def convert(model, calibration, path: Path) -> Path:
    import tensorflow as tf

    def representative():
        for sample in calibration[:100]:
            yield [sample[None].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    path.write_bytes(converter.convert())
    return path


def build_models(work: Path, names, builders=None) -> dict[str, Path]:
    import tensorflow as tf
    import tf_keras as k

    builders = builders or BUILDERS
    x, y = digits()
    paths = {}
    for name in names:
        path = work / f"{name}.tflite"
        if not path.is_file():
            tf.random.set_seed(0)
            np.random.seed(0)
            model, calibration = builders[name](k, x, y)
            convert(model, calibration, path)
        paths[name] = path
    return paths


# -- per-op-type figures -----------------------------------------------------------------------

def op_type(graph, op) -> str | None:
    if op.kind == "depthwise_conv2d":
        return "depthwise"
    if op.kind == "fully_connected":
        return "fully connected"
    if op.kind != "conv2d":
        return None
    if op.inputs[0] == graph.inputs[0] or graph.tensor(op.inputs[0]).shape[-1] <= 3:
        return "first conv"
    _, kh, kw, _ = graph.tensor(op.inputs[1]).shape
    return "1x1 conv" if kh == kw == 1 else "kxk conv"


def tree_graph(tree: Path):
    from mcucompress.ir.serialize import load_graph

    manifest = json.loads((tree / "manifest.json").read_text())
    return load_graph(tree / manifest.get("graph", "graph.npz"))


def split_counts(graph) -> tuple[int, int]:
    """Channels stored as constants and channels finished by mcc_conv2d_channels_s8."""
    from mcucompress.codegen.specialize import choose

    constant = patched = 0
    for op in graph.ops:
        layer = choose(graph, op, "tflm")
        if layer is not None:
            constant += layer.constant_channels
            patched += 0 if layer.patch is None else len(layer.patch.index)
    return constant, patched


def per_type(graph, bench) -> dict:
    """{board: {op type: [MACs, instructions]}} and the kernels each type ran on."""
    by_name = {op.name: op for op in graph.ops}
    sums = {b: defaultdict(lambda: [0, 0]) for b in BOARDS}
    kernels = defaultdict(set)
    for row in bench.layers:
        kind = op_type(graph, by_name[row.op.split(": ")[0]])
        if kind is None:
            continue
        kernels[kind].update(row.kernel.split("+"))
        for board in BOARDS:
            sums[board][kind][0] += row.macs
            sums[board][kind][1] += row.instructions.get(board, 0)
    return sums, kernels


def ratio(pair) -> str:
    return f"{pair[0] / pair[1]:.2f}" if pair[1] else ""


def bench_both(path: Path, work: Path, optimize: str, boards, skipped: list, name: str):
    """`bench --layers` of one model on each board, its trees exported for the board's core: the
    merged bench (per layer: instructions on each board, kernels joined by "+" where they differ),
    {board: core row} and the last tree; (None, {}, None) when no board ran it."""
    from mcucompress.errors import McuError
    from mcucompress.export import prepare_tree
    from mcucompress.targets.bench import bench_model, tree_core
    from mcucompress.targets.board import load_board

    bench, cores, tree = None, {}, None
    for board in boards:   # one board at a time: a model too big for one still runs on the other
        try:   # exported for the board's core where its weight layouts differ (the M55's)
            tree = prepare_tree(path, work / "trees", optimize=optimize,
                                core=tree_core(load_board(board)))
            one = bench_model(tree, [board], layers=True)
        except McuError as error:
            skipped.append(f"- {name} on {board}: {str(error).splitlines()[0]}")
            continue
        cores[board] = one.cores[0]
        if bench is None:
            bench = one
        else:
            for row, other in zip(bench.layers, one.layers):
                row.instructions.update(other.instructions)
                if other.kernel != row.kernel:
                    row.kernel += "+" + other.kernel
    return bench, cores, tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=None)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--optimize", default="none", choices=["none", "size", "speed"])
    parser.add_argument("--boards", nargs="*", default=BOARDS, choices=BOARDS,
                        help="run on these boards only (the other board's columns stay empty)")
    parser.add_argument("--totals", action="store_true",
                        help="also print the whole suite's MACs and instructions per op type and board")
    args = parser.parse_args()
    names = args.only or list(BUILDERS) + list(MLPERF)
    with tempfile.TemporaryDirectory(prefix="mcc-bench-suite-") as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        models = build_models(work, [n for n in names if n in BUILDERS])
        models.update({n: SHARED / "models/mlperf-tiny" / f for n, f in MLPERF.items() if n in names})
        totals = {b: defaultdict(lambda: [0, 0]) for b in BOARDS}
        model_rows, type_rows, skipped = [], [], []
        for name, path in models.items():
            bench, cores, tree = bench_both(path, work, args.optimize, args.boards, skipped, name)
            if bench is None:
                continue
            graph = tree_graph(tree)
            sums, kernels = per_type(graph, bench)
            constant, patched = split_counts(graph)
            m4, m55 = cores.get("mps2-an386"), cores.get("mps3-an547")
            speedup = f"{m4.instructions / m55.instructions:.2f}" if m4 and m55 else "-"
            cells = [f"{c.instructions:,} | {c.macs_per_instruction:.3f}" if c else "- | -" for c in (m4, m55)]
            flash = f"{m4.flash_bytes:,}" if m4 else "-"
            model_rows.append(f"| {name} | {bench.macs:,} | {' | '.join(cells)} | {speedup} | {flash} | "
                              f"{constant} / {patched} |")
            for board in cores:
                cells = []
                for kind in OP_TYPES:
                    pair = sums[board].get(kind, [0, 0])
                    totals[board][kind][0] += pair[0]
                    totals[board][kind][1] += pair[1]
                    cells.append(ratio(pair))
                type_rows.append(f"| {name} | {board} | " + " | ".join(cells) + " |")
            portable = sorted(k for ks in kernels.values() for k in ks
                              if k in ("mcc_conv2d_s8", "mcc_depthwise_conv2d_s8", "mcc_fully_connected_s8"))
            if portable:
                skipped.append(f"- {name}: layers on portable kernels: {', '.join(portable)}")
    print(f"--optimize {args.optimize}")
    print()
    print("| model | MACs | M4 instructions | M4 MAC/instr | M55 instructions | M55 MAC/instr | M4/M55 "
          "| M4 flash (B) | constant / patched channels |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(model_rows))
    print()
    print("| model | board | " + " | ".join(OP_TYPES) + " |")
    print("|---|---|" + "---:|" * len(OP_TYPES))
    print("\n".join(type_rows))
    for board in BOARDS:
        print(f"| **whole suite** | {board} | " + " | ".join(ratio(totals[board][k]) for k in OP_TYPES) + " |")
    if args.totals:
        print()
        print("| op type | board | MACs | instructions | MAC/instr |")
        print("|---|---|---:|---:|---:|")
        for board in args.boards:
            for kind in OP_TYPES:
                macs, instructions = totals[board][kind]
                if instructions:
                    print(f"| {kind} | {board} | {macs:,} | {instructions:,} | {macs / instructions:.3f} |")
    if skipped:
        print()
        print("\n".join(skipped))


if __name__ == "__main__":
    main()
