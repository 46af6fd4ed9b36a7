"""Structured pruning: remove whole neurons (Dense) and filters (Conv) so the model really shrinks.

Each chosen layer keeps the outputs with the largest L1 weight norm (Li et al. 2017) or the
largest mean |activation| on sample data; the removed channels are then cut out of everything
downstream (batch norm, depthwise conv, pooling, Flatten's interleaved positions) up to the next
Dense/Conv layer, whose input weights are sliced. Layers whose outputs are summed by an Add (a
residual block and its shortcut) form one group that keeps the same channels, scored by the sum
of its members' scores (channel_groups). A channel concatenation passes each input's kept
channels on (offset by the widths before it), so the layers after it are sliced to match. The result is rebuilt as a smaller plain model
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


def channel_groups(model) -> dict[str, list[str]]:
    """Groups of Dense/Conv layers whose output channels must be removed together, by the name of
    their first member: layers whose outputs meet in an Add are tied (a residual block's convs
    and its shortcut). A group can be pruned only when every path from its members reaches a
    Dense/Conv input through layers that keep channels separate (or through the Adds that tie
    it, or a channel Concatenate whose inputs can all be cut); a group that touches the model
    input, the output or another layer (Reshape, Multiply...) is left alone."""
    users = consumers(model)
    parents: dict[str, list[str]] = {}
    for name, members in users.items():
        for user in members:
            parents.setdefault(user.name, []).append(name)
    root: dict[str, str] = {}

    def find(name):
        while root[name] != name:
            root[name] = root[root[name]]
            name = root[name]
        return name

    # A layer's output channels come from one group (its name), a concatenation of groups (a
    # tuple) or from somewhere that cannot be cut (None).
    source: dict[str, str | tuple | None] = {}
    fixed: set[str] = set()

    def members(src):
        return [src] if isinstance(src, str) else [m for part in src for m in members(part)]

    def fix(names):
        fixed.update(find(m) for n in names if source.get(n) is not None for m in members(source[n]))

    for layer in model.layers:
        ins = parents.get(layer.name, [])
        if isinstance(layer, _SHRINKABLE):
            root[layer.name] = layer.name
            source[layer.name] = layer.name
        elif _concatenates_channels(layer) and all(source.get(n) is not None for n in _inputs_of(model, layer)):
            source[layer.name] = tuple(source[n] for n in _inputs_of(model, layer))
        elif isinstance(layer, keras.layers.Add) and all(isinstance(source.get(n), str) for n in ins):
            groups = [find(source[n]) for n in ins]
            for other in groups[1:]:
                root[other] = groups[0]
            source[layer.name] = groups[0]
        elif _passes_channels(layer) and len(ins) == 1:
            source[layer.name] = source.get(ins[0])
        else:
            source[layer.name] = None
            fix(ins)
        if is_output_layer(model, layer) or not users.get(layer.name):
            fix([layer.name])
    groups: dict[str, list[str]] = {}
    for layer in model.layers:
        if isinstance(layer, _SHRINKABLE) and find(layer.name) not in fixed:
            groups.setdefault(find(layer.name), []).append(layer.name)
    return {members[0]: members for members in groups.values()}


def _concatenates_channels(layer) -> bool:
    return isinstance(layer, keras.layers.Concatenate) and layer.axis in (-1, len(layer.output.shape) - 1)


def _inputs_of(model, layer) -> list[str]:
    """Names of the layers producing `layer`'s inputs, in input order."""
    node = next(node for node in graph_nodes(graph_of(model)) if node.operation is layer)
    return [tensor._keras_history[0].name for tensor in node.input_tensors]


def shrinkable_layers(model) -> list[str]:
    return [name for members in channel_groups(model).values() for name in members]


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


def _concatenated_kept(model, layer, kept_out):
    """Kept channel indices of a channel concatenation, from the kept channels of its inputs."""
    parts, offset = [], 0
    names = _inputs_of(model, layer)
    for name, tensor in zip(names, layer.input):
        width = int(tensor.shape[-1])
        kept = kept_out.get(name)
        parts.append(offset + (np.arange(width) if kept is None else kept))
        offset += width
    if all(kept_out.get(name) is None for name in names):
        return None
    return np.concatenate(parts)


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
        elif _concatenates_channels(layer):
            kept_out[layer.name] = _concatenated_kept(model, layer, kept_out)
            changed = False  # a Concatenate has no weights: it joins whatever it is given
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
    groups = channel_groups(model)
    group_of = {name: first for first, members in groups.items() for name in members}
    allowed = list(group_of)
    if layers is None:
        targets = {name: fraction for name in allowed}
    else:
        targets = dict(layers) if isinstance(layers, dict) else {name: fraction for name in layers}
        for name in targets:
            if name not in allowed:
                raise McuError(f"layer {name!r} cannot be shrunk (shrinkable: {', '.join(allowed) or 'none'})")
    shares = {}
    for name, share in targets.items():  # a group is cut by the largest share asked of a member
        share = number(share, "structured pruning fraction")
        if not 0.0 <= share < 1.0:
            raise McuError(f"structured pruning fraction must be in [0, 1), got {share}")
        shares[group_of[name]] = max(share, shares.get(group_of[name], 0.0))
    keep = {}
    x = data.x_train[:1024] if data is not None else None
    for first, share in shares.items():
        scores = sum(channel_scores(model, name, criterion, x) for name in groups[first])
        n_keep = max(1, int(round(len(scores) * (1.0 - share))))
        kept = np.sort(np.argsort(-scores, kind="stable")[:n_keep])
        keep.update({name: kept for name in groups[first]})
    smaller = remove_channels(model, keep)
    return fine_tune(smaller, data, epochs=epochs if data is not None else 0, **fit_options)
