"""csr_pair: sparse rows as windows of two adjacent columns in 256-column segments
(encode/csr_pair.py, runtime_c/sparse/mcc_fully_connected_csr_pair_s8.c). Lossless, fewer bytes
than dense int8 at 70% zeros, and byte-identical to the numpy reference on the host (portable C)
and on QEMU: the DSP assembly on the M4 and the M55, the M3's portable path."""

import numpy as np

from mcucompress.cost_suite import FcLayer
from mcucompress.encode.choose import encode
from mcucompress.encode.csr_pair import decode_csr_pair, encode_csr_pair, unpack_groups, windows

from sparse_fc_checks import chain_tests

# Rows of 3 segments (the last one 88 columns past the second), 2 (the last overlapping the
# first but 4 columns), exactly 256, and 64 (windows reaching the zeros past the row); odd and
# even group counts, empty segments (90% zeros on 9 units).
DEPTH, LAYERS = 600, (FcLayer(260, 0.7, 32), FcLayer(256, 0.85, 16), FcLayer(64, 0.0, 64), FcLayer(9, 0.9, 4))


def test_windows_cover_left_to_right():
    assert windows(np.array([0, 1, 2, 5, 6, 9])) == [0, 2, 5, 9]
    assert windows(np.array([], dtype=np.int64)) == []


def test_round_trip_and_layout():
    rng = np.random.default_rng(0)
    for depth in (1, 2, 5, 255, 256, 257, 300, 511, 512, 784):
        w = rng.integers(-128, 128, (6, depth)).astype(np.int8)
        w[rng.random(w.shape) < 0.7] = -3
        w[1] = -3  # an empty row
        w[2, -1] = 7  # a window whose second column is past the row
        data = encode_csr_pair(w, -3)
        assert np.array_equal(decode_csr_pair(data, -3), w)
        assert data.counts.size == 6 * -(-depth // 256) and data.groups.size == 3 * int(data.counts.sum())
        # every window starts on a non-zero weight; the padding ones hold offset 0 and the zero point
        offsets, first, second = unpack_groups(data.groups)
        real = first != -3
        assert int(real.sum()) == sum(len(windows(np.nonzero(row != -3)[0])) for row in w)
        assert (offsets[~real] == 0).all() and (second[~real] == -3).all()


def test_fewer_bytes_than_dense_at_70_percent_zeros():
    rng = np.random.default_rng(1)
    w = rng.integers(-127, 128, (300, 784)).astype(np.int8)
    w[rng.random(w.shape) < 0.7] = 0
    pair, dense = encode("csr_pair", w, 0), encode("dense", w, 0)
    assert pair.nbytes < 0.75 * dense.nbytes   # 3 bytes a window of 1.3 weights, counts, channel constants


# the host under both roundings; QEMU on the M4, the M55 and the M3
test_host_matches_the_reference, test_on_qemu_matches_host_and_reference = chain_tests("csr_pair", "pair",
                                                                                   DEPTH, LAYERS)
