"""Acceptance experiments of the lectures' compression techniques, one sub-command each.

    cd <repo> && PYTHONPATH=. TF_CPP_MIN_LOG_LEVEL=3 OMP_NUM_THREADS=1 nohup nice \\
        .venv/bin/python scripts/bench_lectures.py obs > build/bench_lectures/obs.log &

Sub-commands: obs, flatten, distill, distill_few, exits, resnet, autoencoder. Data: x_train (8000 images) of
../shared/datasets/mnist10k.npz for training, its x_test (2000) for accuracy. Every figure is a
mean over --seeds seeds; results go to build/bench_lectures/<name>.json and a markdown table is
printed (copied into docs/BENCHMARKS.md, section "Lecture techniques").
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
from mcucompress.importers.keras import load_keras  # noqa: E402
from mcucompress.report.micronet import micronet_count  # noqa: E402
from scripts.bench_compression import conv_teacher as lecture_teacher  # noqa: E402
from scripts.bench_compression import lenet_300_100  # noqa: E402
from scripts.bench_compression import mlp_student as lecture_student  # noqa: E402

DATA = REPO.parent / "shared" / "datasets" / "mnist10k.npz"
OUT = REPO / "build" / "bench_lectures"


def score(model) -> float:
    return micronet_count(load_keras(model)).score


def mean(values) -> float:
    return float(np.mean(values))


def log(*parts):
    print(*parts, flush=True)


HESSIAN_ROWS = {"OBS (L-OBS, one-shot, 3 rounds)": dict(method="obs", schedule="oneshot"),
                "OBS (L-OBS, polynomial schedule)": dict(method="obs", schedule="polynomial"),
                "OBD (Fisher diagonal, polynomial schedule)": dict(method="obd", schedule="polynomial")}


def bench_obs(args) -> dict:
    """Magnitude pruning's 1-point sparsity on LeNet-300-100, then OBS/OBD at that sparsity with
    the same fine-tuning epochs (per-layer targets for all three)."""
    from mcucompress.compression.hessian import hessian_prune

    data = load_npz(args.data, (784,))
    bases = []
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        bases.append(fine_tune(lenet_300_100(), data, epochs=args.baseline_epochs, batch_size=128, verbose=0))
    base_acc = [accuracy(m, data.x_val, data.y_val) for m in bases]
    log("baseline", base_acc)
    fit = dict(epochs=args.finetune_epochs, batch_size=128, verbose=0)
    rows, chosen = [], None
    for sparsity in args.sparsities:
        accs = []
        for seed, base in enumerate(bases):
            keras.utils.set_random_seed(seed)
            accs.append(accuracy(magnitude_prune(base, data, sparsity, **fit), data.x_val, data.y_val))
        loss = 100 * (mean(base_acc) - mean(accs))
        rows.append({"method": "magnitude (polynomial schedule)", "sparsity": sparsity, "accuracy": mean(accs),
                     "loss_points": loss, "per_seed": accs})
        log(rows[-1])
        if loss >= 1.0:
            chosen = sparsity
            break
    chosen = chosen if chosen is not None else args.sparsities[-1]
    for label, options in HESSIAN_ROWS.items():
        if options["method"] + "-" + options["schedule"] not in args.hessian:
            continue
        accs, started = [], time.time()
        for seed, base in enumerate(bases):
            keras.utils.set_random_seed(seed)
            pruned = hessian_prune(base, data, chosen, **options, **fit)
            accs.append(accuracy(pruned, data.x_val, data.y_val))
        rows.append({"method": label, "sparsity": chosen, "accuracy": mean(accs),
                     "loss_points": 100 * (mean(base_acc) - mean(accs)), "per_seed": accs,
                     "seconds_per_seed": (time.time() - started) / len(bases), "micronet": score(pruned)})
        log(rows[-1])
    return {"baseline": mean(base_acc), "baseline_per_seed": base_acc, "baseline_micronet": score(bases[0]),
            "sparsity": chosen, "rows": rows, "finetune_epochs": args.finetune_epochs}


def markdown_obs(result) -> str:
    lines = [f"LeNet-300-100, float baseline {100 * result['baseline']:.2f}% (MicroNet score "
             f"{result['baseline_micronet']:.4g}); {result['finetune_epochs']} fine-tuning epochs per method, "
             "mean of 3 seeds.", "", "| method | sparsity | accuracy | points lost | MicroNet score |",
             "|---|---:|---:|---:|---:|"]
    for row in result["rows"]:
        lines.append(f"| {row['method']} | {100 * row['sparsity']:.1f}% | {100 * row['accuracy']:.2f}% | "
                     f"{row['loss_points']:.2f} | {row.get('micronet', float('nan')):.4g} |")
    return "\n".join(lines)


def small_cnn():
    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(16, 3, activation="relu", name="conv1"),
                             keras.layers.MaxPooling2D(name="pool1"), keras.layers.Conv2D(32, 3, activation="relu", name="conv2"),
                             keras.layers.MaxPooling2D(), keras.layers.Flatten(),
                             keras.layers.Dense(10, activation="softmax", name="out")], name="small_cnn")


def conv_macs(model) -> int:
    from mcucompress.codegen.metrics import layer_rows

    return sum(r.macs for r in layer_rows(load_keras(model)) if r.kind in ("conv2d", "depthwise_conv2d"))


def bench_flatten(args) -> dict:
    """Flattened convolutions on a small MNIST CNN: conv MACs and accuracy after fine-tuning;
    the flattened model of seed 0 is exported with `mcucompress export`."""
    from mcucompress.cli import main as cli
    from mcucompress.compression.flattened import flatten_pass

    data = load_npz(args.data, (28, 28, 1))
    base_acc, flat_acc, fitted_acc = [], [], []
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        base = fine_tune(small_cnn(), data, epochs=args.baseline_epochs, batch_size=128, verbose=0)
        base_acc.append(accuracy(base, data.x_val, data.y_val))
        keras.utils.set_random_seed(seed)
        fitted = flatten_pass(base, None)
        fitted_acc.append(accuracy(fitted, data.x_val, data.y_val))
        flat = flatten_pass(base, data, epochs=args.finetune_epochs, batch_size=128, verbose=0)
        flat_acc.append(accuracy(flat, data.x_val, data.y_val))
        log(seed, base_acc[-1], fitted_acc[-1], flat_acc[-1])
        if seed == 0:
            base_macs, flat_macs = conv_macs(base), conv_macs(flat)
            base_score, flat_score = score(base), score(flat)
            flat.save(OUT / "flattened_cnn.keras")
            np.savez(OUT / "calib.npz", x=data.x_train[:64])
            status = cli(["export", str(OUT / "flattened_cnn.keras"), "-o", str(OUT / "flattened_cnn_c"),
                          "--calib", str(OUT / "calib.npz")])
    return {"baseline": mean(base_acc), "baseline_per_seed": base_acc, "fitted": mean(fitted_acc),
            "flattened": mean(flat_acc), "flattened_per_seed": flat_acc, "conv_macs_before": base_macs,
            "conv_macs_after": flat_macs, "micronet_before": base_score, "micronet_after": flat_score,
            "export_status": status, "finetune_epochs": args.finetune_epochs}


def markdown_flatten(r) -> str:
    return "\n".join([
        "| model | conv MACs | accuracy (mean of 3 seeds) | MicroNet score |", "|---|---:|---:|---:|",
        f"| small CNN (conv 16, conv 32, dense 10) | {r['conv_macs_before']:,} | {100 * r['baseline']:.2f}% | "
        f"{r['micronet_before']:.4g} |",
        f"| flattened, fitted (no training) | {r['conv_macs_after']:,} | {100 * r['fitted']:.2f}% | |",
        f"| flattened + {r['finetune_epochs']} epochs | {r['conv_macs_after']:,} "
        f"({r['conv_macs_before'] / r['conv_macs_after']:.2f}x fewer) | {100 * r['flattened']:.2f}% "
        f"({100 * (r['flattened'] - r['baseline']):+.2f}) | {r['micronet_after']:.4g} |",
        "", f"`mcucompress export` of the flattened model: exit status {r['export_status']}."])


DISTILL_SETTINGS = [(4.0, 0.9), (2.0, 0.5), (8.0, 0.9), (4.0, 0.99), (20.0, 0.99)]


def bench_distill(args) -> dict:
    """The lecture's experiment: CNN teacher, 784-128-128-10 student, 10 epochs, batch 64; the
    student alone against distilled students over (temperature, alpha) settings."""
    data = load_npz(args.data, (784,))
    images = load_npz(args.data, (28, 28, 1))
    fit = dict(epochs=args.student_epochs, batch_size=64, verbose=0)
    rows = {"teacher": [], "alone": []}
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        teacher = fine_tune(TEACHERS[args.teacher_model](), images, epochs=args.baseline_epochs, batch_size=64,
                            verbose=0)
        rows["teacher"].append(accuracy(teacher, images.x_val, images.y_val))
        keras.utils.set_random_seed(seed)
        rows["alone"].append(accuracy(fine_tune(lecture_student(), data, **fit), data.x_val, data.y_val))
        add_distilled(rows, seed, DISTILL_SETTINGS, teacher, data, fit)
    return {"per_seed": rows, "mean": {k: mean(v) for k, v in rows.items()}, "epochs": args.student_epochs,
            "teacher_model": args.teacher_model}


def add_distilled(rows: dict, seed: int, settings, teacher, data, fit) -> None:
    """One distilled student per (temperature, alpha) setting, its accuracy appended to rows."""
    from mcucompress.compression import distill

    for temperature, alpha in settings:
        keras.utils.set_random_seed(seed)
        student = distill(lecture_student(), teacher, data, temperature=temperature, alpha=alpha, **fit)
        rows.setdefault(f"T={temperature:g} alpha={alpha:g}", []).append(accuracy(student, data.x_val, data.y_val))
    log(seed, {k: v[-1] for k, v in rows.items()})


def markdown_distill(r) -> str:
    alone = r["mean"]["alone"]
    names = {"teacher": "teacher CNN", "alone": "student alone",
             "alone_same_steps": "student alone, as many steps as the distilled student"}
    lines = ["| model | accuracy, mean ± std of 3 seeds | vs student alone |", "|---|---:|---:|"]
    for key, values in r["per_seed"].items():
        value = mean(values)
        gain = "" if key == "teacher" else f"{100 * (value - alone):+.2f}"
        lines.append(f"| {names.get(key, f'student distilled, {key}')} | {100 * value:.2f}% ± "
                     f"{100 * float(np.std(values)):.2f} | {gain} |")
    return "\n".join(lines)


FEW_LABEL_SETTINGS = [(4.0, 0.5), (4.0, 0.9), (8.0, 0.9)]
# The teacher CNN of distill_few: the lecture's (conv 32, conv 64, dense 128) or the small CNN
# (conv 16, conv 32, dense 10), whose forward pass in every distillation step costs 16x less.


def labelled_subset(data, n_labelled: int, seed: int):
    """(labelled-only data, all-images data whose other labels are -1): the seed's n_labelled
    digits of x_train keep their labels, the rest of x_train is unlabelled."""
    from mcucompress.compression.training_data import TrainData

    chosen = np.random.default_rng(seed).permutation(len(data.y_train))[:n_labelled]
    partial = np.full_like(data.y_train, -1)
    partial[chosen] = data.y_train[chosen]
    return (TrainData(data.x_train[chosen], data.y_train[chosen], data.x_val, data.y_val),
            TrainData(data.x_train, partial, data.x_val, data.y_val))


def bench_distill_few(args) -> dict:
    """Distillation with few labels: of x_train's 8000 digits only --labelled keep their labels.
    The teacher CNN and the student alone train on those; the distilled student sees all 8000
    images, with the teacher's soft targets everywhere and the hard loss on the labelled ones."""
    data = load_npz(args.data, (784,))
    images = load_npz(args.data, (28, 28, 1))
    fit = dict(epochs=args.student_epochs, batch_size=64, verbose=0)
    same_steps = args.student_epochs * len(data.y_train) // args.labelled
    rows = {"teacher": [], "alone": [], "alone_same_steps": []}
    for seed in range(args.seeds):
        labelled, partial = labelled_subset(data, args.labelled, seed)
        labelled_images, _ = labelled_subset(images, args.labelled, seed)
        keras.utils.set_random_seed(seed)
        teacher = fine_tune(TEACHERS[args.teacher_model](), labelled_images, epochs=args.teacher_epochs,
                            batch_size=64, verbose=0)
        rows["teacher"].append(accuracy(teacher, images.x_val, images.y_val))
        keras.utils.set_random_seed(seed)
        rows["alone"].append(accuracy(fine_tune(lecture_student(), labelled, **fit), data.x_val, data.y_val))
        keras.utils.set_random_seed(seed)
        rows["alone_same_steps"].append(accuracy(
            fine_tune(lecture_student(), labelled, **dict(fit, epochs=same_steps)), data.x_val, data.y_val))
        add_distilled(rows, seed, FEW_LABEL_SETTINGS, teacher, partial, fit)
    return {"per_seed": rows, "mean": {k: mean(v) for k, v in rows.items()}, "epochs": args.student_epochs,
            "labelled": args.labelled, "teacher_epochs": args.teacher_epochs, "teacher_model": args.teacher_model}


