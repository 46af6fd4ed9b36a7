"""The user's cache folder for builds (host builds, firmware workspaces), keyed by content, so a
second run of the same tree reuses the first run's work."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(name: str) -> Path:
    """$MCUCOMPRESS_CACHE/NAME, else $XDG_CACHE_HOME/mcucompress/NAME (~/.cache by default)."""
    base = os.environ.get("MCUCOMPRESS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mcucompress")
    return Path(base) / name
