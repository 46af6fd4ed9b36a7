"""Deep Compression on a small MNIST CNN end to end: prune + cluster with `mcucompress compress`,
encode with `mcucompress export`, and measure weight bytes, accuracy and instructions on the
Cortex-M3 (lm3s6965evb), M4 (mps2-an386) and M55 (mps3-an547).

    cd <repo> && PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 nice .venv/bin/python scripts/bench_deep_cnn.py

The CNN (conv 3x3x8, max pool, conv 3x3x16, max pool, dense 64, dense 10; 27,464 weights) is
trained on x_train of ../shared/datasets/mnist10k.npz (8000 images) and evaluated on x_test
(2000). `compress --prune S --cluster K` prunes it (global magnitude) and clusters every layer;
`export` quantizes it (clustered layers get one weight scale per tensor, so K centroids stay K
int8 values; zero of the pruned weights is one of the K, so 16 gives 4-bit codebook indices) with
--optimize none (dense), size, and fit under a weight budget of a tenth and of a twentieth of
the float32 weights (`--flash-budget`, no board: the bytes the weights may take as stored). Each
tree runs on the host for all test images (accuracy; the first 300 outputs compared with the numpy
reference)
and through `bench` on the three boards (exact instruction counts; outputs identical to the host
and the reference). Weight bytes are the manifest's stored bytes of the encodable layers.
Writes build/bench_deep_cnn/results.json and docs/benchmarks/deep_cnn.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mcucompress.report.micronet import tree_micronet  # noqa: E402

BOARDS = ("lm3s6965evb", "mps2-an386", "mps3-an547")
CLI = [sys.executable, "-m", "mcucompress"]


def mnist_cnn():
    import keras
    layers = keras.layers
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(8, 3, activation="relu", name="conv1"), layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(16, 3, activation="relu", name="conv2"), layers.MaxPooling2D(2, name="pool2"),
        layers.Flatten(name="flatten"), layers.Dense(64, activation="relu", name="fc1"),
        layers.Dense(10, activation="softmax", name="out")], name="mnist_cnn")


def train_baseline(path: Path, data_path: Path, epochs: int) -> None:
    import keras
    d = np.load(data_path)
    x = d["x_train"].astype(np.float32)[..., None] / 255.0
    keras.utils.set_random_seed(0)
    model = mnist_cnn()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, d["y_train"], epochs=epochs, batch_size=64, verbose=0)
    model.save(path)


def float_weights(path: Path) -> tuple[int, int]:
    """(weights of the conv/dense kernels, float32 bytes of those weights)."""
    import keras
    model = keras.models.load_model(path)
    n = sum(int(np.prod(layer.get_weights()[0].shape)) for layer in model.layers if layer.get_weights())
    return n, 4 * n


def float_accuracy(path: Path, data_path: Path) -> float:
    import keras
    d = np.load(data_path)
    model = keras.models.load_model(path)
    p = model.predict(d["x_test"].astype(np.float32)[..., None] / 255.0, verbose=0)
    return float(np.mean(p.argmax(axis=1) == d["y_test"]))


def cli(*args) -> str:
    run = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    if run.returncode != 0:
        raise SystemExit(f"mcucompress {' '.join(map(str, args))} failed:\n{run.stdout}\n{run.stderr}")
    return run.stdout


def host_accuracy(tree: Path, data_path: Path, reference_samples: int) -> dict:
    from mcucompress.build.host import build_host
    from mcucompress.build.runner import run_host
    from mcucompress.ir.serialize import load_graph
    from mcucompress.reference.int8 import run_int8

    graph = load_graph(tree / "graph.npz")
    d = np.load(data_path)
    quant = graph.tensor(graph.inputs[0]).quant
    v = d["x_test"].astype(np.float32).reshape(len(d["x_test"]), -1) / 255.0 / np.float32(quant.scale[0])
    x = np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5) + quant.zero_point[0], -128, 127).astype(np.int8)
    got = run_host(build_host(tree), x, graph.tensor(graph.outputs[0]).size)
    shape = graph.tensor(graph.inputs[0]).shape
    want = np.stack([run_int8(graph, xi.reshape(shape)).reshape(-1) for xi in x[:reference_samples]])
    return {"accuracy": float(np.mean(got.argmax(axis=1) == d["y_test"])),
            "identical_to_reference": bool(np.array_equal(got[:reference_samples], want)), "samples": int(len(x)),
            "reference_samples": int(len(want))}


def bench(tree: Path) -> dict:
    from mcucompress.targets.bench import bench_model
    result = bench_model(tree, list(BOARDS), layers=True)
    return {"cores": {c.board: {"instructions": c.instructions, "flash_bytes": c.flash_bytes,
                                "identical_to": c.identical_to} for c in result.cores},
            "layers": [{"layer": r.op, "kernel": r.kernel, "macs": r.macs, "instructions": r.instructions}
                       for r in result.layers]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "datasets" / "mnist10k.npz"))
    parser.add_argument("--out", default=str(REPO / "build" / "bench_deep_cnn"))
    parser.add_argument("--doc", default=str(REPO / "docs" / "benchmarks" / "deep_cnn.md"))
    parser.add_argument("--sparsity", type=float, default=0.8)
    parser.add_argument("--clusters", type=int, default=16,
                        help="values per layer (zero of the pruned weights one of them): 16, 4-bit codebook indices")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--finetune-epochs", type=int, default=3)
    parser.add_argument("--reference-samples", type=int, default=300,
                        help="test images also run through the numpy reference (the C runs all of them)")
    parser.add_argument("--retrain", action="store_true")
    args = parser.parse_args(argv)
    started = time.time()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = Path(args.data)
    base, comp = out / "mnist_cnn.keras", out / f"mnist_cnn_deep_{args.sparsity}_{args.clusters}.keras"
    if args.retrain or not base.is_file():
        train_baseline(base, data, args.epochs)
    if args.retrain or not comp.is_file():
        cli("compress", base, "-o", comp, "--data", data, "--prune", args.sparsity, "--cluster", args.clusters,
            "--epochs", args.finetune_epochs, "-q")
    calib = out / "calib.npz"
    d = np.load(data)
    np.savez(calib, x=d["x_train"][:500].astype(np.float32)[..., None] / 255.0)
    weights, float_bytes = float_weights(base)
    budget, tight = float_bytes // 10, float_bytes // 20
    r = {"command": "PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 nice .venv/bin/python scripts/bench_deep_cnn.py "
                    + " ".join(argv if argv is not None else sys.argv[1:]),
         "sparsity": args.sparsity, "clusters": args.clusters, "weights": weights, "float32_weight_bytes": float_bytes,
         "float_accuracy": float_accuracy(base, data), "compressed_float_accuracy": float_accuracy(comp, data),
         "variants": {}}
    variants = {"baseline, dense int8 (--optimize none)": (base, ["--optimize", "none"]),
                "compressed, --optimize size": (comp, ["--optimize", "size"]),
                f"compressed, --optimize fit --flash-budget {budget}": (comp, ["--optimize", "fit", "--flash-budget",
                                                                               budget]),
                f"compressed, --optimize fit --flash-budget {tight}": (comp, ["--optimize", "fit", "--flash-budget",
                                                                              tight])}
    for i, (label, (model, flags)) in enumerate(variants.items()):
        tree = out / f"tree{i}"
        cli("export", model, "-o", tree, "--calib", calib, "--prefix", "cnn", *flags)
        manifest = json.loads((tree / "manifest.json").read_text())
        encodings = manifest.get("weight_encodings", {})
        entry = {"flags": flags, "encodings": {k: v["encoding"] for k, v in encodings.items()},
                 "weight_bytes": int(sum(v["bytes"] for v in encodings.values())),
                 "micronet": tree_micronet(tree).as_dict(),
                 "host": host_accuracy(tree, data, args.reference_samples), "bench": bench(tree)}
        r["variants"][label] = entry
        print(f"== {label}: {entry['weight_bytes']:,} B, acc {entry['host']['accuracy']:.4f}, "
              + ", ".join(f"{b} {c['instructions']:,}" for b, c in entry["bench"]["cores"].items()), flush=True)
    r["seconds"] = round(time.time() - started, 1)
    (out / "results.json").write_text(json.dumps(r, indent=2) + "\n")
    Path(args.doc).write_text(markdown(r))
    return 0


def markdown(r: dict) -> str:
    base = next(iter(r["variants"].values()))
    lines = [
        "# Deep Compression on a small MNIST CNN, end to end",
        "",
        f"Command: `{r['command'].strip()}` (took {r['seconds']} s; results in build/bench_deep_cnn/results.json).",
        "",
        f"CNN conv 3x3x8, max pool, conv 3x3x16, max pool, dense 64, dense 10 ({r['weights']:,} weights, "
        f"{r['float32_weight_bytes']:,} B as float32), trained on the 8000 x_train images of mnist10k, accuracy on "
        f"its 2000 x_test images. `mcucompress compress --prune {r['sparsity']} --cluster {r['clusters']}`, then "
        "`mcucompress export` (clustered layers quantized with one weight scale per tensor). Float accuracy "
        f"{100 * r['float_accuracy']:.2f}%, pruned + clustered float {100 * r['compressed_float_accuracy']:.2f}%.",
        "",
        "Weight bytes: the weights of the conv and dense layers as stored (values, indices, codebooks, tables, "
        "descriptors; the manifest's `weight_encodings`). Instructions: one inference, exact QEMU counts from "
        "`bench`; every run's outputs identical to the host build and the numpy reference (host: the first "
        f"{base['host']['reference_samples']} test images against the reference). MicroNet score: CIFAR-100 "
        "track (WideResNet-28-10 = 2) of the exported graph, as `mcucompress info` counts it.",
        "",
        "| export | weight bytes | x smaller than float32 | int8 accuracy % (host, 2000) | points lost | "
        + " | ".join(f"instructions {b}" for b in BOARDS) + " | x dense (M4) | encodings | MicroNet score |",
        "|---|---|---|---|---|" + "---|" * len(BOARDS) + "---|---|---:|",
    ]
    m4_dense = base["bench"]["cores"]["mps2-an386"]["instructions"]
    for label, v in r["variants"].items():
        cores = v["bench"]["cores"]
        same = all(all(c["identical_to"].values()) for c in cores.values()) and v["host"]["identical_to_reference"]
        lines.append(
            f"| {label} | {v['weight_bytes']:,} | {r['float32_weight_bytes'] / v['weight_bytes']:.1f} | "
            f"{100 * v['host']['accuracy']:.2f} | {100 * (r['float_accuracy'] - v['host']['accuracy']):.2f} | "
            + " | ".join(f"{cores[b]['instructions']:,}" for b in BOARDS)
            + f" | {cores['mps2-an386']['instructions'] / m4_dense:.2f} | "
            + ", ".join(f"{k} {e}" for k, e in v["encodings"].items()) + ("" if same else " (NOT identical)")
            + (f" | {v['micronet']['score']:.4g} |" if "micronet" in v else " | not measured |"))
    lines += ["", "Per layer on the M4 (instructions of each kernel call):", "",
              "| export | " + " | ".join(row["layer"] for row in base["bench"]["layers"]) + " |",
              "|---|" + "---|" * len(base["bench"]["layers"])]
    for label, v in r["variants"].items():
        lines.append(f"| {label} | " + " | ".join(f"{row['instructions'].get('mps2-an386', 0):,} ({row['kernel']})"
                                                  for row in v["bench"]["layers"]) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
