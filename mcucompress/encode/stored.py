"""What an encoded weight matrix costs in flash, said once for the encodings whose cost is their
arrays plus the kernel's descriptor struct (and, for some, per-unit channel constants)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np


@dataclass(frozen=True, eq=False)
class StoredMatrix:
    """An encoded int8 weight matrix (units, depth): its fields after these two are the encoding's
    arrays and scalars. DESCRIPTOR_BYTES: the kernel's descriptor struct on a 32-bit target;
    CHANNEL_BYTES: per unit, what the dense fast requantization's channel constants add, for the
    kernels that take them in place of the bias."""

    DESCRIPTOR_BYTES: ClassVar[int] = 0
    CHANNEL_BYTES: ClassVar[int] = 0

    units: int
    depth: int

    @property
    def nbytes(self) -> int:
        """Bytes in flash: every array, the descriptor and the channel constants."""
        arrays = (getattr(self, f.name) for f in fields(self))
        return (sum(int(a.nbytes) for a in arrays if isinstance(a, np.ndarray)) + self.DESCRIPTOR_BYTES
                + self.CHANNEL_BYTES * self.units)
