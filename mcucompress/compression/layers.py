"""Which layers carry a weight matrix the compression passes work on."""

from __future__ import annotations

import keras

# Layers whose `kernel` is a weight tensor we may prune or cluster.
KERNEL_LAYERS = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


def kernel_of(layer):
    """The layer's main weight variable, or None."""
    if isinstance(layer, keras.layers.DepthwiseConv2D) and hasattr(layer, "depthwise_kernel"):  # tf_keras
        return layer.depthwise_kernel
    if isinstance(layer, KERNEL_LAYERS):
        return layer.kernel
    return None


def shared_weight_of(layer):
    """The variable whose values weight sharing (clustering) ties: the kernel, or a hashed
    layer's bucket values (clustered, they are stored as codebook indices on the device)."""
    from mcucompress.compression.shared_layers import HashedDense

    return layer.values if isinstance(layer, HashedDense) else kernel_of(layer)


def kernel_layers(model, names=None, weight_of=kernel_of):
    """The layers with a kernel (or the weight `weight_of` picks), in model order, optionally
    restricted to `names`."""
    from mcucompress.errors import McuError

    layers = [layer for layer in model.layers if weight_of(layer) is not None]
    if names is not None:
        known = {layer.name for layer in layers}
        missing = [name for name in names if name not in known]
        if missing:
            raise McuError(f"layer {missing[0]!r} not found or has no weight kernel (have: {', '.join(sorted(known))})")
        layers = [layer for layer in layers if layer.name in names]
    return layers


def to_numpy(variable):
    """A NumPy copy of a Keras variable (or tensor) without NumPy's __array__ deprecation path."""
    import numpy as np

    return np.array(variable.numpy() if hasattr(variable, "numpy") else variable)
