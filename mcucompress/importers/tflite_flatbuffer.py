"""Read a .tflite flatbuffer and check everything a corrupt file could break.

Only this module touches the flatbuffer schema. It returns the unpacked object tree of the one
subgraph together with each tensor's constant data (or None), after checking tensor and buffer
indices, buffer sizes against shapes, and quantization parameter counts.
"""

from __future__ import annotations

import math
from functools import lru_cache
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcucompress.errors import McuError

# numpy dtype per TFLite TensorType code (schema: FLOAT32=0, INT32=2, UINT8=3, INT64=4, INT16=7, INT8=9).
TENSOR_DTYPES = {0: "float32", 2: "int32", 3: "uint8", 4: "int64", 7: "int16", 9: "int8", 10: "float64",
                 1: "float16", 6: "bool"}
INT4_TYPE = 17   # TensorType INT4: constant weights only, read as int8 values -8..7


def _schema():
    from ai_edge_litert import schema_py_generated  # lazy: pulls no TensorFlow
    return schema_py_generated


@lru_cache(maxsize=1)
def _known_tensor_types() -> frozenset[int]:
    return frozenset(v for k, v in vars(_schema().TensorType).items() if not k.startswith("_"))


def builtin_op_names() -> dict[int, str]:
    s = _schema()
    return {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}


@dataclass(frozen=True)
class RawTensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    quant_axis: int
    data: np.ndarray | None
    variable: bool = False  # state kept across invocations (the importer allows it as LSTM state only)
    packed_int4: bool = False  # an INT4 tensor (two values a byte), read into int8 values -8..7


@dataclass(frozen=True)
class RawOp:
    index: int
    opname: str  # BuiltinOperator name, e.g. "CONV_2D"
    inputs: tuple[int, ...]  # -1 = absent optional input
    outputs: tuple[int, ...]
    options: object  # the unpacked *OptionsT, or None


