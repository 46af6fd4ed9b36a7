"""csr_seg: sparse rows with absolute 8-bit column offsets in 256-column segments
(encode/csr_seg.py, runtime_c/sparse/mcc_fully_connected_csr_seg_s8.c). Lossless, fewer bytes
than dense int8 at 70% zeros, and byte-identical to the numpy reference on the host (portable C)
and on QEMU: the M4's DSP assembly, the M55's MVE gathers, the M3's portable path."""

import numpy as np

from mcucompress.cost_suite import FcLayer
from mcucompress.encode.choose import encode
from mcucompress.encode.csr_seg import SEGMENT, decode_csr_seg, encode_csr_seg, segment_starts

from sparse_fc_checks import chain_tests

# Rows of 3 segments, 2 (the last one overlapping the first but 4 columns), exactly 256 with full
# segments, and 64 (offsets checked); every width of the M4's walk (turns of 8, a block of 4,
# single entries). Small enough for the M3 board's 256 KB of flash.
DEPTH, LAYERS = 600, (FcLayer(260, 0.7, 32), FcLayer(256, 0.85, 16), FcLayer(64, 0.0, 64), FcLayer(9, 0.5, 4))


def test_round_trip_and_layout():
    rng = np.random.default_rng(0)
    for depth in (1, 5, 255, 256, 257, 300, 511, 512, 784):
        w = rng.integers(-128, 128, (6, depth)).astype(np.int8)
        w[rng.random(w.shape) < 0.7] = -3
        w[1] = -3  # an empty row
        data = encode_csr_seg(w, -3)
        assert np.array_equal(decode_csr_seg(data, -3), w)
        assert data.counts.size == 6 * -(-depth // SEGMENT) and data.entries == int((w != -3).sum())
        starts = segment_starts(depth)
        assert starts[-1] == max(depth - SEGMENT, 0) and (starts[:-1] == SEGMENT * np.arange(starts.size - 1)).all()


def test_fewer_bytes_than_dense_at_70_percent_zeros():
    rng = np.random.default_rng(1)
    w = rng.integers(-127, 128, (300, 784)).astype(np.int8)
    w[rng.random(w.shape) < 0.7] = 0
    seg, dense = encode("csr_seg", w, 0), encode("dense", w, 0)
    assert seg.nbytes < 0.65 * dense.nbytes   # 2 bytes an entry + 2 per row and segment


# the host under both roundings; QEMU on the M4, the M55 and the M3
test_host_matches_the_reference, test_on_qemu_matches_host_and_reference = chain_tests("csr_seg", "seg",
                                                                                   DEPTH, LAYERS)
