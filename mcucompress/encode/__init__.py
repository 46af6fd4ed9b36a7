"""Lossless encodings of int8 weight tensors that the C kernels run without decompressing:
sparse CSR (csr; in 256-column segments for gathers: csr_seg; as windows of two columns for SMLAD: csr_pair), codebook indices (codebook), canonical Huffman (huffman; with a multi-symbol
lookup table: huffman_lut), and the per-tensor choice between them and dense (choose)."""

from mcucompress.encode.choose import ATTR, ENCODINGS, OPTIMIZE, choose_encodings, encoding_rows

__all__ = ["ATTR", "ENCODINGS", "OPTIMIZE", "choose_encodings", "encoding_rows"]