@dataclass(frozen=True)
class RawModel:
    tensors: tuple[RawTensor, ...]
    ops: tuple[RawOp, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    description: str


def read_tflite(path: str | Path) -> RawModel:
    """Parse and validate ``path``; any defect raises McuError naming the file and the problem."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise McuError(f"cannot read model file '{path}': {error.strerror or error}") from None
    if len(raw) < 8 or raw[4:8] != b"TFL3":
        raise McuError(f"'{path}' is not a TFLite model (no TFL3 flatbuffer identifier)")
    s = _schema()
    try:
        model = s.ModelT.InitFromPackedBuf(raw, 0)
    except Exception as error:  # the flatbuffer library raises anything on corrupt offsets
        # struct.error (named just "error") means an offset points past the end of the bytes
        detail = (f"an offset points past the end of its {len(raw):,} bytes" if type(error).__name__ == "error"
                  else type(error).__name__)
        raise McuError(f"'{path}' is a corrupt or truncated TFLite file ({detail})") from None
    return _validate(path, raw, model)


MAX_NAME_CHARS = 120


def printable_name(raw: bytes) -> str:
    """A name from the file as safe one-line text: control, format (bidi) and other invisible
    characters escaped, length capped, so messages and generated comments stay what they seem."""
    text = raw.decode("utf-8", "replace")
    safe = "".join(ch if ch.isprintable() and unicodedata.category(ch) != "Cf"
                   else (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}") for ch in text)
    return safe if len(safe) <= MAX_NAME_CHARS else safe[:MAX_NAME_CHARS] + "..."


def _fail(path: Path, message: str) -> McuError:
    return McuError(f"'{path}': {message}")


def _validate(path: Path, raw: bytes, model) -> RawModel:
    if not model.subgraphs:
        raise _fail(path, "model has no subgraph")
    if len(model.subgraphs) != 1:
        raise _fail(path, f"model has {len(model.subgraphs)} subgraphs; only single-subgraph models are supported")
    sg = model.subgraphs[0]
    tensors_t = sg.tensors or []
    buffers = model.buffers or []
    n = len(tensors_t)

    def check_index(i, what, optional=False):
        i = int(i)
        if optional and i == -1:
            return i
        if not 0 <= i < n:
            raise _fail(path, f"{what} refers to tensor {i}, but the model has {n} tensors")
        return i

    inputs = tuple(check_index(i, "subgraph input") for i in (sg.inputs if sg.inputs is not None else []))
    outputs = tuple(check_index(i, "subgraph output") for i in (sg.outputs if sg.outputs is not None else []))
    if not inputs or not outputs:
        raise _fail(path, "model declares no inputs or no outputs")

    tensors = tuple(_read_tensor(path, raw, i, t, buffers) for i, t in enumerate(tensors_t))

    names = builtin_op_names()
    codes = model.operatorCodes or []
    ops = []
    for k, op in enumerate(sg.operators or []):
        if not 0 <= op.opcodeIndex < len(codes):
            raise _fail(path, f"operator {k} has opcode index {op.opcodeIndex} out of range")
        code = codes[op.opcodeIndex]
        builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        opname = names.get(builtin, f"BUILTIN_{builtin}")
        if opname == "CUSTOM":
            custom = printable_name(code.customCode) if code.customCode else "?"
            opname = f"CUSTOM({custom})"
        op_in = tuple(check_index(i, f"operator {k} ({opname}) input", optional=True)
                      for i in (op.inputs if op.inputs is not None else []))
        op_out = tuple(check_index(i, f"operator {k} ({opname}) output")
                       for i in (op.outputs if op.outputs is not None else []))
        if not op_out:
            raise _fail(path, f"operator {k} ({opname}) has no output")
        ops.append(RawOp(k, opname, op_in, op_out, op.builtinOptions))
    description = printable_name(model.description) if model.description else ""
    return RawModel(tensors, tuple(ops), inputs, outputs, description)


def _read_tensor(path: Path, raw: bytes, index: int, t, buffers) -> RawTensor:
    name = printable_name(t.name) if t.name else f"tensor_{index}"
    shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
    if any(d < 0 for d in shape):
        raise _fail(path, f"tensor '{name}' has a dynamic or negative shape {list(shape)}")
    dtype = TENSOR_DTYPES.get(int(t.type), f"type{int(t.type)}")
    if int(t.type) not in _known_tensor_types():
        raise _fail(path, f"tensor '{name}' has element type code {int(t.type)}, which TFLite does not define")
    if t.sparsity is not None:
        raise _fail(path, f"tensor '{name}' is stored sparse, which is not supported")

    scale: tuple[float, ...] = ()
    zero_point: tuple[int, ...] = ()
    axis = 0
    q = t.quantization
    if q is not None and q.scale is not None and len(q.scale) > 0:
        # float32 values, exactly as stored; Python floats hold them without loss.
        scale = tuple(float(v) for v in np.asarray(q.scale, dtype=np.float32))
        zps = q.zeroPoint if q.zeroPoint is not None and len(q.zeroPoint) else [0] * len(scale)
        zero_point = tuple(int(v) for v in zps)
        axis = int(q.quantizedDimension)
        if len(zero_point) != len(scale):
            raise _fail(path, f"tensor '{name}' has {len(scale)} scales but {len(zero_point)} zero points")
        if len(scale) > 1 and (axis >= len(shape) or shape[axis] != len(scale)):
            raise _fail(path, f"tensor '{name}' has {len(scale)} per-channel scales for shape {list(shape)}")

    data = None
    b = int(t.buffer)
    if not 0 <= b < len(buffers):
        raise _fail(path, f"tensor '{name}' refers to buffer {b}, but the model has {len(buffers)} buffers")
    buf = buffers[b]
    payload = None
    if buf.data is not None and len(buf.data) > 0:
        payload = np.asarray(buf.data, dtype=np.uint8).tobytes()
    elif buf.offset and buf.offset > 1:  # large models keep data after the flatbuffer
        end = int(buf.offset) + int(buf.size)
        if end > len(raw):
            raise _fail(path, f"buffer {b} of tensor '{name}' lies beyond the end of the file (truncated?)")
        payload = raw[int(buf.offset):end]
    if payload is not None and int(t.type) == INT4_TYPE:
        from mcucompress.encode.int4 import unpack_int4
        count = math.prod(shape)
        if len(payload) != (count + 1) // 2:
            raise _fail(path, f"tensor '{name}' holds {len(payload)} bytes but shape {list(shape)} x int4 "
                              f"needs {(count + 1) // 2} (two values a byte)")
        data = unpack_int4(np.frombuffer(payload, dtype=np.uint8), count).reshape(shape)
        data.setflags(write=False)
        return RawTensor(index, name, shape, "int8", scale, zero_point, axis, data, bool(t.isVariable), True)
    if payload is not None:
        if dtype not in TENSOR_DTYPES.values():
            raise _fail(path, f"tensor '{name}' has unsupported element type {dtype}")
        count = math.prod(shape)  # Python ints: crafted dimensions cannot overflow
        expected = count * np.dtype(dtype).itemsize
        if len(payload) != expected:
            raise _fail(path, f"tensor '{name}' holds {len(payload)} bytes but shape {list(shape)} x {dtype} "
                              f"needs {expected}")
        data = np.frombuffer(payload, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype).reshape(shape)
        data.setflags(write=False)
    return RawTensor(index, name, shape, dtype, scale, zero_point, axis, data, bool(t.isVariable))
