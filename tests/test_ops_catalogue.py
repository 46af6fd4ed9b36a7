"""The op catalogue (mcucompress/ir/ops.py): every kind has every entry its scheme needs, every
name it gives resolves, every kernel file exists and defines its function, and the one MAC
counter covers Q-format and binary kinds."""

import inspect
import re

import numpy as np
import pytest

from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor
from mcucompress.ir.ops import OPS, QUANTIZERS, SCHEMES, graph_macs, kernel_sources, kinds, macs, no_macs
from mcucompress.resources import runtime_dir

ROLES = ("params", "reference", "float_reference", "lowering")
# what each scheme's kinds must name: float kinds run in float graphs only; the integer kinds
# need parameters, a numpy reference and a lowering; int8 kinds also appear in float graphs
NEEDS = {"float": {"float_reference"}, "int8": set(ROLES), "qformat": {"params", "reference", "lowering"},
         "binary": {"params", "reference", "lowering"}}
ARITY = {"params": 3, "reference": 5, "lowering": 3}


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_kind_has_what_its_scheme_needs(name):
    kind = OPS[name]
    assert kind.name == name and kind.scheme in SCHEMES
    for role in ROLES:
        ref = getattr(kind, role)
        if role in NEEDS[kind.scheme]:
            assert ref is not None, f"{name} has no {role}"
        if ref is None:
            continue
        function = kind.resolve(role)
        assert callable(function), f"{name}: {ref} is not a function"
        if role in ARITY:
            assert len(inspect.signature(function).parameters) == ARITY[role], f"{name}: {ref}"
    if kind.scheme != "float":
        assert kind.kernels, f"{name} names no runtime kernel"
    assert kind.tied <= set(QUANTIZERS)
    if kind.weighted:
        assert kind.macs is not no_macs, f"weighted kind {name} counts no MACs"
    if kind.twin is not None:
        twin = OPS[kind.twin]
        assert twin.scheme == "int8" and twin.weighted == kind.weighted and twin.weight_axis == kind.weight_axis


@pytest.mark.parametrize("name", sorted(OPS))
def test_kernel_files_exist_and_define_their_function(name):
    runtime = runtime_dir()
    for path in OPS[name].kernels:
        text = (runtime / path).read_text()
        function = path.rsplit("/", 1)[-1][:-2]
        assert re.search(rf"\b{function}\s*\(", text), f"{path} does not define {function}"
    for header in OPS[name].headers:
        assert (runtime / header).is_file()


def test_one_source_file_per_kernel_function():
    seen = {}
    for kind in OPS.values():
        for function, path in kind.kernel_sources.items():
            assert seen.setdefault(function, path) == path
    assert kernel_sources() == seen


def test_schemes_partition_the_catalogue():
    assert sum(len(kinds(s)) for s in SCHEMES) == len(OPS)


def _t(name, shape, data=None, dtype="int8"):
    return Tensor(name, shape, dtype, QuantParams((0.5,), (0,)), data)


def test_macs_of_qformat_and_binary_kinds_are_those_of_their_loops():
    rng = np.random.default_rng(0)
    w = rng.integers(-3, 3, (6, 3, 3, 4)).astype(np.int8)
    tensors = [_t("x", (1, 8, 8, 4)), _t("w", w.shape, w), _t("y", (1, 8, 8, 6)),
               _t("bits", (1, 8, 8, 4)), _t("bw", (6, 3, 3, 1), np.zeros((6, 3, 3, 1), np.uint32), "uint32"),
               _t("thr", (6,), np.zeros(6, np.int32), "int32"), _t("by", (1, 8, 8, 4)),
               _t("v", (1, 70)), _t("fw", (10, 3), np.zeros((10, 3), np.uint32), "uint32"),
               _t("fthr", (10,), np.zeros(10, np.int32), "int32"), _t("fy", (1, 4))]
    ops = (Op("conv2d", "c", ("x", "w", None), ("y",)), Op("conv2d_q7", "q", ("x", "w", None), ("y",)),
           Op("binary_conv2d", "b", ("bits", "bw", "thr"), ("by",), {"in_channels": 4}),
           Op("binary_fully_connected", "f", ("v", "fw", "fthr"), ("fy",), {"in_features": 70}))
    g = Graph({t.name: t for t in tensors}, ops, ("x",), ("y",))
    conv = 8 * 8 * 6 * 3 * 3 * 4
    assert [macs(g, op) for op in ops] == [conv, conv, 8 * 8 * 3 * 3 * 6 * 4, 70 * 10]
    assert graph_macs(g) == sum(macs(g, op) for op in ops)
