from mcucompress.ir.graph import Graph, Op, QuantParams, Tensor

__all__ = ["Graph", "Op", "QuantParams", "Tensor"]
