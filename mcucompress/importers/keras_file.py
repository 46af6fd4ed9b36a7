"""Opening a Keras model file a stranger may have written, without running anything it carries.

Keras files can hold code: a Lambda layer stores marshalled Python bytecode, and a config's
"module" field names a Python module that the loader imports to find a class. Both Keras 3 and
tf_keras would act on them while loading, before any of our checks on the layers could refuse
the model. So the model's JSON config is read here first, with plain zip/HDF5 readers, and a
file that names code is refused before either Keras loader sees it. The loaders then run in
safe mode as a second line of defence.

``allow_code=True`` (the CLI's ``--unsafe-deserialization``) is the only way past this, for
files the user trusts.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

from mcucompress.errors import McuError

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAX_CONFIG_BYTES = 64 << 20  # a config larger than this is not a model we could deploy anyway

# Python modules whose classes a config may name: Keras itself and our own registered layers.
TRUSTED_MODULE_ROOTS = ("keras", "tf_keras", "mcucompress")
# Layer classes whose config carries Python code (bytecode or a source string).
CODE_LAYERS = ("Lambda",)
UNSAFE_HINT = "pass --unsafe-deserialization only if you trust this file"


def check_keras_container(path: Path) -> str:
    """'zip' or 'hdf5'. A .keras file is a zip archive and an .h5 an HDF5 file (Keras 2 may also
    write HDF5 under .keras); anything else is named here, as the loaders' own messages mislead."""
    suffix = path.suffix.lower()
    if suffix not in KERAS_SUFFIXES:
        raise McuError(f"{path.name}: not a Keras model file (expected {', '.join(KERAS_SUFFIXES)})")
    with open(path, "rb") as f:
        head = f.read(len(HDF5_SIGNATURE))
    if head == HDF5_SIGNATURE:
        return "hdf5"
    if suffix == ".keras" and zipfile.is_zipfile(path):
        return "zip"
    kind = "a zip archive (.keras)" if suffix == ".keras" else "an HDF5 file (.h5)"
    raise McuError(f"{path.name}: not a Keras model file ({'it is empty' if not head else f'not {kind}'}; "
                   "corrupt or truncated?)")


def read_config(path: Path, container: str) -> tuple[dict, str | None]:
    """(the model's JSON config, the Keras version that wrote it or None)."""
    try:
        if container == "zip":
            return _zip_config(path)
        return _hdf5_config(path)
    except McuError:
        raise
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError,
            NotImplementedError) as error:  # zipfile: an unknown compression method or zip version
        raise McuError(f"{path.name}: cannot read the model's config ({_one_line(error)}); corrupt or truncated?") from None


def _zip_config(path: Path) -> tuple[dict, str | None]:
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if "config.json" not in names:
            raise McuError(f"{path.name}: not a Keras model archive (no config.json inside)")
        config = json.loads(_read_member(archive, "config.json", path))
        version = None
        if "metadata.json" in names:
            metadata = json.loads(_read_member(archive, "metadata.json", path))
            version = metadata.get("keras_version") if isinstance(metadata, dict) else None
    return _as_dict(config, path), version if isinstance(version, str) else None


def _read_member(archive: zipfile.ZipFile, name: str, path: Path) -> bytes:
    if archive.getinfo(name).file_size > MAX_CONFIG_BYTES:
        raise McuError(f"{path.name}: {name} is larger than {MAX_CONFIG_BYTES >> 20} MB")
    return archive.read(name)


def _hdf5_config(path: Path) -> tuple[dict, str | None]:
    import h5py

    with h5py.File(path, "r") as f:
        raw = f.attrs.get("model_config")
        version = f.attrs.get("keras_version")
    if raw is None:
        raise McuError(f"{path.name}: HDF5 file without a model config (weights only? save the whole model)")
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if isinstance(version, bytes):
        version = version.decode("utf-8", "replace")
    if len(raw) > MAX_CONFIG_BYTES:
        raise McuError(f"{path.name}: model config is larger than {MAX_CONFIG_BYTES >> 20} MB")
    return _as_dict(json.loads(raw), path), version if isinstance(version, str) else None


def _as_dict(config, path: Path) -> dict:
    if not isinstance(config, dict):
        raise McuError(f"{path.name}: the model config is not a JSON object")
    return config


def code_in_config(config) -> str | None:
    """A one-line description of the first thing in ``config`` that would make a Keras loader run
    or import code, or None. Walks every nested dict and list (layers nest in models, wrappers,
    sub-models)."""
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        class_name = node.get("class_name")
        name = node.get("config", {}).get("name") if isinstance(node.get("config"), dict) else None
        if class_name in CODE_LAYERS:
            return f"layer '{name}' is a {class_name} layer, which stores Python code in the file"
        if class_name == "__lambda__" or node.get("function_type") == "lambda":
            return f"{f'layer {name!r}' if name else 'the config'} holds a serialized Python function"
        module = node.get("module")
        if module is not None and not _trusted_module(module):
            return f"the config names the Python module '{_printable(module)}', which loading would import"
        stack.extend(node.values())
    return None


