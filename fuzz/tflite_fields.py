"""Where each interesting field of a .tflite sits in its bytes, so a mutant is one in-place patch.

Unpacking and repacking the flatbuffer object tree costs tens of milliseconds per mutant; a map
of (byte position, struct format, category) built once per corpus entry makes a field mutation
free. Vtable slots and value types are read from the generated schema's accessor methods, so
the map follows the schema the importer reads with.
"""

from __future__ import annotations

import inspect
import math
import re
import struct
from dataclasses import dataclass
from functools import lru_cache

_FORMATS = {"Int8": "b", "Uint8": "B", "Bool": "B", "Int16": "h", "Uint16": "H", "Int32": "i", "Uint32": "I",
            "Int64": "q", "Uint64": "Q", "Float32": "f", "Float64": "d"}
_SCALAR = re.compile(r"Offset\((\d+)\).*?number_types\.(\w+?)Flags, o \+ self\._tab\.Pos", re.S)
_VECTOR = re.compile(r"Offset\((\d+)\).*?number_types\.(\w+?)Flags, a \+", re.S)
_TABLE = re.compile(r"Offset\((\d+)\)")


@dataclass(frozen=True)
class Field:
    pos: int
    fmt: str
    category: str


def _schema():
    from ai_edge_litert import schema_py_generated
    return schema_py_generated


@lru_cache(maxsize=None)
def _layout(cls, method: str) -> tuple[str, int, str | None]:
    """("scalar" | "vector" | "table", vtable offset, struct format) of one accessor method."""
    source = inspect.getsource(getattr(cls, method))
    for kind, pattern in (("scalar", _SCALAR), ("vector", _VECTOR)):
        m = pattern.search(source)
        if m:
            return kind, int(m.group(1)), _FORMATS.get(m.group(2))
    return "table", int(_TABLE.search(source).group(1)), None


@lru_cache(maxsize=None)
def _scalar_methods(cls) -> tuple[str, ...]:
    names = []
    for name, _ in inspect.getmembers(cls, inspect.isfunction):
        if name[0].isupper() and not name.startswith(("GetRootAs", "Init")):
            try:
                if _layout(cls, name)[0] == "scalar" and _layout(cls, name)[2]:
                    names.append(name)
            except (OSError, TypeError, AttributeError):
                continue
    return tuple(names)


def _scalar(obj, method: str, category: str, out: list) -> None:
    kind, slot, fmt = _layout(type(obj), method)
    o = obj._tab.Offset(slot)
    if o and fmt:
        out.append(Field(obj._tab.Pos + o, fmt, category))


def _inputs_outputs(obj, category: str, out: list) -> None:
    _vector(obj, "Inputs", category, out)
    _vector(obj, "Outputs", category, out)


def _vector(obj, method: str, category: str, out: list) -> None:
    kind, slot, fmt = _layout(type(obj), method)
    o = obj._tab.Offset(slot)
    if o and fmt:
        start, size, count = obj._tab.Vector(o), struct.calcsize(fmt), obj._tab.VectorLen(o)
        if start + count * size > len(obj._tab.Bytes):  # a corrupt length: map nothing of it
            raise ValueError("vector beyond the end of the file")
        out.extend(Field(start + i * size, fmt, category) for i in range(count))


def field_map(data: bytes) -> tuple[list[Field], list[tuple[int, int]]]:
    """(patchable scalar fields, (start, length) of every constant buffer's bytes)."""
    s = _schema()
    fields: list[Field] = []
    model = s.Model.GetRootAs(data, 0)
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        _scalar(code, "BuiltinCode", "opcode", fields)
        _scalar(code, "DeprecatedBuiltinCode", "opcode", fields)
    sg = model.Subgraphs(0)
    _inputs_outputs(sg, "graph_io", fields)
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        _vector(t, "Shape", "shape", fields)
        _scalar(t, "Type", "type", fields)
        _scalar(t, "Buffer", "buffer", fields)
        q = t.Quantization()
        if q is not None:
            _vector(q, "Scale", "scale", fields)
            _vector(q, "ZeroPoint", "zero_point", fields)
            _scalar(q, "QuantizedDimension", "quant_axis", fields)
    names = {v: k for k, v in vars(s.BuiltinOptions).items() if not k.startswith("_")}
    for k in range(sg.OperatorsLength()):
        op = sg.Operators(k)
        _scalar(op, "OpcodeIndex", "opcode", fields)
        _inputs_outputs(op, "op_io", fields)
        table = op.BuiltinOptions()
        cls = getattr(s, names.get(op.BuiltinOptionsType(), ""), None)
        if table is not None and cls is not None:
            options = cls()
            options.Init(table.Bytes, table.Pos)
            for method in _scalar_methods(cls):
                _scalar(options, method, "option", fields)
    buffers = []
    for b in range(model.BuffersLength()):
        buf = model.Buffers(b)
        o = buf._tab.Offset(_layout(type(buf), "Data")[1])
        if o and buf._tab.VectorLen(o) and buf._tab.Vector(o) + buf._tab.VectorLen(o) <= len(data):
            buffers.append((buf._tab.Vector(o), buf._tab.VectorLen(o)))
    return fields, buffers


def patch(data: bytearray, field: Field, value) -> None:
    """Write ``value`` into ``field``, wrapped to the field's width for integers."""
    if field.fmt in "fd":
        value = float(value)
        if field.fmt == "f" and math.isfinite(value) and abs(value) > 3.4028234663852886e38:
            value = math.copysign(math.inf, value)  # what a float32 field holds beyond its range
        struct.pack_into("<" + field.fmt, data, field.pos, value)
        return
    bits = 8 * struct.calcsize(field.fmt)
    value = int(value) & ((1 << bits) - 1)
    if field.fmt.islower() and value >= 1 << (bits - 1):
        value -= 1 << bits
    struct.pack_into("<" + field.fmt, data, field.pos, value)


def read(data: bytes, field: Field):
    return struct.unpack_from("<" + field.fmt, data, field.pos)[0]
