"""Compression reports: per-layer statistics, JSON and an HTML page with plots."""

from mcucompress.report.build import build_report, write_json
from mcucompress.report.html import write_html
from mcucompress.report.stats import layer_stats, model_totals

__all__ = ["build_report", "write_json", "write_html", "layer_stats", "model_totals"]
