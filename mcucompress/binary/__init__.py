"""Binary and ternary networks: Keras training layers, conversion to bit-packed IR ops, and the
numpy reference of those ops (the oracle the XNOR-popcount C kernels are tested against).

The op kinds added to the IR are documented in ``mcucompress/ir/graph.py``; their arithmetic is
stated once, in ``mcucompress/binary/kernel_params.py``.
"""
