"""C literal text for numbers and arrays (deterministic, exact).

>>> c_float(0.1)
'0x1.99999ap-4f'
>>> c_int(-2147483648)
'(-2147483647 - 1)'
>>> array_lines([1, -2, 3], per_line=2)
['1, -2,', '3']
"""

from __future__ import annotations

import math
import re

import numpy as np

INT32_MIN = -(1 << 31)


def c_int(value: int) -> str:
    """An int literal; INT32_MIN is written as an expression, since -2147483648 is not one."""
    value = int(value)
    return "(-2147483647 - 1)" if value == INT32_MIN else str(value)


def c_float(value: float) -> str:
    """A float32 value as an exact C99 hexadecimal float literal."""
    value = float(np.float32(value))
    if not math.isfinite(value):
        raise ValueError(f"cannot write {value} as a C float literal")
    if value == 0.0:
        return "0.0f" if math.copysign(1.0, value) > 0 else "-0.0f"
    text = value.hex()  # e.g. 0x1.99999a0000000p-4
    mantissa, exponent = text.split("p")
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    return f"{mantissa}p{exponent}f"


def array_lines(values, per_line: int = 16, formatter=c_int) -> list[str]:
    """Initializer text split into lines; every line but the last ends with a comma."""
    items = [formatter(v) for v in np.asarray(values).ravel().tolist()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return [line + ("," if i < len(lines) - 1 else "") for i, line in enumerate(lines)]


def c_identifier(text: str) -> str:
    """A C identifier derived from free text (letters, digits, underscores; no leading digit)."""
    ident = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return ident if ident and not ident[0].isdigit() else "_" + ident


def is_c_identifier(text: str) -> bool:
    return re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) is not None
