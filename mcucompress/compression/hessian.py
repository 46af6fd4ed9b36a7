"""Second-order pruning: Optimal Brain Damage and layer-wise Optimal Brain Surgeon.

- OBD (LeCun et al. 1989): the loss increase of removing weight q is about 1/2 H_qq w_q^2 with the
  Hessian taken diagonal. H_qq is estimated by the empirical Fisher information (the mean of
  per-sample squared gradients on a batch of training data), the usual Gauss-Newton stand-in.
  Weights with the smallest saliency go; the others are left as they are.
- L-OBS (Dong et al. 2017, after Hassibi & Stork 1993's OBS): for a Dense or Conv2D layer the
  error of its pre-activation outputs Z = W^T X is quadratic in W with Hessian H = X X^T / n, the
  correlation of the layer's inputs (im2col patches for a convolution), the same for every output
  unit. Removing w_q costs w_q^2 / (2 [H^-1]_qq) and OBS moves the remaining weights of that unit
  to compensate. We remove weights in a few rounds (saliency from the inverse of H restricted to
  the weights still present), and after each round re-fit each unit's remaining weights to its
  original outputs: w_R = H_RR^-1 (H w)_R, the joint OBS update for all weights removed from it.

Both run as a `prune`-like pass: one-shot or on the gradual polynomial schedule of pruning.py, the
masks chosen by saliency at each update step, then held while fine-tuning.
"""

from __future__ import annotations

import keras
import numpy as np
import scipy.linalg
import tensorflow as tf
import threadpoolctl

from mcucompress.compression.finetune import fine_tune, logits_function
from mcucompress.compression.layers import kernel_layers, kernel_of, to_numpy
from mcucompress.compression.options import number, whole_number
from mcucompress.compression.pruning import ScheduledPruning, layer_targets, magnitude_masks, schedule_plan
from mcucompress.compression.rewrite import clone_with_weights, graph_nodes, graph_of
from mcucompress.errors import McuError

METHODS = ("obs", "obd")


def _obs_layer(layer) -> bool:
    return isinstance(layer, keras.layers.Dense) or (
        isinstance(layer, keras.layers.Conv2D) and not isinstance(layer, keras.layers.DepthwiseConv2D)
        and getattr(layer, "groups", 1) == 1)


def layer_inputs(model, names, x) -> dict[str, np.ndarray]:
    """The input each named layer receives when the model runs on `x`."""
    graph = graph_of(model)
    nodes = {node.operation.name: node for node in graph_nodes(graph)}
    probe = keras.Model(graph.inputs[0], [nodes[name].input_tensors[0] for name in names])
    outputs = probe.predict(x, batch_size=256, verbose=0)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    return dict(zip(names, outputs))


def _rows(layer, inputs: np.ndarray) -> np.ndarray:
    """The layer's input as one row per dot product (im2col patches for a convolution)."""
    if isinstance(layer, keras.layers.Dense):
        return inputs.reshape(-1, inputs.shape[-1])
    kh, kw = layer.kernel_size
    sh, sw = layer.strides
    dh, dw = layer.dilation_rate
    patches = tf.image.extract_patches(inputs, sizes=[1, kh, kw, 1], strides=[1, sh, sw, 1],
                                       rates=[1, dh, dw, 1], padding=layer.padding.upper())
    return patches.numpy().reshape(-1, kh * kw * inputs.shape[-1])


