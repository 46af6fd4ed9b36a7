"""The compression report as a plain dict (JSON-ready): per layer before/after, accuracies,
the MicroNet score of both models (report/micronet.py), the stages a recipe went through and
optional sweep points (size, accuracy)."""

from __future__ import annotations

import json
from pathlib import Path

from mcucompress.report.micronet import keras_micronet
from mcucompress.report.stats import layer_stats, model_totals


def build_report(before, after, accuracy_before=None, accuracy_after=None, stages=None, sweep=None,
                 metric="accuracy") -> dict:
    """metric 'accuracy' (classifiers) or 'mse' (regression and autoencoders: the values given as
    accuracy_before/after are then mean squared errors, reported under "mse")."""
    stats_before, stats_after = layer_stats(before), layer_stats(after)
    layers = []
    for name in list(stats_before) + [n for n in stats_after if n not in stats_before]:
        layers.append({"name": name, "before": stats_before.get(name), "after": stats_after.get(name)})
    return {
        "layers": layers,
        "totals": {"before": model_totals(stats_before), "after": model_totals(stats_after)},
        "metric": metric,
        metric: {"before": accuracy_before, "after": accuracy_after},
        "micronet": {"before": keras_micronet(before), "after": keras_micronet(after)},
        "stages": list(stages or []),
        "sweep": list(sweep or []),
    }


def write_json(report: dict, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return path
