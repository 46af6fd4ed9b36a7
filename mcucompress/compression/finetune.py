"""Fine-tuning shared by every pass: masks held, clustered weights tied, optional teacher.

`fine_tune` clones the model inside a `tf.distribute` strategy scope, wraps it in a private
`Trainer` (a keras.Model whose train_step does the work) and fits it with Keras' own loop, so
progress bars, callbacks and distribution are TensorFlow's. The trained clone is returned as a
plain model; the wrapper is dropped.

- Held masks (pruning): the gradient of a pruned weight is zeroed and a variable constraint
  multiplies the kernel by its mask after every optimizer step, so pruned weights stay exactly 0
  even though Adam's moments would otherwise move them.
- Clusters (weight sharing): a kernel starts at its centroids; the gradient of each centroid is
  the sum of its members' gradients and every member receives it, so all members take the same
  optimizer step and stay equal. `finish` snaps each cluster to its mean to remove float drift.
- Teacher: the loss becomes Hinton's distillation loss (see distillation_loss).
- Regression (data.task == "regression": autoencoders, regression heads): the loss is the mean
  squared error of the model's output and the reported metric is that error ("mse"). A teacher
  then teaches through a hint: alpha * T^2 * MSE(student hint layer, teacher hint layer) is added
  (feature distillation, see feature_distillation_loss).
"""

from __future__ import annotations

import functools

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from mcucompress.compression.training_data import TrainData
from mcucompress.compression.layers import kernel_of, shared_weight_of, to_numpy
from mcucompress.compression.rewrite import clone_with_weights, graph_nodes, graph_of
from mcucompress.errors import McuError


def resolve_strategy(strategy=None):
    """None/'default' -> the current (default) strategy; 'mirrored' -> MirroredStrategy on all
    local devices; a tf.distribute.Strategy is used as given."""
    if strategy is None or strategy == "default":
        return tf.distribute.get_strategy()
    if strategy == "mirrored":
        return _mirrored()
    if isinstance(strategy, tf.distribute.Strategy):
        return strategy
    raise McuError(f"unknown distribution strategy {strategy!r} (use 'mirrored' or 'default')")


@functools.cache
def _mirrored():
    # One instance per process: models made by one pass are fine-tuned by the next, and
    # tf.distribute refuses to mix variables of two strategy objects.
    return tf.distribute.MirroredStrategy()


def _is_softmax(activation) -> bool:
    return getattr(activation, "__name__", "") == "softmax"


def logits_function(model):
    """A callable (x, training) -> pre-softmax logits of a classifier.

    Models ending in softmax (a Softmax/Activation layer, or a Dense with softmax activation)
    are evaluated up to the softmax input; any other model is taken to output logits already."""
    graph = graph_of(model)
    out_id = id(graph.outputs[0])
    node = next(node for node in graph_nodes(graph) if any(id(t) == out_id for t in node.outputs))
    last = node.operation
    ends_in_softmax = isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and _is_softmax(last.activation))
    if ends_in_softmax or (isinstance(last, keras.layers.Dense) and _is_softmax(last.activation)):
        inputs = graph.inputs[0] if len(graph.inputs) == 1 else graph.inputs
        body = keras.Model(inputs, node.input_tensors[0])
        if ends_in_softmax:
            return lambda x, training: body(x, training=training)

        def dense_logits(x, training):
            z = ops.matmul(body(x, training=training), last.kernel)
            return z + last.bias if last.use_bias else z

        return dense_logits
    return lambda x, training: model(x, training=training)


def distillation_loss(y, student_logits, teacher_logits=None, temperature=4.0, alpha=0.9):
    """Hinton et al. 2015: alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(y, s).

    The T^2 factor keeps the soft term's gradients on the same scale as the hard term's when T
    changes. Without a teacher this is the plain cross-entropy. Returns the batch mean.

    Labels below 0 mark samples without a label: they add only the soft term (the teacher's
    targets on unlabelled data), and the hard term is the mean over the labelled samples."""
    y = ops.reshape(ops.cast(y, "int64"), (-1,))
    labelled = ops.cast(y >= 0, student_logits.dtype)
    per_sample = keras.losses.sparse_categorical_crossentropy(ops.maximum(y, 0), student_logits, from_logits=True)
    hard = ops.sum(per_sample * labelled) / ops.maximum(ops.sum(labelled), 1.0)
    if teacher_logits is None:
        return hard
    log_p_teacher = ops.log_softmax(teacher_logits / temperature, axis=-1)
    log_p_student = ops.log_softmax(student_logits / temperature, axis=-1)
    kl = ops.sum(ops.exp(log_p_teacher) * (log_p_teacher - log_p_student), axis=-1)
    return alpha * temperature * temperature * ops.mean(kl) + (1.0 - alpha) * hard