def input_correlation(layer, inputs: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """H = X X^T / n over the rows the layer takes dot products with (float64)."""
    rows = _rows(layer, inputs)
    h = np.zeros((rows.shape[1], rows.shape[1]))
    for start in range(0, len(rows), chunk):
        block = rows[start:start + chunk].astype(np.float64)
        h += block.T @ block
    return h / max(len(rows), 1)


def _damped(h: np.ndarray, damping: float) -> np.ndarray:
    return h + damping * max(float(np.mean(np.diag(h))), 1e-12) * np.eye(len(h))


def obs_prune_matrix(w: np.ndarray, h: np.ndarray, sparsity: float, rounds: int = 3,
                     damping: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """(new weights, keep mask) of a (inputs x units) matrix pruned to `sparsity` by L-OBS.

    Saliency w_q^2 / [H^-1]_qq (as L-OBS, the inverse of the whole layer's H); the weights to
    remove are the smallest saliencies across the layer. After each round every unit's remaining
    weights R get the joint OBS update for its removed weights S, computed from the original w
    on whichever side is smaller: w_R - [H^-1]_RS [H^-1]_SS^-1 w_S, or the equal least-squares
    re-fit H_RR^-1 (H w)_R."""
    with threadpoolctl.threadpool_limits(1, user_api="blas"):  # many small solves: threads only contend
        return _obs_rounds(w, _damped(h.astype(np.float64), damping), sparsity, rounds)


def _obs_rounds(w, h, sparsity, rounds):
    original = w.astype(np.float64)
    current = original.copy()
    keep = np.ones(w.shape, bool)
    target = int(round(sparsity * w.size))
    inverse = np.linalg.inv(h)
    inverse_diag = np.diag(inverse)[:, None]
    hw = h @ original
    for r in range(1, rounds + 1):
        n_removed = int(round(target * r / rounds)) - int((~keep).sum())
        if n_removed <= 0:
            continue
        saliency = np.where(keep, current ** 2 / inverse_diag, np.inf)
        keep.reshape(-1)[np.argsort(saliency, axis=None, kind="stable")[:n_removed]] = False
        for j in range(w.shape[1]):
            current[:, j] = _obs_update(original[:, j], keep[:, j], h, inverse, hw[:, j])
    return current.astype(w.dtype), keep


def _obs_update(w: np.ndarray, kept: np.ndarray, h, inverse, hw) -> np.ndarray:
    out = np.zeros_like(w)
    removed = ~kept
    n_removed = int(removed.sum())
    if n_removed == 0:
        return w.copy()
    if n_removed == len(w):
        return out
    if n_removed <= len(w) - n_removed:
        step = scipy.linalg.solve(inverse[np.ix_(removed, removed)], w[removed], assume_a="pos")
        out[kept] = w[kept] - inverse[np.ix_(kept, removed)] @ step
    else:
        out[kept] = scipy.linalg.solve(h[np.ix_(kept, kept)], hw[kept], assume_a="pos")
    return out


def fisher_diagonal(model, names, x, seed: int = 0, chunk: int = 32) -> dict[str, np.ndarray]:
    """Diagonal of the Fisher information of the model's predictive distribution for each named
    kernel: the mean of per-sample squared gradients of -log p(y|x) with y drawn from the model
    itself (an unbiased estimate of the Gauss-Newton diagonal of the cross-entropy; the
    "empirical" Fisher with the true labels is near zero wherever the model is already right)."""
    logits_of = logits_function(model)
    kernels = [kernel_of(model.get_layer(name)) for name in names]
    sums = [np.zeros(tuple(k.shape)) for k in kernels]
    rng = np.random.default_rng(seed)

    @tf.function(reduce_retracing=True)  # traced once per call, not once per chunk
    def squared_gradients(xb, yb):
        def one(sample):
            with tf.GradientTape() as tape:
                logits = logits_of(sample[0][None], False)
                loss = keras.losses.sparse_categorical_crossentropy(sample[1][None], logits, from_logits=True)
            return [tf.square(g) for g in tape.gradient(loss, kernels)]

        return [tf.reduce_sum(g, axis=0) for g in tf.vectorized_map(one, (xb, yb))]

    for start in range(0, len(x), chunk):
        xb = x[start:start + chunk]
        p = tf.nn.softmax(logits_of(tf.constant(xb), False)).numpy().astype(np.float64)
        drawn = np.array([rng.choice(p.shape[1], p=row / row.sum()) for row in p], np.int64)
        for i, total in enumerate(squared_gradients(tf.constant(xb), tf.constant(drawn))):
            sums[i] += total.numpy()
    return {name: total / max(len(x), 1) for name, total in zip(names, sums)}


def obd_masks(model, targets, x, scope="layer") -> dict[str, np.ndarray]:
    """Keep masks removing the weights of least saliency 1/2 F_qq w_q^2."""
    names = list(targets)
    fisher = fisher_diagonal(model, names, x)
    saliency = {name: 0.5 * fisher[name] * np.square(to_numpy(kernel_of(model.get_layer(name)))) for name in names}
    return magnitude_masks({name: np.sqrt(s) for name, s in saliency.items()}, targets, scope)


def obs_choice(model, targets, x, rounds=3, damping=0.01) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Layer name -> (keep mask, compensated kernel) by L-OBS at each layer's target."""
    names = list(targets)
    inputs = layer_inputs(model, names, x)
    result = {}
    for name in names:
        layer = model.get_layer(name)
        kernel = to_numpy(layer.kernel)
        matrix = kernel.reshape(-1, kernel.shape[-1])
        h = input_correlation(layer, inputs[name])
        new, keep = obs_prune_matrix(matrix, h, targets[name], rounds, damping)
        result[name] = (keep.reshape(kernel.shape), new.reshape(kernel.shape))
    return result


def _chooser(method, scope, x, rounds, damping):
    def choose(model, current):
        if method == "obd":
            return {name: (mask, None) for name, mask in obd_masks(model, current, x, scope).items()}
        return obs_choice(model, current, x, rounds, damping)

    return choose


def hessian_prune(model, data=None, sparsity=0.9, *, method="obs", layers=None, scope="layer",
                  schedule="oneshot", epochs=2, batch_size=128, samples=1024, rounds=None, damping=0.01,
                  end_fraction=0.5, frequency=None, **fit_options):
    """Prune by second-order saliency (module doc) and fine-tune with the masks held.

    `samples` training samples estimate the Hessian (L-OBS: input correlations; OBD: Fisher).
    schedule='oneshot' prunes before fine-tuning, 'polynomial' ramps the sparsity as magnitude
    pruning does, choosing masks (and OBS updates) by saliency at every update step.
    OBS works on Dense and Conv2D kernels with per-layer targets (its saliency is a layer's output
    error, not comparable across layers); OBD also takes scope='global'."""
    if method not in METHODS:
        raise McuError(f"Hessian pruning method must be 'obs' or 'obd', got {method!r}")
    if data is None:
        raise McuError("Hessian pruning needs training data to estimate the Hessian (--data)")
    if scope not in ("layer", "global") or (method == "obs" and scope != "layer"):
        raise McuError(f"{method.upper()} pruning takes scope 'layer'" + (" or 'global'" if method == "obd" else "")
                       + f", got {scope!r}")
    samples = whole_number(samples, "Hessian samples")
    # One-shot OBS removes weights in 3 rounds; on a schedule every update step is a round.
    rounds = whole_number(rounds if rounds is not None else (3 if schedule == "oneshot" else 1), "OBS rounds")
    damping = number(damping, "OBS damping")
    if samples < 1 or rounds < 1 or damping < 0:
        raise McuError("Hessian samples and OBS rounds must be at least 1, damping at least 0")
    if layers is None and method == "obs":
        layers = [layer.name for layer in kernel_layers(model) if _obs_layer(layer)]
    targets = layer_targets(model, sparsity, layers)
    if method == "obs":
        unfit = [name for name in targets if not _obs_layer(model.get_layer(name))]
        if unfit:
            raise McuError(f"OBS pruning takes Dense and Conv2D layers; {unfit[0]!r} is neither")
    x = data.x_train[:samples]
    choose = _chooser(method, scope, x, rounds, damping)
    plan = schedule_plan(targets, data, epochs, batch_size, schedule, end_fraction, frequency)
    if plan is None:
        chosen = choose(model, targets)
        start = _with_kernels(model, chosen)
        return fine_tune(start, None, masks={name: mask for name, (mask, _) in chosen.items()}, **fit_options)
    masks = {name: np.ones(tuple(kernel_of(model.get_layer(name)).shape), bool) for name in targets}
    return fine_tune(model, data, epochs=epochs, batch_size=batch_size, masks=masks,
                     callbacks=[ScheduledPruning(targets, plan, choose)], **fit_options)


def _with_kernels(model, chosen):
    copy = clone_with_weights(model)
    for name, (_, kernel) in chosen.items():
        if kernel is not None:
            kernel_of(copy.get_layer(name)).assign(kernel)
    return copy
