"""The compression report as one self-contained HTML page with PNG plots embedded (base64):
weight histograms before/after per layer, sparsity per layer, and accuracy versus size."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from mcucompress.compression.layers import kernel_of, to_numpy  # noqa: E402


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _kernels(model) -> dict[str, np.ndarray]:
    return {layer.name: to_numpy(kernel_of(layer)).reshape(-1)
            for layer in model.layers if kernel_of(layer) is not None}


def histogram_plot(before, after) -> str:
    kb, ka = _kernels(before), _kernels(after)
    names = list(kb) + [n for n in ka if n not in kb]
    figure, axes = plt.subplots(len(names), 1, figsize=(7, 2.2 * len(names)), squeeze=False)
    for axis, name in zip(axes[:, 0], names):
        for values, label in ((kb.get(name), "before"), (ka.get(name), "after")):
            if values is not None:
                axis.hist(values, bins=100, alpha=0.6, label=label, log=True)
        axis.set_title(f"{name} weights", fontsize=9)
        axis.legend(fontsize=8)
    figure.tight_layout()
    return _png(figure)


def sparsity_plot(report) -> str:
    names = [row["name"] for row in report["layers"]]
    after = [(row["after"] or {}).get("sparsity", 0.0) for row in report["layers"]]
    before = [(row["before"] or {}).get("sparsity", 0.0) for row in report["layers"]]
    figure, axis = plt.subplots(figsize=(7, 3))
    x = np.arange(len(names))
    axis.bar(x - 0.2, before, 0.4, label="before")
    axis.bar(x + 0.2, after, 0.4, label="after")
    axis.set_xticks(x, names, rotation=30, fontsize=8)
    axis.set_ylabel("kernel sparsity")
    axis.set_ylim(0, 1)
    axis.legend(fontsize=8)
    return _png(figure)


def tradeoff_plot(points) -> str:
    """Points with the same 'series' are joined by a line (a sweep); others are plain markers."""
    figure, axis = plt.subplots(figsize=(7, 3.5))
    series = {}
    for point in sorted(points, key=lambda p: p["storage_bytes"]):
        series.setdefault(point.get("series"), []).append(point)
    for name, members in series.items():
        sizes = [p["storage_bytes"] / 1024 for p in members]
        accuracies = [100 * p["accuracy"] for p in members]
        axis.plot(sizes, accuracies, "o-" if name else "s", label=name or "single passes")
        for size, acc, point in zip(sizes, accuracies, members):
            axis.annotate(point["label"], (size, acc), fontsize=7, xytext=(3, 3), textcoords="offset points")
    axis.legend(fontsize=8)
    axis.set_xscale("log")
    axis.set_xlabel("estimated weight storage (KiB)")
    axis.set_ylabel("accuracy (%)")
    axis.grid(True, alpha=0.3)
    return _png(figure)


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if value < 10 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else html.escape(str(value))


_COLUMNS = ("params", "sparsity", "distinct_values", "bits_per_weight", "rank", "storage_bytes")


def _table(report) -> str:
    head = "".join(f"<th>{c} before</th><th>{c} after</th>" for c in _COLUMNS)
    rows = []
    for row in report["layers"]:
        cells = "".join(f"<td>{_fmt((row['before'] or {}).get(c))}</td><td>{_fmt((row['after'] or {}).get(c))}</td>"
                        for c in _COLUMNS)
        rows.append(f"<tr><td>{html.escape(row['name'])}</td>{cells}</tr>")
    return f"<table><tr><th>layer</th>{head}</tr>{''.join(rows)}</table>"


def _micronet_line(micronet) -> str:
    if not micronet:
        return ""
    before, after = micronet["before"], micronet["after"]
    if "score" not in before or "score" not in after:
        return f"<p>MicroNet score: not computed ({html.escape(before.get('error') or after.get('error', ''))})</p>"
    return (f"<p>MicroNet score ({html.escape(after['track'])} track, reference {html.escape(after['reference'])}"
            f" scores 2): {before['score']:.4g} → {after['score']:.4g} (effective 32-bit parameters "
            f"{before['params']:,.0f} → {after['params']:,.0f}, math ops {before['ops']:,.0f} → {after['ops']:,.0f})</p>")


def write_html(report: dict, before, after, path) -> Path:
    """Write the page for `report` (from build_report) comparing models `before` and `after`."""
    metric = report.get("metric", "accuracy")
    quality = report[metric]
    quality_label = "Accuracy" if metric == "accuracy" else "Mean squared error (reconstruction / regression)"
    totals = report["totals"]
    points = report["sweep"] or report["stages"]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>mcucompress compression report</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}</style></head><body>",
        "<h1>Compression report</h1>",
        f"<p>{quality_label} before: {_fmt(quality['before'])} &nbsp; after: {_fmt(quality['after'])}</p>",
        f"<p>Parameters: {_fmt(totals['before']['params'])} → {_fmt(totals['after']['params'])}; "
        f"kernel sparsity {totals['after']['sparsity']:.3f}; estimated storage "
        f"{totals['before']['storage_bytes'] / 1024:.1f} KiB → {totals['after']['storage_bytes'] / 1024:.1f} KiB</p>",
        _micronet_line(report.get("micronet")),
        _table(report),
        "<h2>Sparsity per layer</h2>", f"<img src='data:image/png;base64,{sparsity_plot(report)}'>",
    ]
    if any(p.get("accuracy") is not None for p in points):
        kind = "sweep" if report["sweep"] else "stages"
        usable = [p for p in points if p.get("accuracy") is not None]
        parts += [f"<h2>Accuracy versus size ({kind})</h2>", f"<img src='data:image/png;base64,{tradeoff_plot(usable)}'>"]
    parts += ["<h2>Weight histograms</h2>", f"<img src='data:image/png;base64,{histogram_plot(before, after)}'>",
              "</body></html>"]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts))
    return path
