"""Magnitude pruning (Han et al. 2015) with a polynomial sparsity schedule, and the dynamic
network surgery variant (Guo et al. 2016) where pruned weights may come back.

Sparsity counts kernel weights only (biases are left dense, as in Han et al.). Targets are per
layer (`sparsity` for every kernel layer, overridden by `layers={name: s}`) or global (one
magnitude threshold across all chosen layers, so large layers give up more).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from mcucompress.compression.finetune import fine_tune
from mcucompress.compression.layers import kernel_layers, kernel_of, to_numpy
from mcucompress.compression.options import number, whole_number
from mcucompress.errors import McuError


@dataclass(frozen=True)
class PolynomialSchedule:
    """Zhu & Gupta 2017: s(t) = s_f + (s_i - s_f) * (1 - (t - t0) / (t1 - t0))^power for t0 <= t <= t1,
    updated every `frequency` steps; s_f after t1."""

    final: float
    begin_step: int = 0
    end_step: int = 100
    initial: float = 0.0
    power: float = 3.0
    frequency: int = 10

    def sparsity(self, step: int) -> float:
        if step >= self.end_step or self.end_step <= self.begin_step:
            return self.final
        progress = max(0.0, (step - self.begin_step) / (self.end_step - self.begin_step))
        return self.final + (self.initial - self.final) * (1.0 - progress) ** self.power

    def is_update_step(self, step: int) -> bool:
        in_window = self.begin_step <= step <= self.end_step
        return in_window and ((step - self.begin_step) % self.frequency == 0 or step == self.end_step)


def _check_sparsity(value, what="sparsity"):
    try:
        fraction = float(value)
    except (TypeError, ValueError):  # e.g. "high" from a recipe
        fraction = float("nan")
    if not 0.0 <= fraction < 1.0:
        raise McuError(f"{what} must be a number in [0, 1), got {value!r}")
    return fraction


def layer_targets(model, sparsity, layers=None) -> dict[str, float]:
    """Layer name -> target sparsity. `layers` is None (all kernel layers), a list of names, or
    a dict name -> sparsity (others untouched)."""
    if isinstance(layers, dict):
        chosen = kernel_layers(model, list(layers))
        return {layer.name: _check_sparsity(layers[layer.name]) for layer in chosen}
    return {layer.name: _check_sparsity(sparsity) for layer in kernel_layers(model, layers)}


def magnitude_masks(kernels: dict[str, np.ndarray], targets: dict[str, float], scope="layer") -> dict[str, np.ndarray]:
    """Boolean keep-masks removing the smallest-magnitude weights to reach the targets.

    scope='layer': each kernel loses its own fraction. scope='global': one threshold over all
    kernels so that the weighted mean of the targets is removed overall."""
    if scope not in ("layer", "global"):
        raise McuError(f"pruning scope must be 'layer' or 'global', got {scope!r}")
    if scope == "layer":
        return {name: _keep_largest(np.abs(w), 1.0 - targets[name]) for name, w in kernels.items()}
    total = sum(w.size for w in kernels.values())
    n_prune = int(round(sum(targets[name] * w.size for name, w in kernels.items())))
    magnitudes = np.concatenate([np.abs(w).reshape(-1) for w in kernels.values()])
    keep_flat = np.ones(total, bool)
    keep_flat[np.argsort(magnitudes, kind="stable")[:n_prune]] = False
    masks, start = {}, 0
    for name, w in kernels.items():
        masks[name] = keep_flat[start:start + w.size].reshape(w.shape)
        start += w.size
    return masks


def _keep_largest(magnitude: np.ndarray, keep_fraction: float) -> np.ndarray:
    n_prune = int(round(magnitude.size * (1.0 - keep_fraction)))
    keep = np.ones(magnitude.size, bool)
    keep[np.argsort(magnitude.reshape(-1), kind="stable")[:n_prune]] = False
    return keep.reshape(magnitude.shape)


def surgery_masks(previous: np.ndarray, weights: np.ndarray, target: float, margin: float) -> np.ndarray:
    """Dynamic network surgery update with hysteresis: with t the magnitude quantile at `target`,
    weights below t*(1-margin) are cut, above t*(1+margin) are (re)connected, others keep
    their previous state."""
    magnitude = np.abs(weights)
    threshold = np.quantile(magnitude, target) if target > 0 else 0.0
    mask = previous.copy()
    mask[magnitude < threshold * (1.0 - margin)] = False
    mask[magnitude > threshold * (1.0 + margin)] = True
    return mask


def magnitude_chooser(scope):
    """A ScheduledPruning chooser: masks by weight magnitude, kernels left as they are."""
    def choose(model, current):
        kernels = {name: to_numpy(kernel_of(model.get_layer(name))) for name in current}
        return {name: (mask, None) for name, mask in magnitude_masks(kernels, current, scope).items()}

    return choose


class ScheduledPruning(keras.callbacks.Callback):
    """Recomputes the held masks on the schedule's update steps (gradual pruning).

    `choose(student, targets)` returns layer name -> (keep mask, new kernel or None); a new
    kernel (Optimal Brain Surgeon's compensating update) is assigned before the mask."""

    def __init__(self, targets, schedule, choose):
        super().__init__()
        self.targets, self.schedule, self.choose, self.step = targets, schedule, choose, 0

    def on_train_batch_begin(self, batch, logs=None):
        if self.schedule.is_update_step(self.step):
            fraction = self.schedule.sparsity(self.step) / max(self.schedule.final, 1e-12)
            current = {name: fraction * target for name, target in self.targets.items()}
            for name, (mask, kernel) in self.choose(self.model.student, current).items():
                if kernel is not None:
                    self.model.kernel(name).assign(kernel)
                self.model.set_mask(name, mask)
        self.step += 1


class _DynamicSurgery(keras.callbacks.Callback):
    """Keeps dense shadow weights that receive every update (gradients are taken at the masked
    weights) while the forward pass sees shadow * mask; masks are revised on the schedule."""

    def __init__(self, targets, schedule, margin):
        super().__init__()
        self.targets, self.schedule, self.margin, self.step = targets, schedule, margin, 0
        self.shadow, self.masks, self.applied = {}, {}, {}

    def on_train_begin(self, logs=None):
        for name in self.targets:
            self.shadow[name] = to_numpy(self.model.kernel(name)).copy()
            self.masks[name] = np.ones(self.shadow[name].shape, bool)
            self._apply(name)

    def _apply(self, name):
        self.applied[name] = self.shadow[name] * self.masks[name]
        self.model.kernel(name).assign(self.applied[name])

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        update = self.schedule.is_update_step(self.step)
        fraction = self.schedule.sparsity(self.step) / max(self.schedule.final, 1e-12)
        for name, target in self.targets.items():
            # The optimizer moved the masked weights; carry the same step into the shadow.
            self.shadow[name] += to_numpy(self.model.kernel(name)) - self.applied[name]
            if update and self.step >= self.schedule.end_step:
                self.masks[name] = self._final_mask(name, target)
            elif update:
                self.masks[name] = surgery_masks(self.masks[name], self.shadow[name], fraction * target, self.margin)
            self._apply(name)

    def _final_mask(self, name, target):
        """At the end of the ramp, meet the target exactly while trusting the learned mask
        (connected weights rank above cut ones, then by magnitude); the remaining steps retrain
        with this mask."""
        magnitude = np.abs(self.shadow[name])
        score = np.where(self.masks[name], magnitude + magnitude.max() + 1.0, magnitude)
        return _keep_largest(score, 1.0 - target)

    def on_train_end(self, logs=None):
        if self.step < self.schedule.end_step or self.schedule.end_step == 0:
            for name, target in self.targets.items():
                self.masks[name] = self._final_mask(name, target)
                self._apply(name)


def schedule_plan(targets, data, epochs, batch_size, schedule="polynomial", end_fraction=0.5, frequency=None):
    """The PolynomialSchedule of a pruning pass over `epochs` of `data`, or None when there is no
    training (one-shot pruning only). 'oneshot' prunes at step 0 and retrains."""
    if schedule not in ("polynomial", "oneshot"):
        raise McuError(f"pruning schedule must be 'polynomial' or 'oneshot', got {schedule!r}")
    end_fraction = number(end_fraction, "pruning end_fraction")
    if not 0.0 < end_fraction <= 1.0:
        raise McuError(f"pruning end_fraction must be in (0, 1], got {end_fraction}")
    if frequency is not None and whole_number(frequency, "pruning frequency") < 1:
        raise McuError(f"pruning frequency must be at least 1 step, got {frequency}")
    if data is None or epochs <= 0:
        return None
    steps = epochs * int(np.ceil(len(data.x_train) / batch_size))
    end = 0 if schedule == "oneshot" else max(1, int(steps * end_fraction))
    return PolynomialSchedule(final=max(targets.values(), default=0.0), begin_step=0, end_step=end,
                              frequency=frequency or max(1, end // 10))


def magnitude_prune(model, data=None, sparsity=0.9, *, layers=None, scope="layer", schedule="polynomial",
                    epochs=2, batch_size=128, dynamic=False, margin=0.1, frequency=None, end_fraction=0.5,
                    **fit_options):
    """Prune the smallest-magnitude kernel weights and fine-tune with the masks held.

    schedule='polynomial' ramps the sparsity from 0 to its target over the first `end_fraction`
    of the training steps (mask updates every `frequency` steps) and then retrains at the target;
    schedule='oneshot' prunes once and retrains. Without data (or epochs=0) it is a one-shot
    prune with no training. dynamic=True is network surgery: cut weights keep training and
    come back when they outgrow the threshold by `margin`."""
    margin = number(margin, "pruning margin")
    targets = layer_targets(model, sparsity, layers)
    kernels = {layer.name: to_numpy(kernel_of(layer)) for layer in kernel_layers(model, list(targets))}
    plan = schedule_plan(targets, data, epochs, batch_size, schedule, end_fraction, frequency)
    if plan is None:
        return fine_tune(model, None, masks=magnitude_masks(kernels, targets, scope), **fit_options)
    if dynamic:
        if scope != "layer":
            raise McuError("dynamic network surgery uses per-layer targets (scope='layer')")
        callback = _DynamicSurgery(targets, plan, margin)
        return fine_tune(model, data, epochs=epochs, batch_size=batch_size, callbacks=[callback],
                         free_layers=tuple(targets), **fit_options)
    callback = ScheduledPruning(targets, plan, magnitude_chooser(scope))
    masks = {name: np.ones(w.shape, bool) for name, w in kernels.items()}
    return fine_tune(model, data, epochs=epochs, batch_size=batch_size, masks=masks, callbacks=[callback],
                     **fit_options)
