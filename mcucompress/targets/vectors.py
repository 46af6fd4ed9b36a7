"""Test vectors embedded in the harness: C source from int8 inputs (and expected outputs)."""

from __future__ import annotations

import numpy as np

from mcucompress.data import synthetic_inputs
from mcucompress.targets.manifest import Manifest


def _c_bytes(values: np.ndarray, per_line: int = 24) -> str:
    flat = [str(int(v)) for v in values.astype(np.int8).ravel()]
    if not flat:
        return "0"
    lines = [", ".join(flat[i:i + per_line]) for i in range(0, len(flat), per_line)]
    return ",\n    ".join(lines)


def random_inputs(manifest: Manifest, count: int, seed: int = 0) -> np.ndarray:
    """Deterministic int8 inputs shaped like data, not noise (mcucompress.data.synthetic_inputs):
    the same bytes on every run. Several inputs: each sample's back to back."""
    parts = [synthetic_inputs(port.shape, count, seed + k).reshape(count, port.bytes)
             for k, port in enumerate(manifest.inputs)]  # several inputs: back to back per sample
    return np.concatenate(parts, axis=1)


def vectors_source(manifest: Manifest, inputs: np.ndarray, expected: np.ndarray | None, banner: str) -> str:
    inputs = np.asarray(inputs, dtype=np.int8).reshape(len(inputs), -1)
    if inputs.shape[1] != manifest.input_bytes:
        raise ValueError(f"inputs have {inputs.shape[1]} bytes per sample, the model takes {manifest.input_bytes}")
    has_expected = expected is not None
    if has_expected:
        expected = np.asarray(expected, dtype=np.int8).reshape(len(inputs), -1)
    else:
        expected = np.zeros((1, 1), dtype=np.int8)
    return f"""/* {banner} */
#include "mcc_harness.h"

const uint32_t mcc_vector_count = {len(inputs)}u;
const uint32_t mcc_vector_input_bytes = {manifest.input_bytes}u;
const uint32_t mcc_vector_output_bytes = {manifest.output_bytes}u;
const int mcc_vector_has_expected = {int(has_expected)};

MCC_VECTOR_SECTION const int8_t mcc_vector_inputs[{inputs.size}] = {{
    {_c_bytes(inputs)}
}};

MCC_VECTOR_SECTION const int8_t mcc_vector_expected[{expected.size}] = {{
    {_c_bytes(expected)}
}};
"""
