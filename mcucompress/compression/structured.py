"""Structured pruning: remove whole neurons (Dense) and filters (Conv) so the model really shrinks.

Each chosen layer keeps the outputs with the largest L1 weight norm (Li et al. 2017) or the
largest mean |activation| on sample data; the removed channels are then cut out of everything
downstream (batch norm, depthwise conv, pooling, Flatten's interleaved positions) up to the next
Dense/Conv layer, whose input weights are sliced. The result is rebuilt as a smaller plain model
and fine-tuned.
"""

from __future__ import annotations

import keras
import numpy as np

from mcucompress.compression.finetune import fine_tune
from mcucompress.compression.rewrite import Replacement, consumers, graph_nodes, graph_of, is_output_layer, rebuild
from mcucompress.compression.layers import to_numpy
from mcucompress.compression.options import number
from mcucompress.errors import McuError

_SHRINKABLE = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D)
# Layers that treat every channel independently: a removed channel simply disappears.
_CHANNELWISE = (keras.layers.Activation, keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.ELU,
                keras.layers.Dropout, keras.layers.MaxPooling1D, keras.layers.MaxPooling2D,
                keras.layers.AveragePooling1D, keras.layers.AveragePooling2D, keras.layers.GlobalAveragePooling1D,
                keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling1D, keras.layers.GlobalMaxPooling2D,
                keras.layers.ZeroPadding1D, keras.layers.ZeroPadding2D, keras.layers.Cropping1D,
                keras.layers.Cropping2D, keras.layers.UpSampling1D, keras.layers.UpSampling2D)


def _passes_channels(layer) -> bool:
    if isinstance(layer, _CHANNELWISE):
        return True
    if isinstance(layer, keras.layers.BatchNormalization):
        return layer.axis in (-1, len(layer.input.shape) - 1)
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return layer.depth_multiplier == 1
    return isinstance(layer, keras.layers.Flatten)


def _can_shrink(model, layer, users) -> bool:
    """True when every path from the layer's output reaches a Dense/Conv input through layers
    that keep channels separate (so removing a channel is a pure slicing job)."""
    if not isinstance(layer, _SHRINKABLE) or is_output_layer(model, layer):
        return False
    pending = list(users[layer.name])
    if not pending:
        return False
    while pending:
        user = pending.pop()
        if isinstance(user, _SHRINKABLE):
            continue
        if not _passes_channels(user) or is_output_layer(model, user) or not users[user.name]:
            return False
        pending.extend(users[user.name])
    return True


def shrinkable_layers(model) -> list[str]:
    users = consumers(model)
    return [layer.name for layer in model.layers if _can_shrink(model, layer, users)]


def channel_scores(model, name, criterion="l1", x=None) -> np.ndarray:
    """Importance of each output channel of layer `name`."""
    layer = model.get_layer(name)
    if criterion == "l1":
        kernel = to_numpy(layer.kernel)
        return np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0)
    if criterion == "activation":
        if x is None:
            raise McuError("structured pruning by activation needs data")
        graph = graph_of(model)
        output = next(node.outputs[0] for node in graph_nodes(graph) if node.operation is layer)
        probe = keras.Model(graph.inputs[0] if len(graph.inputs) == 1 else graph.inputs, output)
        out = probe.predict(x, batch_size=256, verbose=0)
        return np.abs(out).reshape(-1, out.shape[-1]).mean(axis=0)
    raise McuError(f"structured pruning criterion must be 'l1' or 'activation', got {criterion!r}")


def _producers(model) -> dict[str, str | None]:
    producer = {}
    for name, users in consumers(model).items():
        for user in users:
            producer[user.name] = name
    return producer


def remove_channels(model, keep: dict[str, np.ndarray]):
    """A smaller model where layer `name` keeps only output channels `keep[name]` (sorted
    indices) and every downstream layer is sliced to match."""
    producer_of = _producers(model)
    kept_out: dict[str, np.ndarray | None] = {}
    replacements = {}
    for layer in model.layers:
        parent = producer_of.get(layer.name)
        kept_in = kept_out.get(parent) if parent is not None else None
        config = layer.get_config()
        weights = [to_numpy(w) for w in layer.weights]
        own = np.asarray(sorted(keep[layer.name])) if layer.name in keep else None
        changed = kept_in is not None or own is not None
        kept_out[layer.name] = kept_in
        if isinstance(layer, _SHRINKABLE):
            kernel = weights[0]
            if kept_in is not None:
                kernel = np.take(kernel, kept_in, axis=-2)
            if own is not None:
                kernel = kernel[..., own]
                config["units" if isinstance(layer, keras.layers.Dense) else "filters"] = len(own)
            weights = [kernel] + ([weights[1][own] if own is not None else weights[1]] if layer.use_bias else [])
            kept_out[layer.name] = None if own is None else own
        elif kept_in is not None and isinstance(layer, keras.layers.DepthwiseConv2D):
            weights = [np.take(weights[0], kept_in, axis=2)] + [w[kept_in] for w in weights[1:]]
        elif kept_in is not None and isinstance(layer, keras.layers.BatchNormalization):
            weights = [w[kept_in] for w in weights]
        elif kept_in is not None and isinstance(layer, keras.layers.Flatten):
            spatial = int(np.prod(layer.input.shape[1:-1]))
            channels = int(layer.input.shape[-1])
            kept_out[layer.name] = (np.arange(spatial)[:, None] * channels + kept_in[None, :]).reshape(-1)
        if changed:
            replacements[layer.name] = Replacement([layer.__class__.from_config(config)], [weights])
    return rebuild(model, replacements)


def structured_prune(model, data=None, fraction=0.5, *, layers=None, criterion="l1", epochs=2, **fit_options):
    """Remove `fraction` of the outputs of each shrinkable Dense/Conv layer (or of the layers in
    `layers`, a list or dict name -> fraction), then fine-tune on `data`."""
    allowed = shrinkable_layers(model)
    if layers is None:
        targets = {name: fraction for name in allowed}
    else:
        targets = dict(layers) if isinstance(layers, dict) else {name: fraction for name in layers}
        for name in targets:
            if name not in allowed:
                raise McuError(f"layer {name!r} cannot be shrunk (shrinkable: {', '.join(allowed) or 'none'})")
    keep = {}
    x = data.x_train[:1024] if data is not None else None
    for name, share in targets.items():
        share = number(share, "structured pruning fraction")
        if not 0.0 <= share < 1.0:
            raise McuError(f"structured pruning fraction must be in [0, 1), got {share}")
        scores = channel_scores(model, name, criterion, x)
        n_keep = max(1, int(round(len(scores) * (1.0 - share))))
        keep[name] = np.sort(np.argsort(-scores, kind="stable")[:n_keep])
    smaller = remove_channels(model, keep)
    return fine_tune(smaller, data, epochs=epochs if data is not None else 0, **fit_options)
