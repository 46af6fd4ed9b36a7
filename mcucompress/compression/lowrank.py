"""Low-rank factorization by truncated SVD.

Dense W (m x n) becomes Dense(r, linear, no bias) -> Dense(n) with W ~ A @ B, A = U_r sqrt(S_r),
B = sqrt(S_r) V_r^T. Conv2D/Conv1D kernels are matricized to (kh*kw*C, N): the first factor is a
conv of the same size, strides and padding with r filters, the second a 1x1 conv with the bias
and activation. The first layer is named '<name>_lr', the second keeps '<name>'.

Ranks come from retained singular-value energy per layer, from explicit ranks, or from a global
MAC or parameter budget (relative to the chosen layers) met greedily: each step truncates the
layer whose next truncation loses the least energy per MAC (or parameter) saved. A layer is only
factored when that saves work (r (m + n) < m n).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from mcucompress.compression.finetune import fine_tune
from mcucompress.compression.rewrite import Replacement, rebuild
from mcucompress.compression.layers import to_numpy
from mcucompress.compression.options import number, whole_number
from mcucompress.errors import McuError

_FACTORABLE = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D)


@dataclass(frozen=True)
class Factorable:
    """One layer as a matrix: m x n, applied at `positions` output positions per sample."""

    name: str
    m: int
    n: int
    positions: int
    singular: np.ndarray

    def cost(self, rank: int | None, what: str) -> int:
        per_position = self.m * self.n if rank is None else rank * (self.m + self.n)
        return per_position * (self.positions if what == "macs" else 1)

    @property
    def max_useful_rank(self) -> int:
        """Largest rank whose factorization is strictly cheaper than the full matrix."""
        return (self.m * self.n - 1) // (self.m + self.n)

    def energy_lost(self, rank: int | None) -> float:
        energy = self.singular ** 2
        return 0.0 if rank is None else float(energy[rank:].sum() / max(energy.sum(), 1e-30))


def _matrix(layer) -> np.ndarray:
    kernel = to_numpy(layer.kernel)
    return kernel.reshape(-1, kernel.shape[-1])


def factorable(model, layers=None) -> list[Factorable]:
    result = []
    names = None if layers is None else list(layers)
    known = {layer.name for layer in model.layers}
    for name in names or []:
        if name not in known:
            raise McuError(f"no layer named {name!r} in model '{model.name}'")
    for layer in model.layers:
        if names is not None and layer.name not in names:
            continue
        if not isinstance(layer, _FACTORABLE) or getattr(layer, "groups", 1) != 1:
            if names is not None:
                raise McuError(f"layer {layer.name!r} cannot be factorized (Dense or Conv with groups=1 only)")
            continue
        matrix = _matrix(layer)
        positions = int(np.prod(layer.output.shape[1:-1])) if len(layer.output.shape) > 2 else 1
        singular = np.linalg.svd(matrix.astype(np.float64), compute_uv=False)
        result.append(Factorable(layer.name, matrix.shape[0], matrix.shape[1], positions, singular))
    return result


def ranks_for_energy(candidates: list[Factorable], energy: float) -> dict[str, int]:
    """Smallest rank keeping `energy` of each layer's squared singular values (if it saves work)."""
    if not 0.0 < energy <= 1.0:
        raise McuError(f"low-rank energy must be in (0, 1], got {energy}")
    ranks = {}
    for c in candidates:
        kept = np.cumsum(c.singular ** 2) / max(float((c.singular ** 2).sum()), 1e-30)
        rank = int(np.searchsorted(kept, energy - 1e-12) + 1)
        if rank <= c.max_useful_rank:
            ranks[c.name] = rank
    return ranks


