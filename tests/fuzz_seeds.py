"""Seed files for the decoder fuzz tests (fuzz/make_seeds.py's valid encodings)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_seeds(folder: Path) -> list[Path]:
    spec = importlib.util.spec_from_file_location("make_seeds", ROOT / "fuzz" / "make_seeds.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(str(folder))
    return sorted(folder.iterdir())
