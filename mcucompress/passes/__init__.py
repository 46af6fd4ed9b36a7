"""Graph-to-graph rewrites. Each pass is ``def name(graph) -> Graph`` and never edits its input."""

from mcucompress.ir.graph import Graph
from mcucompress.passes.fold_batchnorm import fold_batchnorm
from mcucompress.passes.fuse_activations import fuse_activations

# The order matters: BN sits between a conv and its ReLU, so it must go first.
STANDARD_PASSES = (fold_batchnorm, fuse_activations)


def optimize(graph: Graph) -> Graph:
    """The standard pipeline every float graph goes through before quantization."""
    for rewrite in STANDARD_PASSES:
        graph = rewrite(graph)
    return graph


__all__ = ["STANDARD_PASSES", "fold_batchnorm", "fuse_activations", "optimize"]