def feature_distillation_loss(task_loss, student_features, teacher_features, temperature=1.0, alpha=1.0):
    """task loss + alpha * T^2 * MSE(student features - teacher features): the hint loss of
    FitNets (Romero et al. 2015) weighted as the lecture's autoencoder example."""
    hint = ops.mean(ops.square(student_features - teacher_features))
    return task_loss + alpha * temperature * temperature * hint


def _output_of(model, layer_name):
    graph = graph_of(model)
    try:
        layer = model.get_layer(layer_name)
    except ValueError:
        raise McuError(f"hint layer {layer_name!r} not found in model '{model.name}'") from None
    output = next(node.outputs[0] for node in graph_nodes(graph) if node.operation is layer)
    return keras.Model(graph.inputs[0], [graph.outputs[0], output])


def tie_cluster_gradient(grad, assignment, n_clusters: int):
    """Each member's gradient becomes the sum over its cluster (Deep Compression); members with
    assignment -1 (pruned zeros) get 0."""
    flat_grad = tf.reshape(grad, [-1])
    flat_assign = tf.reshape(assignment, [-1])
    member = flat_assign >= 0
    ids = tf.where(member, flat_assign, tf.zeros_like(flat_assign))
    sums = tf.math.unsorted_segment_sum(tf.where(member, flat_grad, tf.zeros_like(flat_grad)), ids, n_clusters)
    tied = tf.where(member, tf.gather(sums, ids), tf.zeros_like(flat_grad))
    return tf.reshape(tied, tf.shape(grad))


def teacher_input_shape(student, teacher):
    """None when the teacher reads the student's input as is; else the shape to reshape each
    sample to (a CNN teacher for an MLP student on the same images)."""
    mine, theirs = tuple(student.inputs[0].shape[1:]), tuple(teacher.inputs[0].shape[1:])
    if mine == theirs:
        return None
    if None in mine + theirs or int(np.prod(mine)) != int(np.prod(theirs)):
        raise McuError(f"teacher input shape {theirs} does not match the student's {mine}")
    return tuple(int(d) for d in theirs)


class _MaskConstraint:
    """Re-zeroes pruned weights after each optimizer step."""

    def __init__(self, mask):
        self.mask = mask

    def __call__(self, weight):
        return weight * ops.cast(self.mask, weight.dtype)


