"""Numbers given to compression passes from recipes or flags: a YAML typo ("abc", "1e-3", which
PyYAML reads as text) becomes a one-line McuError naming the option, not a ValueError."""

from __future__ import annotations

from mcucompress.errors import McuError


def number(value, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise McuError(f"{what} must be a number, got {value!r}") from None


def whole_number(value, what: str) -> int:
    as_float = number(value, what)
    if isinstance(value, bool) or not as_float.is_integer():  # 2.5, nan, inf
        raise McuError(f"{what} must be a whole number, got {value!r}")
    return int(as_float)