def lecture_cnn():
    """The lecture's MNIST CNN (the distillation teacher's shapes), ending in softmax."""
    return keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Conv2D(32, 3, activation="relu", name="conv1"),
                             keras.layers.Conv2D(64, 3, activation="relu", name="conv2"), keras.layers.MaxPooling2D(),
                             keras.layers.Dropout(0.25), keras.layers.Flatten(),
                             keras.layers.Dense(128, activation="relu", name="fc1"), keras.layers.Dropout(0.5),
                             keras.layers.Dense(10, activation="softmax", name="out")], name="lecture_cnn")


EXIT_MODELS = {"lecture": (lecture_cnn, "conv1"), "small": (small_cnn, "pool1")}


def bench_exits(args) -> dict:
    """Early exits on an MNIST CNN: an exit head after its first block, thresholds from
    calibration data held out of x_train; both exports verified on the host against the numpy
    reference (whole test set) and run on QEMU (mps2-an386) with exact counts: the model with
    exits over the whole test set, the full network over --full-samples inputs (its count
    does not depend on the input)."""
    from mcucompress.compression.exits import add_exits
    from mcucompress.export import export
    from mcucompress.verify import verify

    data = load_npz(args.data, (28, 28, 1))
    runs = []
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        build, after = EXIT_MODELS[args.exit_model]
        base = fine_tune(build(), data, epochs=args.baseline_epochs, batch_size=128, verbose=0)
        keras.utils.set_random_seed(seed)
        exits = add_exits(base, data, after=[after], budget=args.exit_budget, epochs=args.finetune_epochs,
                          verbose=0)
        np.savez(OUT / "calib.npz", x=data.x_train[:64])
        np.savez(OUT / "mnist_test.npz", x=data.x_val, y=data.y_val)
        run = {"seed": seed, "float_accuracy": accuracy(base, data.x_val, data.y_val),
               "thresholds": [layer.threshold for layer in exits.layers if type(layer).__name__ == "EarlyExit"]}
        for name, model in (("full", base), ("exits", exits)):
            model.save(OUT / f"cnn_{name}.keras")
            tree = export(OUT / f"cnn_{name}.keras", OUT / f"cnn_{name}_c", calib=OUT / "calib.npz",
                          board="mps2-an386")
            checked = verify(tree, OUT / "mnist_test.npz", oracle=False)
            samples = len(data.y_val) if name == "exits" else args.full_samples
            report = run_in_chunks(tree, data.x_val[:samples], data.y_val[:samples])
            run[name] = {"c_accuracy": checked.accuracy, "bit_exact_host": checked.bit_exact,
                         "exits_taken": checked.exits["taken"] if checked.exits else None,
                         "qemu_identical": report.checks, "qemu_samples": samples,
                         "mean_instructions": float(np.mean(report.instructions)),
                         "min_instructions": int(min(report.instructions)),
                         "max_instructions": int(max(report.instructions)),
                         "per_exit": {str(k): v for k, v in report.per_exit().items()}}
            log(seed, name, run[name])
        runs.append(run)
    return {"runs": runs, "budget": args.exit_budget, "epochs": args.finetune_epochs, "samples": len(data.y_val),
            "model": args.exit_model, "after": EXIT_MODELS[args.exit_model][1]}


