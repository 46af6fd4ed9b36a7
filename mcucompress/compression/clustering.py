"""Weight clustering (Han et al. 2016, Deep Compression): weight sharing by k-means.

Each kernel's weights are clustered with scikit-learn's KMeans, initialised with k linearly
spaced centroids between the smallest and largest weight (linear init keeps the rare large
weights, which matter most, represented). Zero weights of a pruned kernel are left out and stay
exactly zero, so sparsity survives; zero then counts as one of the k shared values (k - 1
centroids for the rest), so k = 16 gives 16 values, 4-bit indices. Fine-tuning keeps the assignments fixed and trains the
centroids (each centroid's gradient is the sum over its members; see finetune.py). The result
holds the shared values materialised in plain kernels: at most k distinct values. A hashed
layer's bucket values are clustered the same way, with no zero kept apart (HashedNets' buckets
then cost 1-4 bits each on the device instead of a byte).
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

from mcucompress.compression.finetune import fine_tune, snap_to_clusters
from mcucompress.compression.layers import kernel_layers, kernel_of, shared_weight_of, to_numpy
from mcucompress.errors import McuError


def kmeans_linear(values: np.ndarray, n_clusters: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(centroids, labels) of 1-D `values` clustered with linear initialisation; empty clusters
    are dropped and labels renumbered densely."""
    values = values.astype(np.float64).reshape(-1, 1)
    k = min(n_clusters, len(np.unique(values)))
    init = np.linspace(values.min(), values.max(), k).reshape(-1, 1)
    kmeans = KMeans(n_clusters=k, init=init, n_init=1, random_state=seed).fit(values)
    used, labels = np.unique(kmeans.labels_, return_inverse=True)
    return kmeans.cluster_centers_[used, 0], labels.astype(np.int32)


def cluster_assignments(kernel: np.ndarray, n_clusters: int, preserve_zeros=True, seed=0) -> np.ndarray:
    """Cluster index per weight; -1 for the zeros kept out of clustering, which take one of the
    n_clusters values when there are any (at least one centroid stays)."""
    assignment = np.full(kernel.shape, -1, np.int32)
    members = kernel != 0 if preserve_zeros else np.ones(kernel.shape, bool)
    if members.any():
        centroids = n_clusters - 1 if n_clusters > 1 and not members.all() else n_clusters
        _, labels = kmeans_linear(kernel[members], centroids, seed)
        assignment[members] = labels
    return assignment


def cluster_weights(model, data=None, clusters=32, *, layers=None, preserve_zeros=True, epochs=1, seed=0,
                    **fit_options):
    """Cluster each kernel to `clusters` shared values (or per layer with layers={name: k}),
    fine-tune the centroids on `data`, and return a plain model with the shared values baked in."""
    if isinstance(layers, dict):
        counts = {layer.name: layers[layer.name] for layer in kernel_layers(model, list(layers), shared_weight_of)}
    else:
        counts = {layer.name: clusters for layer in kernel_layers(model, layers, shared_weight_of)}
    assignments = {}
    for name, k in counts.items():
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:  # 2.5 or "many" from a recipe
            raise McuError(f"number of clusters must be a whole number >= 1, got {k!r} for layer {name!r}")
        layer = model.get_layer(name)
        # a kernel's zeros are pruned weights; a bucket value of zero is a value like any other
        keep_zeros = preserve_zeros and kernel_of(layer) is not None
        assignments[name] = cluster_assignments(to_numpy(shared_weight_of(layer)), int(k), keep_zeros, seed)
    start = fine_tune(model, None, clusters=assignments)  # snap to centroids before training
    return fine_tune(start, data, epochs=epochs if data is not None else 0, clusters=assignments, **fit_options)


def distinct_values(kernel: np.ndarray) -> int:
    return int(len(np.unique(np.asarray(kernel))))


__all__ = ["cluster_weights", "kmeans_linear", "cluster_assignments", "snap_to_clusters", "distinct_values"]
