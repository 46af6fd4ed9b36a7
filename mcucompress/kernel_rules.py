"""Rules for which runtime kernel path a layer takes that more than one stage reads: the C
lowering (`codegen/specialize.py`) decides by them which code to build, and the cost model
(`encode/cost_model.py`) predicts that code's instructions by the same rule. They sit here, below
both stages, so that neither copies the other's condition (encode must not import codegen)."""

from __future__ import annotations


def mve_few_k(kernel, stride, pad, in_c, out_c) -> bool:
    """Whether an MVE core runs a conv layer on int8 weights channel by channel over four pixels
    at a time (few_k_channels_mve in mcc_conv2d_fast_s8.c): 1x1 at stride 1 without padding
    (`pad`: top, left), 8 or 16 input channels, an even number of outputs."""
    return (tuple(kernel) == (1, 1) and tuple(stride) == (1, 1) and tuple(pad) == (0, 0)
            and int(in_c) in (8, 16) and int(out_c) % 2 == 0)