class Trainer(keras.Model):
    """Training-time wrapper around a student model; never saved or returned."""

    def __init__(self, student, teacher=None, temperature=4.0, alpha=0.9, masks=None, clusters=None,
                 task="classification", hint=None):
        super().__init__(name="mcucompress_trainer")
        self.student = student
        self.task = task
        self.regression = task == "regression"
        self._student_logits = (lambda x, training: student(x, training=training)) if self.regression \
            else logits_function(student)
        self.teacher = teacher
        self.hint = None
        if teacher is not None:
            teacher.trainable = False
            self._teacher_shape = teacher_input_shape(student, teacher)
            if self.regression or hint is not None:
                if hint is None:
                    raise McuError("a teacher for a regression model teaches through hint layers: give "
                                   "hint=(student layer, teacher layer)")
                self.hint = (_output_of(student, hint[0]), _output_of(teacher, hint[1]))
            else:
                self._teacher_logits = logits_function(teacher)
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.layer_by_name = {layer.name: layer for layer in student.layers}
        self.masks = {}
        self.clusters = {}
        for name, mask in (masks or {}).items():
            self.add_mask(name, mask)
        for name, assignment in (clusters or {}).items():
            assignment = np.asarray(assignment, np.int32)
            self.clusters[name] = (tf.constant(assignment), int(assignment.max()) + 1)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="mse" if self.regression else "accuracy")

    def kernel(self, name):
        layer = self.layer_by_name.get(name)
        if layer is None or shared_weight_of(layer) is None:
            raise McuError(f"layer {name!r} not found or has no weight kernel")
        return shared_weight_of(layer)

    def add_mask(self, name, mask):
        kernel = self.kernel(name)
        mask = np.asarray(mask, np.float32)
        if mask.shape != tuple(kernel.shape):
            raise McuError(f"mask for layer {name!r} has shape {mask.shape}, kernel has {tuple(kernel.shape)}")
        self.masks[name] = keras.Variable(mask, trainable=False, name=f"{name}_mask")
        kernel.assign(to_numpy(kernel) * mask)
        kernel.constraint = _MaskConstraint(self.masks[name])

    def set_mask(self, name, mask):
        """Replace a held mask (a pruning schedule step) and zero the newly pruned weights."""
        if name not in self.masks:
            self.add_mask(name, mask)
            return
        mask = np.asarray(mask, np.float32)
        self.masks[name].assign(mask)
        kernel = self.kernel(name)
        kernel.assign(to_numpy(kernel) * mask)

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    def call(self, x, training=False):
        return self._student_logits(x, training)

    def _update_metrics(self, y, logits, loss):
        if self.regression:
            score = ops.mean(ops.square(ops.cast(y, logits.dtype) - logits))
        else:
            score = ops.cast(ops.equal(ops.argmax(logits, axis=-1), ops.cast(ops.reshape(y, (-1,)), "int64")),
                             "float32")
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(score)
        return {"loss": self.loss_tracker.result(), self.accuracy_tracker.name: self.accuracy_tracker.result()}

    def _task_loss(self, y, outputs, teacher_logits=None):
        if self.regression:
            return ops.mean(ops.square(ops.cast(y, outputs.dtype) - outputs))
        return distillation_loss(y, outputs, teacher_logits, self.temperature, self.alpha)

    def _hinted_loss(self, x, y, teacher_x):
        student_with_hint, teacher_with_hint = self.hint
        teacher_features = teacher_with_hint(teacher_x, training=False)[1]
        outputs, features = student_with_hint(x, training=True)
        if not self.regression:  # the hint adds to the hard loss of a classifier
            outputs = self._student_logits(x, True)
        loss = feature_distillation_loss(self._task_loss(y, outputs), features, teacher_features,
                                         self.temperature, self.alpha)
        return outputs, loss

    def train_step(self, data):
        x, y = data[0], data[1]
        teacher_logits = teacher_x = None
        if self.teacher is not None:
            teacher_x = x if self._teacher_shape is None else ops.reshape(x, (-1,) + self._teacher_shape)
            if self.hint is None:
                teacher_logits = self._teacher_logits(teacher_x, False)
        with tf.GradientTape() as tape:
            if self.hint is not None:
                logits, loss = self._hinted_loss(x, y, teacher_x)
            else:
                logits = self._student_logits(x, True)
                loss = self._task_loss(y, logits, teacher_logits)
            if self.student.losses:
                loss = loss + ops.sum(self.student.losses)
            # Gradients are summed over replicas; scale so the sum is the global-batch mean.
            scaled = loss / tf.distribute.get_strategy().num_replicas_in_sync
        variables = self.student.trainable_weights
        grads = tape.gradient(scaled, variables)
        grads = [self._constrain_gradient(v, g) for v, g in zip(variables, grads)]
        self.optimizer.apply_gradients(zip(grads, variables))
        return self._update_metrics(y, logits, loss)

    def test_step(self, data):
        x, y = data[0], data[1]
        logits = self._student_logits(x, False)
        return self._update_metrics(y, logits, self._task_loss(y, logits))

    def _constrain_gradient(self, variable, grad):
        if grad is None:
            return grad
        for name in set(self.masks) | set(self.clusters):
            if variable is not self.kernel(name):
                continue
            if name in self.masks:
                grad = grad * ops.cast(self.masks[name], grad.dtype)
            if name in self.clusters:
                assignment, n_clusters = self.clusters[name]
                grad = tie_cluster_gradient(grad, assignment, n_clusters)
        return grad

    def finish(self):
        """Bake masks and clusters into the student's kernels and drop the constraints."""
        for name, mask in self.masks.items():
            kernel = self.kernel(name)
            kernel.constraint = None
            kernel.assign(to_numpy(kernel) * to_numpy(mask))
        for name, (assignment, n_clusters) in self.clusters.items():
            kernel = self.kernel(name)
            kernel.assign(snap_to_clusters(to_numpy(kernel), assignment.numpy(), n_clusters))
        return self.student


