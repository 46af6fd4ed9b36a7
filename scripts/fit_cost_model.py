"""Fit the per-core cost model of weight encodings (mcucompress/encode/cost_model.py) on exact
QEMU instruction counts and write the coefficients the package ships.

    cd <repo> && PYTHONPATH=. .venv/bin/python scripts/fit_cost_model.py [--work DIR]

For each core family (m0m3 on lm3s6965evb, m4 on mps2-an386, m55 on mps3-an547) every model of
mcucompress/cost_suite.py: fit_suite() (fully connected and conv2d chains, one weight encoding each) is
exported, cross-built and run; each kernel call is counted on its own. Per (op kind, encoding)
non-negative least squares on relative errors fits the coefficients of the features. Writes
mcucompress/encode/cost_coefficients.json and prints the worst relative error per family.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mcucompress.encode.cost_model import COEFFICIENTS, feature_names, features, priced_as  # noqa: E402
from mcucompress.cost_suite import Measured, fit_suite, layer_features, measure  # noqa: E402

BOARDS = {"m0m3": "lm3s6965evb", "m4": "mps2-an386", "m55": "mps3-an547"}


def with_counts(graph, instructions) -> list[Measured]:
    """Rows of a model measured before (instructions per layer, in order)."""
    rows = []
    for op, n in zip(graph.ops, instructions):
        kind, counts = layer_features(graph, op)
        rows.append(Measured(graph.name, op.name, op.kind, kind, counts, int(n)))
    return rows


def fit(rows, fam: str) -> dict:
    """{"op_kind/encoding": {"features", "coef", "max_error", "layers"}} from measured rows of one
    core family."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r.op_kind, priced_as(r.op_kind, r.encoding))].append(r)
    out = {}
    for (op_kind, kind), group in sorted(groups.items()):
        a = np.stack([features(op_kind, kind, r.counts, fam) for r in group])
        b = np.array([r.instructions for r in group], dtype=np.float64)
        coef, _ = nnls(a / b[:, None], np.ones(len(b)))   # relative errors, coefficients >= 0
        err = np.abs(a @ coef - b) / b
        out[f"{op_kind}/{kind}"] = {"features": list(feature_names(op_kind, kind, fam)),
                                    "coef": [round(float(c), 6) for c in coef],
                                    "max_error": round(float(err.max()), 4), "layers": len(group)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default=None)
    parser.add_argument("--families", default=",".join(BOARDS))
    parser.add_argument("--out", default=str(COEFFICIENTS))
    parser.add_argument("--only", default=None,
                        help="measure only the suite's models whose name holds this text (or one of several, "
                             "comma-separated), and replace only the (op kind, encoding) entries they fit "
                             "(e.g. 'codebook')")
    parser.add_argument("--counts", default=None,
                        help="JSON of measured counts: read when it exists (no QEMU runs), else written")
    args = parser.parse_args()
    previous = json.loads(Path(args.out).read_text()) if Path(args.out).is_file() else {"families": {}}
    families = dict(previous.get("families", {}))
    counts_file = Path(args.counts) if args.counts else None
    cached = json.loads(counts_file.read_text()) if counts_file and counts_file.is_file() else {}
    with tempfile.TemporaryDirectory(prefix="mcc-costfit-") as tmp:
        work = Path(args.work or tmp)
        for fam in args.families.split(","):
            board = BOARDS[fam]
            rows = []
            only = args.only.split(",") if args.only is not None else None
            for graph in [g for g in fit_suite() if only is None or any(t in g.name for t in only)]:
                known = cached.get(fam, {}).get(graph.name)
                rows += measure(graph, board, work / fam) if known is None else with_counts(graph, known)
                cached.setdefault(fam, {})[graph.name] = [r.instructions for r in rows[-len(graph.ops):]]
                print(f"{fam} {graph.name}: " + ", ".join(f"{r.instructions:,}" for r in rows[-len(graph.ops):]),
                      flush=True)
            kept = families.get(fam, {}) if args.only is not None else {}
            families[fam] = {**kept, "board": board, **fit(rows, fam)}
            worst = max(v["max_error"] for k, v in families[fam].items() if k != "board")
            print(f"== {fam} ({board}): worst relative error on the fit suite {100 * worst:.1f}%", flush=True)
    if counts_file:
        counts_file.write_text(json.dumps(cached, indent=1) + "\n")
    Path(args.out).write_text(json.dumps({
        "command": "PYTHONPATH=. .venv/bin/python scripts/fit_cost_model.py",
        "families": families}, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