QEMU_CHUNK = 100  # inputs a QEMU run: about 1e9 instructions at most, inside run's time limit on a loaded machine


def run_in_chunks(tree: Path, x: np.ndarray, y: np.ndarray):
    """run_model over every input, QEMU_CHUNK inputs a firmware run; one report (counts and exits
    in input order, each check the AND of the chunks')."""
    from dataclasses import replace

    from mcucompress.targets.runner import run_model

    reports = []
    for start in range(0, len(x), QEMU_CHUNK):
        chunk = OUT / f"qemu_chunk_{start}.npz"
        np.savez(chunk, x=x[start:start + QEMU_CHUNK], y=y[start:start + QEMU_CHUNK])
        reports.append(run_model(tree, "mps2-an386", data=chunk, samples=len(x[start:start + QEMU_CHUNK])))
    first = reports[0]
    return replace(first, samples=sum(r.samples for r in reports),
                   instructions=tuple(c for r in reports for c in r.instructions),
                   exits=tuple(e for r in reports for e in r.exits),
                   checks={k: all(r.checks.get(k, False) for r in reports) for k in first.checks},
                   inputs=None, outputs=None)


def markdown_exits(r) -> str:
    lines = ["| model (seed) | C accuracy on x_test | mean instructions per inference (M4, QEMU) | exits taken | "
             "bit-exact (host, QEMU, reference exits) |", "|---|---:|---:|---|---|"]
    for run in r["runs"]:
        full, ex = run["full"], run["exits"]
        ratio = ex["mean_instructions"] / full["mean_instructions"]
        lines.append(f"| {r['model']} CNN, full ({run['seed']}) | {100 * full['c_accuracy']:.2f}% | "
                     f"{full['mean_instructions']:,.0f} ({full['qemu_samples']} inputs) | | "
                     f"{full['bit_exact_host'] and all(full['qemu_identical'].values())} |")
        per_exit = ", ".join(f"exit {k}: {v['inputs']} at {v['mean_instructions']:,.0f}" for k, v in ex["per_exit"].items())
        lines.append(f"| with an exit after {r['after']}, threshold {run['thresholds'][0]:.4f} ({run['seed']}) | "
                     f"{100 * ex['c_accuracy']:.2f}% ({100 * (ex['c_accuracy'] - full['c_accuracy']):+.2f}) | "
                     f"{ex['mean_instructions']:,.0f} ({100 * ratio:.1f}% of full) | {per_exit} | "
                     f"{ex['bit_exact_host'] and all(ex['qemu_identical'].values())} |")
    return "\n".join(lines)


