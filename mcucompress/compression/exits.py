"""Early exits (BranchyNet, Teerapittayanon et al. 2016): side classifiers after chosen layers,
each with a confidence threshold, so that easy inputs stop early on the device.

``add_exits`` attaches a head after each layer named in ``after`` (max pooling by ``pool`` for
feature maps, then Flatten and a softmax Dense; or ``head="gap"``: global average pooling and a
softmax Dense), trains the heads with the rest of the network frozen (so the full network's
outputs do not change), and chooses each exit's threshold on calibration data held out of the
training split: exits in order, each takes the most confident inputs not yet taken for as long
as the cascade's accuracy stays within ``budget`` (a fraction, spread evenly over the exits) of
the full network's. The confidence is the largest softmax probability, on the grid of the int8
softmax output (steps of 1/256), so the threshold is one the device compares exactly.

The result is a plain single-output model: ``EarlyExit(threshold)([features, head probs])``
passes the features on unchanged, and export turns it into the early_exit op
(quantize/early_exit.py).
"""

from __future__ import annotations

import keras
import numpy as np

from mcucompress.compression.training_data import TrainData
from mcucompress.compression.finetune import check_fit_options
from mcucompress.compression.rewrite import fresh_copy, graph_of
from mcucompress.errors import McuError
from mcucompress.compression.exit_layer import EarlyExit

HEADS = ("dense", "gap")
SOFTMAX_LEVELS = 256.0  # the int8 softmax output's steps per unit of probability


def add_exits(model, data: TrainData | None, *, after, pool: int = 2, head: str = "dense", budget: float = 0.005,
              calibration: float = 0.1, epochs: int = 2, batch_size: int = 128, learning_rate: float = 1e-3,
              verbose="auto", **_teaching):
    """``model`` with an exit head after each layer in ``after`` (names, in any order), trained and
    with calibrated thresholds. The float model's own output is unchanged."""
    if data is None or data.task != "classification":
        raise McuError("early exits need classification training data with labels (--data)")
    check_fit_options(epochs, batch_size, learning_rate)
    if head not in HEADS:
        raise McuError(f"exit head must be one of {', '.join(HEADS)}, got {head!r}")
    if not (isinstance(pool, int) and pool >= 1):
        raise McuError(f"exit pool must be a whole number >= 1, got {pool!r}")
    if not 0.0 <= budget < 1.0:
        raise McuError(f"exit budget must be a fraction of accuracy in [0, 1), got {budget}")
    if not 0.0 < calibration < 1.0:
        raise McuError(f"exit calibration must be the fraction of training data held out, in (0, 1), got {calibration}")
    after = [after] if isinstance(after, str) else list(after or [])
    names = [layer.name for layer in model.layers]
    if not after:
        raise McuError("early exits need at least one layer to follow (after: [layer names])")
    for name in after:
        if name not in names:
            raise McuError(f"no layer named {name!r} in model '{model.name}' to put an exit after")
        if name == names[-1]:
            raise McuError(f"layer {name!r} is the model's output; an exit goes after an inner layer")
    classes = int(model.outputs[0].shape[-1])
    inputs, outputs, heads = _with_heads(model, set(after), pool, head, classes)
    trainer = keras.Model(inputs, [probs for _, probs in heads])
    n_fit = int(round(len(data.y_train) * (1.0 - calibration)))
    if n_fit < 1 or n_fit >= len(data.y_train):
        raise McuError(f"{len(data.y_train)} training samples are too few to hold {calibration:.0%} out for calibration")
    if epochs > 0:
        trainer.compile(optimizer=keras.optimizers.Adam(learning_rate),
                        loss=["sparse_categorical_crossentropy"] * len(heads))
        trainer.fit(data.x_train[:n_fit], [data.y_train[:n_fit]] * len(heads), batch_size=batch_size,
                    epochs=epochs, verbose=verbose, shuffle=True)
    x_cal, y_cal = data.x_train[n_fit:], data.y_train[n_fit:]
    final = keras.Model(inputs, outputs).predict(x_cal, batch_size=512, verbose=0)
    head_probs = trainer.predict(x_cal, batch_size=512, verbose=0)
    head_probs = head_probs if isinstance(head_probs, list) else [head_probs]
    thresholds = choose_thresholds(head_probs, final, y_cal, budget)
    for (exit_layer, _), threshold in zip(heads, thresholds):
        exit_layer.threshold = float(threshold)
    result = keras.Model(inputs, outputs, name=model.name)
    for layer in result.layers:
        layer.trainable = True
    return result


