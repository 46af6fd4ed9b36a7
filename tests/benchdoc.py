"""docs/BENCHMARKS.md read as data: its sections, tables and numbers, and the drift each section
allows. The one parser of the doc's figures, for the tests that hold the doc to what the scripts
measure (tests/test_benchmarks_doc.py, tests/test_benchmarks_doc_scripts.py): the figures stay in
the doc, never copied into a test."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "BENCHMARKS.md"
NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")
DRIFT_LINE = "Drift allowed"


def section(heading: str, text: str | None = None) -> str:
    """The doc from the line that starts with ``heading`` to the next heading of the same or a
    higher level."""
    text = DOC.read_text() if text is None else text
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    level = len(heading) - len(heading.lstrip("#"))
    end = next((i for i in range(start + 1, len(lines))
                if lines[i].startswith("#") and len(lines[i]) - len(lines[i].lstrip("#")) <= level), len(lines))
    return "\n".join(lines[start:end])


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def tables(text: str) -> list[list[list[str]]]:
    """Every markdown table of ``text``: its rows as lists of cells, the header row first, the
    separator row left out."""
    found, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            row = cells(line)
            if not all(re.fullmatch(r":?-+:?", c) for c in row):
                current.append(row)
        elif current:
            found.append(current)
            current = []
    return found


def table_rows(heading: str, cells_per_row: int, text: str | None = None) -> list[list[str]]:
    """The rows (header rows too) of the section's tables that have ``cells_per_row`` cells."""
    return [row for table in tables(section(heading, text)) for row in table if len(row) == cells_per_row]


def numbers(cell: str) -> list[float]:
    """The numbers written in a cell, in order ("1,430,902" -> 1430902.0, "-0.25" -> -0.25)."""
    return [float(m.replace(",", "")) for m in NUMBER.findall(cell.replace("*", ""))]


def integer(cell: str) -> int:
    return int(cell.strip().strip("*").replace(",", ""))


def drift_headings(text: str | None = None) -> list[str]:
    """The headings of the sections that declare a "Drift allowed" line."""
    text = DOC.read_text() if text is None else text
    found, heading = [], None
    for line in text.splitlines():
        if line.startswith("#"):
            heading = line
        elif line.startswith(DRIFT_LINE) and heading and heading not in found:
            found.append(heading)
    return found


def allowed_drift(heading: str, text: str | None = None) -> dict[str, tuple[float, str]]:
    """What the section's "Drift allowed" line declares: figure -> (amount, unit), unit "exact",
    "points" or "%". ``Drift allowed (...): instructions, flash and RAM exact; accuracy 0.5 points.``
    gives {"instructions": (0, "exact"), "flash": (0, "exact"), "ram": (0, "exact"),
    "accuracy": (0.5, "points")}."""
    body = section(heading, text)
    if DRIFT_LINE not in body:
        raise AssertionError(f"no '{DRIFT_LINE}' line in the section {heading!r} of {DOC.name}")
    paragraph = " ".join(body[body.index(DRIFT_LINE):].split("\n\n", 1)[0].split())
    # "Drift allowed (which tests, what they leave out): clauses." -- the parenthesis may hold colons
    declared = paragraph.split("): ", 1)[1] if paragraph.startswith(DRIFT_LINE + " (") else paragraph.split(": ", 1)[1]
    drift = {}
    for clause in declared.strip().rstrip(".").split(";"):
        clause = clause.strip()
        exact = re.fullmatch(r"(.+) exact", clause)
        if exact:
            for name in re.split(r",\s*|\s+and\s+", exact.group(1)):
                drift[name.strip().lower()] = (0.0, "exact")
            continue
        amount = re.fullmatch(r"(.+?) (\d+(?:\.\d+)?) ?(points?|%)", clause)
        if not amount:
            raise AssertionError(f"cannot read the drift clause {clause!r} in {heading!r}")
        unit = "%" if amount.group(3) == "%" else "points"
        drift[amount.group(1).strip().lower()] = (float(amount.group(2)), unit)
    return drift


def within(documented: float, measured: float, drift: tuple[float, str]) -> bool:
    amount, unit = drift
    if unit == "%":
        return abs(measured - documented) <= amount / 100 * abs(documented)
    return abs(measured - documented) <= amount + 1e-9
