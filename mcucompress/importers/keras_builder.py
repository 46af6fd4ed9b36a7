"""A small mutable accumulator the Keras importer fills, then freezes into a float Graph.

Layer converters call it to add constants, activation tensors and ops; it keeps names unique
(Keras allows a layer to be called twice) and records shapes so converters can ask for them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mcucompress.ir.graph import Graph, Op, Tensor


class GraphBuilder:
    def __init__(self) -> None:
        self.tensors: dict[str, Tensor] = {}
        self.ops: list[Op] = []

    def _unique(self, name: str) -> str:
        if name not in self.tensors:
            return name
        i = 1
        while f"{name}_{i}" in self.tensors:
            i += 1
        return f"{name}_{i}"

    def constant(self, name: str, data: np.ndarray) -> str:
        name = self._unique(name)
        data = np.ascontiguousarray(data, dtype=np.float32)
        self.tensors[name] = Tensor(name, tuple(data.shape), "float32", None, data)
        return name

    def integer_constant(self, name: str, data: np.ndarray) -> str:
        name = self._unique(name)
        data = np.ascontiguousarray(data, dtype=np.int32)
        self.tensors[name] = Tensor(name, tuple(data.shape), "int32", None, data)
        return name

    def activation(self, name: str, shape: tuple[int, ...]) -> str:
        name = self._unique(name)
        self.tensors[name] = Tensor(name, tuple(int(d) for d in shape), "float32")
        return name

    def shape(self, name: str) -> tuple[int, ...]:
        return self.tensors[name].shape

    def op(self, kind: str, name: str, inputs, out_name: str, out_shape, **attrs: Any) -> str:
        """Adds one op writing a new activation tensor; returns the tensor's (unique) name."""
        out = self.activation(out_name, out_shape)
        self.ops.append(Op(kind, name, tuple(inputs), (out,), attrs))
        return out

    def build(self, inputs, outputs, name: str) -> Graph:
        return Graph(self.tensors, self.ops, tuple(inputs), tuple(outputs), name)
