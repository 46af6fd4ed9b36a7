"""HashedNets and product quantization on LeNet-300-100, through to the Cortex-M4.

    cd <repo> && PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 OMP_NUM_THREADS=1 nice \\
        /work/main/.venv/bin/python scripts/bench_shared_weights.py hashed pq

Data: x_train (8000 images) of ../shared/datasets/mnist10k.npz for training, its x_test (2000)
for every accuracy (float Keras, and the int8 C built for the host, checked byte for byte
against the numpy reference on all 2000 images). Device figures: QEMU mps2-an386 (Cortex-M4),
instruction counts from the project's counting plugin, flash image without test vectors.

- hashed: LeNet-300-100 (float, --seeds seeds) -> compression/shared_weights.hash_weights at
  --ratio (--hash-layers, default every layer), fine-tuned --hash-epochs. Against it: magnitude pruning (global,
  polynomial schedule, same fine-tuning epochs) at each --sparsities value, exported with the
  smallest encodings (--optimize size: CSR, codebook or Huffman per layer); the highest sparsity
  whose int8 accuracy is at least the hashed model's is "CSR at the same accuracy".
- pq: product_quantize of fc1 (784x300) per --pq-configs LENGTHxCENTROIDS, fine-tuned
  --pq-epochs; instructions of fc1 alone (per kernel call) and of the whole inference against
  the dense int8 model (--optimize none: mcc_fully_connected_fast_s8).

Results: build/bench_shared_weights/<name>.json and docs/benchmarks/shared_weights.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mcucompress.compression import accuracy, fine_tune, load_npz, magnitude_prune  # noqa: E402
from mcucompress.compression.shared_weights import hash_weights, product_quantize  # noqa: E402
from mcucompress.export import export  # noqa: E402
from mcucompress.load import load  # noqa: E402
from mcucompress.targets.board import load_board  # noqa: E402
from mcucompress.targets.layer_counts import count_layers  # noqa: E402
from mcucompress.targets.manifest import read_manifest  # noqa: E402
from scripts.bench_compression import lenet_300_100  # noqa: E402
from scripts.bench_encoded import host_check, qemu, quantize_input  # noqa: E402

DATA = REPO.parent / "shared" / "datasets" / "mnist10k.npz"
OUT = REPO / "build" / "bench_shared_weights"
DOC = REPO / "docs" / "benchmarks" / "shared_weights.md"
FIT = dict(batch_size=128, verbose=0)


def log(*parts):
    print(*parts, flush=True)


def baselines(args, data) -> list:
    models = []
    for seed in range(args.seeds):
        path = OUT / f"lenet_seed{seed}.keras"
        if path.is_file() and not args.retrain:
            models.append(keras.saving.load_model(path))
            continue
        keras.utils.set_random_seed(seed)
        model = fine_tune(lenet_300_100(), data, epochs=args.baseline_epochs, **FIT)
        model.save(path)
        models.append(model)
    return models


def device(model, name: str, data, args, optimize: str) -> dict:
    """int8 export of `model`: host accuracy on x_test (identical to the reference?), QEMU footprint
    and instructions, the kernel of each layer."""
    calib = data.x_train[:1000]
    graph = load(model, calib).graph
    tree = export(model, OUT / name / "model", calib=calib, optimize=optimize)
    x = quantize_input(data.x_val, graph.tensor(graph.inputs[0]).quant)
    row = {"int8": host_check(graph, tree, x, data.y_val)}
    npz = OUT / name / "inputs.npz"
    np.savez(npz, x=data.x_val[:args.qemu_samples])
    row["qemu"] = qemu(tree, args.board, npz, args.qemu_samples)
    row["layers"] = [{"name": layer.op, "kind": layer.kind, "kernel": layer.kernel, "encoding": layer.encoding}
                     for layer in read_manifest(tree).layers]
    log(f"   {name}: int8 {row['int8']['accuracy']:.4f} (identical {row['int8']['identical_to_reference']}), "
        f"flash {row['qemu']['flash_bytes_without_vectors']:,} B, "
        f"{row['qemu']['instructions_per_inference'][0]:,} instructions")
    return row


def stored_weights(model) -> int:
    """Weights as the model stores them: shared values / codewords (codes counted apart), non-zero kernels."""
    total = 0
    for layer in model.layers:
        names = {v.name: np.asarray(v.numpy()) for v in layer.weights}
        if "values" in names:
            total += names["values"].size
        elif "codebooks" in names:
            total += names["codebooks"].size
        elif "kernel" in names:
            total += int(np.count_nonzero(names["kernel"]))
    return total


def bench_hashed(args, data) -> dict:
    bases = baselines(args, data)
    weights = sum(int(layer.kernel.shape[0] * layer.kernel.shape[1]) for layer in bases[0].layers)
    r = {"ratio": args.ratio, "hash_layers": args.hash_layers, "weights": weights, "hash_epochs": args.hash_epochs, "seeds": args.seeds,
         "float": [accuracy(m, data.x_val, data.y_val) for m in bases], "hashed_float": []}
    hashed_models = []
    for seed, base in enumerate(bases):
        keras.utils.set_random_seed(seed)
        hashed = hash_weights(base, data, args.ratio, layers=args.hash_layers, epochs=args.hash_epochs, **FIT)
        hashed_models.append(hashed)
        r["hashed_float"].append(accuracy(hashed, data.x_val, data.y_val))
        log(f"seed {seed}: float {r['float'][seed]:.4f}, hashed {r['hashed_float'][-1]:.4f}")
    r["stored_weights"] = stored_weights(hashed_models[0])
    r["hashed_device"] = device(hashed_models[0], "hashed", data, args, "size")
    r["pruned"] = []
    for sparsity in args.sparsities:
        keras.utils.set_random_seed(0)
        pruned = magnitude_prune(bases[0], data, sparsity, scope="global", epochs=args.hash_epochs, **FIT)
        row = {"sparsity": sparsity, "float": accuracy(pruned, data.x_val, data.y_val),
               "stored_weights": stored_weights(pruned)}
        row.update(device(pruned, f"pruned_{sparsity}", data, args, "size"))
        r["pruned"].append(row)
    target = r["hashed_device"]["int8"]["accuracy"]
    matching = [row for row in r["pruned"] if row["int8"]["accuracy"] >= target]
    r["csr_at_same_accuracy"] = max(matching, key=lambda row: row["sparsity"])["sparsity"] if matching else None
    return r


def bench_pq(args, data) -> dict:
    base = baselines(args, data)[0]
    r = {"float": accuracy(base, data.x_val, data.y_val), "pq_epochs": args.pq_epochs,
         "dense": device(base, "dense", data, args, "none"), "configs": []}
    board = load_board(args.board)
    r["dense"]["layer_instructions"] = [c.instructions for c in count_layers(Path(r["dense"]["qemu"]["elf"]), board,
                                                                             "model")]
    for config in args.pq_configs:
        length, centroids = (int(v) for v in config.split("x"))
        keras.utils.set_random_seed(0)
        pq = product_quantize(base, data, length, centroids, layers=["fc1"], epochs=args.pq_epochs, **FIT)
        row = {"config": config, "length": length, "centroids": centroids,
               "float": accuracy(pq, data.x_val, data.y_val)}
        row.update(device(pq, f"pq_{config}", data, args, "none"))
        row["layer_instructions"] = [c.instructions for c in count_layers(Path(row["qemu"]["elf"]), board, "model")]
        log(f"   fc1 {row['layer_instructions'][0]:,} vs dense {r['dense']['layer_instructions'][0]:,} instructions")
        r["configs"].append(row)
    return r


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def markdown(results: dict, command: str) -> str:
    lines = ["# Shared weights: HashedNets and product quantization on LeNet-300-100", "",
             "(scripts/bench_shared_weights.py; each section names the command that produced it; MNIST subset ../shared/datasets/mnist10k.npz: 8000 training, "
             "2000 test images; int8 accuracy is the host-built C on all 2000 test images, byte-identical to "
             "the numpy reference; device figures on QEMU mps2-an386, Cortex-M4.)", ""]
    h = results.get("hashed")
    if h:
        dev = h["hashed_device"]
        lines += ["## HashedNets (Chen et al. 2015)", "", "```", h.get("command", command), "```", "",
                  f"{', '.join(h.get('hash_layers') or ['every layer'])} hashed at ratio {h['ratio']:g} (other "
                  f"layers dense): {h['stored_weights']:,} stored weights for "
                  f"{h['weights']:,} weights ({h['weights'] / h['stored_weights']:.2f}x fewer), fine-tuned "
                  f"{h['hash_epochs']} epochs from the bucket means. Mean of {h['seeds']} seeds: float "
                  f"{_pct(np.mean(h['float']))} %, hashed float {_pct(np.mean(h['hashed_float']))} % "
                  f"({100 * (np.mean(h['hashed_float']) - np.mean(h['float'])):+.2f} points; per seed "
                  f"{', '.join(_pct(a) for a in h['hashed_float'])} vs {', '.join(_pct(a) for a in h['float'])}).",
                  "", "Seed 0 exported (int8) against magnitude pruning of the same baseline (same fine-tuning "
                  "epochs) exported with the smallest encodings:", "",
                  "| model | stored weights | float % | int8 C % | flash image (B) | instructions / inference | "
                  "kernels | identical (host, reference) |", "|---|---|---|---|---|---|---|---|"]

        def row(label, stored, flt, d):
            kernels = ", ".join(sorted({layer["kernel"] for layer in d["layers"] if layer["kernel"]}))
            return (f"| {label} | {stored:,} | {_pct(flt)} | {_pct(d['int8']['accuracy'])} | "
                    f"{d['qemu']['flash_bytes_without_vectors']:,} | {d['qemu']['instructions_per_inference'][0]:,} | "
                    f"{kernels} | {d['qemu']['identical_to']} |")

        lines.append(row(f"hashed 1/{h['ratio']:g}", h["stored_weights"], h["hashed_float"][0], dev))
        for p in h["pruned"]:
            lines.append(row(f"pruned {p['sparsity']:g}", p["stored_weights"], p["float"], p))
        same = h["csr_at_same_accuracy"]
        lines += ["", f"Highest pruning sparsity whose int8 accuracy reaches the hashed model's: "
                      f"{same if same is not None else 'none of those measured'}.", ""]
    p = results.get("pq")
    if p:
        d = p["dense"]
        lines += ["## Product quantization of fc1, 784x300 (Gong et al. 2014)", "", "```", p.get("command", command),
                  "```", "",
                  "fc1 replaced by sub-vector codebooks (k-means per sub-space), fine-tuned "
                  f"{p['pq_epochs']} epochs; fc2 and out stay dense. Instructions of the fc1 kernel call alone "
                  "and of one whole inference:", "",
                  "| fc1 | float % | int8 C % | fc1 instructions | whole inference | flash image (B) | "
                  "identical (host, reference) |", "|---|---|---|---|---|---|---|",
                  f"| dense int8 (mcc_fully_connected_fast_s8) | {_pct(p['float'])} | {_pct(d['int8']['accuracy'])} | "
                  f"{d['layer_instructions'][0]:,} | {d['qemu']['instructions_per_inference'][0]:,} | "
                  f"{d['qemu']['flash_bytes_without_vectors']:,} | {d['qemu']['identical_to']} |"]
        for c in p["configs"]:
            lines.append(f"| PQ {c['length']} x {c['centroids']} (sub-vector x codewords) | {_pct(c['float'])} | "
                         f"{_pct(c['int8']['accuracy'])} | {c['layer_instructions'][0]:,} "
                         f"({c['layer_instructions'][0] / d['layer_instructions'][0]:.2f}x) | "
                         f"{c['qemu']['instructions_per_inference'][0]:,} | {c['qemu']['flash_bytes_without_vectors']:,} | "
                         f"{c['qemu']['identical_to']} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benches", nargs="+", choices=["hashed", "pq"])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--board", default="mps2-an386")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--baseline-epochs", type=int, default=15)
    parser.add_argument("--ratio", type=float, default=8.0)
    parser.add_argument("--hash-epochs", type=int, default=20)
    parser.add_argument("--hash-layers", nargs="+", default=None, help="layers to hash (default: every Dense)")
    parser.add_argument("--sparsities", type=float, nargs="+", default=[0.875, 0.9, 0.93, 0.95, 0.97])
    parser.add_argument("--pq-configs", nargs="+", default=["4x16", "8x32"])
    parser.add_argument("--pq-epochs", type=int, default=5)
    parser.add_argument("--qemu-samples", type=int, default=3)
    parser.add_argument("--retrain", action="store_true")
    parser.add_argument("--doc-only", action="store_true", help="rewrite the doc from the saved results")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    command = ("PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 OMP_NUM_THREADS=1 nice .venv/bin/python "
               "scripts/bench_shared_weights.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    results = {}
    for name in ("hashed", "pq"):
        path = OUT / f"{name}.json"
        if name in args.benches and not args.doc_only:
            started = time.time()
            data = load_npz(args.data, (784,))
            results[name] = {"hashed": bench_hashed, "pq": bench_pq}[name](args, data)
            results[name]["seconds"] = round(time.time() - started)
            results[name]["command"] = command
            path.write_text(json.dumps(results[name], indent=1))
        elif path.is_file():
            results[name] = json.loads(path.read_text())
    text = markdown(results, command)
    DOC.write_text(text)
    log(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
