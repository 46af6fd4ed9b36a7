"""The float meaning of an op's fused ``activation`` attribute, shared by the float reference
interpreter and the float references that live beside their quantizers."""

from __future__ import annotations

import numpy as np


def fused_activation(y: np.ndarray, activation: str) -> np.ndarray:
    """y after the fused activation: relu, relu6, or unchanged ("none")."""
    if activation == "relu":
        return np.maximum(y, 0.0)
    if activation == "relu6":
        return np.clip(y, 0.0, 6.0)
    return y
