"""Save and load a Graph as one deterministic .npz file (an exported tree keeps its graph so
`verify` can run the reference interpreter without the original model).

Layout: ``graph.json`` (names, shapes, dtypes, quantization, ops, attributes) plus one ``.npy``
member per constant tensor. Zip entries carry a fixed timestamp so equal graphs give equal bytes.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from mcucompress.errors import McuError
from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor

FORMAT = "mcucompress-graph-1"
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _plain(value):
    """Attribute values as JSON: tuples become lists, numpy scalars Python numbers."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    return value


def _tupled(value):
    """Inverse of _plain for the IR's convention that sequences are tuples."""
    if isinstance(value, list):
        return tuple(_tupled(v) for v in value)
    return value


def graph_to_bytes(graph: Graph) -> bytes:
    tensors = []
    arrays = {}
    # By name, not in the mapping's order: an importer that collects names in a set would make
    # the bytes depend on the process's hash seed.
    for i, t in enumerate(sorted(graph.tensors.values(), key=lambda t: t.name)):
        entry = {"name": t.name, "shape": list(t.shape), "dtype": t.dtype}
        if t.quant is not None:
            entry["quant"] = {"scale": [float(s) for s in t.quant.scale],
                              "zero_point": [int(z) for z in t.quant.zero_point], "axis": int(t.quant.axis)}
        if t.data is not None:
            entry["data"] = f"t{i}.npy"
            arrays[entry["data"]] = np.ascontiguousarray(t.data)
        if t.variable:  # written only when set: the files of graphs without state keep their bytes
            entry["variable"] = True
        tensors.append(entry)
    doc = {
        "format": FORMAT, "name": graph.name, "inputs": list(graph.inputs), "outputs": list(graph.outputs),
        "tensors": tensors,
        "ops": [{"kind": op.kind, "name": op.name, "inputs": list(op.inputs), "outputs": list(op.outputs),
                 "attrs": {k: _plain(v) for k, v in sorted(op.attrs.items())}} for op in graph.ops],
    }
    return npz_bytes(arrays, {"graph.json": json.dumps(doc, indent=1, sort_keys=True)})


def npz_bytes(arrays: dict[str, np.ndarray], texts: dict[str, str] | None = None) -> bytes:
    """A compressed .npz (members ``name`` -> .npy, texts first) that is the same bytes for the
    same arrays: fixed member timestamps, unlike numpy.savez."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in (texts or {}).items():
            zf.writestr(zipfile.ZipInfo(name, _EPOCH), text, compress_type=zipfile.ZIP_DEFLATED)
        for name, array in arrays.items():
            npy = io.BytesIO()
            np.save(npy, array, allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(name, _EPOCH), npy.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def save_graph(graph: Graph, path: str | Path) -> None:
    Path(path).write_bytes(graph_to_bytes(graph))


def load_graph(path: str | Path) -> Graph:
    try:
        with zipfile.ZipFile(path) as zf:
            doc = json.loads(zf.read("graph.json"))
            if doc.get("format") != FORMAT:
                raise McuError(f"{path}: not an mcucompress graph file")
            tensors = {}
            for entry in doc["tensors"]:
                quant = None
                if "quant" in entry:
                    q = entry["quant"]
                    quant = QuantParams(tuple(q["scale"]), tuple(q["zero_point"]), q["axis"])
                data = None
                if "data" in entry:
                    data = np.load(io.BytesIO(zf.read(entry["data"])), allow_pickle=False)
                tensors[entry["name"]] = Tensor(entry["name"], tuple(entry["shape"]), entry["dtype"], quant, data,
                                                bool(entry.get("variable", False)))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise McuError(f"{path}: cannot read graph file ({error})") from None
    ops = [Op(o["kind"], o["name"], tuple(o["inputs"]), tuple(o["outputs"]),
              {k: _tupled(v) for k, v in o["attrs"].items()}) for o in doc["ops"]]
    return Graph(tensors, ops, tuple(doc["inputs"]), tuple(doc["outputs"]), doc["name"])