TEACHERS = {"lecture": lecture_teacher, "small": small_cnn}


def small_resnet():
    def block(x, filters, name):
        y = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}a")(x)
        y = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}b")(y)
        return keras.layers.ReLU()(keras.layers.Add()([x, y]))

    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="stem")(inputs)
    x = block(x, 16, "block1")
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="widen")(x)
    x = block(x, 32, "block2")
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="out")(x), name="small_resnet")


def bench_resnet(args) -> dict:
    """Filter pruning of a small ResNet whose residual adds tie channel groups."""
    from mcucompress.compression import structured_prune
    from mcucompress.compression.structured import channel_groups

    data = load_npz(args.data, (28, 28, 1))
    base_acc, pruned_acc = [], []
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        base = fine_tune(small_resnet(), data, epochs=args.baseline_epochs, batch_size=128, verbose=0)
        base_acc.append(accuracy(base, data.x_val, data.y_val))
        keras.utils.set_random_seed(seed)
        pruned = structured_prune(base, data, args.fraction, epochs=args.finetune_epochs, batch_size=128, verbose=0)
        pruned_acc.append(accuracy(pruned, data.x_val, data.y_val))
        log(seed, base_acc[-1], pruned_acc[-1])
        if seed == 0:
            groups = channel_groups(base)
            macs = (conv_macs(base), conv_macs(pruned))
            scores = (score(base), score(pruned))
    return {"baseline": mean(base_acc), "baseline_per_seed": base_acc, "pruned": mean(pruned_acc),
            "pruned_per_seed": pruned_acc, "fraction": args.fraction, "groups": groups,
            "conv_macs_before": macs[0], "conv_macs_after": macs[1], "micronet_before": scores[0],
            "micronet_after": scores[1], "finetune_epochs": args.finetune_epochs}


