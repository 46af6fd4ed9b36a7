"""Recipes: a chain of compression passes with per-layer settings, from YAML or CLI flags.

    epochs: 2              # fine-tuning epochs per pass (a pass may override)
    batch_size: 128
    learning_rate: 0.001
    strategy: mirrored     # optional tf.distribute strategy for every fine-tuning
    teacher: {path: teacher.keras, temperature: 4, alpha: 0.9}   # optional, used by every pass
    passes:
      - structured: {fraction: 0.5, layers: {fc1: 0.5}}
      - lowrank: {energy: 0.9}            # or macs: 0.5 / params: 0.25 / ranks: {fc1: 32}
      - flatten: {layers: [conv2]}         # flattened convolutions (default: every Conv2D it helps)
      - prune: {sparsity: 0.9, scope: global, layers: {fc1: 0.95}}
      - obs: {sparsity: 0.9, schedule: polynomial}   # L-OBS (second-order) instead of magnitude
      - obd: {sparsity: 0.9, scope: global}         # Optimal Brain Damage (diagonal Fisher)
      - hash: {ratio: 8, layers: [fc1, fc2]}   # HashedNets: 1/8 as many stored weights
      - cluster: {clusters: 32, layers: {out: 16}}   # after hash: clusters its buckets too
      - pq: {length: 4, centroids: 16, layers: [fc1]}   # product quantization of Dense rows
      - distill: {epochs: 5}              # plain training against the teacher
      - exits: {after: [pool1], budget: 0.005}   # early-exit heads with calibrated thresholds
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mcucompress.compression.clustering import cluster_weights
from mcucompress.compression.distillation import distill
from mcucompress.compression.exits import add_exits
from mcucompress.compression.finetune import fine_tune
from mcucompress.compression.flattened import flatten_pass
from mcucompress.compression.hessian import hessian_prune
from mcucompress.compression.lowrank import low_rank
from mcucompress.compression.pruning import magnitude_prune
from mcucompress.compression.shared_weights import hash_weights, product_quantize
from mcucompress.compression.structured import structured_prune
from mcucompress.errors import McuError

FIT_OPTIONS = {"epochs", "batch_size", "learning_rate"}
PASS_OPTIONS = {
    "prune": {"sparsity", "layers", "scope", "schedule", "dynamic", "margin", "frequency", "end_fraction"},
    "obs": {"sparsity", "layers", "schedule", "samples", "rounds", "damping", "frequency", "end_fraction"},
    "obd": {"sparsity", "layers", "scope", "schedule", "samples", "frequency", "end_fraction"},
    "structured": {"fraction", "layers", "criterion"},
    "lowrank": {"energy", "macs", "params", "ranks", "layers"},
    "cluster": {"clusters", "layers", "preserve_zeros"},
    "hash": {"ratio", "layers", "seed"},
    "pq": {"length", "centroids", "layers", "seed"},
    "flatten": {"layers", "iterations"},
    "distill": set(),
    "finetune": set(),
    "exits": {"after", "pool", "head", "budget", "calibration"},
}
TOP_LEVEL = FIT_OPTIONS | {"strategy", "teacher", "passes"}


@dataclass
class Step:
    name: str
    options: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        shown = {k: v for k, v in self.options.items() if not isinstance(v, dict)}
        return self.name + (" " + " ".join(f"{k}={v}" for k, v in shown.items()) if shown else "")


@dataclass
class Recipe:
    steps: list[Step]
    fit: dict = field(default_factory=dict)
    strategy: str | None = None
    teacher: dict | None = None


def parse_recipe(spec) -> Recipe:
    if not isinstance(spec, dict) or not isinstance(spec.get("passes"), list) or not spec["passes"]:
        raise McuError("recipe must be a mapping with a non-empty 'passes' list")
    unknown = set(spec) - TOP_LEVEL
    if unknown:
        raise McuError(f"unknown recipe key {sorted(unknown)[0]!r} (allowed: {', '.join(sorted(TOP_LEVEL))})")
    steps = [_parse_step(entry) for entry in spec["passes"]]
    teacher = spec.get("teacher")
    if teacher is not None:
        if isinstance(teacher, str):
            teacher = {"path": teacher}
        if (not isinstance(teacher, dict) or not isinstance(teacher.get("path"), str)
                or set(teacher) - {"path", "temperature", "alpha"}):
            raise McuError("recipe 'teacher' must be a path or {path, temperature, alpha}")
    return Recipe(steps, {k: spec[k] for k in FIT_OPTIONS if k in spec}, spec.get("strategy"), teacher)


def _parse_step(entry) -> Step:
    if isinstance(entry, str):
        entry = {entry: {}}
    if not isinstance(entry, dict) or len(entry) != 1:
        raise McuError(f"each recipe pass must be a name or a one-key mapping, got {entry!r}")
    name, options = next(iter(entry.items()))
    options = options or {}
    if name not in PASS_OPTIONS:
        raise McuError(f"unknown compression pass {name!r} (known: {', '.join(PASS_OPTIONS)})")
    if not isinstance(options, dict):
        raise McuError(f"options of pass {name!r} must be a mapping")
    unknown = set(options) - PASS_OPTIONS[name] - FIT_OPTIONS
    if unknown:
        raise McuError(f"unknown option {sorted(unknown)[0]!r} for pass {name!r}")
    return Step(name, dict(options))


def load_recipe(path) -> Recipe:
    path = Path(path)
    if not path.is_file():
        raise McuError(f"recipe file not found: {path}")
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise McuError(f"recipe {path} is not valid YAML: {str(error).splitlines()[0]}") from None
    return parse_recipe(spec)


def parse_lowrank_flag(text: str) -> dict:
    """'energy=0.9' | 'macs=0.5' | 'params=0.25' -> options of the lowrank pass."""
    key, _, value = text.partition("=")
    if key not in ("energy", "macs", "params") or not value:
        raise McuError(f"--lowrank expects energy=F, macs=F or params=F, got {text!r}")
    try:
        return {key: float(value)}
    except ValueError:
        raise McuError(f"--lowrank value {value!r} is not a number") from None


def parse_pq_flag(text: str) -> dict:
    """'4x16' -> sub-vectors of 4 values, 16 centroids per sub-space (options of the pq pass)."""
    length, _, centroids = str(text).lower().partition("x")
    if not (length.strip().isdigit() and centroids.strip().isdigit()):
        raise McuError(f"--pq expects LENGTHxCENTROIDS such as 4x16, got {text!r}")
    return {"length": int(length), "centroids": int(centroids)}


def recipe_from_flags(*, structured=None, lowrank=None, flatten=False, prune=None, obs=None, obd=None,
                      cluster=None, hash_ratio=None, pq=None, teacher=None, exits=None) -> Recipe:
    """The CLI flags as a recipe, in the order that makes sense: shrink, factorize, prune, hash, cluster."""
    steps = []
    if structured is not None:
        steps.append(Step("structured", {"fraction": structured}))
    if lowrank is not None:
        steps.append(Step("lowrank", parse_lowrank_flag(lowrank)))
    if flatten:
        steps.append(Step("flatten"))
    if prune is not None:
        steps.append(Step("prune", {"sparsity": prune, "scope": "global"}))
    if obs is not None:
        steps.append(Step("obs", {"sparsity": obs, "schedule": "polynomial"}))
    if obd is not None:
        steps.append(Step("obd", {"sparsity": obd, "schedule": "polynomial"}))
    if hash_ratio is not None:  # before clustering, which then clusters the buckets too
        steps.append(Step("hash", {"ratio": hash_ratio}))
    if cluster is not None:
        steps.append(Step("cluster", {"clusters": cluster}))
    if pq is not None:
        steps.append(Step("pq", parse_pq_flag(pq)))
    if exits is not None:  # last: the heads learn the compressed network's features
        steps.append(Step("exits", {"after": [name.strip() for name in exits.split(",") if name.strip()]}))
    if not steps and teacher is not None:
        steps.append(Step("distill"))
    if not steps:
        raise McuError("nothing to do: give --recipe or at least one of --prune, --obs, --obd, --cluster, "
                       "--lowrank, --flatten, --structured, --hash, --pq, --exits, --teacher")
    return Recipe(steps)


_RUNNERS = {"prune": magnitude_prune, "structured": structured_prune, "lowrank": low_rank,
            "cluster": cluster_weights, "finetune": fine_tune, "flatten": flatten_pass,
            "hash": hash_weights, "pq": product_quantize, "exits": add_exits,
            "obs": functools.partial(hessian_prune, method="obs"),
            "obd": functools.partial(hessian_prune, method="obd")}


def run_step(model, data, step: Step, fit: dict, teacher=None, temperature=4.0, alpha=0.9):
    options = {**fit, **step.options}
    teaching = {"teacher": teacher, "temperature": temperature, "alpha": alpha} if teacher is not None else {}
    if step.name == "distill":
        if teacher is None:
            raise McuError("the distill pass needs a teacher (--teacher or recipe 'teacher')")
        return distill(model, teacher, data, temperature=temperature, alpha=alpha, **options)
    return _RUNNERS[step.name](model, data, **options, **teaching)


def run_recipe(model, data, recipe: Recipe, *, teacher=None, temperature=4.0, alpha=0.9, fit=None,
               after_step=None):
    """Apply every step in order; `after_step(step, model)` is called after each one."""
    fit = {**recipe.fit, **(fit or {})}
    for step in recipe.steps:
        model = run_step(model, data, step, fit, teacher, temperature, alpha)
        if after_step is not None:
            after_step(step, model)
    return model
