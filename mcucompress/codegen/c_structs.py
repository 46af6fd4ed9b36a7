"""C99 designated initializers for the runtime's structs, checked against their declarations.

A params dataclass says which value goes in which C field (``c_fields()``, a dict in the struct's
field order, nested dicts for nested structs); ``designated(ctype, fields)`` writes
``{.input_offset = 128, .stride = {.h = 1, .w = 1}, ...}`` after checking that the names are
exactly the fields ``runtime_c/include/mcc.h`` declares, in order. A renamed, added or reordered
C field is then an export-time error naming the struct, not a silently zeroed member.

>>> designated("mcc_tile", {"h": 2, "w": 1})
'{.h = 2, .w = 1}'
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from mcucompress.codegen.c_literals import c_float, c_int
from mcucompress.errors import McuError
from mcucompress.resources import runtime_dir

HEADER = "include/mcc.h"
_STRUCT = re.compile(r"typedef\s+struct\s*\{(?P<body>[^{}]*)\}\s*(?P<name>\w+)\s*;")
_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_MEMBER = re.compile(r"^(?P<type>[\w\s\*]*?[\w\*])\s*\**\s*(?P<name>\w+)\s*(\[[^\]]*\])?$")


@lru_cache(maxsize=None)
def struct_fields() -> dict[str, tuple[tuple[str, str], ...]]:
    """Struct name -> ((member type, member name), ...) of every typedef struct in mcc.h."""
    text = _COMMENT.sub("", (runtime_dir() / HEADER).read_text())
    structs = {}
    for match in _STRUCT.finditer(text):
        members = []
        for declaration in filter(None, (d.strip() for d in match["body"].split(";"))):
            member = _MEMBER.match(" ".join(declaration.split()))
            if member is None:
                raise McuError(f"{HEADER}: cannot read member '{declaration}' of {match['name']}")
            members.append((member["type"].replace("const", "").replace("*", "").strip(), member["name"]))
        structs[match["name"]] = tuple(members)
    return structs


def _value(ctype: str, value) -> str:
    if isinstance(value, dict):
        return designated(ctype, value)
    if isinstance(value, str):  # a C expression: an array's name, a macro
        return value
    if isinstance(value, (bool, np.bool_)):
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return c_int(value)
    if isinstance(value, (float, np.floating)):
        return c_float(value)
    raise McuError(f"cannot write a {type(value).__name__} into a C {ctype}")


def designated(ctype: str, fields: dict) -> str:
    """``{.name = value, ...}`` for struct ``ctype``; McuError unless ``fields`` names exactly
    the struct's members in declaration order."""
    members = struct_fields().get(ctype)
    if members is None:
        raise McuError(f"{ctype} is not a struct declared in {HEADER}")
    names = tuple(name for _, name in members)
    if tuple(fields) != names:
        raise McuError(f"{ctype} initializer names ({', '.join(fields)}) differ from {HEADER}'s fields "
                       f"({', '.join(names)})")
    return "{" + ", ".join(f".{name} = {_value(member_type, fields[name])}"
                           for member_type, name in members) + "}"