def markdown_resnet(r) -> str:
    removed = 1 - r["conv_macs_after"] / r["conv_macs_before"]
    return "\n".join([
        f"Channel groups: {r['groups']}", "",
        "| model | conv MACs | accuracy (mean of 3 seeds) | MicroNet score |", "|---|---:|---:|---:|",
        f"| small ResNet (2 residual blocks) | {r['conv_macs_before']:,} | {100 * r['baseline']:.2f}% | "
        f"{r['micronet_before']:.4g} |",
        f"| {100 * r['fraction']:.0f}% of every channel group removed + {r['finetune_epochs']} epochs | "
        f"{r['conv_macs_after']:,} (-{100 * removed:.1f}%) | {100 * r['pruned']:.2f}% "
        f"({100 * (r['pruned'] - r['baseline']):+.2f}) | {r['micronet_after']:.4g} |"])


def bench_autoencoder(args) -> dict:
    """`mcucompress compress --prune 0.8` on an FC autoencoder 784-128-32-128-784: the NPZ has no
    labels, so the targets are the inputs and the report gives the reconstruction error (MSE)."""
    from mcucompress.cli import main as cli
    from mcucompress.compression.training_data import load_for_model

    arrays = np.load(args.data)
    unlabeled = OUT / "mnist10k_unlabeled.npz"
    np.savez(unlabeled, x_train=arrays["x_train"], x_test=arrays["x_test"])
    runs = []
    for seed in range(args.seeds):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(128, activation="relu", name="enc1"),
                                  keras.layers.Dense(32, activation="relu", name="code"),
                                  keras.layers.Dense(128, activation="relu", name="dec1"),
                                  keras.layers.Dense(784, activation="sigmoid", name="out")], name="autoencoder")
        model = fine_tune(model, load_for_model(unlabeled, model), epochs=args.baseline_epochs, batch_size=128,
                          verbose=0)
        model.save(OUT / "autoencoder.keras")
        status = cli(["compress", str(OUT / "autoencoder.keras"), "-o", str(OUT / "autoencoder_pruned.keras"),
                      "--data", str(unlabeled), "--prune", str(args.fraction), "--epochs",
                      str(args.finetune_epochs), "-q", "--seed", str(seed)])
        report = json.loads((OUT / "autoencoder_pruned.json").read_text())
        runs.append({"status": status, "mse": report["mse"], "micronet": report["micronet"]})
        log(seed, runs[-1]["mse"])
    return {"runs": runs, "sparsity": args.fraction, "finetune_epochs": args.finetune_epochs}


