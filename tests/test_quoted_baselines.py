"""Quoted baselines said as quoted: the TFLite Micro figures are outside measurements kept in
docs/baselines.yaml. Every doc line that shows one says it is quoted, every table row of a quoted
build carries exactly the yaml's figures for its model, every ratio against TFLM (x fewer/above,
% of its image) says "against the quoted baseline", and no source file holds a copy of them."""

import re

import yaml

from conftest import REPO

BASELINES = REPO / "docs" / "baselines.yaml"
DOCS = [REPO / "README.md", REPO / "docs" / "BENCHMARKS.md", *sorted((REPO / "docs" / "benchmarks").glob("*.md"))]
FIELDS = ("instructions", "flash_bytes", "ram_bytes")
LABEL = "against the quoted baseline"
# a ratio (2.30x, 45%, 4–12 %) in the same paragraph as a TFLM build it is measured against
RATIO = re.compile(r"\d+(?:\.\d+)?(?:x(?!\d)|\s?%)")
AGAINST_TFLM = re.compile(r"TFLM \+ CMSIS-NN|TFLM's (?:reference|image)|(?:at most|below|than) TFLM's")


def _figures() -> dict[str, set[int]]:
    """model -> its quoted figures, over every quoted build."""
    data = yaml.safe_load(BASELINES.read_text())
    figures: dict[str, set[int]] = {}
    for build in data.values():
        for model, entry in build["models"].items():
            figures.setdefault(model, set()).update(int(entry[f]) for f in FIELDS if f in entry)
    return figures


def _spellings(value: int) -> tuple[str, str]:
    return f"{value:,}", str(value)


def test_every_doc_line_with_a_quoted_figure_says_quoted():
    figures = set().union(*_figures().values())
    for doc in DOCS:
        for number, line in enumerate(doc.read_text().splitlines(), 1):
            shown = [v for v in figures if any(re.search(rf"(?<![\d,.]){re.escape(s)}(?![\d,])", line)
                                              for s in _spellings(v))]
            assert not shown or "quoted" in line, f"{doc.name}:{number}: quoted figure {shown} not labelled"


def test_quoted_table_rows_hold_the_yaml_figures():
    figures = _figures()
    rows = 0
    for doc in DOCS:
        for line in doc.read_text().splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not line.startswith("|") or len(cells) < 3 or cells[0] not in figures or "TFLM" not in cells[1]:
                continue
            assert "quoted baseline" in cells[1], f"{doc.name}: TFLM row not labelled quoted: {line}"
            model = cells[0]
            numbers = {int(n.replace(",", "")) for n in re.findall(r"\b\d{1,3}(?:,\d{3})+\b", line)}
            assert numbers and numbers <= figures[model], f"{doc.name}: {line} vs baselines.yaml {figures[model]}"
            rows += 1
    assert rows >= 8  # BENCHMARKS.md, boards.md and kernels.md show both models


def test_every_ratio_against_tflm_is_labelled():
    found = 0
    for doc in DOCS:
        for paragraph in re.split(r"\n\s*\n", doc.read_text()):
            if paragraph.lstrip().startswith("|") or not AGAINST_TFLM.search(paragraph):
                continue
            for item in re.split(r"\n(?=- )", paragraph):  # list items separately
                if AGAINST_TFLM.search(item) and RATIO.search(item) and "NRMSE" not in item:
                    found += 1
                    assert LABEL in " ".join(item.split()), f"{doc.name}: ratio not labelled: {item[:200]}"
    assert found >= 4


def test_no_copy_of_the_figures_outside_the_data_file():
    figures = set().union(*_figures().values())
    any_figure = re.compile("|".join(rf"(?<![\d,]){re.escape(s)}(?![\d,])"
                                     for v in figures for s in _spellings(v)))
    for folder in ("mcucompress", "scripts", "tests", "runtime_c", "templates"):
        for path in (REPO / folder).rglob("*"):
            if path.is_file() and path.suffix in (".py", ".c", ".h", ".yaml", ".txt", ".json", ".j2"):
                copies = any_figure.findall(path.read_text(errors="replace"))
                assert not copies, f"{path.relative_to(REPO)} copies quoted figures {copies}"
