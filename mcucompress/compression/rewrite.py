"""Rebuild a Keras model with some layers swapped for new ones, weights carried over.

Structured pruning and low-rank factorization change layer shapes, which Keras cannot do in
place; they describe the change as "layer name -> new layers (applied in a chain) + their
weights" and this module replays the model graph with the replacements, so the result is an
ordinary Sequential/Functional model with no wrapper layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np

from mcucompress.errors import McuError


@dataclass
class Replacement:
    """The layers that stand in for one original layer, and their weights in order."""

    layers: list
    weights: list[list[np.ndarray]] = field(default_factory=list)


def fresh_copy(layer):
    """A new, unbuilt layer with the same configuration (and name) as `layer`."""
    return layer.__class__.from_config(layer.get_config())


def graph_of(model):
    """The Functional graph behind a Sequential or Functional model."""
    if isinstance(model, keras.Sequential):
        graph = getattr(model, "_functional", None)
        if graph is None:
            raise McuError(f"model '{model.name}' has no known input shape; build it with keras.Input first")
        return graph
    if not isinstance(model, keras.Model) or not hasattr(model, "_run_through_graph"):
        raise McuError("only Sequential and Functional Keras models can be compressed (not subclassed models)")
    return model


def rebuild(model, replacements: dict[str, Replacement]):
    """A new model where each named layer is replaced; all other layers are fresh copies with
    their weights copied. Sequential stays Sequential."""
    graph = graph_of(model)
    unknown = set(replacements) - {layer.name for layer in model.layers}
    if unknown:
        raise McuError(f"no layer named {sorted(unknown)[0]!r} in model '{model.name}'")
    copies = {}

    def stand_in(operation):
        if operation.name in replacements:
            chain = replacements[operation.name].layers

            def call_chain(*args, **kwargs):
                out = chain[0](*args, **kwargs)
                for layer in chain[1:]:
                    out = layer(out)
                return out

            return call_chain
        copies[operation.name] = (operation, fresh_copy(operation))
        return copies[operation.name][1]

    if isinstance(model, keras.Sequential):
        new_layers = []
        for layer in model.layers:
            if layer.name in replacements:
                new_layers.extend(replacements[layer.name].layers)
            else:
                copies[layer.name] = (layer, fresh_copy(layer))
                new_layers.append(copies[layer.name][1])
        shape = model.inputs[0].shape[1:]
        new_model = keras.Sequential([keras.Input(shape=shape, dtype=model.inputs[0].dtype)] + new_layers,
                                     name=model.name)
    else:
        new_inputs = [keras.Input(shape=t.shape[1:], dtype=t.dtype, name=t.name) for t in graph.inputs]
        outputs = graph._run_through_graph(new_inputs, operation_fn=stand_in)
        new_model = keras.Model(new_inputs, outputs, name=model.name)

    for old, new in copies.values():
        new.set_weights(old.get_weights())
    for replacement in replacements.values():
        for layer, weights in zip(replacement.layers, replacement.weights):
            if weights:
                layer.set_weights(weights)
    return new_model


def consumers(model) -> dict[str, list]:
    """Layer name -> the layers that take its output as input (within this model)."""
    if isinstance(model, keras.Sequential):
        layers = model.layers
        return {a.name: ([b] if b is not None else []) for a, b in zip(layers, layers[1:] + [None])}
    graph = graph_of(model)
    producer_of = {}
    for node in graph_nodes(graph):
        for tensor in node.outputs:
            producer_of[id(tensor)] = node.operation
    result = {layer.name: [] for layer in graph.layers}
    for node in graph_nodes(graph):
        for tensor in node.input_tensors:
            if id(tensor) in producer_of:
                result[producer_of[id(tensor)].name].append(node.operation)
    return result


def graph_nodes(graph) -> list:
    """The call nodes of this Functional graph only (a layer may also be called elsewhere)."""
    return [node for nodes in graph._nodes_by_depth.values() for node in nodes if node.operation is not None]


def is_output_layer(model, layer) -> bool:
    if isinstance(model, keras.Sequential):
        return layer is model.layers[-1]
    graph = graph_of(model)
    output_ids = {id(t) for t in graph.outputs}
    return any(id(t) in output_ids for node in graph_nodes(graph) if node.operation is layer for t in node.outputs)


def clone_with_weights(model):
    """A copy of the model (new variables, same weights), created in the current strategy scope."""
    graph_of(model)
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone
