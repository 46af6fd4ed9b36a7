"""Names and paths from files shown on a terminal: as plain text, never as markup or escapes.

Layer names and paths come from model files and command lines; rich would read `[bold]` or `[/]`
in them as markup (or fail on it), and control characters would reach the terminal as escape
sequences. `shown` gives a rich Text (never parsed for markup) of the visible form.
"""

from __future__ import annotations

import unicodedata

HIDDEN = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")  # controls, format (bidi), unassigned, separators


def visible(text) -> str:
    """``text`` with every control, format or unassigned character written as a \\x/\\u escape."""
    out = []
    for c in str(text):
        if unicodedata.category(c) in HIDDEN:
            out.append(f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}" if ord(c) < 0x10000
                       else f"\\U{ord(c):08x}")
        else:
            out.append(c)
    return "".join(out)


def shown(text):
    """A rich Text of ``visible(text)``: printed literally, brackets and all."""
    from rich.text import Text

    return Text(visible(text))
