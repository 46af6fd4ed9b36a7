"""Deep Compression on LeNet-300-100 through to the device (issue 6 acceptance), and the 784x300
CSR-vs-dense instruction comparison at 90% sparsity.

    cd /work/main && PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 nice .venv/bin/python scripts/bench_encoded.py

Trains LeNet-300-100 on x_train of ../shared/datasets/mnist10k.npz (8000 images), prunes it
(mcucompress.compression.magnitude_prune, global magnitude, polynomial schedule), clusters each
layer to 32 shared values (cluster_weights), quantizes it to int8 with one weight scale per
tensor (encode/per_tensor.py, so the 32 centroids stay 32 int8 values), and exports it twice:
dense (--optimize none) and encoded (--optimize size). Both run on the host for all 2000 x_test
images (outputs compared with the numpy reference) and on QEMU mps2-an386 (instructions per
inference, flash image). Stored weight bytes are read from the cross-built ELF's symbol table.
Writes build/bench_encoded/results.json and docs/benchmarks/encoded.md. Trained models are
cached in build/bench_encoded (pass --retrain to train again).
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

from mcucompress.build.host import build_host  # noqa: E402
from mcucompress.build.runner import run_host  # noqa: E402
from mcucompress.encode.choose import ATTR, encoding_rows  # noqa: E402
from mcucompress.encode.per_tensor import per_tensor_weights  # noqa: E402
from mcucompress.export import export  # noqa: E402
from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor  # noqa: E402
from mcucompress.reference.int8 import run_int8  # noqa: E402
from mcucompress.targets.runner import run_model  # noqa: E402
from mcucompress.targets.manifest import manifest_json  # noqa: E402

FLOAT_BYTES = 1_066_440  # float32 weights and biases of LeNet-300-100 (266,610 parameters)


def lenet_300_100():
    import keras
    return keras.Sequential([keras.Input((784,)), keras.layers.Dense(300, activation="relu", name="fc1"),
                             keras.layers.Dense(100, activation="relu", name="fc2"),
                             keras.layers.Dense(10, activation="softmax", name="out")], name="lenet_300_100")


def train_models(args, out: Path, data):
    """(float baseline, pruned + clustered) Keras models, cached in `out`."""
    import keras

    from mcucompress.compression import cluster_weights, fine_tune, magnitude_prune

    base_path, comp_path = out / "lenet_300_100.keras", out / "lenet_deep_compressed.keras"
    if base_path.is_file() and comp_path.is_file() and not args.retrain:
        return keras.models.load_model(base_path), keras.models.load_model(comp_path)
    fit = dict(batch_size=128, verbose=0)
    keras.utils.set_random_seed(0)
    baseline = fine_tune(lenet_300_100(), data, epochs=args.baseline_epochs, **fit)
    keras.utils.set_random_seed(1)
    pruned = magnitude_prune(baseline, data, args.sparsity, scope="global", epochs=args.finetune_epochs, **fit)
    clustered = cluster_weights(pruned, data, args.clusters, epochs=args.cluster_epochs, **fit)
    baseline.save(base_path)
    clustered.save(comp_path)
    return baseline, clustered


def quantize_input(x: np.ndarray, quant: QuantParams) -> np.ndarray:
    """float -> int8 as TFLite's Quantize (round half away from zero, saturate)."""
    v = x / np.float32(quant.scale[0])
    q = np.sign(v) * np.floor(np.abs(v) + 0.5) + quant.zero_point[0]
    return np.clip(q, -128, 127).astype(np.int8).reshape(len(x), -1)


def host_check(graph: Graph, tree: Path, x: np.ndarray, y: np.ndarray) -> dict:
    """Accuracy of the host-built C on every sample, and whether it equals the numpy reference."""
    out_bytes = graph.tensor(graph.outputs[0]).size
    got = run_host(build_host(tree), x, out_bytes)
    want = np.stack([run_int8(graph, xi.reshape(1, -1)).reshape(-1) for xi in x])
    return {"accuracy": float(np.mean(got.argmax(axis=1) == y)), "identical_to_reference": bool(np.array_equal(got, want)),
            "samples": int(len(x))}


def elf_symbols(elf: Path, prefix: str) -> dict[str, int]:
    """Sizes of the model's constant objects in the linked image (arrays and parameter structs)."""
    text = subprocess.run(["arm-none-eabi-nm", "-S", "--size-sort", str(elf)], capture_output=True, text=True,
                          check=True).stdout
    sizes = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3].startswith(f"{prefix}_op"):
            sizes[parts[3]] = int(parts[1], 16)
    return sizes