def markdown_autoencoder(r) -> str:
    before = mean([run["mse"]["before"] for run in r["runs"]])
    after = mean([run["mse"]["after"] for run in r["runs"]])
    micronet = r["runs"][0]["micronet"]

    def shown(entry):
        return f"{entry['score']:.4g}" if "score" in entry else "n/a: " + entry["error"].split(": ", 1)[-1]

    return "\n".join([
        "| autoencoder 784-128-32-128-784 | reconstruction MSE | MicroNet score |", "|---|---:|---:|",
        f"| trained | {before:.5f} | {shown(micronet['before'])} |",
        f"| `compress --prune {r['sparsity']:g}` + {r['finetune_epochs']} epochs | {after:.5f} | "
        f"{shown(micronet['after'])} |"])


BENCHES = {"autoencoder": (bench_autoencoder, markdown_autoencoder), "resnet": (bench_resnet, markdown_resnet), "obs": (bench_obs, markdown_obs), "flatten": (bench_flatten, markdown_flatten),
           "distill": (bench_distill, markdown_distill), "distill_few": (bench_distill_few, markdown_distill),
           "exits": (bench_exits, markdown_exits)}


def main(argv=None):
    global OUT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench", choices=sorted(BENCHES))
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--baseline-epochs", type=int, default=10)
    parser.add_argument("--finetune-epochs", type=int, default=4)
    parser.add_argument("--student-epochs", type=int, default=10)
    parser.add_argument("--teacher-epochs", type=int, default=30, help="distill_few: teacher epochs on the labelled digits")
    parser.add_argument("--exit-model", choices=sorted(EXIT_MODELS), default="lecture", help="exits: which CNN")
    parser.add_argument("--full-samples", type=int, default=100, help="exits: QEMU inputs for the full network")
    parser.add_argument("--exit-budget", type=float, default=0.003, help="exits: accuracy the cascade may lose on the calibration data")
    parser.add_argument("--teacher-model", choices=["lecture", "small"], default="small", help="distill, distill_few: teacher CNN")
    parser.add_argument("--labelled", type=int, default=1000, help="distill_few: digits of x_train that keep their label")
    parser.add_argument("--fraction", type=float, default=0.4, help="resnet: share of each channel group removed; autoencoder: sparsity")
    parser.add_argument("--sparsities", type=float, nargs="+", default=[0.88, 0.9, 0.92, 0.94])
    parser.add_argument("--hessian", nargs="+", default=["obs-oneshot", "obs-polynomial", "obd-polynomial"],
                        help="obs: which second-order rows to run")
    parser.add_argument("--markdown-only", action="store_true", help="Print the table of the saved results.")
    parser.add_argument("--out", default=str(OUT), help="folder for the results and the exported models")
    args = parser.parse_args(argv)
    OUT = Path(args.out)
    run, markdown = BENCHES[args.bench]
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{args.bench}.json"
    if args.markdown_only:
        result = json.loads(path.read_text())
    else:
        result = run(args)
        result["command"] = "scripts/bench_lectures.py " + " ".join(argv if argv is not None else sys.argv[1:])
        path.write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))


if __name__ == "__main__":
    main()
