"""Knowledge distillation (Hinton et al. 2015): train a student against a teacher's softened logits.

The loss is alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) * CE(labels,
student) (finetune.distillation_loss). Every other pass accepts teacher=..., temperature=...,
alpha=... and fine-tunes the same way.

Feature distillation (hint layers, FitNets; the lecture's autoencoder example): hint=(student
layer, teacher layer) adds alpha * T^2 * MSE(student layer output - teacher layer output) to the
task loss (mean squared error for autoencoders and regression, cross-entropy for classifiers).
"""

from __future__ import annotations

from mcucompress.compression.finetune import distillation_loss, fine_tune
from mcucompress.errors import McuError


def distill(student, teacher, data, *, temperature=4.0, alpha=0.9, epochs=5, **fit_options):
    """Train `student` (possibly freshly initialised) on `data` with `teacher`'s soft targets."""
    if data is None:
        raise McuError("distillation needs training data (--data)")
    if temperature <= 0:
        raise McuError(f"distillation temperature must be positive, got {temperature}")
    if not 0.0 <= alpha <= 1.0:
        raise McuError(f"distillation alpha must be in [0, 1], got {alpha}")
    if tuple(student.outputs[0].shape[1:]) != tuple(teacher.outputs[0].shape[1:]):
        raise McuError(f"student output shape {tuple(student.outputs[0].shape[1:])} differs from the "
                       f"teacher's {tuple(teacher.outputs[0].shape[1:])}")
    return fine_tune(student, data, epochs=epochs, teacher=teacher, temperature=temperature, alpha=alpha,
                     **fit_options)


__all__ = ["distill", "distillation_loss"]