def stored_bytes(symbols: dict[str, int]) -> dict[str, int]:
    """Weights as stored (values, indices, row lengths, codebooks, Huffman tables, descriptors) and
    the rest of the layers' constants (biases, requantization multipliers, shapes, parameters)."""
    weight_parts = ("_weights", "_values", "_gaps", "_row_entries", "_indices", "_codebook", "_bits",
                    "_counts", "_symbols")
    weights = sum(n for s, n in symbols.items() if any(p in s for p in weight_parts))
    return {"weights": weights, "other_constants": sum(symbols.values()) - weights,
            "all_constants": sum(symbols.values())}


def qemu(tree: Path, board: str, npz: Path, samples: int) -> dict:
    report = run_model(tree, board, data=npz, samples=samples)
    fp = report.footprint
    return {"board": board, "instructions_per_inference": list(report.instructions),
            "flash_bytes": fp.flash_bytes, "test_vector_bytes": fp.vectors_bytes,
            "flash_bytes_without_vectors": fp.flash_bytes - (fp.vectors_bytes or 0),
            "static_ram_bytes": fp.static_ram_bytes, "stack_used_bytes": fp.stack_used,
            "identical_to": report.checks, "elf": str(report.elf),
            "constants": stored_bytes(elf_symbols(report.elf, tree.name))}


def single_fc_graph(units: int, depth: int, sparsity: float, seed: int = 0) -> Graph:
    """One int8 fully connected layer with `sparsity` of its weights zero (random positions),
    32 distinct non-zero values, per-tensor scale, ReLU."""
    rng = np.random.default_rng(seed)
    values = rng.choice(np.r_[np.arange(-127, 0), np.arange(1, 128)], size=32, replace=False)
    w = rng.choice(values, size=(units, depth))
    w[rng.random((units, depth)) < sparsity] = 0
    tensors = {
        "x": Tensor("x", (1, depth), "int8", QuantParams((0.0039215689,), (-128,))),
        "w": Tensor("w", (units, depth), "int8", QuantParams((0.004,), (0,)), w.astype(np.int8)),
        "b": Tensor("b", (units,), "int32", QuantParams((0.0039215689 * 0.004,), (0,)),
                    rng.integers(-2000, 2000, units).astype(np.int32)),
        "y": Tensor("y", (1, units), "int8", QuantParams((0.05,), (-128,))),
    }
    op = Op("fully_connected", "fc", ("x", "w", "b"), ("y",), {"activation": "relu"})
    return Graph(tensors, (op,), ("x",), ("y",), name=f"fc{units}x{depth}")


def single_conv_graph(size: int, c_in: int, c_out: int, sparsity: float, seed: int = 0) -> Graph:
    """One int8 3x3 conv2d (padding 1) with `sparsity` of its weights zero, 32 non-zero values."""
    rng = np.random.default_rng(seed)
    values = rng.choice(np.r_[np.arange(-127, 0), np.arange(1, 128)], size=32, replace=False)
    w = rng.choice(values, size=(c_out, 3, 3, c_in))
    w[rng.random(w.shape) < sparsity] = 0
    tensors = {
        "x": Tensor("x", (1, size, size, c_in), "int8", QuantParams((0.02,), (-3,))),
        "w": Tensor("w", w.shape, "int8", QuantParams((0.004,), (0,)), w.astype(np.int8)),
        "b": Tensor("b", (c_out,), "int32", QuantParams((0.02 * 0.004,), (0,)),
                    rng.integers(-2000, 2000, c_out).astype(np.int32)),
        "y": Tensor("y", (1, size, size, c_out), "int8", QuantParams((0.2,), (0,))),
    }
    op = Op("conv2d", "conv", ("x", "w", "b"), ("y",), {"stride": (1, 1), "dilation": (1, 1),
                                                        "padding": (1, 1, 1, 1), "activation": "relu"})
    return Graph(tensors, (op,), ("x",), ("y",), name=f"conv{size}x{size}x{c_in}to{c_out}")


def conv_comparison(out: Path, board: str, sparsity: float) -> dict:
    """Instructions of a 3x3 16->32 conv on 16x16 at `sparsity` with each conv encoding, on QEMU."""
    base = single_conv_graph(16, 16, 32, sparsity)
    results = {"sparsity": sparsity, "nonzeros": int(np.count_nonzero(base.tensor("w").data)),
               "weights": int(base.tensor("w").size)}
    for kind in ("dense", "csr4", "csr8", "codebook"):
        graph = base.replace(ops=(base.ops[0].with_attrs(**{ATTR: kind}),))
        tree = export(graph, out / f"conv_{kind}" / "conv", prefix="conv", optimize="none")
        report = run_model(tree, board, samples=1)
        row = encoding_rows(graph)[0]
        results[kind] = {"instructions": int(report.instructions[0]), "weight_bytes": row.bytes,
                         "identical_to": report.checks}
        print(f"   conv {kind}: {report.instructions[0]:,} instructions, {row.bytes:,} B", flush=True)
    return results


