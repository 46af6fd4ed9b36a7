"""Every acceptance figure of the compression issue (issue 5) in one command.

    cd /work/main && PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 nice .venv/bin/python scripts/bench_compression.py

Trains on x_train of ../shared/datasets/mnist10k.npz (8000 images) and reports accuracy on its
x_test (2000). Writes build/bench_compression/{results.json, report.json, report.html} and
docs/benchmarks/compression.md. Seeds are fixed; figures can still move slightly between
machines because TensorFlow's CPU kernels are not bit-reproducible across thread counts.
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

from mcucompress.compression import (accuracy, cluster_weights, distill, fine_tune, load_npz,  # noqa: E402
                                     low_rank, magnitude_prune, structured_prune)
from mcucompress.importers.keras import load_keras  # noqa: E402
from mcucompress.report import build_report, layer_stats, model_totals, write_html, write_json  # noqa: E402
from mcucompress.report.micronet import micronet_count  # noqa: E402


def lenet_300_100():
    return keras.Sequential([keras.Input((784,)), keras.layers.Dense(300, activation="relu", name="fc1"),
                             keras.layers.Dense(100, activation="relu", name="fc2"),
                             keras.layers.Dense(10, activation="softmax", name="out")], name="lenet_300_100")


def conv_teacher():
    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(32, 3, activation="relu"),
                             keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(),
                             keras.layers.Dropout(0.25), keras.layers.Flatten(),
                             keras.layers.Dense(128, activation="relu"), keras.layers.Dropout(0.5),
                             keras.layers.Dense(10)], name="teacher")


def mlp_student():
    return keras.Sequential([keras.Input((784,)), keras.layers.Dense(128, activation="relu"),
                             keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)], name="student")


def micronet_score(model) -> float:
    """The model's MicroNet score (CIFAR-100 track rules, mcucompress/report/micronet.py)."""
    return micronet_count(load_keras(model)).score


