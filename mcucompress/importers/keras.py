"""Keras importer: a Keras 3 `.keras`, a legacy `.h5` or an in-memory model -> float32 Graph.

Files are opened by importers/keras_file.py (config checked for code, then Keras 3 or tf_keras in
safe mode, whichever wrote the file). The layer graph is walked from the model's outputs through
each tensor's Keras history, which both Keras generations provide, so one walker serves both.
"""

from __future__ import annotations

import os

from mcucompress.errors import McuError
from mcucompress.importers.keras_builder import GraphBuilder
from mcucompress.importers.keras_file import hand_back, open_keras_file
from mcucompress.importers.keras_layers import LAYER_CONVERTERS, MULTI_INPUT_LAYERS
from mcucompress.importers.keras_ops import convert_keras_op, is_keras_op
from mcucompress.ir.graph import Graph

def load_keras(path_or_model, optimize: bool = True, allow_code: bool = False) -> Graph:
    """Imports a Keras model as a float32 Graph (batch 1).

    With ``optimize`` (the default) BatchNormalization is folded and activations fused, which is
    what quantization and code generation expect; ``optimize=False`` gives the raw layer graph.
    ``allow_code`` lets a file with Lambda layers or foreign modules load (trusted files only).
    """
    if isinstance(path_or_model, (str, os.PathLike)):
        model = open_keras_file(path_or_model, allow_code=allow_code)
    else:
        model = path_or_model
    if not hasattr(model, "layers"):
        raise McuError(f"expected a Keras model, got {type(model).__name__}")
    graph = _import_model(model)
    if isinstance(path_or_model, (str, os.PathLike)):  # only read: the next open of the file may take it
        hand_back(path_or_model, model, allow_code)
    if optimize:
        from mcucompress.passes import optimize as run_passes
        graph = run_passes(graph)
    _check_finite_constants(graph)
    return graph


def _check_finite_constants(graph: Graph) -> None:
    """Folding batch norm can turn finite statistics (a negative variance) into NaN: checked after."""
    import numpy as np

    for tensor in graph.tensors.values():
        data = tensor.data
        if data is not None and data.dtype.kind == "f" and not np.all(np.isfinite(data)):
            kind = "NaN" if np.isnan(data).any() else "infinite"
            raise McuError(f"constant '{tensor.name}' of the Keras model holds {kind} values; "
                           "the model cannot be quantized")


def _shape(tensor) -> tuple:
    shape = tensor.shape
    return tuple(shape.as_list()) if hasattr(shape, "as_list") else tuple(shape)


def _batch1_shape(tensor, what: str) -> tuple[int, ...]:
    shape = _shape(tensor)
    if any(d is None for d in shape[1:]):
        raise McuError(f"{what} has an undefined dimension {shape}; give the model a fixed input shape")
    return (1,) + tuple(int(d) for d in shape[1:])


def _node_inputs(node) -> list:
    if hasattr(node, "keras_inputs"):  # tf_keras (whose input_tensors may be a bare tensor)
        return list(node.keras_inputs)
    return list(node.input_tensors)  # Keras 3


def _is_model(layer) -> bool:
    return hasattr(layer, "layers") and hasattr(layer, "_inbound_nodes") and hasattr(layer, "get_layer")


def _ports(model) -> tuple[list, list]:
    try:
        return list(model.inputs or []), list(model.outputs or [])
    except (AttributeError, ValueError):  # an unbuilt Sequential has none
        return [], []


def _import_model(model) -> Graph:
    inputs, outputs = _ports(model)
    if not inputs or not outputs:
        raise McuError(f"model '{model.name}' has no defined inputs; build it with a fixed input shape")
    walker = _Walker(GraphBuilder())
    outs = tuple(walker.visit(t) for t in outputs)
    graph_inputs = tuple(walker.visit(t) for t in inputs)
    if len(set(outs)) != len(outs) or set(outs) & set(graph_inputs):
        raise McuError(f"model '{model.name}': an output is another output or an input; "
                       "each output must be computed by its own layer")
    graph = walker.builder.build(graph_inputs, outs, name=_safe_name(model.name))
    return graph.with_ops(graph.ops)  # drops tensors nothing uses


class _Walker:
    """Converts layers depth first from an output, each layer application once.

    A nested model (say a Sequential feature extractor inside a functional model) is inlined:
    its input layers are bound to the IR tensors it was called on, and its layers are walked in
    a scope of their own so that calling the same sub-model twice converts it twice.
    """

    def __init__(self, builder: GraphBuilder) -> None:
        self.builder = builder
        self.names: dict[tuple, str] = {}

    def visit(self, tensor, scope: tuple = (), bindings: dict | None = None) -> str:
        layer, node_index, tensor_index = tensor._keras_history
        key = (scope, id(layer), node_index, tensor_index)
        if key not in self.names:
            self.names[key] = self._convert(tensor, layer, node_index, tensor_index, scope, bindings)
        return self.names[key]

    def _convert(self, tensor, layer, node_index, tensor_index, scope, bindings) -> str:
        cls = type(layer).__name__
        if cls == "InputLayer":
            if bindings is not None:
                return bindings[id(layer)]
            return self.builder.activation(layer.name, _batch1_shape(tensor, f"input '{layer.name}'"))
        node = layer._inbound_nodes[node_index]
        in_tensors = _node_inputs(node)
        in_names = [self.visit(t, scope, bindings) for t in in_tensors]
        if _is_model(layer):
            return self._inline(layer, node_index, tensor_index, in_names, scope)
        if tensor_index != 0:
            raise McuError(f"layer '{layer.name}' ({cls}): layers with several outputs are not supported")
        out_shape = _batch1_shape(tensor, f"output of layer '{layer.name}'")
        if is_keras_op(layer):  # x + 3.0, keras.ops.multiply(x, c): may mix tensors and constants
            names = {id(t): n for t, n in zip(in_tensors, in_names)}
            return convert_keras_op(self.builder, layer, node, names, out_shape)
        converter = LAYER_CONVERTERS.get(cls)
        if converter is None:
            raise McuError(f"layer '{layer.name}' ({cls}) is not supported")
        if len(in_names) != 1 and cls not in MULTI_INPUT_LAYERS:  # never drop an input silently
            raise McuError(f"layer '{layer.name}' ({cls}) called on {len(in_names)} tensors; "
                           "it takes exactly one")
        return converter(self.builder, layer, layer.get_config(), in_names, out_shape)

    def _inline(self, model, node_index, tensor_index, in_names, scope) -> str:
        inputs, outputs = _ports(model)
        if len(inputs) != len(in_names) or tensor_index >= len(outputs):
            raise McuError(f"layer '{model.name}' ({type(model).__name__}): nested model with "
                           f"{len(inputs)} inputs called on {len(in_names)} tensors")
        bindings = {id(t._keras_history[0]): name for t, name in zip(inputs, in_names)}
        return self.visit(outputs[tensor_index], scope + ((id(model), node_index),), bindings)


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in name) or "model"