def _with_heads(model, after: set, pool: int, head: str, classes: int):
    """(inputs, outputs, [(EarlyExit layer, head probabilities)] in graph order) of a copy of
    ``model`` (frozen, same weights) with a head and an EarlyExit after each layer in ``after``."""
    graph = graph_of(model)
    copies, heads = [], []

    def stand_in(operation):
        copy = fresh_copy(operation)
        copies.append((operation, copy))
        if operation.name not in after:
            return copy

        def with_exit(*args, **kwargs):
            features = copy(*args, **kwargs)
            x = features
            if len(x.shape) == 4 and head == "dense" and pool > 1 and min(x.shape[1:3]) >= pool:
                x = keras.layers.MaxPooling2D(pool, name=f"{operation.name}_exit_pool")(x)
            if len(x.shape) == 4 and head == "gap":
                x = keras.layers.GlobalAveragePooling2D(name=f"{operation.name}_exit_gap")(x)
            if len(x.shape) > 2:
                x = keras.layers.Flatten(name=f"{operation.name}_exit_flatten")(x)
            probs = keras.layers.Dense(classes, activation="softmax", name=f"{operation.name}_exit_dense")(x)
            exit_layer = EarlyExit(1.0, name=f"{operation.name}_exit")
            heads.append((exit_layer, probs))
            return exit_layer([features, probs])

        return with_exit

    new_inputs = [keras.Input(shape=t.shape[1:], dtype=t.dtype, name=t.name) for t in graph.inputs]
    outputs = graph._run_through_graph(new_inputs, operation_fn=stand_in)
    for old, new in copies:
        new.set_weights(old.get_weights())
        new.trainable = False
    return new_inputs, outputs, heads


def confidence_levels(probs: np.ndarray) -> np.ndarray:
    """The largest probability of each row on the int8 softmax grid (k / 256)."""
    levels = np.floor(np.max(probs, axis=1) * SOFTMAX_LEVELS + 1e-6)
    return np.minimum(levels, SOFTMAX_LEVELS - 1) / SOFTMAX_LEVELS  # int8 holds 255/256 at most


def choose_thresholds(head_probs, final_probs: np.ndarray, labels: np.ndarray, budget: float) -> list[float]:
    """One threshold per exit (1.0: never taken): exits in order, each takes the most confident
    remaining inputs while the cascade's accuracy stays >= full accuracy - budget * (k + 1) / K."""
    labels = np.asarray(labels).reshape(-1)
    n, count = len(labels), len(head_probs)
    prediction = np.argmax(final_probs, axis=1)
    full = float(np.mean(prediction == labels))
    remaining = np.ones(n, dtype=bool)
    correct = (prediction == labels).astype(np.int64)
    thresholds = []
    for k, probs in enumerate(head_probs):
        floor = full - budget * (k + 1) / count
        confidence = confidence_levels(probs)
        head_correct = (np.argmax(probs, axis=1) == labels).astype(np.int64)
        rows = np.flatnonzero(remaining)
        order = rows[np.argsort(-confidence[rows], kind="stable")]
        gain = np.cumsum(head_correct[order] - correct[order])  # accuracy change (in samples) taking a prefix
        level = confidence[order]
        # a prefix must end between two confidence levels: a threshold takes all inputs at a level
        ends = np.flatnonzero(np.append(level[1:] != level[:-1], True))
        ok = ends[(correct.sum() + gain[ends]) / n >= floor - 1e-12] if len(order) else ends
        if len(ok) == 0:
            thresholds.append(1.0)
            continue
        m = int(ok.max())
        threshold = float(level[m])
        thresholds.append(threshold)
        taken = order[: m + 1]
        correct[taken] = head_correct[taken]
        remaining[taken] = False
    return thresholds
