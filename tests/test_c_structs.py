"""Designated initializers are written from the params dataclasses' field names and checked
against mcc.h's declarations, so a field the Python and the C disagree on is an error, not a
silently zeroed member."""

import numpy as np
import pytest

from mcucompress.codegen.c_structs import designated, struct_fields
from mcucompress.errors import McuError
from mcucompress.quantize.params import ConvParams


def _conv_params(**changes) -> ConvParams:
    fields = dict(input_offset=128, output_offset=-5, multiplier=np.array([1 << 30]), shift=np.array([-3]),
                  act_min=-128, act_max=127, stride=(2, 1), dilation=(1, 1), padding=(1, 2, 3, 4),
                  depth_multiplier=2, rounding="tflm")
    return ConvParams(**(fields | changes))


def test_params_dataclass_writes_every_field_by_name():
    p = _conv_params()
    assert designated("mcc_dw_conv_params", p.c_fields(depthwise=True)) == (
        "{.input_offset = 128, .output_offset = -5, .depth_multiplier = 2, .stride = {.h = 2, .w = 1}, "
        ".padding = {.h = 1, .w = 3}, .dilation = {.h = 1, .w = 1}, .activation = {.min = -128, .max = 127}}")
    conv = designated("mcc_conv_params", p.c_fields(depthwise=False))
    assert ".depth_multiplier" not in conv and conv.startswith("{.input_offset = 128, .output_offset = -5, .stride")


def test_literals_are_exact():
    text = designated("mcc_mean_params", {"scale": np.float32(0.1), "same_quant": False, "input_offset": -(1 << 31),
                                          "output_offset": 3, "multiplier": 1, "shift": 0,
                                          "activation": {"min": -128, "max": 127}})
    assert text.startswith("{.scale = 0x1.99999ap-4f, .same_quant = 0, .input_offset = (-2147483647 - 1),")


@pytest.mark.parametrize("fields", [
    {"w": 1, "h": 2},                 # reordered
    {"h": 1},                          # missing (C would zero it)
    {"h": 1, "w": 2, "d": 3},          # unknown
])
def test_fields_must_match_the_header(fields):
    with pytest.raises(McuError, match="mcc_tile initializer names"):
        designated("mcc_tile", fields)


def test_nested_structs_are_checked_too():
    with pytest.raises(McuError, match="mcc_activation"):
        designated("mcc_fc_params", {"input_offset": 0, "filter_offset": 0, "output_offset": 0,
                                     "activation": {"max": 127, "min": -128}})


def test_unknown_struct_is_refused():
    with pytest.raises(McuError, match="not a struct declared"):
        designated("mcc_nothing", {})


def test_header_structs_are_read():
    structs = struct_fields()
    assert [name for _, name in structs["mcc_quant"]] == ["multiplier", "shift", "scale", "per_channel"]
    assert ("mcc_tile", "stride") in structs["mcc_conv_b1_params"]
    assert len(structs) >= 25
