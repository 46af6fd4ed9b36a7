"""`mcucompress compress`: run compression passes on a Keras model and write a plain .keras file
plus a JSON and an HTML report (per layer before/after, accuracy, plots)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from mcucompress.commands.options import unsafe_deserialization_option
from mcucompress.errors import McuError
from mcucompress.folders import check_folder_possible, make_folder


def _load_keras(path: str, what: str, allow_code: bool):
    if not Path(path).is_file():
        raise McuError(f"{what} not found: {path}")
    from mcucompress.importers.keras_file import open_keras_file

    return open_keras_file(path, allow_code=allow_code)


@click.command(help="Prune, cluster, factorize or distill a Keras model. Data: an NPZ with "
                    "x_train/y_train/x_test/y_test (or x/y, split 90/10); uint8 inputs are scaled to "
                    "[0,1] and samples reshaped to the model's input shape. Accuracy is reported on the "
                    "held-out part.")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Output .keras file.")
@click.option("--data", required=True, type=click.Path(dir_okay=False), help="Training data NPZ.")
@click.option("--recipe", type=click.Path(dir_okay=False), help="YAML recipe chaining passes with per-layer settings, e.g. "
                   "'passes: [{prune: {sparsity: 0.9, layers: {fc1: 0.95}}}, {cluster: {clusters: 32}}]' "
                   "(full format: mcucompress/compression/recipe.py).")
@click.option("--prune", type=float, help="Magnitude pruning to this global kernel sparsity, e.g. 0.9.")
@click.option("--obs", type=float, help="Layer-wise Optimal Brain Surgeon pruning to this sparsity per Dense/Conv2D "
              "layer (second-order saliency, remaining weights compensated), e.g. 0.95.")
@click.option("--obd", type=float, help="Optimal Brain Damage pruning to this sparsity per layer (diagonal "
              "Fisher saliency).")
@click.option("--cluster", type=int, help="Weight clustering to this many shared values per layer (the zero of "
              "a pruned layer is one of them: 16 gives 4-bit codebook indices).")
@click.option("--hash", "hash_ratio", type=float, help="HashedNets: every Dense layer's weights shared through a "
              "hash of (row, column) into 1/RATIO as many stored values, e.g. 8.")
@click.option("--pq", help="Product quantization of Dense layers: sub-vectors of LENGTH inputs, CENTROIDS "
              "codewords per sub-space, e.g. 4x16 (layers with more units than centroids).")
@click.option("--lowrank", help="Low-rank factorization: energy=0.9, macs=0.5 or params=0.25.")
@click.option("--flatten", is_flag=True, help="Flattened convolutions: each Conv2D (where it saves MACs) "
              "becomes 1x1, kx1 and 1xk filters fitted from the original.")
@click.option("--structured", type=float, help="Remove this fraction of neurons/filters per layer.")
@click.option("--exits", help="Early exits after these layers (comma-separated names): heads trained, "
              "confidence thresholds calibrated; the C stops at the first confident exit.")
@click.option("--teacher", type=click.Path(dir_okay=False), help="Teacher .keras model for distillation.")
@click.option("--temperature", type=float, default=None, help="Distillation temperature (default 4).")
@click.option("--alpha", type=float, default=None, help="Weight of the soft loss (default 0.9).")
@click.option("--epochs", type=int, default=None, help="Fine-tuning epochs per pass (default 2).")
@click.option("--batch-size", type=int, default=None, help="Fine-tuning batch size (default 128).")
@click.option("--learning-rate", type=float, default=None, help="Adam learning rate (default 0.001).")
@click.option("--strategy", type=click.Choice(["default", "mirrored"]), default=None,
              help="tf.distribute strategy for fine-tuning.")
@click.option("--report", "report_prefix", type=click.Path(), default=None,
              help="Report path prefix (writes PREFIX.json and PREFIX.html; default: OUTPUT without .keras).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@unsafe_deserialization_option
def command(model, output, data, recipe, prune, obs, obd, cluster, hash_ratio, pq, lowrank, flatten, structured, exits,
            teacher, temperature, alpha, epochs, batch_size, learning_rate, strategy, report_prefix, seed, quiet,
            unsafe_deserialization):
    if not output.endswith(".keras"):
        raise McuError(f"output must be a .keras file, got {output}")
    if recipe is not None and (flatten or any(v is not None for v in (prune, obs, obd, cluster, hash_ratio, pq,
                                                                       lowrank, structured, exits))):
        raise McuError("give either --recipe or pass flags (--prune/--obs/--obd/--cluster/--hash/--pq/--lowrank/"
                       "--structured/--exits), not both")
    prefix = report_prefix or output[: -len(".keras")]
    for folder in (Path(output).parent, Path(prefix).parent):  # before training, not after
        check_folder_possible(folder)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from mcucompress.compression.training_data import check_labels, load_for_model
    from mcucompress.compression.finetune import check_fit_options, evaluate
    from mcucompress.compression.recipe import load_recipe, recipe_from_flags, run_recipe
    from mcucompress.report import build_report, layer_stats, model_totals, write_html, write_json

    plan = load_recipe(recipe) if recipe else recipe_from_flags(
        structured=structured, lowrank=lowrank, flatten=flatten, prune=prune, obs=obs, obd=obd, cluster=cluster,
        hash_ratio=hash_ratio, pq=pq, teacher=teacher, exits=exits)
    keras.utils.set_random_seed(seed)
    original = _load_keras(model, "model", unsafe_deserialization)
    if len(original.inputs) != 1:
        raise McuError("only single-input models can be compressed")
    dataset = load_for_model(data, original, seed=seed)
    teacher_spec = plan.teacher or {}
    teacher_path = teacher or teacher_spec.get("path")
    check_labels(dataset, int(original.outputs[0].shape[-1]), unlabelled_ok=teacher_path is not None)
    teacher_model = _load_keras(teacher_path, "teacher", unsafe_deserialization) if teacher_path else None
    temperature = temperature if temperature is not None else float(teacher_spec.get("temperature", 4.0))
    alpha = alpha if alpha is not None else float(teacher_spec.get("alpha", 0.9))
    fit = {"epochs": epochs if epochs is not None else plan.fit.get("epochs", 2),
           "batch_size": batch_size if batch_size is not None else plan.fit.get("batch_size", 128),
           "learning_rate": learning_rate if learning_rate is not None else plan.fit.get("learning_rate", 1e-3),
           "strategy": strategy or plan.strategy, "verbose": 0 if quiet else "auto"}
    check_fit_options(fit["epochs"], fit["batch_size"], fit["learning_rate"])

    metric, before_value = evaluate(original, dataset)
    label = "accuracy" if metric == "accuracy" else "reconstruction/regression error (MSE)"
    stages = [{"label": "original", metric: before_value,
               "storage_bytes": model_totals(layer_stats(original))["storage_bytes"]}]
    click.echo(f"original: {label} {before_value:.4g}")

    def after_step(step, current):
        value = evaluate(current, dataset)[1]
        totals = model_totals(layer_stats(current))
        stages.append({"label": step.label, metric: value, "storage_bytes": totals["storage_bytes"]})
        click.echo(f"{step.label}: {label} {value:.4g}, params {totals['params']:,}, "
                   f"kernel sparsity {totals['sparsity']:.3f}")

    result = run_recipe(original, dataset, plan, teacher=teacher_model, temperature=temperature, alpha=alpha,
                        fit=fit, after_step=after_step)
    make_folder(Path(output).parent)
    make_folder(Path(prefix).parent)
    result.save(output)
    report = build_report(original, result, before_value, stages[-1][metric], stages=stages, metric=metric)
    json_path = write_json(report, prefix + ".json")
    html_path = write_html(report, original, result, prefix + ".html")
    micronet = report["micronet"]
    if "score" in micronet["before"] and "score" in micronet["after"]:
        click.echo(f"MicroNet score ({micronet['after']['track']} track): {micronet['before']['score']:.4g} -> "
                   f"{micronet['after']['score']:.4g}")
    click.echo(f"wrote {output}, {json_path}, {html_path}")
    return 0
