"""Layers found slow on models outside the benchmark suite (scripts/bench_unseen.py), on the M4 (DSP)
and the M55 (MVE) in QEMU: byte-identical to the host build, the numpy reference and tflite-micro,
within a per-output instruction budget. One model: a squeeze-excite block (its gate, a (1, 1, 1, C)
vector, multiplied into the (1, H, W, C) features, then a same-shape product) on features from
depthwise layers with depth multipliers 2 and 4 (the input's channels repeated first)."""

import os
import shutil

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                       reason="needs arm-none-eabi-gcc and qemu-system-arm"),
]
tf_keras = pytest.importorskip("tf_keras")

from tflite_builders import _convert, _seed  # noqa: E402

from mcucompress.export import export  # noqa: E402
from mcucompress.targets.bench import bench_model  # noqa: E402

# Instructions an output of mcc_mul_s8: it walked TFLite's generic broadcast with the 64-bit double
# rounding at 25-75 on both cores; on DSP cores it reads the channel vector's columns and
# requantizes with SMMLAR (about 19), on the M55 four channels a vector (about 5).
MUL_BUDGET = {"mps2-an386": 21, "mps3-an547": 8}


def _squeeze_excite(layers):
    inp = layers.Input((9, 7, 3))
    x = layers.Conv2D(12, 3, padding="same", activation="relu6")(inp)
    x = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="relu6")(x)
    gate = layers.GlobalAveragePooling2D(keepdims=True)(x)
    gate = layers.Conv2D(6, 1, activation="relu")(gate)
    gate = layers.Conv2D(24, 1, activation="sigmoid")(gate)
    y = layers.Multiply()([x, gate])
    other = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=4)(layers.Conv2D(6, 1)(x))
    return inp, layers.Multiply()([other, y])


def test_squeeze_excite_and_depth_multipliers_fast_and_identical_on_m4_and_m55(tmp_path):
    _seed(3)
    inp, out = _squeeze_excite(tf_keras.layers)
    path = _convert(tf_keras.Model(inp, out), (9, 7, 3), tmp_path / "se.tflite", seed=3)
    tree = export(path, tmp_path / "out", prefix="se")
    bench = bench_model(tree, list(MUL_BUDGET), layers=True)
    for core in bench.cores:
        assert core.identical_to == {"host": True, "reference": True, "tflite-micro": True}, core
    expanded = [row for row in bench.layers if row.kernel.startswith("mcc_depthwise_expand_s8+")]
    assert len(expanded) == 2
    muls = [row for row in bench.layers if row.op.endswith(": mul")]
    assert len(muls) == 2 and all(row.kernel == "mcc_mul_s8" for row in muls)
    for row in muls:
        for board, budget in MUL_BUDGET.items():
            assert row.instructions[board] <= budget * 9 * 7 * 24, (board, row)
