"""Two passes that replace Dense layers by layers built from shared values, then fine-tune them.

- ``hash_weights`` (HashedNets, Chen et al. 2015): each chosen Dense becomes a HashedDense with
  ceil(in * units / ratio) buckets. Every bucket starts as the least-squares fit of the weights
  hashed into it (the mean of sign * w over its members); fine-tuning then trains the buckets.
- ``product_quantize`` (Gong et al. 2014): each chosen Dense's rows are cut into sub-vectors of
  ``length`` inputs; k-means (scikit-learn) over the ``units`` sub-vectors of each sub-space gives
  ``centroids`` codewords and a code per row; fine-tuning trains the codewords, codes stay.

Default layers: for hashing every Dense but the last (the classifier: hashing it costs far more
accuracy than the bytes it saves, 1.4 points on LeNet-300-100); for product quantization every
Dense whose input splits into sub-vectors and that has more units than centroids (otherwise its
table costs more than the dense layer). The ``cluster`` pass run after ``hash_weights`` clusters
the bucket values too, and the export then stores each bucket as a 1-4 bit codebook index.
"""

from __future__ import annotations

import keras
import numpy as np
from sklearn.cluster import KMeans

from mcucompress.compression.finetune import fine_tune
from mcucompress.compression.layers import to_numpy
from mcucompress.compression.options import number, whole_number
from mcucompress.compression.rewrite import Replacement, rebuild
from mcucompress.compression.shared_layers import HashedDense, ProductQuantizedDense
from mcucompress.errors import McuError
from mcucompress.ir.shared_weights import PQ_MAX_CENTROIDS as MAX_CENTROIDS, hashed_layout


def _dense_layers(model, names, eligible, what: str) -> list:
    dense = [layer for layer in model.layers if type(layer) is keras.layers.Dense]
    if names is None:
        return [layer for layer in dense if eligible(layer)]
    known = {layer.name: layer for layer in dense}
    for name in names:
        if name not in known:
            raise McuError(f"layer {name!r} is not a Dense layer of model '{model.name}' ({what} needs Dense)")
        if not eligible(known[name]):
            raise McuError(f"layer {name!r} cannot be {what}")
    return [known[name] for name in names]


def _kernel_and_bias(layer) -> tuple[np.ndarray, list[np.ndarray]]:
    kernel = to_numpy(layer.kernel)  # (in, units)
    return kernel, [to_numpy(layer.bias)] if layer.use_bias else []


def hashed_values(kernel_out_in: np.ndarray, buckets: int, seed: int) -> np.ndarray:
    """The bucket values closest (least squares) to a (units, in) matrix: mean of sign * w per bucket."""
    units, in_features = kernel_out_in.shape
    index, sign = hashed_layout(units, in_features, buckets, seed)
    total = np.bincount(index.ravel(), weights=(kernel_out_in * sign).ravel(), minlength=buckets)
    count = np.bincount(index.ravel(), minlength=buckets)
    return (total / np.maximum(count, 1)).astype(np.float32)


def hash_weights(model, data=None, ratio=8, *, layers=None, seed=0, epochs=2, **fit_options):
    """Each chosen Dense as a HashedDense with 1/ratio as many stored weights, fine-tuned on `data`."""
    ratio = number(ratio, "hashing ratio")
    if not ratio >= 1:
        raise McuError(f"hashing ratio must be at least 1, got {ratio}")
    seed = whole_number(seed, "hashing seed")
    chosen = _dense_layers(model, layers, lambda layer: True, "hashed")
    if layers is None:  # the classifier stays dense
        chosen = chosen[:-1]
    replacements = {}
    for layer in chosen:
        kernel, bias = _kernel_and_bias(layer)
        in_features, units = kernel.shape
        buckets = max(1, int(np.ceil(in_features * units / ratio)))
        hashed = HashedDense(units, buckets, seed, activation=layer.activation, use_bias=layer.use_bias,
                             name=layer.name)
        replacements[layer.name] = Replacement([hashed], [[hashed_values(kernel.T, buckets, seed)] + bias])
    if not replacements:
        raise McuError("no Dense layer to hash (the last Dense, the classifier, is hashed only when named "
                       "in the pass's layers)")
    return fine_tune(rebuild(model, replacements), data, epochs=epochs if data is not None else 0, **fit_options)


def pq_codebooks(kernel_out_in: np.ndarray, length: int, centroids: int, seed: int = 0):
    """(codebooks (S, K, d) float32, codes (units, S) int32) of a (units, in) matrix by k-means per sub-space."""
    units, in_features = kernel_out_in.shape
    subspaces = in_features // length
    k = min(centroids, units)
    codebooks = np.zeros((subspaces, centroids, length), np.float32)
    codes = np.zeros((units, subspaces), np.int32)
    for s in range(subspaces):
        points = kernel_out_in[:, s * length:(s + 1) * length].astype(np.float64)
        kmeans = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(points)
        codebooks[s, :k] = kmeans.cluster_centers_
        codes[:, s] = kmeans.labels_
    return codebooks, codes


def product_quantize(model, data=None, length=4, centroids=16, *, layers=None, seed=0, epochs=2, **fit_options):
    """Each chosen Dense as a ProductQuantizedDense (sub-vectors of `length`, `centroids` codewords
    per sub-space, at most 64: the device kernel's limit), fine-tuned on `data`."""
    length, centroids = whole_number(length, "sub-vector length"), whole_number(centroids, "number of centroids")
    if length < 1 or not 1 <= centroids <= MAX_CENTROIDS:
        raise McuError(f"product quantization needs a sub-vector length >= 1 and 1-{MAX_CENTROIDS} centroids, "
                       f"got {length} and {centroids}")

    def eligible(layer) -> bool:
        return int(layer.kernel.shape[0]) % length == 0 and (layers is not None or layer.units > centroids)

    replacements = {}
    for layer in _dense_layers(model, layers, eligible, f"product-quantized (inputs a multiple of {length})"):
        kernel, bias = _kernel_and_bias(layer)
        codebooks, codes = pq_codebooks(kernel.T, length, centroids, seed)
        pq = ProductQuantizedDense(layer.units, length, centroids, activation=layer.activation,
                                   use_bias=layer.use_bias, name=layer.name)
        replacements[layer.name] = Replacement([pq], [[codebooks] + bias + [codes]])  # trainable first
    if not replacements:
        raise McuError(f"no Dense layer to product-quantize (inputs a multiple of {length}, more than "
                       f"{centroids} units)")
    return fine_tune(rebuild(model, replacements), data, epochs=epochs if data is not None else 0, **fit_options)
