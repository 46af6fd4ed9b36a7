"""Models unlike the benchmark suite's (scripts/bench_suite.py), to check that the kernels' speed
generalises: odd sizes and channel counts, depth multipliers, 5x5 and 7x7 kernels, dilation,
squeeze-excite, padding 'valid', odd fully connected widths. Each is built in code (tf_keras,
trained one epoch on the MNIST digits reshaped to its input), converted to int8 by TensorFlow's
converter (calibrated on the same data) and run with `mcucompress bench --layers` on the M4
(mps2-an386) and the M55 (mps3-an547): every run byte-identical to the host build and
tflite-micro, or the model is reported with the error.

    PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python scripts/bench_unseen.py [--work DIR] [--only NAME...]
        [--boards mps2-an386 mps3-an547] [--per-layer]

Prints per model the instructions on both cores, the per-op-type table like the suite's, and the
findings: layers on a portable kernel, layers of 20,000 MACs or more below half the suite's rate
for their op type on that core (the suite's whole-suite row, docs/benchmarks/suite.md), and layers
without MACs taking more than 5% of a model's instructions on a core.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_suite as suite  # noqa: E402

# The suite's whole-suite MAC/instruction per op type (round 9 after the merges, suite.md).
SUITE_RATES = {
    "mps2-an386": {"first conv": 0.46, "1x1 conv": 1.10, "kxk conv": 1.29, "depthwise": 0.33,
                   "fully connected": 1.06},
    "mps3-an547": {"first conv": 0.58, "1x1 conv": 2.25, "kxk conv": 2.63, "depthwise": 1.01,
                   "fully connected": 2.73},
}
PORTABLE = {"mcc_conv2d_s8", "mcc_depthwise_conv2d_s8", "mcc_fully_connected_s8"}
SLOW_MACS = 20_000
SHARE = 0.05   # a layer without MACs (add, mul, mean, pooling, activation) above this share is a finding


def _images(x, size, channels, count):
    import tensorflow as tf

    images = x[:count, ..., None]
    if channels > 1:
        images = np.repeat(images, channels, axis=-1)
    return tf.image.resize(images, (size, size)).numpy() * 2.0 - 1.0


def _classifier(k, inp, h, x, y, images):
    h = k.layers.GlobalAveragePooling2D()(h) if len(h.shape) == 4 else h
    out = k.layers.Dense(10, activation="softmax")(h)
    return suite._train(k.Model(inp, out), images, y[:len(images)]), images


def mobilenet_v2_a05_64(k, x, y):
    model = k.applications.MobileNetV2(input_shape=(64, 64, 3), alpha=0.5, weights=None, classes=10,
                                       input_tensor=k.Input((64, 64, 3), batch_size=1))
    images = _images(x, 64, 3, 600)
    return suite._train(model, images, y[:600]), images


def mobilenet_v1_dm2(k, x, y):
    """MobileNet V1 blocks on 40x40 with depth multiplier 2 in some depthwise layers."""
    inp = k.Input((40, 40, 3), batch_size=1)
    h = k.layers.Conv2D(12, 3, strides=2, padding="same", activation="relu6")(inp)
    for multiplier, stride, filters in ((2, 1, 24), (1, 2, 40), (2, 1, 40), (2, 2, 72), (1, 1, 72)):
        h = k.layers.DepthwiseConv2D(3, strides=stride, padding="same", depth_multiplier=multiplier,
                                     activation="relu6")(h)
        h = k.layers.Conv2D(filters, 1, activation="relu6")(h)
    return _classifier(k, inp, h, x, y, _images(x, 40, 3, 1000))


def dw5x5(k, x, y):
    """Depthwise 5x5 at stride 1 and 2 on 30x30, channel counts 12, 20, 36."""
    inp = k.Input((30, 30, 1), batch_size=1)
    h = k.layers.Conv2D(12, 3, padding="same", activation="relu")(inp)
    for stride, filters in ((1, 20), (2, 36), (1, 36), (2, 36)):
        h = k.layers.DepthwiseConv2D(5, strides=stride, padding="same", activation="relu")(h)
        h = k.layers.Conv2D(filters, 1, activation="relu")(h)
    return _classifier(k, inp, h, x, y, _images(x, 30, 1, 1000))


def conv1d_dilated(k, x, y):
    """1-D convolutions with dilation 2 and 3 and odd channel counts (13, 27)."""
    inp = k.Input((28, 28), batch_size=1)
    h = inp
    for filters, kernel, dilation, stride in ((13, 3, 1, 1), (27, 3, 2, 1), (27, 5, 3, 1), (13, 3, 1, 2),
                                              (27, 3, 2, 1)):
        h = k.layers.Conv1D(filters, kernel, strides=stride, dilation_rate=dilation, padding="same",
                            activation="relu")(h)
    h = k.layers.GlobalAveragePooling1D()(h)
    out = k.layers.Dense(10, activation="softmax")(h)
    data = x[:2000] * 2.0 - 1.0
    return suite._train(k.Model(inp, out), data, y[:2000]), data


def resnet_odd(k, x, y):
    """A ResNet on 37x37: 7x7 stem, 5x5 convs, stride-2 1x1 shortcuts on odd sizes."""
    inp = k.Input((37, 37, 3), batch_size=1)
    h = k.layers.Conv2D(16, 7, strides=2, padding="same", activation="relu")(inp)   # 19x19
    for filters, stride in ((16, 1), (24, 2), (40, 2)):                              # 19, 10, 5
        r = k.layers.Conv2D(filters, 5, strides=stride, padding="same", activation="relu")(h)
        r = k.layers.Conv2D(filters, 3, padding="same")(r)
        s = h if stride == 1 else k.layers.Conv2D(filters, 1, strides=stride)(h)
        h = k.layers.ReLU()(k.layers.Add()([r, s]))
    return _classifier(k, inp, h, x, y, _images(x, 37, 3, 1000))


def efficientnet_se(k, x, y):
    """EfficientNet-lite-like blocks: expand 1x1, depthwise 3x3 / 5x5, squeeze-excite (mean, two
    fully connected layers, multiply), project 1x1."""
    inp = k.Input((32, 32, 3), batch_size=1)
    h = k.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu6")(inp)
    for expand, kernel, stride, out in ((4, 3, 1, 16), (4, 5, 2, 24), (6, 3, 1, 24)):
        e = k.layers.Conv2D(h.shape[-1] * expand, 1, activation="relu6")(h)
        e = k.layers.DepthwiseConv2D(kernel, strides=stride, padding="same", activation="relu6")(e)
        s = k.layers.GlobalAveragePooling2D(keepdims=True)(e)
        s = k.layers.Conv2D(max(4, e.shape[-1] // 8), 1, activation="relu")(s)
        s = k.layers.Conv2D(e.shape[-1], 1, activation="sigmoid")(s)
        e = k.layers.Multiply()([e, s])
        p = k.layers.Conv2D(out, 1)(e)
        h = k.layers.Add()([h, p]) if stride == 1 and out == h.shape[-1] else p
    return _classifier(k, inp, h, x, y, _images(x, 32, 3, 1000))


def fc_odd(k, x, y):
    """Fully connected 777 -> 129 -> 10."""
    inp = k.Input((777,), batch_size=1)
    h = k.layers.Dense(129, activation="relu")(inp)
    data = x[:2000].reshape(-1, 784)[:, :777]
    return _classifier(k, inp, h, x, y, data)


def valid_padding(k, x, y):
    """padding='valid' everywhere: 3x3 and 5x5 convs, a strided depthwise, max and average pooling."""
    inp = k.Input((29, 29, 1), batch_size=1)
    h = k.layers.Conv2D(10, 3, activation="relu")(inp)                      # 27
    h = k.layers.Conv2D(22, 5, strides=2, activation="relu")(h)             # 12
    h = k.layers.DepthwiseConv2D(3, strides=2, activation="relu")(h)        # 5
    h = k.layers.Conv2D(30, 1, activation="relu")(h)
    h = k.layers.MaxPooling2D(2, strides=1)(h)                              # 4
    h = k.layers.AveragePooling2D(3, strides=1)(h)                          # 2
    h = k.layers.Flatten()(h)
    return _classifier(k, inp, h, x, y, _images(x, 29, 1, 1000))


BUILDERS = {"mobilenet_v2_a05_64": mobilenet_v2_a05_64, "mobilenet_v1_dm2": mobilenet_v1_dm2, "dw5x5": dw5x5,
            "conv1d_dilated": conv1d_dilated, "resnet_odd": resnet_odd, "efficientnet_se": efficientnet_se,
            "fc_odd": fc_odd, "valid_padding": valid_padding}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=None)
    parser.add_argument("--only", nargs="*", default=None, choices=list(BUILDERS))
    parser.add_argument("--boards", nargs="*", default=suite.BOARDS, choices=suite.BOARDS)
    parser.add_argument("--per-layer", action="store_true", help="print every layer's row")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mcc-bench-unseen-") as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        model_rows, type_rows, layer_rows, findings = [], [], [], []
        for name in args.only or list(BUILDERS):
            try:
                path = suite.build_models(work, [name], BUILDERS)[name]
            except Exception as error:   # a converter refusal is a finding, not the end of the run
                findings.append(f"- {name}: not converted: {str(error).splitlines()[0]}")
                continue
            bench, cores, tree = suite.bench_both(path, work, "none", args.boards, findings, name)
            if bench is None:
                continue
            graph = suite.tree_graph(tree)
            by_name = {op.name: op for op in graph.ops}
            sums, _ = suite.per_type(graph, bench)
            cells = [f"{c.instructions:,} | {c.macs_per_instruction:.3f}" if c else "- | -"
                     for c in (cores.get(b) for b in suite.BOARDS)]
            m4, m55 = cores.get("mps2-an386"), cores.get("mps3-an547")
            speedup = f"{m4.instructions / m55.instructions:.2f}" if m4 and m55 else "-"
            model_rows.append(f"| {name} | {bench.macs:,} | {' | '.join(cells)} | {speedup} |")
            for board in cores:
                type_rows.append(f"| {name} | {board} | " + " | ".join(
                    suite.ratio(sums[board].get(kind, [0, 0])) for kind in suite.OP_TYPES) + " |")
            for row in bench.layers:
                kind = suite.op_type(graph, by_name[row.op.split(": ")[0]])
                rates = {b: row.macs / n for b, n in row.instructions.items() if n and row.macs}
                out = graph.output_tensor(by_name[row.op.split(": ")[0]]).size
                layer_rows.append(f"| {name} | {row.index} {row.op[:40]} | {row.kernel} | {row.macs:,} | {out:,} | "
                                  + " | ".join(f"{row.instructions.get(b, 0):,} | "
                                               + (f"{rates[b]:.2f}" if b in rates else "") for b in suite.BOARDS)
                                  + " |")
                for board, n in row.instructions.items():
                    if not row.macs and n > SHARE * cores[board].instructions:
                        findings.append(f"- {name} layer {row.index} ({row.op}) on {board}: {n:,} instructions, "
                                        f"{n / cores[board].instructions:.0%} of the model, {n / out:.1f} an "
                                        f"output, {row.kernel}")
                portable = PORTABLE & set(row.kernel.split("+"))
                if portable:
                    findings.append(f"- {name} layer {row.index} ({row.op}): portable {', '.join(sorted(portable))}")
                for board, rate in rates.items():
                    floor = SUITE_RATES[board].get(kind)
                    if floor and row.macs >= SLOW_MACS and rate < floor / 2:
                        findings.append(f"- {name} layer {row.index} ({row.op}, {kind}, {row.macs:,} MACs) on "
                                        f"{board}: {rate:.2f} MAC/instr (suite {floor:.2f}), {row.kernel}")
    print("| model | MACs | M4 instructions | M4 MAC/instr | M55 instructions | M55 MAC/instr | M4/M55 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print("\n".join(model_rows))
    print()
    print("| model | board | " + " | ".join(suite.OP_TYPES) + " |")
    print("|---|---|" + "---:|" * len(suite.OP_TYPES))
    print("\n".join(type_rows))
    for board in suite.BOARDS:
        print(f"| suite (round 9) | {board} | " + " | ".join(f"{SUITE_RATES[board][k]:.2f}"
                                                            for k in suite.OP_TYPES) + " |")
    if args.per_layer:
        print()
        print("| model | layer | kernels called (M4 calls+M55 calls where they differ) | MACs | outputs "
              "| M4 instructions | M4 MAC/instr | M55 instructions | M55 MAC/instr |")
        print("|---|---|---|---:|---:|---:|---:|---:|---:|")
        print("\n".join(layer_rows))
    print()
    print("\n".join(findings) if findings else "no findings")


if __name__ == "__main__":
    main()