def _trusted_module(module) -> bool:
    return isinstance(module, str) and module.split(".")[0] in TRUSTED_MODULE_ROOTS


def _printable(text: str, limit: int = 80) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)[:limit]


def open_keras_file(path, *, allow_code: bool = False, custom_objects: dict | None = None):
    """The Keras model in ``path``, loaded in safe mode after its config was checked for code.

    A file written by Keras 3 is read by Keras 3 and one written by tf_keras by tf_keras, so a
    refusal carries the message of the loader that matters; legacy HDF5 files whose writer is
    unknown try Keras 3 first."""
    path = Path(path)
    if path.is_dir():
        raise McuError(f"{path} is a directory (a SavedModel?); save the model as .keras or .h5")
    if not path.is_file():
        raise McuError(f"model file not found: {path}")
    container = check_keras_container(path)
    config, version = read_config(path, container)
    if not allow_code:
        problem = code_in_config(config)
        if problem is not None:
            raise McuError(f"{path.name}: refusing to load: {problem}; {UNSAFE_HINT}")
    if custom_objects is None:  # the checks above are made for every open: they depend on the name too
        unused = _UNUSED.pop(_bytes_key(path, allow_code), None)
        if unused is not None:  # the same bytes (and suffix) were loaded, and the model only read since
            return unused
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    major = version.split(".")[0] if version else None
    loaders = (_load_with_tf_keras,) if major == "2" else (_load_with_keras3,)
    if major is None and container == "hdf5":
        loaders = (_load_with_keras3, _load_with_tf_keras)
    errors = []
    for loader in loaders:
        try:
            model = loader(path, allow_code, custom_objects)
        except McuError:
            raise
        except Exception as error:  # noqa: BLE001 - loaders raise many types for a bad file
            errors.append(error)
            continue
        check_finite_weights(model, path.name)
        return model
    raise McuError(f"cannot read Keras model {path.name}: {_one_line(errors[0])}")


# Models loaded from a file and only read since (the importer reads layers and weights), by the
# file's bytes: the next open of the same bytes in this process (verify's float oracle, after an
# export) takes one instead of loading the file again. Taken, not shared: whoever opens a model
# may run or train it, so a model handed out is never handed out again.
_UNUSED: dict[tuple[str, bool], object] = {}
_UNUSED_KEPT = 2


def _bytes_key(path: Path, allow_code: bool) -> tuple[str, bool]:
    import hashlib

    return path.suffix.lower() + hashlib.sha256(path.read_bytes()).hexdigest(), allow_code


def hand_back(path, model, allow_code: bool = False) -> None:
    """``model``, opened from ``path`` by ``open_keras_file`` and only read since, kept for the
    next open of the same file contents (the newest ``_UNUSED_KEPT`` are kept)."""
    _UNUSED[_bytes_key(Path(path), allow_code)] = model
    while len(_UNUSED) > _UNUSED_KEPT:
        del _UNUSED[next(iter(_UNUSED))]


def check_finite_weights(model, what: str) -> None:
    """NaN or infinite weights make every quantization scale meaningless: one line naming the first."""
    import numpy as np

    for variable in getattr(model, "weights", []):
        values = np.asarray(variable.numpy() if hasattr(variable, "numpy") else variable)
        if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
            kind = "NaN" if np.isnan(values).any() else "infinite"
            name = getattr(variable, "path", None) or getattr(variable, "name", "?")
            raise McuError(f"{what}: weight '{name}' holds {kind} values; the model cannot be quantized")


def _load_with_keras3(path: Path, allow_code: bool, custom_objects):
    import keras

    from mcucompress.compression import shared_layers  # noqa: F401  (registers the shared-weight layers)
    from mcucompress.compression import exit_layer  # noqa: F401  (registers the EarlyExit layer)

    return keras.saving.load_model(path, custom_objects=custom_objects, compile=False, safe_mode=not allow_code)


def _load_with_tf_keras(path: Path, allow_code: bool, custom_objects):
    try:
        import tf_keras
    except ImportError:
        raise McuError(f"{path.name} was written by Keras 2; install tf-keras to read it") from None
    return tf_keras.models.load_model(path, custom_objects=custom_objects, compile=False, safe_mode=not allow_code)


def _one_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return _printable(lines[0] if lines else type(error).__name__, 200)