def size_point(label, model, acc, series=None):
    return {"label": label, "storage_bytes": model_totals(layer_stats(model))["storage_bytes"], "accuracy": acc,
            "series": series, "micronet": micronet_score(model)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "datasets" / "mnist10k.npz"))
    parser.add_argument("--out", default=str(REPO / "build" / "bench_compression"))
    parser.add_argument("--md", default=str(REPO / "docs" / "benchmarks" / "compression.md"))
    parser.add_argument("--baseline-epochs", type=int, default=15)
    parser.add_argument("--finetune-epochs", type=int, default=8)
    parser.add_argument("--prune-epochs", type=int, default=12)
    parser.add_argument("--distill-epochs", type=int, default=20)
    parser.add_argument("--teacher-epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--markdown-only", action="store_true",
                        help="Rewrite the markdown from OUT/results.json without training.")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.markdown_only:
        write_markdown(json.loads((out / "results.json").read_text()), args, Path(args.md))
        return
    fit = dict(batch_size=128, verbose=2)
    results, started = {}, time.time()

    def record(key, value):
        results[key] = value
        print(f"== {key}: {value}", flush=True)
        (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")

    keras.utils.set_random_seed(0)
    data = load_npz(args.data, (784,))
    baseline = fine_tune(lenet_300_100(), data, epochs=args.baseline_epochs, **fit)
    base_acc = accuracy(baseline, data.x_val, data.y_val)
    record("baseline_accuracy", base_acc)
    record("baseline_params", baseline.count_params())
    record("baseline_micronet", micronet_score(baseline))
    baseline.save(out / "lenet_300_100.keras")
    sweep = [size_point("float", baseline, base_acc, "magnitude pruning")]

    keras.utils.set_random_seed(1)
    pruned = magnitude_prune(baseline, data, 0.92, scope="global", epochs=args.prune_epochs, end_fraction=0.5,
                             **fit)
    pruned_acc = accuracy(pruned, data.x_val, data.y_val)
    record("pruned", {"sparsity": model_totals(layer_stats(pruned))["sparsity"], "accuracy": pruned_acc,
                      "loss_points": 100 * (base_acc - pruned_acc),
                      "layers": {k: v["sparsity"] for k, v in layer_stats(pruned).items()},
                      "micronet": micronet_score(pruned)})
    sweep.append(size_point("prune 92%", pruned, pruned_acc, "magnitude pruning"))

    keras.utils.set_random_seed(2)
    clustered = cluster_weights(pruned, data, 32, epochs=3, **fit)
    clustered_acc = accuracy(clustered, data.x_val, data.y_val)
    stats = layer_stats(clustered)
    record("pruned_clustered", {"accuracy": clustered_acc, "loss_points_vs_pruned": 100 * (pruned_acc - clustered_acc),
                                "distinct_nonzero": {k: v["distinct_values"] - 1 for k, v in stats.items()},
                                "sparsity": model_totals(stats)["sparsity"],
                                "storage_bytes": model_totals(stats)["storage_bytes"],
                                "float_storage_bytes": model_totals(layer_stats(baseline))["storage_bytes"],
                                "micronet": micronet_score(clustered)})
    sweep.append(size_point("prune 92% + 32 clusters", clustered, clustered_acc))
    clustered.save(out / "lenet_pruned_clustered.keras")
    report = build_report(baseline, clustered, base_acc, clustered_acc)

    keras.utils.set_random_seed(3)
    factored = low_rank(baseline, data, params=0.25, layers=["fc1"], epochs=args.finetune_epochs, **fit)
    factored_acc = accuracy(factored, data.x_val, data.y_val)
    fc1 = layer_stats(factored)["fc1"]
    record("low_rank_fc1", {"rank": fc1["rank"], "fc1_params_ratio": fc1["kernel_params"] / (784 * 300),
                            "accuracy": factored_acc, "loss_points": 100 * (base_acc - factored_acc),
                            "micronet": micronet_score(factored)})
    sweep.append(size_point(f"low-rank fc1 r={fc1['rank']}", factored, factored_acc))

    keras.utils.set_random_seed(4)
    shrunk = structured_prune(baseline, data, 0.5, epochs=args.finetune_epochs, **fit)
    shrunk_acc = accuracy(shrunk, data.x_val, data.y_val)
    hidden = [layer.units for layer in shrunk.layers[:-1]]
    record("structured", {"hidden_units": hidden, "removed_fraction": 1 - sum(hidden) / 400,
                          "accuracy": shrunk_acc, "loss_points": 100 * (base_acc - shrunk_acc),
                          "micronet": micronet_score(shrunk)})
    sweep.append(size_point("structured 50%", shrunk, shrunk_acc))

    for sparsity in (0.5, 0.8, 0.95, 0.98):
        keras.utils.set_random_seed(5)
        point = magnitude_prune(baseline, data, sparsity, scope="global", epochs=4, **fit)
        sweep.append(size_point(f"prune {sparsity:.0%}", point, accuracy(point, data.x_val, data.y_val),
                                "magnitude pruning"))
    record("sweep", sweep)
    report["sweep"] = sorted(sweep, key=lambda p: p["storage_bytes"])
    write_json(report, out / "report.json")
    write_html(report, baseline, clustered, out / "report.html")

    images = load_npz(args.data, (28, 28, 1))
    keras.utils.set_random_seed(10)
    teacher = fine_tune(conv_teacher(), images, epochs=args.teacher_epochs, **fit)
    teacher_acc = accuracy(teacher, images.x_val, images.y_val)
    record("teacher_accuracy", teacher_acc)
    alone, distilled = [], []
    for seed in range(args.seeds):
        keras.utils.set_random_seed(100 + seed)
        student = mlp_student()
        keras.utils.set_random_seed(200 + seed)
        alone.append(accuracy(fine_tune(student, data, epochs=args.distill_epochs, **fit), data.x_val, data.y_val))
        keras.utils.set_random_seed(200 + seed)
        # The teacher reads 28x28x1 images, the student 784-vectors: give the teacher a view.
        flat_teacher = keras.Sequential([keras.Input((784,)), keras.layers.Reshape((28, 28, 1)), teacher])
        flat_teacher = keras.Model(flat_teacher.inputs, flat_teacher.outputs)
        distilled.append(accuracy(distill(student, flat_teacher, data, temperature=4.0, alpha=0.9,
                                          epochs=args.distill_epochs, **fit), data.x_val, data.y_val))
        record("distillation_partial", {"alone": alone, "distilled": distilled})
    record("distillation", {"alone": alone, "distilled": distilled, "alone_mean": float(np.mean(alone)),
                            "distilled_mean": float(np.mean(distilled)), "temperature": 4.0, "alpha": 0.9,
                            "micronet": micronet_score(student)})
    record("wall_seconds", round(time.time() - started))
    write_markdown(results, args, Path(args.md))


def write_markdown(r, args, path):
    base = r["baseline_accuracy"]
    p, c, lr, s, d = r["pruned"], r["pruned_clustered"], r["low_rank_fc1"], r["structured"], r["distillation"]
    def ok(flag):
        return "yes" if flag else "**NO**"
    lines = [
        "# Compression benchmarks (issue 5)", "",
        "Produced by one command (about %d min on the shared 2-core machine):" % round(r["wall_seconds"] / 60), "",
        "```", "cd /work/main && PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 nice .venv/bin/python scripts/bench_compression.py",
        "```", "",
        f"Data: `../shared/datasets/mnist10k.npz`, trained on x_train (8000), accuracy on x_test (2000). "
        f"LeNet-300-100 = 784-300-100-10 ReLU MLP, Adam 1e-3, batch 128, {args.baseline_epochs} epochs; "
        f"magnitude pruning: polynomial ramp over the first half of {args.prune_epochs} epochs, then retraining "
        f"with masks held; other passes fine-tune {args.finetune_epochs} epochs (clustering 3).", "",
        "| experiment | result | accuracy | accuracy loss in points (negative = gain) | target met | MicroNet score |",
        "|---|---|---|---|---|---|",
        f"| LeNet-300-100 float baseline | {r['baseline_params']:,} params | {100*base:.2f}% | – | – | "
        f"{r['baseline_micronet']:.4g} |",
        f"| magnitude pruning, global, polynomial schedule | kernel sparsity {100*p['sparsity']:.1f}% "
        f"({1/(1-p['sparsity']):.1f}x fewer weights) | {100*p['accuracy']:.2f}% | {p['loss_points']:+.2f} vs float | "
        f"{ok(p['sparsity'] >= 0.92 and p['loss_points'] <= 0.5)} (>=92%, <=0.5) | {p['micronet']:.4g} |",
        f"| + clustering, 32 centroids per layer (5 bits) | distinct non-zero values per layer "
        f"{' / '.join(f'{k} {v}' for k, v in c['distinct_nonzero'].items())}, sparsity kept | "
        f"{100*c['accuracy']:.2f}% | {c['loss_points_vs_pruned']:+.2f} vs pruned | {ok(c['loss_points_vs_pruned'] <= 0.5)} (<=0.5) | {c['micronet']:.4g} |",
        f"| low-rank fc1 (784x300) | rank {lr['rank']}, {100*lr['fc1_params_ratio']:.1f}% of its parameters | "
        f"{100*lr['accuracy']:.2f}% | {lr['loss_points']:+.2f} vs float | {ok(lr['fc1_params_ratio'] <= 0.25 and lr['loss_points'] <= 1)} (<=1) | {lr['micronet']:.4g} |",
        f"| structured pruning (L1) | hidden units 300-100 -> {'-'.join(map(str, s['hidden_units']))} "
        f"({100*s['removed_fraction']:.0f}% removed) | {100*s['accuracy']:.2f}% | {s['loss_points']:+.2f} vs float | "
        f"{ok(s['removed_fraction'] >= 0.5 and s['loss_points'] <= 1)} (<=1) | {s['micronet']:.4g} |",
        f"| distillation, T=4, alpha=0.9, {len(d['alone'])} seeds | student alone {100*d['alone_mean']:.2f}% "
        f"({', '.join(f'{100*a:.2f}' for a in d['alone'])}) | distilled {100*d['distilled_mean']:.2f}% "
        f"({', '.join(f'{100*a:.2f}' for a in d['distilled'])}) | {100*(d['distilled_mean']-d['alone_mean']):+.2f} gain | "
        f"{ok(d['distilled_mean'] > d['alone_mean'])} | {d['micronet']:.4g} |",
        "",
        f"Teacher Conv(32)-Conv(64)-MaxPool-Dense(128)-Dense(10) (dropout 0.25/0.5 while training), "
        f"{args.teacher_epochs} epochs: "
        f"{100*r['teacher_accuracy']:.2f}%. Student 784-128-128-10 MLP, {args.distill_epochs} epochs, "
        "same initial weights and data order seed with and without the teacher.", "",
        "Seeds are fixed: two consecutive runs on this machine gave the same acceptance figures to the last "
        "digit (TensorFlow CPU kernels may still differ on other machines or thread counts).", "",
        f"Estimated weight storage (see mcucompress/report/stats.py): float {c['float_storage_bytes']/1024:.1f} KiB, "
        f"pruned + clustered {c['storage_bytes']/1024:.1f} KiB "
        f"({c['float_storage_bytes']/c['storage_bytes']:.1f}x).", "",
        "Accuracy versus estimated size (magnitude-pruning sweep and the passes above):", "",
        "| point | storage (KiB) | accuracy | MicroNet score |", "|---|---|---|---|",
    ]
    lines += [f"| {pt['label']} | {pt['storage_bytes']/1024:.1f} | {100*pt['accuracy']:.2f}% | {pt['micronet']:.4g} |"
              for pt in sorted(r["sweep"], key=lambda q: q["storage_bytes"])]
    lines += ["", "Per-layer sparsity after pruning: " + ", ".join(f"{k} {100*v:.1f}%" for k, v in p["layers"].items()) + ".",
              "", "The HTML report with plots (weight histograms before/after, sparsity per layer, this "
              "accuracy-versus-size curve) is written to build/bench_compression/report.html.", "",
              "## Reproducing one figure from the command line", "",
              "```",
              "mcucompress compress lenet.keras -o lenet_small.keras --data ../shared/datasets/mnist10k.npz \\",
              "    --prune 0.92 --cluster 32 --epochs 12        # writes lenet_small.json / lenet_small.html",
              "mcucompress compress student.keras -o distilled.keras --data ../shared/datasets/mnist10k.npz \\",
              "    --teacher teacher.keras --temperature 4 --alpha 0.9 --epochs 20",
              "```", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