def snap_to_clusters(values: np.ndarray, assignment: np.ndarray, n_clusters: int) -> np.ndarray:
    """Every member set to its cluster's mean value; assignment -1 -> exactly 0."""
    flat, ids = values.reshape(-1).astype(np.float64), assignment.reshape(-1)
    member = ids >= 0
    sums = np.bincount(ids[member], weights=flat[member], minlength=n_clusters)
    counts = np.maximum(np.bincount(ids[member], minlength=n_clusters), 1)
    centroids = (sums / counts).astype(values.dtype)
    out = np.where(member, centroids[np.where(member, ids, 0)], 0).astype(values.dtype)
    return out.reshape(values.shape)


def check_fit_options(epochs, batch_size, learning_rate) -> None:
    """Recipes and flags both end here: a negative rate would climb the loss, a zero batch hang."""
    def number(value, kind):
        return isinstance(value, kind) and not isinstance(value, bool)

    if not (number(epochs, int) and epochs >= 0):
        raise McuError(f"epochs must be a whole number >= 0, got {epochs!r}")
    if not (number(batch_size, int) and batch_size >= 1):
        raise McuError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    if not (number(learning_rate, (int, float)) and learning_rate > 0):
        hint = " (YAML reads 1e-3 as text: write 0.001)" if isinstance(learning_rate, str) else ""
        raise McuError(f"learning_rate must be a positive number, got {learning_rate!r}{hint}")


VALIDATION_BATCH = 512


def fine_tune(model, data: TrainData | None, *, epochs=1, batch_size=128, learning_rate=1e-3, teacher=None,
              temperature=4.0, alpha=0.9, masks=None, clusters=None, callbacks=(), strategy=None,
              verbose="auto", free_layers=(), hint=None):
    """Train a copy of `model` on `data` (held masks / tied clusters / teacher as given) and
    return it as a plain Keras model. With epochs=0 or no data only masks/clusters are applied.

    Sparsity made by earlier passes survives: a kernel that is partly exactly zero keeps those
    zeros (a held mask) unless a mask is given for it or it is in `free_layers`."""
    check_fit_options(epochs, batch_size, learning_rate)
    masks = dict(masks or {})
    for layer in model.layers:
        kernel = kernel_of(layer)
        if kernel is None or layer.name in masks or layer.name in free_layers:
            continue
        values = to_numpy(kernel)
        if 0 < np.count_nonzero(values == 0) < values.size:  # all-zero = an initializer, not pruning
            masks[layer.name] = values != 0
    strategy = resolve_strategy(strategy)
    with strategy.scope():
        student = clone_with_weights(model)
        teacher_copy = clone_with_weights(teacher) if teacher is not None else None
        task = data.task if data is not None else "classification"
        trainer = Trainer(student, teacher_copy, temperature, alpha, masks, clusters, task, hint)
        trainer.compile(optimizer=keras.optimizers.Adam(learning_rate))
    if data is not None and epochs > 0:
        # The per-epoch validation is read only by callbacks and the progress lines: a silent
        # fit without callbacks skips it. When it runs, its batches are as large as
        # accuracy()'s (a small training batch would make it most of the fit's time). Training
        # never reads the validation split, so the trained weights are the same bits either way.
        watched = bool(callbacks) or verbose not in (0, "silent")
        validation = dict(validation_data=(data.x_val, data.y_val),
                          validation_batch_size=max(batch_size, VALIDATION_BATCH)) if watched else {}
        trainer.fit(data.x_train, data.y_train, batch_size=batch_size, epochs=epochs,
                    callbacks=list(callbacks), verbose=verbose, shuffle=True, **validation)
    return trainer.finish()


def evaluate(model, data: TrainData) -> tuple[str, float]:
    """("accuracy", top-1 accuracy) of a classifier or ("mse", mean squared error) of a regression
    model on the held-out split."""
    if data.task == "regression":
        predictions = model.predict(data.x_val, batch_size=512, verbose=0)
        return "mse", float(np.mean(np.square(predictions - data.y_val.reshape(predictions.shape))))
    return "accuracy", accuracy(model, data.x_val, data.y_val)


def accuracy(model, x, y, batch_size=512) -> float:
    """Top-1 accuracy of a classifier (softmax or logits output) on integer labels."""
    predictions = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(predictions, axis=-1) == np.asarray(y).reshape(-1)))
