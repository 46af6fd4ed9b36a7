"""Memory planner: greedy placement, no live overlaps, in-place sharing, reference model arenas;
and graph serialization round trips."""

import numpy as np
import pytest

from mcucompress.load import load
from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor
from mcucompress.ir.serialize import graph_to_bytes, load_graph, save_graph
from mcucompress.memory.liveness import analyze
from mcucompress.memory.planner import BufferRequest, MemoryPlan, Placement, find_overlaps, plan


def _peak_live_bytes(requests) -> int:
    """A lower bound on any arena: the most bytes alive at one op."""
    last = max(r.last for r in requests)
    return max(sum(r.size for r in requests if r.first <= t <= r.last) for t in range(last + 1))


def test_buffers_with_disjoint_lifetimes_share_memory():
    requests = [BufferRequest("a", 100, 0, 1), BufferRequest("b", 100, 1, 2), BufferRequest("c", 100, 2, 3)]
    result = plan(requests)
    assert result.offset("a") == result.offset("c") == 0
    assert result.offset("b") == 100
    assert result.arena_bytes == 200


def test_largest_first_fills_gaps():
    # 'big' goes first at 0; 'small' fits in the gap left after 'mid' dies.
    requests = [BufferRequest("mid", 40, 0, 1), BufferRequest("big", 100, 0, 3),
                BufferRequest("small", 40, 2, 3)]
    result = plan(requests)
    assert result.offset("big") == 0
    assert result.offset("mid") == result.offset("small") == 100
    assert result.arena_bytes == 140


@pytest.mark.parametrize("seed", range(20))
def test_random_plans_have_no_live_overlap(seed):
    rng = np.random.default_rng(seed)
    requests = []
    for i in range(int(rng.integers(5, 40))):
        first = int(rng.integers(0, 30))
        requests.append(BufferRequest(f"t{i}", int(rng.integers(1, 5000)), first, first + int(rng.integers(0, 8))))
    result = plan(requests)
    assert find_overlaps(result) == []
    assert result.arena_bytes >= _peak_live_bytes(requests)
    assert all(p.offset % 4 == 0 for p in result.placements)


def test_overlap_check_catches_a_broken_plan():
    broken = MemoryPlan((Placement("a", 0, 64, 0, 2), Placement("b", 32, 64, 1, 3)), 96)
    assert find_overlaps(broken) == [("a", "b")]


def _act(name, shape):
    return Tensor(name, shape, "int8", QuantParams((0.1,), (0,)))


def test_reshape_and_elementwise_ops_work_in_place():
    t = {n: _act(n, s) for n, s in [("x", (1, 4, 4, 2)), ("r", (1, 32)), ("y", (1, 32)), ("z", (1, 32))]}
    ops = (Op("reshape", "flat", ("x",), ("r",)), Op("relu", "relu", ("r",), ("y",)),
           Op("add", "add", ("y", "r"), ("z",)))
    live = analyze(Graph(t, ops, ("x",), ("z",)))
    # reshape output is its input's bytes; relu cannot overwrite r (add still reads it), add can.
    assert live.buffer_of["r"] == live.buffer_of["x"]
    assert live.buffer_of["y"] != live.buffer_of["r"]
    assert live.buffer_of["z"] in (live.buffer_of["y"], live.buffer_of["x"])
    assert find_overlaps(plan(list(live.requests))) == []


@pytest.mark.parametrize("model,limit", [("pretrainedResnet_quant.tflite", 54_996),
                                         ("kws_ref_model.tflite", 16_000)])
def test_reference_model_arenas(mlperf_dir, model, limit):
    """ResNet-8 must beat TFLM's 54,996-byte arena; DS-CNN reaches its 16,000-byte lower bound."""
    graph = load(mlperf_dir / model).graph
    live = analyze(graph)
    result = plan(list(live.requests))
    assert find_overlaps(result) == []
    assert _peak_live_bytes(live.requests) <= result.arena_bytes <= limit


def test_serialization_round_trip_is_exact_and_deterministic(mlperf_dir, tmp_path):
    graph = load(mlperf_dir / "kws_ref_model.tflite").graph
    save_graph(graph, tmp_path / "g.npz")
    again = load_graph(tmp_path / "g.npz")
    assert graph_to_bytes(again) == graph_to_bytes(graph) == (tmp_path / "g.npz").read_bytes()
    assert [op.attrs == again.ops[i].attrs for i, op in enumerate(graph.ops)] == [True] * len(graph.ops)
    for name, t in graph.tensors.items():
        u = again.tensor(name)
        assert (u.shape, u.dtype, u.quant) == (t.shape, t.dtype, t.quant)
        if t.data is not None:
            assert u.data.dtype == t.data.dtype and np.array_equal(u.data, t.data)
