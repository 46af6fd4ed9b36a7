"""HashedNets and product quantization on LeNet-300-100, through to the Cortex-M4.

    cd <repo> && PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 OMP_NUM_THREADS=1 nice \\
        /work/main/.venv/bin/python scripts/bench_shared_weights.py hashed pq

Data: x_train (8000 images) of ../shared/datasets/mnist10k.npz for training, its x_test (2000)
for every accuracy (float Keras, and the int8 C built for the host, checked byte for byte
against the numpy reference on all 2000 images). Device figures: QEMU mps2-an386 (Cortex-M4),
instruction counts from the project's counting plugin, flash image without test vectors.

- hashed: LeNet-300-100 (float, --seeds seeds) -> compression/shared_weights.hash_weights per
  --hash-configs RATIOxCLUSTERS (--hash-layers, default every Dense but the classifier),
  fine-tuned --hash-epochs; with CLUSTERS > 0 the buckets are then clustered (cluster pass,
  --cluster-epochs) and the export stores them as 1-4 bit codebook indices. Against it:
  magnitude pruning (global, polynomial schedule, --hash-epochs) at each --sparsities value,
  exported with the smallest encodings (--optimize size: CSR, codebook or Huffman per layer).
  Every model of every seed is exported and measured (int8 accuracy, flash image, instructions);
  a pruned model is "at the same accuracy" as a hashed one when their mean int8 accuracies
  differ by at most the larger of their seed standard deviations.
- pq: product_quantize of fc1 (784x300) per --pq-configs LENGTHxCENTROIDS, fine-tuned
  --pq-epochs, on every seed's baseline; instructions of fc1 alone (per kernel call) and of
  the whole inference against the dense int8 model (--optimize none: mcc_fully_connected_fast_s8).

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
from mcucompress.compression.clustering import cluster_weights  # noqa: E402
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
    (OUT / name).mkdir(parents=True, exist_ok=True)
    model.save(OUT / name / "model.keras")  # to re-measure the device figures without retraining
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


def _config(text: str) -> tuple[float, int]:
    ratio, clusters = text.split("x")
    return float(ratio), int(clusters)


def _summary(runs: list) -> dict:
    """Mean and population std over seeds of the int8 accuracy, mean flash and instructions."""
    int8 = [run["int8"]["accuracy"] for run in runs]
    return {"int8_mean": float(np.mean(int8)), "int8_std": float(np.std(int8)),
            "float_mean": float(np.mean([run["float"] for run in runs])),
            "flash_mean": float(np.mean([run["qemu"]["flash_bytes_without_vectors"] for run in runs])),
            "instructions_mean": float(np.mean([run["qemu"]["instructions_per_inference"][0] for run in runs]))}


def same_accuracy(a: dict, b: dict) -> bool:
    """Mean int8 accuracies within the larger of the two seed standard deviations."""
    return abs(a["int8_mean"] - b["int8_mean"]) <= max(a["int8_std"], b["int8_std"])


def bench_hashed(args, data) -> dict:
    bases = baselines(args, data)
    weights = sum(int(layer.kernel.shape[0] * layer.kernel.shape[1]) for layer in bases[0].layers)
    r = {"hash_layers": args.hash_layers, "weights": weights, "hash_epochs": args.hash_epochs,
         "cluster_epochs": args.cluster_epochs, "seeds": args.seeds,
         "float": [accuracy(m, data.x_val, data.y_val) for m in bases], "configs": [], "pruned": []}
    if args.only_seed is not None:  # one seed's share of the work (merged by --merge)
        bases = {args.only_seed: bases[args.only_seed]}
    else:
        bases = dict(enumerate(bases))
    hashed_by = {}  # (ratio, seed) -> hashed model before clustering
    for config in args.hash_configs:
        ratio, clusters = _config(config)
        row = {"config": config, "ratio": ratio, "clusters": clusters, "runs": []}
        for seed, base in bases.items():
            if (ratio, seed) not in hashed_by:
                keras.utils.set_random_seed(seed)
                hashed_by[ratio, seed] = hash_weights(base, data, ratio, layers=args.hash_layers,
                                                      epochs=args.hash_epochs, **FIT)
            model = hashed_by[ratio, seed]
            run = {"seed": seed, "hashed_float": accuracy(model, data.x_val, data.y_val)}
            if clusters:
                keras.utils.set_random_seed(seed)
                hashed = [layer.name for layer in model.layers if type(layer).__name__ == "HashedDense"]
                model = cluster_weights(model, data, clusters, layers=hashed, epochs=args.cluster_epochs, **FIT)
            run.update(float=accuracy(model, data.x_val, data.y_val), stored_weights=stored_weights(model))
            log(f"hashed {config} seed {seed}: float {r['float'][seed]:.4f}, hashed {run['hashed_float']:.4f}, "
                f"clustered {run['float']:.4f}")
            run.update(device(model, f"hashed_{config}_seed{seed}", data, args, "size"))
            row["runs"].append(run)
        row.update(_summary(row["runs"]))
        r["configs"].append(row)
    for sparsity in args.sparsities:
        row = {"sparsity": sparsity, "runs": []}
        for seed, base in bases.items():
            keras.utils.set_random_seed(seed)
            pruned = magnitude_prune(base, data, sparsity, scope="global", epochs=args.hash_epochs, **FIT)
            run = {"seed": seed, "float": accuracy(pruned, data.x_val, data.y_val),
                   "stored_weights": stored_weights(pruned)}
            run.update(device(pruned, f"pruned_{sparsity}_seed{seed}", data, args, "size"))
            row["runs"].append(run)
        row.update(_summary(row["runs"]))
        r["pruned"].append(row)
    return matched(r)


def matched(r: dict) -> dict:
    for row in r["configs"]:
        row["csr_at_same_accuracy"] = [p["sparsity"] for p in r["pruned"] if same_accuracy(row, p)]
    return r


def merge_parts(parts: list) -> dict:
    """One result from --only-seed runs: each configuration's and sparsity's runs of every part, by seed."""
    r = {**parts[0], "configs": [], "pruned": []}
    for key, field in (("configs", "config"), ("pruned", "sparsity")):
        rows = {}
        for part in parts:
            for row in part[key]:
                merged = rows.setdefault(row[field], {**{k: v for k, v in row.items()
                                                         if k in (field, "ratio", "clusters")}, "runs": []})
                merged["runs"] += row["runs"]
        for row in rows.values():
            row["runs"].sort(key=lambda run: run["seed"])
            row.update(_summary(row["runs"]))
            r[key].append(row)
    return matched(r)


def bench_pq(args, data) -> dict:
    bases = baselines(args, data)
    board = load_board(args.board)

    def measured(model, name, seed):
        run = {"seed": seed, "float": accuracy(model, data.x_val, data.y_val)}
        run.update(device(model, f"{name}_seed{seed}", data, args, "none"))
        run["layer_instructions"] = [c.instructions for c in count_layers(Path(run["qemu"]["elf"]), board, "model")]
        return run

    r = {"pq_epochs": args.pq_epochs, "seeds": args.seeds, "configs": [],
         "dense": {"runs": [measured(base, "dense", seed) for seed, base in enumerate(bases)]}}
    r["dense"].update(_summary(r["dense"]["runs"]))
    for config in args.pq_configs:
        length, centroids = (int(v) for v in config.split("x"))
        row = {"config": config, "length": length, "centroids": centroids, "runs": []}
        for seed, base in enumerate(bases):
            keras.utils.set_random_seed(seed)
            pq = product_quantize(base, data, length, centroids, layers=["fc1"], epochs=args.pq_epochs, **FIT)
            run = measured(pq, f"pq_{config}", seed)
            log(f"   fc1 {run['layer_instructions'][0]:,} vs dense "
                f"{r['dense']['runs'][seed]['layer_instructions'][0]:,} instructions")
            row["runs"].append(run)
        row.update(_summary(row["runs"]))
        r["configs"].append(row)
    return r


def _pct(value: float) -> str:
    return f"{100 * value:.2f}"


def _pm(row: dict, key: str = "int8") -> str:
    return f"{_pct(row[key + '_mean'])} ± {_pct(row[key + '_std'])}" if key + "_std" in row else _pct(row[key + "_mean"])


def _kernels(run: dict) -> str:
    return ", ".join(sorted({layer["kernel"] for layer in run["layers"] if layer["kernel"]}))


def _identical(runs: list) -> bool:
    return all(run["int8"]["identical_to_reference"] and all(run["qemu"]["identical_to"].values()) for run in runs)


def markdown_hashed(h: dict) -> list:
    seeds = h["seeds"]
    lines = ["## HashedNets (Chen et al. 2015)", "", "```", h["command"], "```", "",
             f"{', '.join(h.get('hash_layers') or ['every Dense but the classifier'])} hashed (other layers "
             f"dense) from LeNet-300-100 ({h['weights']:,} weights; float {_pct(np.mean(h['float']))} %, mean of "
             f"{seeds} seeds), fine-tuned {h['hash_epochs']} epochs from the bucket means; clustered configurations "
             f"then cluster the buckets (k-means) and fine-tune the centroids {h['cluster_epochs']} epochs, and "
             f"the export stores each bucket as a 1-, 2- or 4-bit codebook index. Magnitude pruning of the same "
             f"baselines (global, polynomial schedule, {h['hash_epochs']} epochs) exported with the smallest "
             f"encodings (`--optimize size`). Every model of every seed exported: accuracies are mean ± std "
             f"(population) of the {seeds} seeds' int8 C on all 2000 test images, flash the mean linked image "
             f"without test vectors, instructions the mean per inference on QEMU mps2-an386.", "",
             "| model | stored weights (seed 0) | float % | int8 C % | flash image (B) | instructions / inference | "
             "kernels | identical (host, reference, QEMU; every seed) |", "|---|---:|---:|---:|---:|---:|---|---|"]
    for row in h["configs"]:
        label = f"hashed 1/{row['ratio']:g}" + (f", {row['clusters']} clusters" if row["clusters"] else "")
        before = np.mean([run["hashed_float"] for run in row["runs"]])
        if row["clusters"]:
            label += f" (float {_pct(before)} % before clustering)"
        lines.append(f"| {label} | {row['runs'][0]['stored_weights']:,} | {_pct(row['float_mean'])} | {_pm(row)} | "
                     f"{row['flash_mean']:,.0f} | {row['instructions_mean']:,.0f} | {_kernels(row['runs'][0])} | "
                     f"{_identical(row['runs'])} |")
    for row in h["pruned"]:
        lines.append(f"| pruned {row['sparsity']:g} | {row['runs'][0]['stored_weights']:,} | {_pct(row['float_mean'])} | "
                     f"{_pm(row)} | {row['flash_mean']:,.0f} | {row['instructions_mean']:,.0f} | "
                     f"{_kernels(row['runs'][0])} | {_identical(row['runs'])} |")
    lines += ["", "Per seed (int8 C %): " + "; ".join(
        f"{label} {', '.join(_pct(run['int8']['accuracy']) for run in row['runs'])}"
        for label, row in [(f"hashed {r['config']}", r) for r in h["configs"]] +
        [(f"pruned {p['sparsity']:g}", p) for p in h["pruned"]]) + ".", "",
        "Same accuracy: mean int8 accuracies within the larger of the two seed standard deviations.", ""]
    pruned = {p["sparsity"]: p for p in h["pruned"]}
    for row in h["configs"]:
        same = row["csr_at_same_accuracy"]
        label = f"hashed {row['config']}"
        if not same:
            lines.append(f"- {label}: no pruned model measured at the same accuracy.")
            continue
        parts = [f"pruned {s:g} ({_pct(pruned[s]['int8_mean'])} %, {pruned[s]['flash_mean']:,.0f} B: hashed "
                 f"{row['flash_mean'] / pruned[s]['flash_mean']:.2f}x)" for s in same]
        lines.append(f"- {label} ({_pct(row['int8_mean'])} %, {row['flash_mean']:,.0f} B) vs " + "; ".join(parts) + ".")
    return lines + [""]


def markdown_pq(p: dict) -> list:
    d = p["dense"]
    lines = ["## Product quantization of fc1, 784x300 (Gong et al. 2014)", "", "```", p["command"], "```", "",
             "fc1 replaced by sub-vector codebooks (k-means per sub-space), fine-tuned "
             f"{p['pq_epochs']} epochs; fc2 and out stay dense. Accuracies mean ± std of {p['seeds']} seeds "
             "(int8 C on all 2000 test images); instructions of the fc1 kernel call alone and of one whole "
             "inference (QEMU mps2-an386, mean over the seeds):", "",
             "| fc1 | float % | int8 C % | points vs dense int8 | fc1 instructions | whole inference | flash image (B) | "
             "identical (host, reference, QEMU; every seed) |", "|---|---:|---:|---:|---:|---:|---:|---|"]

    def fc1(row):
        return float(np.mean([run["layer_instructions"][0] for run in row["runs"]]))

    lines.append(f"| dense int8 (mcc_fully_connected_fast_s8) | {_pct(d['float_mean'])} | {_pm(d)} | | {fc1(d):,.0f} | "
                 f"{d['instructions_mean']:,.0f} | {d['flash_mean']:,.0f} | {_identical(d['runs'])} |")
    for c in p["configs"]:
        lines.append(f"| PQ {c['length']} x {c['centroids']} (sub-vector x codewords) | {_pct(c['float_mean'])} | "
                     f"{_pm(c)} | {100 * (c['int8_mean'] - d['int8_mean']):+.2f} | {fc1(c):,.0f} "
                     f"({fc1(c) / fc1(d):.2f}x) | {c['instructions_mean']:,.0f} | {c['flash_mean']:,.0f} | "
                     f"{_identical(c['runs'])} |")
    return lines + [""]


def markdown(results: dict) -> str:
    lines = ["# Shared weights: HashedNets and product quantization on LeNet-300-100", "",
             "(scripts/bench_shared_weights.py; each section names the command that produced it; MNIST subset ../shared/datasets/mnist10k.npz: 8000 training, "
             "2000 test images; int8 accuracy is the host-built C on all 2000 test images, byte-identical to "
             "the numpy reference; device figures on QEMU mps2-an386, Cortex-M4.)", ""]
    if "hashed" in results:
        lines += markdown_hashed(results["hashed"])
    if "pq" in results:
        lines += markdown_pq(results["pq"])
    return "\n".join(lines)


def main(argv=None) -> int:
    global OUT, DOC
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benches", nargs="+", choices=["hashed", "pq"])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--board", default="mps2-an386")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--baseline-epochs", type=int, default=15)
    parser.add_argument("--hash-configs", nargs="*", default=["8x16", "8x4"],
                        help="RATIOxCLUSTERS: 1/RATIO as many buckets, clustered to CLUSTERS values (0: not)")
    parser.add_argument("--hash-epochs", type=int, default=20)
    parser.add_argument("--cluster-epochs", type=int, default=5)
    parser.add_argument("--hash-layers", nargs="+", default=None,
                        help="layers to hash (default: every Dense but the classifier)")
    parser.add_argument("--sparsities", type=float, nargs="*", default=[0.95, 0.97, 0.98])
    parser.add_argument("--pq-configs", nargs="+", default=["4x16", "8x32"])
    parser.add_argument("--pq-epochs", type=int, default=5)
    parser.add_argument("--qemu-samples", type=int, default=3)
    parser.add_argument("--only-seed", type=int, default=None,
                        help="hashed: only this seed's models, to build/bench_shared_weights/hashed_seedN.json")
    parser.add_argument("--merge", action="store_true", help="hashed: merge the --only-seed results into hashed.json")
    parser.add_argument("--retrain", action="store_true")
    parser.add_argument("--doc-only", action="store_true", help="rewrite the doc from the saved results")
    parser.add_argument("--out", default=str(OUT), help="folder for the results and the exported models")
    parser.add_argument("--doc", default=str(DOC))
    args = parser.parse_args(argv)
    OUT, DOC = Path(args.out), Path(args.doc)
    OUT.mkdir(parents=True, exist_ok=True)
    command = ("PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 OMP_NUM_THREADS=1 nice .venv/bin/python "
               "scripts/bench_shared_weights.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    results = {}
    for name in ("hashed", "pq"):
        path = OUT / f"{name}.json"
        if name == "hashed" and args.merge:
            parts = [json.loads(p.read_text()) for p in sorted(OUT.glob("hashed_seed*.json"))]
            results[name] = merge_parts(parts)
            results[name]["command"] = command + " (after one --only-seed run per seed and part: " + "; ".join(
                sorted({part["command"].split("bench_shared_weights.py ")[1] for part in parts})) + ")"
            path.write_text(json.dumps(results[name], indent=1))
        elif name in args.benches and not args.doc_only:
            started = time.time()
            data = load_npz(args.data, (784,))
            results[name] = {"hashed": bench_hashed, "pq": bench_pq}[name](args, data)
            results[name]["seconds"] = round(time.time() - started)
            results[name]["command"] = command
            if name == "hashed" and args.only_seed is not None:
                part = OUT / f"hashed_seed{args.only_seed}_{os.getpid()}.json"
                part.write_text(json.dumps(results[name], indent=1))
                return 0
            path.write_text(json.dumps(results[name], indent=1))
        elif path.is_file():
            results[name] = json.loads(path.read_text())
    text = markdown(results)
    DOC.write_text(text)
    log(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
