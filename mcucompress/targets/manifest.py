"""Reading an exported tree's manifest.json: the only thing the firmware side knows about a model.

Every reader of a manifest goes through ``manifest_json`` (the raw dict) or ``read_manifest``
(checked and typed)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from mcucompress.errors import McuError
from mcucompress.ir.graph import Layer, Port, PortTotals

REQUIRED_KEYS = ("prefix", "sources", "include_dirs", "input", "output")
# What reaches CMake files and compiler command lines from a tree that may come from anyone.
TREE_PATH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*(/[A-Za-z0-9_][A-Za-z0-9_.+-]*)*")
DEFINE_VALUE = re.compile(r"-?[A-Za-z0-9_]+")


@dataclass(frozen=True)
class Manifest(PortTotals):
    root: Path
    prefix: str
    sources: tuple[str, ...]
    include_dirs: tuple[str, ...]
    defines: dict
    input: Port     # the first port; `inputs` / `outputs` list them all
    output: Port
    arena_bytes: int | None
    rounding: str
    graph: str | None
    layers: tuple[Layer, ...] | None  # None: written before manifests listed layers
    raw: dict
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = ()

    def kernel_layers(self) -> tuple[Layer, ...]:
        """The layers that call a kernel, in call order (what the firmware's calls are)."""
        if self.layers is None:
            raise McuError(f"{self.root}: manifest.json lists no layers (an older export); export the model again")
        return tuple(layer for layer in self.layers if layer.kernel is not None)


def _port(d: dict, which: str) -> Port:
    try:
        port = Port(tuple(int(n) for n in d["shape"]), int(d["bytes"]), d.get("scale"), d.get("zero_point"))
    except (KeyError, TypeError, ValueError):
        raise McuError(f"manifest.json: '{which}' needs 'shape' and 'bytes'") from None
    values = 1
    for n in port.shape:
        values *= n
    if port.bytes != values:  # ports are int8: one byte per value, or the harness over/underruns
        raise McuError(f"manifest.json: '{which}' has {port.bytes} bytes but its shape {list(port.shape)} "
                       f"holds {values} int8 values")
    # int8 ports carry their quantization; a float wrapper's port may leave both out (null)
    if not (port.scale is None or (isinstance(port.scale, (int, float)) and port.scale > 0)) or not (
            port.zero_point is None or isinstance(port.zero_point, int)):
        raise McuError(f"manifest.json: '{which}' has an invalid scale {port.scale!r} or zero_point "
                       f"{port.zero_point!r}")
    return port


def _port_list(data: dict, key: str, single: str) -> tuple[Port, ...]:
    """Every input (or output) port; a manifest that lists none has its one `input` (`output`)."""
    if key not in data:
        return (_port(data[single], single),)
    items = data[key]
    if not isinstance(items, list) or not items:
        raise McuError(f"manifest.json: '{key}' must be a non-empty list of ports")
    ports = tuple(_port(d if isinstance(d, dict) else {}, f"{key}[{k}]") for k, d in enumerate(items))
    if ports[0] != _port(data[single], single):
        raise McuError(f"manifest.json: '{single}' is not the first of '{key}'")
    return ports


def manifest_json(export_dir: str | Path) -> dict:
    """The tree's manifest.json as a dict, unchecked; McuError when there is none or it is not JSON."""
    root = Path(export_dir).resolve()
    path = root / "manifest.json"
    if not path.is_file():
        raise McuError(f"{root} is not an exported model tree (no manifest.json); run `mcucompress export` first")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise McuError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise McuError(f"{path} is not a JSON object")
    return data


def _layers(data: dict, path: Path) -> tuple[Layer, ...] | None:
    if "layers" not in data:
        return None
    try:
        return tuple(Layer(str(d["op"]), str(d["kind"]), d["kernel"], str(d["encoding"]), int(d["macs"]),
                           d.get("weight_layout"))
                     for d in data["layers"])
    except (KeyError, TypeError, ValueError):
        raise McuError(f"{path}: 'layers' needs op, kind, kernel, encoding and macs per layer") from None


def read_manifest(export_dir: str | Path) -> Manifest:
    root = Path(export_dir).resolve()
    path = root / "manifest.json"
    data = manifest_json(root)
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise McuError(f"{path} lacks {', '.join(missing)}")
    _check_build_fields(path, data)
    for source in data["sources"]:
        if not (root / source).is_file():
            raise McuError(f"{path} lists source '{source}' that is not in the tree")
    return Manifest(
        root=root,
        prefix=str(data["prefix"]),
        sources=tuple(data["sources"]),
        include_dirs=tuple(data["include_dirs"]),
        defines=dict(data.get("defines") or {}),
        input=_port(data["input"], "input"),
        output=_port(data["output"], "output"),
        inputs=_port_list(data, "inputs", "input"),
        outputs=_port_list(data, "outputs", "output"),
        arena_bytes=data.get("arena_bytes"),
        rounding=str(data.get("rounding", "tflm")),
        graph=data.get("graph"),
        layers=_layers(data, path),
        raw=data,
    )


def _check_build_fields(path: Path, data: dict) -> None:
    """The fields that become CMake and compiler arguments: a C prefix, relative paths inside the
    tree of plain characters, and defines NAME=VALUE of identifier characters."""
    from mcucompress.codegen.c_literals import prefix_problem

    problem = prefix_problem(data["prefix"]) if isinstance(data["prefix"], str) else "is not text"
    if problem:
        raise McuError(f"{path}: prefix {data['prefix']!r} {problem}")
    for key in ("sources", "include_dirs"):
        items = data[key]
        if not isinstance(items, list):
            raise McuError(f"{path}: '{key}' must be a list")
        for item in items:
            if not isinstance(item, str) or not (item == "." or TREE_PATH.fullmatch(item)) or ".." in item.split("/"):
                raise McuError(f"{path}: '{key}' holds {item!r}, not a plain relative path inside the tree")
    sha = data.get("model_sha256", "")
    if not isinstance(sha, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{0,64}", sha):
        raise McuError(f"{path}: model_sha256 {sha!r} is not a hash")  # it goes into comments of C and CMake
    defines = data.get("defines") or {}
    if not isinstance(defines, dict):
        raise McuError(f"{path}: 'defines' must be a mapping")
    for name, value in defines.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or isinstance(value, bool) or not (
                isinstance(value, int) or (isinstance(value, str) and DEFINE_VALUE.fullmatch(value))):
            raise McuError(f"{path}: define {name}={value!r} is not NAME=VALUE of identifier characters")


def check_source_model(path: Path, raw: dict) -> Path:
    """``path`` (the tree's copy of its .tflite), after checking it is the model the tree was
    exported from: a swapped or damaged copy would make every comparison against it meaningless."""
    expected = raw.get("model_sha256")
    if isinstance(expected, str) and re.fullmatch(r"[0-9a-f]{64}", expected):
        if hashlib.sha256(path.read_bytes()).hexdigest() != expected:
            raise McuError(f"{path} is not the model this tree was exported from (its SHA-256 differs "
                           "from model_sha256 in manifest.json); export the tree again")
    return path