def layer_comparison(out: Path, board: str, sparsity: float) -> dict:
    """Instructions of the 784x300 layer at `sparsity` with each encoding, on QEMU."""
    base = single_fc_graph(300, 784, sparsity)
    results = {"sparsity": sparsity, "nonzeros": int(np.count_nonzero(base.tensor("w").data))}
    for kind in ("dense", "csr4", "csr8", "codebook", "huffman_sparse", "huffman"):
        graph = base.replace(ops=(base.ops[0].with_attrs(**{ATTR: kind}),))
        tree = export(graph, out / f"fc784x300_{kind}" / "fc", prefix="fc", optimize="none")
        report = run_model(tree, board, samples=1)
        row = encoding_rows(graph)[0]
        results[kind] = {"instructions": int(report.instructions[0]), "weight_bytes": row.bytes,
                         "estimated_instructions": row.estimated_instructions,
                         "identical_to": report.checks}
        print(f"   784x300 {kind}: {report.instructions[0]:,} instructions, {row.bytes:,} B", flush=True)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "datasets" / "mnist10k.npz"))
    parser.add_argument("--out", default=str(REPO / "build" / "bench_encoded"))
    parser.add_argument("--doc", default=str(REPO / "docs" / "benchmarks" / "encoded.md"))
    parser.add_argument("--board", default="mps2-an386")
    parser.add_argument("--sparsity", type=float, default=0.92)
    parser.add_argument("--clusters", type=int, default=32)
    parser.add_argument("--baseline-epochs", type=int, default=15)
    parser.add_argument("--finetune-epochs", type=int, default=15)
    parser.add_argument("--cluster-epochs", type=int, default=5)
    parser.add_argument("--qemu-samples", type=int, default=3)
    parser.add_argument("--retrain", action="store_true")
    parser.add_argument("--doc-only", action="store_true", help="rewrite the doc from results.json")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.doc_only:
        Path(args.doc).write_text(markdown(json.loads((out / "results.json").read_text())))
        return 0
    started = time.time()

    from mcucompress.compression import accuracy, load_npz
    from mcucompress.importers.keras import load_keras
    from mcucompress.quantize.ptq import quantize_graph

    data = load_npz(args.data, (784,))
    baseline, compressed = train_models(args, out, data)
    r = {"command": "PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 nice .venv/bin/python scripts/bench_encoded.py "
                    + " ".join(argv if argv is not None else sys.argv[1:]),
         "sparsity_target": args.sparsity, "clusters": args.clusters,
         "float_accuracy": accuracy(baseline, data.x_val, data.y_val),
         "compressed_float_accuracy": accuracy(compressed, data.x_val, data.y_val)}
    kernels = [np.asarray(layer.get_weights()[0]) for layer in compressed.layers]
    r["sparsity"] = float(sum(int(np.sum(k == 0)) for k in kernels) / sum(k.size for k in kernels))
    r["distinct_float_values_per_layer"] = [int(np.unique(k).size) for k in kernels]
    print(f"== float {r['float_accuracy']:.4f}, compressed float {r['compressed_float_accuracy']:.4f}, "
          f"sparsity {r['sparsity']:.4f}", flush=True)

    calib = data.x_train[:1000]
    dense_base = quantize_graph(load_keras(baseline), calib)
    float_c = load_keras(compressed)
    graph_c = per_tensor_weights(quantize_graph(float_c, calib), float_c)
    x_test = quantize_input(data.x_val, graph_c.tensor(graph_c.inputs[0]).quant)
    x_base = quantize_input(data.x_val, dense_base.tensor(dense_base.inputs[0]).quant)
    npz = out / "qemu_samples.npz"
    np.savez(npz, x=data.x_val[:args.qemu_samples].astype(np.float32), y=data.y_val[:args.qemu_samples])

    variants = {
        "baseline_dense": (dense_base, "none", x_base),
        "compressed_dense": (graph_c, "none", x_test),
        "compressed_encoded": (graph_c, "size", x_test),
        "compressed_speed": (graph_c, "speed", x_test),
    }
    for label, (graph, optimize, x) in variants.items():
        tree = export(graph, out / label / "lenet", prefix="lenet", optimize=optimize)
        manifest = manifest_json(tree)
        entry = {"optimize": optimize, "encodings": manifest["weight_encodings"],
                 "host": host_check(_annotated(tree), tree, x, data.y_val),
                 "qemu": qemu(tree, args.board, npz, args.qemu_samples)}
        r[label] = entry
        q = entry["qemu"]
        print(f"== {label}: host acc {entry['host']['accuracy']:.4f} identical {entry['host']['identical_to_reference']}, "
              f"{q['instructions_per_inference'][0]:,} instructions, flash {q['flash_bytes_without_vectors']:,} B, "
              f"weights {q['constants']['weights']:,} B, all constants {q['constants']['all_constants']:,} B, "
              f"{q['identical_to']}", flush=True)

    enc = r["compressed_encoded"]["qemu"]["constants"]
    r["compression_ratio_weights"] = FLOAT_BYTES / enc["weights"]
    r["compression_ratio_all_constants"] = FLOAT_BYTES / enc["all_constants"]
    r["accuracy_loss_points"] = 100 * (r["float_accuracy"] - r["compressed_encoded"]["host"]["accuracy"])
    print(f"== ratio {r['compression_ratio_weights']:.1f}x (weights), {r['compression_ratio_all_constants']:.1f}x "
          f"(all constants), accuracy loss {r['accuracy_loss_points']:.2f} points", flush=True)

    r["fc784x300"] = layer_comparison(out, args.board, 0.90)
    r["conv3x3"] = conv_comparison(out, args.board, 0.90)
    r["seconds"] = round(time.time() - started, 1)
    (out / "results.json").write_text(json.dumps(r, indent=2) + "\n")
    Path(args.doc).write_text(markdown(r))
    return 0


