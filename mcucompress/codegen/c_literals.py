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


C_KEYWORDS = frozenset((
    "auto break case char const continue default do double else enum extern float for goto if inline "
    "int long register restrict return short signed sizeof static struct switch typedef union unsigned "
    "void volatile while _Bool _Complex _Imaginary _Alignas _Alignof _Atomic _Generic _Noreturn "
    "_Static_assert _Thread_local asm bool true false").split())
# Targets CMake and its generators define themselves: a library of that name cannot be built.
CMAKE_TARGETS = frozenset((
    "all clean help install test package package_source depend edit_cache rebuild_cache "
    "list_install_components install_local install_strip preinstall all_build zero_check run_tests "
    "global_target").split())


def prefix_problem(prefix: str) -> str | None:
    """Why ``prefix`` cannot name a generated model's C API and CMake targets, or None."""
    if not is_c_identifier(prefix):
        return "is not a C identifier"
    if len(prefix) > 32:
        return "is longer than 32 characters"
    if prefix.startswith("_"):
        return "starts with '_' (identifiers reserved for the C implementation)"
    if prefix in C_KEYWORDS:
        return "is a C keyword"
    if prefix.lower() in CMAKE_TARGETS:
        return "is the name of a target CMake defines itself"
    if prefix.lower() == "mcc" or prefix.lower().startswith("mcc_"):
        return "clashes with the runtime's mcc_ names"
    return None
