"""Coverage-guided, in-process fuzzing of the .tflite and .keras importers with atheris.

    python fuzz/importers.py tflite WORK_DIR SEED_DIR [libFuzzer flags, e.g. -runs=100000]
    python fuzz/importers.py keras  WORK_DIR SEED_DIR [libFuzzer flags]

Every input is handed to the importer (``load_tflite`` / ``load_keras``). A McuError is the
expected refusal of a bad file. Anything else is a finding: an exception of another type is
written to WORK_DIR/findings/ with its traceback and the run goes on; a hang or a crash stops
libFuzzer, which writes the input to WORK_DIR/findings/ (``-timeout`` bounds each case).
Accepted .tflite models with a structure not seen before (ops, attributes, shapes, quantization
rounded to powers of two) are kept in WORK_DIR/accepted/ for the differential check in
scripts/fuzz_importers.py. WORK_DIR/stats.json counts cases, refusals and acceptances.

Mutations are structure-aware (a flatbuffer field, a tensor's scale, a config value, a weight)
most of the time, libFuzzer's byte mutations otherwise; coverage of the mcucompress package
(atheris instruments it on import) decides which mutants join the corpus.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import random
import sys
import tempfile
import traceback
import warnings
import zipfile
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import tflite_fields  # noqa: E402

STATS_EVERY = 50

INTERESTING_INTS = (0, 1, -1, 2, 3, 4, 7, 8, 16, 100, 127, 128, -128, -129, 255, 256, 4096, 65535,
                    1 << 20, (1 << 31) - 1, -(1 << 31))
INTERESTING_FLOATS = (math.nan, math.inf, -math.inf, 0.0, -0.0, -1.0, 1e-45, 1e-38, 1e-30, 1e-10,
                      1.0 / 256, 0.5, 1.0, 2.0, 1e10, 1e30, 3.4e38)


# ------------------------------------------------------------------------------------------------
# .tflite: mutations of the unpacked flatbuffer object tree
# ------------------------------------------------------------------------------------------------

def _schema():
    from ai_edge_litert import schema_py_generated
    return schema_py_generated


def _pack(model) -> bytes:
    import flatbuffers

    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _as_list(values) -> list:
    return [] if values is None else [v.item() if hasattr(v, "item") else v for v in values]


def _pick(rng: random.Random, items):
    items = list(items)
    return rng.choice(items) if items else None


def _int_like(rng: random.Random, current: int) -> int:
    if rng.random() < 0.5:  # near the valid value: mutants that are still accepted reach the kernels
        return current + rng.choice((-3, -2, -1, 1, 2, 3))
    return rng.choice((rng.choice(INTERESTING_INTS), current * 2, rng.randint(-300, 300)))


def _float_like(rng: random.Random, current: float) -> float:
    if rng.random() < 0.5:
        return current * rng.choice((2.0 ** rng.randint(-4, 4), rng.uniform(0.5, 2.0)))
    return rng.choice((rng.choice(INTERESTING_FLOATS), current * 2.0 ** rng.randint(-80, 80), -current))


def _mutate_scale(rng, model, sg) -> None:
    t = _pick(rng, (t for t in sg.tensors if t.quantization is not None and t.quantization.scale is not None))
    if t is None:
        return
    q = t.quantization
    scales = _as_list(q.scale)
    if scales:
        i = rng.randrange(len(scales))
        scales[i] = _float_like(rng, scales[i])
    q.scale = scales


def _mutate_zero_point(rng, model, sg) -> None:
    t = _pick(rng, (t for t in sg.tensors if t.quantization is not None and t.quantization.zeroPoint is not None))
    if t is None:
        return
    zps = _as_list(t.quantization.zeroPoint)
    if zps:
        i = rng.randrange(len(zps))
        zps[i] = _int_like(rng, zps[i])
    t.quantization.zeroPoint = zps


def _mutate_quant_layout(rng, model, sg) -> None:
    t = _pick(rng, (t for t in sg.tensors if t.quantization is not None))
    if t is None:
        return
    q = t.quantization
    action = rng.randrange(4)
    if action == 0:
        q.quantizedDimension = rng.choice((-1, 0, 1, 2, 3, 4, 9))
    elif action == 1 and q.scale is not None:  # one scale more or fewer
        scales, zps = _as_list(q.scale), _as_list(q.zeroPoint)
        if rng.random() < 0.5 and scales:
            scales.pop(), zps and zps.pop()
        else:
            scales.append(scales[-1] if scales else 0.1)
            zps.append(0)
        q.scale, q.zeroPoint = scales, zps
    elif action == 2:
        other = _pick(rng, sg.tensors)
        t.quantization = other.quantization
    else:
        t.quantization = None


def _mutate_shape(rng, model, sg) -> None:
    t = _pick(rng, sg.tensors)
    shape = _as_list(t.shape)
    action = rng.randrange(5)
    if shape and action < 3:
        i = rng.randrange(len(shape))
        shape[i] = rng.choice((0, -1, 1, shape[i] + 1, shape[i] - 1, shape[i] * 2, 4096, 1 << 16,
                               (1 << 31) - 1, rng.randint(1, 64)))
    elif action == 3:
        shape.insert(rng.randrange(len(shape) + 1), rng.choice((1, 2, 3)))
    elif shape:
        shape.pop(rng.randrange(len(shape)))
    t.shape = shape


def _mutate_tensor_fields(rng, model, sg) -> None:
    t = _pick(rng, sg.tensors)
    action = rng.randrange(3)
    if action == 0:
        t.type = rng.choice((0, 1, 2, 3, 4, 6, 7, 9, 10, 17, 127))
    elif action == 1:
        t.buffer = rng.choice((0, -1, len(model.buffers), rng.randrange(max(1, len(model.buffers)))))
    else:
        t.isVariable = not t.isVariable


def _mutate_buffer(rng, model, sg) -> None:
    b = _pick(rng, (b for b in model.buffers if b.data is not None and len(b.data)))
    if b is None:
        return
    data = bytearray(np.asarray(b.data, dtype=np.uint8).tobytes())
    action = rng.randrange(5)
    if action == 0:
        del data[rng.randrange(len(data)):]
    elif action == 1:
        data += bytes(rng.randrange(1, 9))
    elif action == 2:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif action == 3:  # extreme values everywhere: int8 weights at +-127, int32 biases huge
        fill = rng.choice((b"\x7f", b"\x80", b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80"))
        data = bytearray((fill * (len(data) // len(fill) + 1))[:len(data)])
    else:
        i = rng.randrange(len(data))
        data[i:i + 4] = rng.randbytes(4)
    b.data = np.frombuffer(bytes(data), dtype=np.uint8)


def _mutate_options(rng, model, sg) -> None:
    op = _pick(rng, (op for op in sg.operators if op.builtinOptions is not None))
    if op is None:
        return
    if rng.random() < 0.15:  # options of another operator type
        other = _pick(rng, (o for o in sg.operators if o.builtinOptions is not None))
        op.builtinOptions, op.builtinOptionsType = other.builtinOptions, other.builtinOptionsType
        return
    fields = [k for k, v in vars(op.builtinOptions).items() if isinstance(v, (int, float, bool))]
    if not fields:
        return
    name = rng.choice(fields)
    value = getattr(op.builtinOptions, name)
    if isinstance(value, bool):
        setattr(op.builtinOptions, name, not value)
    elif isinstance(value, float):
        setattr(op.builtinOptions, name, _float_like(rng, value))
    else:
        setattr(op.builtinOptions, name, rng.choice((_int_like(rng, value), rng.randrange(8))))


def _mutate_wiring(rng, model, sg) -> None:
    n = len(sg.tensors)
    action = rng.randrange(6)
    op = _pick(rng, sg.operators)
    if op is None:
        return
    if action < 2:
        ids = _as_list(op.inputs if action == 0 else op.outputs)
        if ids:
            ids[rng.randrange(len(ids))] = rng.choice((-1, n, rng.randrange(n)))
        if action == 0:
            op.inputs = ids
        else:
            op.outputs = ids
    elif action == 2:
        op.opcodeIndex = rng.choice((rng.randrange(len(model.operatorCodes)), len(model.operatorCodes), -1))
    elif action == 3:
        code = _pick(rng, model.operatorCodes)
        code.builtinCode = code.deprecatedBuiltinCode = rng.choice((0, 1, 3, 4, 9, 14, 17, 18, 22, 25, 34, 40, 126))
    elif action == 4:
        ports = _as_list(sg.inputs if rng.random() < 0.5 else sg.outputs)
        if ports:
            ports[0] = rng.randrange(n)
        if rng.random() < 0.5:
            sg.inputs = ports
        else:
            sg.outputs = ports
    else:
        ops = list(sg.operators)
        if rng.random() < 0.5 and len(ops) > 1:
            ops.pop(rng.randrange(len(ops)))
        elif len(ops) > 1:
            i, j = rng.randrange(len(ops)), rng.randrange(len(ops))
            ops[i], ops[j] = ops[j], ops[i]
        sg.operators = ops


TFLITE_MUTATIONS = (_mutate_scale, _mutate_scale, _mutate_zero_point, _mutate_zero_point, _mutate_quant_layout,
                    _mutate_shape, _mutate_shape, _mutate_tensor_fields, _mutate_buffer, _mutate_buffer,
                    _mutate_options, _mutate_options, _mutate_options, _mutate_wiring)


def mutate_tflite_tree(data: bytes, rng: random.Random) -> bytes | None:
    """A mutant made on the unpacked object tree (fields the file omits, lengths, wiring), or
    None when ``data`` does not unpack. Slow: tens of milliseconds."""
    try:
        model = _schema().ModelT.InitFromPackedBuf(data, 0)
        sg = model.subgraphs[0]
        if not sg.tensors or not model.buffers:
            return None
    except Exception:
        return None
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        rng.choice(TFLITE_MUTATIONS)(rng, model, sg)
    try:
        return _pack(model)
    except Exception:  # a value the schema cannot hold (e.g. 2^31 in an int32 field)
        return None


_FIELD_MAPS: dict[bytes, tuple] = {}
_PATCH_CATEGORIES = ("scale", "scale", "scale", "zero_point", "zero_point", "quant_axis", "shape", "shape",
                     "type", "buffer", "option", "option", "option", "op_io", "graph_io", "opcode",
                     "data", "data", "data")


def _fields(data: bytes):
    key = hashlib.sha1(data).digest()
    if key not in _FIELD_MAPS:
        if len(_FIELD_MAPS) > 4000:
            _FIELD_MAPS.clear()
        try:
            fields, buffers = tflite_fields.field_map(data)
        except Exception:
            fields, buffers = None, None
        by_category: dict[str, list] = {}
        for f in fields or ():
            by_category.setdefault(f.category, []).append(f)
        _FIELD_MAPS[key] = (by_category, buffers) if fields is not None else None
    return _FIELD_MAPS[key]


def _patch_value(rng: random.Random, category: str, current):
    if isinstance(current, float):
        return _float_like(rng, current)
    if category == "quant_axis":
        return rng.choice((-1, 0, 1, 2, 3, 4, 5, 100))
    if category == "shape":
        return rng.choice((0, -1, 1, current + 1, current - 1, current * 2, 4096, 1 << 16, (1 << 31) - 1,
                           rng.randint(1, 64)))
    if category == "type":
        return rng.choice((0, 1, 2, 3, 4, 6, 7, 9, 10, 17, 127))
    if category in ("buffer", "op_io", "graph_io"):
        return rng.choice((-1, 0, current + 1, current - 1, rng.randrange(64), 1 << 20))
    if category == "opcode":
        return rng.choice((0, 1, 3, 4, 9, 14, 17, 18, 22, 25, 34, 40, 126, current + 1, -1, 300))
    return rng.choice((_int_like(rng, current), rng.randrange(8)))


def _patch_data(rng: random.Random, data: bytearray, start: int, length: int) -> None:
    action = rng.randrange(3)
    if action == 0:
        for _ in range(rng.randint(1, 8)):
            data[start + rng.randrange(length)] = rng.randrange(256)
    elif action == 1:  # extreme values everywhere: int8 weights at +-127, int32 biases huge
        fill = rng.choice((b"\x7f", b"\x80", b"\x81", b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80"))
        data[start:start + length] = (fill * (length // len(fill) + 1))[:length]
    else:
        i = start + rng.randrange(length)
        chunk = rng.randbytes(4)[:start + length - i]
        data[i:i + len(chunk)] = chunk


def mutate_tflite(data: bytes, rng: random.Random) -> bytes | None:
    """A structure-aware mutant of a .tflite, or None when ``data`` does not parse: mostly 1-3
    in-place patches of fields and constant data, sometimes an edit of the object tree."""
    mapped = _fields(data)
    if mapped is None or rng.random() < 0.15:
        return mutate_tflite_tree(data, rng)
    by_category, buffers = mapped
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3))):
        category = rng.choice(_PATCH_CATEGORIES)
        if category == "data":
            if buffers:
                _patch_data(rng, out, *rng.choice(buffers))
            continue
        if category not in by_category:
            continue
        field = rng.choice(by_category[category])
        tflite_fields.patch(out, field, _patch_value(rng, category, tflite_fields.read(out, field)))
    return bytes(out)


# ------------------------------------------------------------------------------------------------
# .keras: mutations of the zip's config.json and weights
# ------------------------------------------------------------------------------------------------

def _json_nodes(node, path=()):
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _json_nodes(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _json_nodes(v, path + (i,))


def _json_value(rng: random.Random, current):
    if isinstance(current, bool):
        return not current
    if isinstance(current, int):
        return _int_like(rng, current)
    if isinstance(current, float):
        return rng.choice((_float_like(rng, current), "nan"))
    if isinstance(current, str):
        return rng.choice(("", current + "*", current[::-1], "relu", "linear", "same", "valid", "float16",
                           "channels_first", "Dense", "Conv2D", "Lambda", "os.system", "\u202e" + current,
                           "a" * 300, current.upper()))
    if isinstance(current, list):
        return rng.choice(([], current + current[:1], current[:-1], [None], [0] * len(current)))
    if isinstance(current, dict):
        return rng.choice(({}, None, {"class_name": "Dense", "config": {}}))
    return rng.choice((0, "", [], {}, 1.5))


def _set_path(root, path, value):
    node = root
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _mutate_keras_config(rng, config: dict) -> dict:
    nodes = [(p, v) for p, v in _json_nodes(config) if p]
    path, value = rng.choice(nodes)
    if rng.random() < 0.1 and isinstance(value, dict) and value:
        del value[rng.choice(list(value))]
    else:
        _set_path(config, path, _json_value(rng, value))
    return config


# HDF5 files h5py may reopen: the seeds' and those h5py itself wrote. The HDF5 library can crash
# on a byte-damaged file, which would stop the fuzzer inside the mutator, not the importer.
_WELL_FORMED_H5: set[bytes] = set()


def _mutate_keras_weights(rng, data: bytes) -> bytes:
    """Change one weight array of the HDF5 file: NaN/inf/huge values or a wrong shape."""
    import h5py

    if hashlib.sha1(data).digest() not in _WELL_FORMED_H5:
        raise ValueError("not an HDF5 file this fuzzer knows to be well formed")

    with tempfile.NamedTemporaryFile(suffix=".h5") as tmp:
        tmp.write(data)
        tmp.flush()
        with h5py.File(tmp.name, "r+") as f:
            names = []
            f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
            if not names:
                return data
            name = rng.choice(names)
            values = np.array(f[name])
            action = rng.randrange(4)
            if action == 0 and values.size and values.dtype.kind == "f":
                values.flat[rng.randrange(values.size)] = rng.choice((np.nan, np.inf, -np.inf, 1e38))
                f[name][...] = values
            elif action == 1 and values.dtype.kind == "f":
                f[name][...] = values * rng.choice((0.0, -1.0, 1e30, 1e-30))
            else:  # another shape
                del f[name]
                shape = list(values.shape) or [1]
                shape[rng.randrange(len(shape))] += rng.choice((-1, 1))
                f.create_dataset(name, data=np.zeros([max(0, d) for d in shape], dtype=values.dtype))
        written = Path(tmp.name).read_bytes()
    if len(_WELL_FORMED_H5) < 100_000:
        _WELL_FORMED_H5.add(hashlib.sha1(written).digest())
    return written


def mutate_keras(data: bytes, rng: random.Random) -> bytes | None:
    """A structure-aware mutant of a .keras zip, or None when ``data`` is not one."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = {name: z.read(name) for name in z.namelist()}
        config = json.loads(members["config.json"])
    except Exception:
        return None
    choice = rng.random()
    if 0.7 <= choice < 0.9 and hashlib.sha1(members.get("model.weights.h5", b"")).digest() not in _WELL_FORMED_H5:
        choice = 0.0  # a config mutation instead
    try:
        if choice < 0.7:
            for _ in range(rng.choice((1, 1, 2))):
                config = _mutate_keras_config(rng, config)
            members["config.json"] = json.dumps(config).encode()
        elif choice < 0.9 and hashlib.sha1(members.get("model.weights.h5", b"")).digest() in _WELL_FORMED_H5:
            members["model.weights.h5"] = _mutate_keras_weights(rng, members["model.weights.h5"])
        else:
            name = rng.choice(sorted(members))
            blob = bytearray(members[name])
            for _ in range(rng.randint(1, 4)):
                if blob:
                    blob[rng.randrange(len(blob))] = rng.randrange(256)
            members[name] = bytes(blob)
    except Exception:
        return None
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, blob in members.items():
            z.writestr(name, blob)
    return out.getvalue()