def _annotated(tree: Path) -> Graph:
    """The graph as exported (with its chosen encodings); the reference ignores them."""
    from mcucompress.ir.serialize import load_graph
    return load_graph(tree / "graph.npz")


def markdown(r: dict) -> str:
    def q(label, key):
        return r[label]["qemu"][key]

    rows = []
    for label, name in (("baseline_dense", "baseline, dense int8 (per-channel PTQ)"),
                        ("compressed_dense", "pruned + clustered, dense int8"),
                        ("compressed_encoded", "pruned + clustered, encoded (--optimize size)"),
                        ("compressed_speed", "pruned + clustered, encoded (--optimize speed)")):
        c = r[label]["qemu"]["constants"]
        rows.append(f"| {name} | {100 * r[label]['host']['accuracy']:.2f} | {c['weights']:,} | {c['all_constants']:,} | "
                    f"{q(label, 'flash_bytes_without_vectors'):,} | {q(label, 'instructions_per_inference')[0]:,} | "
                    f"{'yes' if r[label]['host']['identical_to_reference'] and all(q(label, 'identical_to').values()) else 'NO'} |")
    layers = "\n".join(f"| {name} | {e['encoding']} | {e['weights']:,} | {e['bytes']:,} | {e['bits_per_weight']:.2f} | "
                       f"{s['encoding']} | {s['bytes']:,} |"
                       for (name, e), s in zip(r["compressed_encoded"]["encodings"].items(),
                                               r["compressed_speed"]["encodings"].values()))
    fc = r["fc784x300"]
    cv = r["conv3x3"]
    cv_rows = "\n".join(f"| {k} | {cv[k]['weight_bytes']:,} | {cv[k]['instructions']:,} | "
                        f"{'yes' if all(cv[k]['identical_to'].values()) else 'NO'} |"
                        for k in ("dense", "csr4", "csr8", "codebook"))
    fc_rows = "\n".join(f"| {k} | {fc[k]['weight_bytes']:,} | {fc[k]['instructions']:,} | {fc[k]['estimated_instructions']:,} |"
                        for k in ("dense", "csr4", "csr8", "codebook", "huffman_sparse", "huffman"))
    return f"""# Encoded weights (issue 6): measured figures

Command: `cd /work/main && {r['command']}` (took {r['seconds']} s; results in build/bench_encoded/results.json).
The Keras models are trained on a first run (or with `--retrain`) and cached in build/bench_encoded; TensorFlow's
CPU training is not bit-reproducible, so a retrain moves the accuracies by a few tenths of a point.

## Deep Compression, LeNet-300-100 on mnist10k

Trained on x_train (8000), accuracy on x_test (2000). Global magnitude pruning to {100 * r['sparsity_target']:.0f}%
(measured sparsity {100 * r['sparsity']:.2f}%), {r['clusters']} clusters per layer (distinct float values per layer:
{r['distinct_float_values_per_layer']}), int8 with one weight scale per tensor.

- Float baseline accuracy (Keras): {100 * r['float_accuracy']:.2f}%; pruned + clustered float: {100 * r['compressed_float_accuracy']:.2f}%.
- Encoded int8 C (host, all 2000 test images): {100 * r['compressed_encoded']['host']['accuracy']:.2f}%, i.e.
  **{r['accuracy_loss_points']:.2f} points** below the float baseline; outputs byte-identical to the numpy reference
  on all 2000: {r['compressed_encoded']['host']['identical_to_reference']}.
- Stored weights in the flash image (values + relative indices + codebooks/Huffman tables + kernel descriptors,
  from `arm-none-eabi-nm -S` of the mps2-an386 ELF): **{r['compressed_encoded']['qemu']['constants']['weights']:,} bytes =
  {r['compression_ratio_weights']:.2f}x smaller** than the float32 weights ({FLOAT_BYTES:,} bytes). With biases,
  requantization multipliers and layer parameters too: {r['compressed_encoded']['qemu']['constants']['all_constants']:,} bytes
  ({r['compression_ratio_all_constants']:.2f}x).

| export | int8 accuracy % | weight bytes | all model constants | flash image (no test vectors) | instructions / inference ({r['compressed_encoded']['qemu']['board']}) | identical (host, reference, QEMU) |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Per-layer choice (`mcucompress info build/bench_encoded/compressed_encoded/lenet`, and `.../compressed_speed/lenet`):

| layer | size: encoding | weights | bytes | bits/weight | speed: encoding | bytes |
|---|---|---|---|---|---|---|
{layers}

## 784x300 fully connected layer at {100 * fc['sparsity']:.0f}% sparsity ({fc['nonzeros']:,} non-zeros), {r['compressed_encoded']['qemu']['board']}

Random positions, 32 distinct non-zero values; instructions per inference of the one-layer model on QEMU
(exact, project TCG plugin); the cost model of encode/choose.py beside it.

| encoding | weight bytes | instructions | cost-model estimate |
|---|---|---|---|
{fc_rows}

The dense rows use code generation's export-time specialised fully connected kernel (weights kept one byte
each, re-ordered for SXTB16 and SMLAD: {r['baseline_dense']['qemu']['constants']['weights']:,} weight
bytes for LeNet's 266,200 int8 weights). Against that kernel, CSR with 8-bit relative indices needs
**{fc['csr8']['instructions']:,} instructions vs {fc['dense']['instructions']:,} ({100 * (1 - fc['csr8']['instructions'] / fc['dense']['instructions']):.0f}% fewer)** at 90% sparsity;
CSR with 4-bit indices ({fc['csr4']['instructions']:,}) does not beat it (fillers every 16 zeros, nibble unpacking).
Against the portable reference dense kernel (`mcc_fully_connected_s8`, before the specialised kernels) the same
layer took 1,668,583 instructions (measured by an earlier run of this script).

## 3x3 conv2d, 16 -> 32 channels on 16x16 (padding 1) at {100 * cv['sparsity']:.0f}% sparsity ({cv['nonzeros']:,} of {cv['weights']:,} weights), {r['compressed_encoded']['qemu']['board']}

CSR and codebook over the im2col weight matrix (no im2col buffer); instructions per inference on QEMU.
The encoded convs save flash but not time: they walk the stored entries again for every output pixel
(interior pixels as offsets into contiguous kernel rows, border pixels with a bounds check per tap),
while the dense conv is the specialised SMLAD kernel at about one instruction per weight.
`--optimize speed` keeps such convs dense (cost model in encode/choose.py).

| encoding | weight bytes | instructions | identical (host, reference) |
|---|---|---|---|
{cv_rows}

## Decoders: RAM and safety

No encoded kernel needs a scratch buffer or a dense copy of the weights: CSR and codebook keep a few
registers of state; the Huffman kernel decodes while it computes, with its decoding tables on the stack
(2,344 bytes in all: per code table, a 256-entry lookup table of symbols and lengths for codes of up to 8 bits and per-length limits for longer ones) and a 32-bit bit buffer. Every length, index and column is checked, so
malformed data returns MCC_ERROR_ARGUMENT.

Fuzzing (libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer, harness fuzz/fuzz_decoders.c):

```
{fuzz_summary()}
```
"""


def fuzz_summary() -> str:
    path = REPO / "build" / "fuzz" / "summary.txt"
    return path.read_text().strip() if path.is_file() else "(run scripts/fuzz_decoders.sh first)"


if __name__ == "__main__":
    raise SystemExit(main())
