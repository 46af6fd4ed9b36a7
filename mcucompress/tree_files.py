"""The file list of an exported tree: every file an export wrote, with its SHA-256.

manifest.json carries it under "files" so that a later export may replace the folder only when
nothing in it is the user's: a file added, changed or not written by mcucompress keeps the
folder (and everything in it) where it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

MANIFEST = "manifest.json"
FILES_KEY = "files"


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _entries(folder: Path):
    """(relative posix path, lstat) of everything below ``folder`` that is not a directory,
    sorted; symbolic links are listed, never followed."""
    found = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        base = Path(root)
        for name in dirs:  # a link to a folder shows up among dirs: it is an entry, not a walk
            if (base / name).is_symlink():
                files.append(name)
        for name in files:
            path = base / name
            found.append((path.relative_to(folder).as_posix(), os.lstat(path)))
    return sorted(found)


def file_hashes(folder: Path) -> dict[str, str]:
    """{relative path: sha256} of every regular file below ``folder`` except the manifest."""
    return {rel: _sha256_of(folder / rel) for rel, st in _entries(folder)
            if rel != MANIFEST and stat.S_ISREG(st.st_mode)}


def first_foreign_file(folder: Path) -> str | None:
    """None when every file below ``folder`` is listed in its manifest with the same SHA-256 (an
    export may replace it); otherwise the first file that is not (relative path and why)."""
    try:
        listed = json.loads((folder / MANIFEST).read_text())[FILES_KEY]
    except (OSError, ValueError, TypeError, KeyError):
        listed = None
    if not isinstance(listed, dict):
        entries = _entries(folder)
        return (f"{entries[0][0]} (no file list of an mcucompress export in {MANIFEST})" if entries
                else None)
    for rel, st in _entries(folder):
        if rel == MANIFEST:
            continue
        if not stat.S_ISREG(st.st_mode) or rel not in listed:
            return f"{rel} (not written by mcucompress export)"
        if _sha256_of(folder / rel) != listed[rel]:
            return f"{rel} (changed since the export wrote it)"
    return None
