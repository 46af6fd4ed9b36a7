"""Keras layers whose weight matrix is built from shared values: HashedDense and
ProductQuantizedDense (the expansion is defined in ir/shared_weights.py).

Both are registered under the package "mcucompress", so a saved .keras file names them and
loads again with their shared values (the compression survives the file); the importer maps
them to the op kinds fully_connected_hashed and fully_connected_pq. Training updates only the
shared values: the gather that expands them sums the gradients of all weights that share one.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from mcucompress.ir.shared_weights import hashed_layout


class _SharedDense(keras.layers.Layer):
    def __init__(self, units: int, activation=None, use_bias: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.bias = None

    def _add_bias(self):
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")

    def call(self, x):
        y = ops.matmul(x, self.kernel_matrix())
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": keras.activations.serialize(self.activation), "use_bias": self.use_bias}


@keras.saving.register_keras_serializable(package="mcucompress")
class HashedDense(_SharedDense):
    """Dense layer whose (in, units) kernel is ``sign * values[bucket]`` for ``buckets`` shared values."""

    def __init__(self, units: int, buckets: int, seed: int = 0, **kwargs):
        super().__init__(units, **kwargs)
        self.buckets, self.seed = int(buckets), int(seed)

    def build(self, input_shape):
        in_features = int(input_shape[-1])
        index, sign = hashed_layout(self.units, in_features, self.buckets, self.seed)
        self._index = ops.convert_to_tensor(index.T.astype(np.int32))  # (in, units) like a Dense kernel
        self._sign = ops.convert_to_tensor(sign.T.astype(np.float32))
        self.values = self.add_weight(name="values", shape=(self.buckets,),
                                      initializer=keras.initializers.RandomNormal(stddev=1.0 / np.sqrt(in_features)))
        self._add_bias()

    def kernel_matrix(self):
        return ops.take(self.values, self._index) * self._sign

    def get_config(self):
        return {**super().get_config(), "buckets": self.buckets, "seed": self.seed}


@keras.saving.register_keras_serializable(package="mcucompress")
class ProductQuantizedDense(_SharedDense):
    """Dense layer whose kernel rows are cut into sub-vectors of ``length`` values, each one of
    ``centroids`` codewords of its sub-space: codebooks (S, K, d) trained, codes (units, S) fixed."""

    def __init__(self, units: int, length: int, centroids: int, **kwargs):
        super().__init__(units, **kwargs)
        self.length, self.centroids = int(length), int(centroids)

    def build(self, input_shape):
        in_features = int(input_shape[-1])
        if in_features % self.length:
            raise ValueError(f"{in_features} inputs do not split into sub-vectors of {self.length}")
        self.subspaces = in_features // self.length
        self.codebooks = self.add_weight(name="codebooks", shape=(self.subspaces, self.centroids, self.length),
                                         initializer="glorot_uniform")
        self.codes = self.add_weight(name="codes", shape=(self.units, self.subspaces), dtype="int32",
                                     initializer="zeros", trainable=False)
        self._add_bias()

    def kernel_matrix(self):
        flat = ops.reshape(self.codebooks, (self.subspaces * self.centroids, self.length))
        offsets = ops.arange(self.subspaces, dtype="int32") * self.centroids
        rows = ops.take(flat, self.codes + offsets[None, :], axis=0)  # (units, S, d)
        return ops.transpose(ops.reshape(rows, (self.units, self.subspaces * self.length)))

    def get_config(self):
        return {**super().get_config(), "length": self.length, "centroids": self.centroids}
