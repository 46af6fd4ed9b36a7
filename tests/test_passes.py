"""Graph passes on small hand-built float graphs: numerics are preserved, structure is rewritten."""

import numpy as np

from mcucompress.ir.graph import Graph, Op, Tensor
from mcucompress.passes import fold_batchnorm, fuse_activations, optimize
from mcucompress.reference.float import run_float

RNG = np.random.default_rng(0)


def _const(name, data):
    data = np.asarray(data, np.float32)
    return Tensor(name, data.shape, "float32", None, data)


def _act(name, shape):
    return Tensor(name, shape, "float32")


def _bn_tensors(prefix, c):
    return [_const(f"{prefix}/gamma", RNG.uniform(0.5, 1.5, c)), _const(f"{prefix}/beta", RNG.normal(0, 0.3, c)),
            _const(f"{prefix}/mean", RNG.normal(0, 0.3, c)), _const(f"{prefix}/var", RNG.uniform(0.5, 2, c))]


def _bn_op(name, x, out):
    return Op("batch_norm", name, (x, f"{name}/gamma", f"{name}/beta", f"{name}/mean", f"{name}/var"),
              (out,), {"epsilon": 1e-3})


def _graph(tensors, ops, inputs, outputs):
    return Graph({t.name: t for t in tensors}, ops, inputs, outputs)


def conv_bn_relu_graph(kind="conv2d"):
    """x -> conv -> bn -> relu -> add(., x') where x' = bn2(x) (a BN with no foldable producer)."""
    c = 4
    w_shape = (c, 3, 3, c) if kind == "conv2d" else (1, 3, 3, c)
    attrs = {"stride": (1, 1), "dilation": (1, 1), "padding": (1, 1, 1, 1), "activation": "none"}
    if kind == "depthwise_conv2d":
        attrs["depth_multiplier"] = 1
    tensors = [_act("x", (1, 5, 5, c)), _const("w", RNG.normal(0, 0.5, w_shape)), _const("b", RNG.normal(0, 0.1, c)),
               _act("y", (1, 5, 5, c)), _act("z", (1, 5, 5, c)), _act("r", (1, 5, 5, c)),
               _act("x2", (1, 5, 5, c)), _act("out", (1, 5, 5, c)),
               *_bn_tensors("bn", c), *_bn_tensors("bn2", c)]
    ops = [Op(kind, "conv", ("x", "w", "b"), ("y",), attrs),
           _bn_op("bn", "y", "z"),
           Op("relu", "relu", ("z",), ("r",)),
           _bn_op("bn2", "x", "x2"),
           Op("add", "add", ("r", "x2"), ("out",), {"activation": "none"})]
    return _graph(tensors, ops, ("x",), ("out",))


def test_fold_batchnorm_into_conv_and_standalone_bn_becomes_depthwise():
    for kind in ("conv2d", "depthwise_conv2d"):
        g = conv_bn_relu_graph(kind)
        folded = fold_batchnorm(g)
        assert [op.kind for op in folded.ops] == [kind, "relu", "depthwise_conv2d", "add"]
        assert folded.ops[0].outputs == ("z",)
        assert "y" not in folded.tensors  # the pre-BN tensor is gone
        x = RNG.normal(0, 1, (6, 5, 5, 4)).astype(np.float32)
        np.testing.assert_allclose(run_float(folded, x), run_float(g, x), rtol=1e-5, atol=1e-5)
        assert len(g.ops) == 5 and g.ops[1].kind == "batch_norm"  # the input graph is untouched


def test_fold_batchnorm_into_dense_and_vector_bn():
    tensors = [_act("x", (1, 6)), _const("w", RNG.normal(0, 1, (3, 6))), _const("b", RNG.normal(0, 1, 3)),
               _act("y", (1, 3)), _act("z", (1, 3)), _act("u", (1, 3)), *_bn_tensors("bn", 3), *_bn_tensors("bn2", 3)]
    ops = [Op("fully_connected", "fc", ("x", "w", "b"), ("y",), {"activation": "none"}),
           _bn_op("bn", "y", "z"), Op("relu", "relu", ("z",), ("u",)), _bn_op("bn2", "u", "out")]
    g = _graph(tensors + [_act("out", (1, 3))], ops, ("x",), ("out",))
    folded = fold_batchnorm(g)
    assert [op.kind for op in folded.ops] == ["fully_connected", "relu", "fully_connected"]
    x = RNG.normal(0, 1, (5, 6)).astype(np.float32)
    np.testing.assert_allclose(run_float(folded, x), run_float(g, x), rtol=1e-5, atol=1e-5)


def test_bn_not_folded_when_conv_output_has_other_readers():
    g = conv_bn_relu_graph()
    # make the conv's pre-BN output a graph output too: folding would change it
    g = g.replace(outputs=("out", "y"))
    folded = fold_batchnorm(g)
    assert folded.ops[0].outputs == ("y",)
    assert "batch_norm" not in [op.kind for op in folded.ops]


def test_fuse_activations_only_into_sole_fusable_producer():
    original = conv_bn_relu_graph()
    g = optimize(original)
    assert [op.kind for op in g.ops] == ["conv2d", "depthwise_conv2d", "add"]
    assert g.ops[0].attrs["activation"] == "relu"
    x = RNG.normal(0, 1, (3, 5, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(run_float(g, x), run_float(original, x), rtol=1e-5, atol=1e-5)

    # relu6 after a max pool stays a separate op (TFLite pools carry no fused clamp here)
    tensors = [_act("x", (1, 4, 4, 2)), _act("p", (1, 2, 2, 2)), _act("r", (1, 2, 2, 2))]
    pool = Op("max_pool2d", "pool", ("x",), ("p",), {"pool": (2, 2), "stride": (2, 2), "padding": (0, 0, 0, 0)})
    g2 = _graph(tensors, [pool, Op("relu6", "r6", ("p",), ("r",))], ("x",), ("r",))
    assert [op.kind for op in fuse_activations(g2).ops] == ["max_pool2d", "relu6"]

    # a relu whose input is also read elsewhere is not fused
    tensors = [_act("a", (1, 3)), _act("b", (1, 3)), _act("s", (1, 3)), _act("r", (1, 3)), _act("o", (1, 3))]
    ops = [Op("add", "add", ("a", "b"), ("s",), {"activation": "none"}), Op("relu", "relu", ("s",), ("r",)),
           Op("add", "add2", ("r", "s"), ("o",), {"activation": "none"})]
    g3 = Graph({t.name: t for t in tensors}, ops, ("a",), ("o",))
    assert [op.kind for op in fuse_activations(g3).ops] == ["add", "relu", "add"]


def test_passes_are_idempotent():
    once = optimize(conv_bn_relu_graph())
    twice = optimize(once)
    assert [(op.kind, dict(op.attrs)) for op in once.ops] == [(op.kind, dict(op.attrs)) for op in twice.ops]
