"""Benchmarks of binary networks (issue 7). Not a test: it trains, cross-builds and emulates.

    PYTHONPATH=. .venv/bin/python scripts/bench_binary.py dense      # 1024x1024 Dense on QEMU
    PYTHONPATH=. .venv/bin/python scripts/bench_binary.py mnist      # binary vs float MLP, QEMU run

dense: exact instruction counts (the project's QEMU TCG plugin) of one inference of a 1024x1024
  Dense layer on mps2-an386 (Cortex-M4): int8 (mcc_fully_connected_s8) against binary with each
  popcount routine, and ternary; the same on mps3-an547 (Cortex-M55, MVE popcount). A graph that
  only binarizes the input is measured too, so the Dense layer alone is (total - that).
mnist: a float MLP and a binary MLP of the same shape (784-H-H-H-10; the binary one has int8 first
  and last layers and binary hidden layers) trained on mnist10k.npz; test accuracy of the float
  model, the binary Keras model and the deployed binary graph (host C build); weight storage; the
  deployed binary MLP run on mps2-an386 with outputs compared byte for byte to the reference.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mcucompress.binary import constructors  # noqa: E402
from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor  # noqa: E402

MNIST = REPO.parent / "shared" / "datasets" / "mnist10k.npz"


def _run(graph: Graph, board: str, work: Path, samples: int = 1, data=None, optimize: str = "speed") -> dict:
    """Export (int8 weight encodings chosen for speed unless told), cross-build, run on QEMU."""
    from mcucompress.export import export
    from mcucompress.targets.runner import run_model
    from mcucompress.report.micronet import tree_micronet
    tree = export(graph, work / f"{graph.name}_{board}_{optimize}", prefix=graph.name, optimize=optimize)
    report = run_model(tree, board, data=data, samples=samples)
    return {"instructions": list(report.instructions), "identical_to": report.checks,
            "flash_bytes": report.footprint.flash_bytes, "ram_bytes": report.footprint.ram_bytes,
            "micronet": tree_micronet(tree).as_dict()}


def int8_dense(n: int) -> Graph:
    rng = np.random.default_rng(0)
    t = {"x": Tensor("x", (1, n), "int8", QuantParams((0.05,), (0,))),
         "w": Tensor("w", (n, n), "int8", QuantParams((0.01,), (0,)),
                     rng.integers(-127, 128, (n, n)).astype(np.int8)),
         "b": Tensor("b", (n,), "int32", QuantParams((0.0005,), (0,)), np.zeros(n, np.int32)),
         "y": Tensor("y", (1, n), "int8", QuantParams((0.5,), (0,)))}
    op = Op("fully_connected", "fc", ("x", "w", "b"), ("y",), {"activation": "none"})
    return Graph(t, (op,), ("x",), ("y",), name="int8_dense")


def binary_dense(n: int, popcount: str | None, ternary: bool = False, planes: int = 1) -> Graph:
    """int8 input -> binarize -> (binary n x n Dense with sign output, unless popcount is None);
    ternary weights, or k-bit weights as ``planes`` sign planes, on request."""
    rng = np.random.default_rng(0)
    t = {"x": Tensor("x", (1, n), "int8", QuantParams((0.05,), (0,))),
         "a": constructors.packed_tensor("a", (1,), n)}
    ops = [constructors.binarize_op("sign", "x", "a", 0)]
    out = "a"
    if popcount is not None:
        if planes > 1:
            packed = constructors.pack_levels(2 * rng.integers(0, 2 ** planes, (n, n)) - (2 ** planes - 1), planes)
        else:
            packed = constructors.pack_weights(rng.choice([-1, 0, 1] if ternary else [-1, 1], size=(n, n)), ternary)
        t["w"] = constructors.weights_tensor("w", packed)
        t["t"] = constructors.thresholds_tensor("t", rng.integers(-20, 21, n))
        t["y"] = constructors.packed_tensor("y", (1,), n)
        ops.append(constructors.fc_op("fc", "a", "w", "t", "y", n, ternary, popcount, planes))
        out = "y"
    kind = "ternary" if ternary else (f"dorefa{planes}" if planes > 1 else "binary")
    name = "binarize_only" if popcount is None else f"{kind}_{popcount}"
    return Graph(t, tuple(ops), ("x",), (out,), name=name)


def bench_dense(work: Path, n: int = 1024) -> dict:
    results = {}
    cases = [("mps2-an386", int8_dense(n)), ("mps2-an386", binary_dense(n, None))]
    cases += [("mps2-an386", binary_dense(n, p)) for p in ("swar", "table", "csa", "vertical")]
    cases += [("mps2-an386", binary_dense(n, "csa", ternary=True)), ("mps2-an386", binary_dense(n, "csa", planes=2))]
    # Cortex-M3 (lm3s6965evb): the binary layer fits its 256 KB flash, the int8 one does not.
    cases += [("lm3s6965evb", binary_dense(n, None))]
    cases += [("lm3s6965evb", binary_dense(n, p)) for p in ("swar", "table", "csa", "vertical")]
    # On the M55 the 1 MB int8 layer does not fit the 512 KB ITCM; the binary one (128 KB) does.
    cases += [("mps3-an547", binary_dense(n, None)), ("mps3-an547", binary_dense(n, "csa")),
              ("mps3-an547", binary_dense(n, "vertical"))]
    for board, graph in cases:
        r = _run(graph, board, work)
        results[f"{board}/{graph.name}"] = r
        print(f"{board:12s} {graph.name:16s} {r['instructions'][0]:>10,d} instructions  "
              f"identical {r['identical_to']}  MicroNet score {r['micronet']['score']:.4g}", flush=True)
    int8 = results["mps2-an386/int8_dense"]["instructions"][0]
    for board in ("mps2-an386", "lm3s6965evb", "mps3-an547"):
        base = results[f"{board}/binarize_only"]["instructions"][0]
        for key, r in results.items():
            if key.startswith(board) and "int8" not in key and "binarize" not in key:
                layer = r["instructions"][0] - base
                r["dense_only_instructions"] = layer
                print(f"{key}: layer alone {layer:,d}; int8 (M4) / binary total = "
                      f"{int8 / r['instructions'][0]:.1f}x, layer alone = {int8 / layer:.1f}x")
    return results


def _mlp(kind: str, hidden: int, layers: int):
    import keras
    from mcucompress.binary.layers import BinaryDense, SignActivation
    model = [keras.Input((28, 28)), keras.layers.Flatten()]
    for i in range(layers):
        if kind == "float":
            model += [keras.layers.Dense(hidden, use_bias=False), keras.layers.BatchNormalization(),
                      keras.layers.ReLU()]
        else:
            dense = keras.layers.Dense(hidden, use_bias=False) if i == 0 else BinaryDense(hidden)
            model += [dense, keras.layers.BatchNormalization(), SignActivation()]
    model.append(keras.layers.Dense(10))
    return keras.Sequential(model, name=f"{kind}_mlp")


def _storage(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights if len(w.shape) == 2) * 4)


def bench_mnist(work: Path, hidden: int, layers: int, epochs: int, qemu_samples: int) -> dict:
    import keras
    from mcucompress.binary.convert import convert
    from mcucompress.build.host import build_host
    from mcucompress.build.runner import run_host
    from mcucompress.data import quantize_input
    from mcucompress.export import export
    from mcucompress.reference.int8 import run_int8
    from mcucompress.report.micronet import keras_micronet, tree_micronet

    data = np.load(MNIST)
    x_train, y_train = data["x_train"].astype(np.float32) / 255.0, data["y_train"]
    x_test, y_test = data["x_test"].astype(np.float32) / 255.0, data["y_test"]
    results = {"hidden": hidden, "hidden_layers": layers, "epochs": epochs}
    models = {}
    for kind in ("float", "binary"):
        keras.utils.set_random_seed(0)
        model = _mlp(kind, hidden, layers)
        model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(0.005, epochs * 80)),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
        model.fit(x_train, y_train, epochs=epochs, batch_size=100, verbose=0)
        acc = float(model.evaluate(x_test, y_test, verbose=0)[1])
        results[f"{kind}_keras_accuracy"] = acc
        models[kind] = model
        if kind == "float":  # the binary model's score is its deployed graph's (below)
            results["float_micronet"] = keras_micronet(model)
            print(f"float MLP MicroNet score {results['float_micronet'].get('score', 0):.4g}", flush=True)
        print(f"{kind} MLP (Keras) test accuracy {acc:.4f}", flush=True)

    graph = convert(models["binary"], x_train[:1000])
    graph = graph.replace(name="bmlp")
    tree = export(graph, work / "bmlp", prefix="bmlp")
    results["binary_micronet"] = tree_micronet(tree).as_dict()
    print(f"binary MLP (deployed) MicroNet score {results['binary_micronet']['score']:.4g} (CIFAR-100 track)",
          flush=True)
    quant = graph.tensor(graph.inputs[0]).quant
    xq = quantize_input(x_test, quant)
    c_out = run_host(build_host(tree), xq, graph.tensor(graph.outputs[0]).nbytes)
    results["binary_deployed_accuracy"] = float(np.mean(np.argmax(c_out, axis=1) == y_test))
    ref = np.stack([run_int8(graph, xi[None]).ravel() for xi in xq[:500]])
    results["host_c_equals_reference_500"] = bool(np.array_equal(ref, c_out[:500]))
    results["accuracy_gap_points"] = 100 * (results["float_keras_accuracy"] - results["binary_deployed_accuracy"])
    print(f"binary MLP deployed (host C) accuracy {results['binary_deployed_accuracy']:.4f}; "
          f"gap to float {results['accuracy_gap_points']:.2f} points; C == reference on 500: "
          f"{results['host_c_equals_reference_500']}", flush=True)

    float_bytes = _storage(models["float"])
    deployed = sum(t.nbytes for t in graph.constants())
    binary_ops = [op for op in graph.ops if op.kind.startswith("binary_")]
    binary_bytes = sum(graph.tensor(op.inputs[1]).nbytes for op in binary_ops)
    binary_float = sum(int(np.prod(graph.tensor(op.inputs[1]).shape[:1])) * op.attrs["in_features"] * 4
                       for op in binary_ops)
    results.update(float_weight_bytes=float_bytes, deployed_constant_bytes=int(deployed),
                   binary_layer_weight_bytes=int(binary_bytes), binary_layer_float_bytes=int(binary_float),
                   ratio_whole_model=float_bytes / deployed, ratio_binary_layers=binary_float / binary_bytes)
    print(f"weights: float32 {float_bytes:,d} B, deployed (all constants) {deployed:,d} B = "
          f"{float_bytes / deployed:.1f}x smaller; binary hidden layers {binary_float:,d} B float32 vs "
          f"{binary_bytes:,d} B packed = {binary_float / binary_bytes:.1f}x", flush=True)

    if qemu_samples:
        npz = work / "mnist_test.npz"
        np.savez(npz, x=x_test[:qemu_samples])
        # "speed": the int8 first layer stays dense; "size" (export's default) may Huffman-code it.
        for optimize in ("speed", "size"):
            r = _run(graph, "mps2-an386", work, samples=qemu_samples, data=npz, optimize=optimize)
            results[f"qemu_mps2_an386_{optimize}"] = r
            print(f"binary MLP on mps2-an386 (optimize={optimize}): identical {r['identical_to']}, "
                  f"instructions/inference {r['instructions'][0]:,d}, flash {r['flash_bytes']:,d} B, "
                  f"MicroNet score {r['micronet']['score']:.4g}", flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("section", choices=["dense", "mnist", "all"])
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=3, help="hidden layers (the first is int8)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--qemu-samples", type=int, default=20)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-binary-") as tmp:
        work = Path(tmp)
        if args.section in ("dense", "all"):
            results["dense"] = bench_dense(work)
        if args.section in ("mnist", "all"):
            results["mnist"] = bench_mnist(work, args.hidden, args.layers, args.epochs, args.qemu_samples)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