# ------------------------------------------------------------------------------------------------
# The fuzz target
# ------------------------------------------------------------------------------------------------

def structure_key(graph) -> str:
    """Ops, attributes, shapes and quantization rounded to powers of two (zero points to 16s):
    two mutants with the same key exercise the same generated code paths."""
    parts = []
    for op in graph.ops:
        parts.append(f"{op.kind}{sorted(op.attrs.items())}")
        for name in (*op.inputs, *op.outputs):
            if name is None:
                continue
            t = graph.tensors[name]
            q = t.quant
            quant = "" if q is None else (
                f"{len(q.scale)}:{math.floor(math.log2(q.scale[0]))}:{int(q.zero_point[0]) // 16}")
            parts.append(f"{t.shape}{t.dtype}{quant}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


class Target:
    """One importer under test: loads a case, classifies the outcome, keeps the counts."""

    def __init__(self, kind: str, work: Path, runs: int | None = None, max_accepted: int = 3000):
        self.kind, self.work = kind, work
        self.findings, self.accepted_dir = work / "findings", work / "accepted"
        self.findings.mkdir(parents=True, exist_ok=True)
        self.accepted_dir.mkdir(parents=True, exist_ok=True)
        self.case = Path(tempfile.mkdtemp(prefix="fuzz-case-")) / ("case.tflite" if kind == "tflite" else "case.keras")
        self.stats = {"kind": kind, "cases": 0, "refused": 0, "accepted": 0, "tracebacks": 0, "structures": 0}
        if (work / "stats.json").is_file():  # a restarted run goes on counting
            self.stats.update(json.loads((work / "stats.json").read_text()))
        self.seen_structures: set[str] = {p.stem for p in self.accepted_dir.glob("*.tflite")}
        self.seen_findings: set[str] = set()
        self.max_accepted = max_accepted
        self.runs = runs  # libFuzzer exits from C after the last run: write the stats before
        self.rng = random.Random(int.from_bytes(os.urandom(8), "little"))
        from mcucompress.errors import McuError

        self.McuError = McuError
        # Imported here, inside atheris' instrumentation, with the modules they call lazily.
        if kind == "tflite":
            import mcucompress.importers.tflite_contracts  # noqa: F401
            import mcucompress.quantize.params  # noqa: F401
            from mcucompress.importers.tflite import load_tflite
            self.load = load_tflite
        else:
            import mcucompress.importers.keras_file  # noqa: F401
            import mcucompress.passes  # noqa: F401
            from mcucompress.importers.keras import load_keras
            from mcucompress.quiet import preload_tensorflow

            preload_tensorflow()  # seconds: outside the first case's time limit
            import keras  # noqa: F401
            self.load = load_keras

    def __call__(self, data: bytes) -> None:
        self.stats["cases"] += 1
        self.case.write_bytes(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                graph = self.load(self.case)
        except self.McuError as error:
            self.stats["refused"] += 1
            if not str(error).isprintable():  # one line, no escape sequences for the terminal
                self._finding(data, "error message is not one printable line: " + repr(str(error)))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # every other exception is a bug in the importer
            self._finding(data, traceback.format_exc())
        else:
            self.stats["accepted"] += 1
            if self.kind == "tflite":
                self._keep_accepted(data, graph)
        if self.stats["cases"] % STATS_EVERY == 0 or self.stats["cases"] == self.runs:
            self.write_stats()

    def load_quietly(self, path: Path) -> None:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.load(path)
        except Exception:
            pass

    def _finding(self, data: bytes, report: str) -> None:
        self.stats["tracebacks"] += 1
        last = [line for line in report.strip().splitlines() if line.strip()]
        where = [line for line in last if line.strip().startswith("File ")]
        key = hashlib.sha256(((where[-1] if where else "") + last[-1].split(":")[0]).encode()).hexdigest()[:12]
        if key in self.seen_findings:
            return
        self.seen_findings.add(key)
        digest = hashlib.sha256(data).hexdigest()[:16]
        suffix = ".tflite" if self.kind == "tflite" else ".keras"
        (self.findings / f"exception-{key}-{digest}{suffix}").write_bytes(data)
        (self.findings / f"exception-{key}-{digest}.txt").write_text(report)

    def _keep_accepted(self, data: bytes, graph) -> None:
        key = structure_key(graph)
        if key in self.seen_structures or len(self.seen_structures) >= self.max_accepted:
            return
        self.seen_structures.add(key)
        self.stats["structures"] = len(self.seen_structures)
        (self.accepted_dir / f"{key}.tflite").write_bytes(data)

    def write_stats(self) -> None:
        tmp = self.work / "stats.json.tmp"
        tmp.write_text(json.dumps(self.stats, indent=1))
        os.replace(tmp, self.work / "stats.json")


def main(argv: list[str]) -> None:
    import atheris

    kind, work, seeds, *flags = argv
    work = Path(work)
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for seed in sorted(Path(seeds).iterdir()):  # libFuzzer grows the corpus folder
        if seed.suffix == f".{kind}":
            (corpus / seed.name).write_bytes(seed.read_bytes())
    runs = next((int(f.split("=", 1)[1]) for f in flags if f.startswith("-runs=")), None)
    with atheris.instrument_imports(include=["mcucompress"]):
        target = Target(kind, work, runs)
    for seed in sorted(corpus.iterdir())[:1]:  # warm up lazy imports and caches, uncounted
        target.load_quietly(seed)
    if kind == "keras":
        for seed in Path(seeds).glob("*.keras"):
            with zipfile.ZipFile(seed) as z:
                if "model.weights.h5" in z.namelist():
                    _WELL_FORMED_H5.add(hashlib.sha1(z.read("model.weights.h5")).digest())
    mutate = mutate_tflite if kind == "tflite" else mutate_keras
    rng = target.rng

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng.seed(seed)
        try:
            mutant = mutate(data, rng) if rng.random() < 0.85 else None
        except Exception:  # a bug of the mutator, not of the importer: fall back to bytes
            traceback.print_exc()
            mutant = None
        if mutant is None or len(mutant) > max_size:
            mutant = atheris.Mutate(data, max_size)
        return mutant

    libfuzzer = [sys.argv[0], *flags, f"-artifact_prefix={work / 'findings'}/", "-max_len=400000",
                 "-rss_limit_mb=3072", "-print_final_stats=1", str(corpus)]
    atheris.Setup(libfuzzer, lambda data: target(data), custom_mutator=custom_mutator)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv[1:])