def ranks_for_budget(candidates: list[Factorable], fraction: float, what: str = "macs") -> dict[str, int]:
    """Greedy ranks so that the chosen layers cost at most `fraction` of their original MACs
    (what='macs') or parameters (what='params')."""
    if not 0.0 < fraction <= 1.0:
        raise McuError(f"low-rank {what} budget must be in (0, 1], got {fraction}")
    rank: dict[str, int | None] = {c.name: None for c in candidates}
    budget = fraction * sum(c.cost(None, what) for c in candidates)
    total = sum(c.cost(None, what) for c in candidates)
    while total > budget:
        best = None
        for c in candidates:
            current = rank[c.name]
            nxt = c.max_useful_rank if current is None else current - 1
            if nxt < 1:
                continue
            saved = c.cost(current, what) - c.cost(nxt, what)
            ratio = (c.energy_lost(nxt) - c.energy_lost(current)) / saved
            if best is None or ratio < best[0]:
                best = (ratio, c, nxt, saved)
        if best is None:
            raise McuError(f"cannot reach a {what} budget of {fraction:g}: every layer is already at rank 1")
        _, c, nxt, saved = best
        rank[c.name] = nxt
        total -= saved
    return {name: r for name, r in rank.items() if r is not None}


def factor_matrix(matrix: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """A (m x r), B (r x n) with A @ B the best rank-r approximation of `matrix`."""
    u, s, vt = np.linalg.svd(matrix.astype(np.float64), full_matrices=False)
    root = np.sqrt(s[:rank])
    return (u[:, :rank] * root).astype(np.float32), (root[:, None] * vt[:rank]).astype(np.float32)


def _factor_layer(layer, rank: int) -> Replacement:
    kernel = to_numpy(layer.kernel)
    a, b = factor_matrix(kernel.reshape(-1, kernel.shape[-1]), rank)
    bias = [to_numpy(layer.bias)] if layer.use_bias else []
    config = layer.get_config()
    first_config = dict(config, name=f"{layer.name}_lr", activation="linear", use_bias=False)
    if isinstance(layer, keras.layers.Dense):
        first = keras.layers.Dense.from_config(dict(first_config, units=rank))
        second = keras.layers.Dense.from_config(config)
        return Replacement([first, second], [[a], [b] + bias])
    first = layer.__class__.from_config(dict(first_config, filters=rank))
    ones = (1,) * (kernel.ndim - 2)
    second = layer.__class__.from_config(dict(config, kernel_size=ones, strides=ones, dilation_rate=ones,
                                              padding="valid"))
    return Replacement([first, second], [[a.reshape(kernel.shape[:-1] + (rank,))],
                                         [b.reshape(ones + b.shape)] + bias])


def factorize(model, ranks: dict[str, int]):
    """Replace each named layer by its rank-r factorization (no training)."""
    replacements = {}
    for name, rank in ranks.items():
        layer = model.get_layer(name)
        if not isinstance(layer, _FACTORABLE):
            raise McuError(f"layer {name!r} cannot be factorized (Dense or Conv only)")
        rank = whole_number(rank, f"rank for layer {name!r}")
        if not 1 <= rank <= min(_matrix(layer).shape):
            raise McuError(f"rank {rank} for layer {name!r} is outside 1..{min(_matrix(layer).shape)}")
        replacements[name] = _factor_layer(layer, rank)
    return rebuild(model, replacements)


def choose_ranks(model, *, energy=None, macs=None, params=None, ranks=None, layers=None) -> dict[str, int]:
    given = [k for k, v in (("energy", energy), ("macs", macs), ("params", params), ("ranks", ranks)) if v is not None]
    if len(given) != 1:
        raise McuError("low-rank needs exactly one of energy=, macs=, params= or explicit ranks")
    if ranks is not None:
        if not isinstance(ranks, dict):
            raise McuError(f"low-rank ranks must map layer names to ranks, got {ranks!r}")
        return {name: whole_number(r, f"rank for layer {name!r}") for name, r in ranks.items()}
    candidates = factorable(model, layers)
    if energy is not None:
        return ranks_for_energy(candidates, number(energy, "low-rank energy"))
    kind = "macs" if macs is not None else "params"
    return ranks_for_budget(candidates, number(macs if macs is not None else params, f"low-rank {kind}"), kind)


def low_rank(model, data=None, *, energy=None, macs=None, params=None, ranks=None, layers=None, epochs=2,
             **fit_options):
    """Factorize Dense/Conv layers (ranks chosen as in choose_ranks) and fine-tune on `data`."""
    chosen = choose_ranks(model, energy=energy, macs=macs, params=params, ranks=ranks, layers=layers)
    return fine_tune(factorize(model, chosen), data, epochs=epochs if data is not None else 0, **fit_options)
