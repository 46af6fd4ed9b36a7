"""Keras-side compression passes. Each is a function model -> model (a new plain Keras model), so
they compose: cluster_weights(magnitude_prune(m, data, 0.9), data, 32).

All passes take optional fine-tuning arguments: epochs, batch_size, learning_rate, teacher,
temperature, alpha, strategy ('mirrored' / a tf.distribute.Strategy), verbose.
"""

from mcucompress.compression.clustering import cluster_weights
from mcucompress.compression.training_data import TrainData, load_npz
from mcucompress.compression.distillation import distill
from mcucompress.compression.finetune import accuracy, fine_tune
from mcucompress.compression.lowrank import low_rank
from mcucompress.compression.pruning import magnitude_prune
from mcucompress.compression.shared_weights import hash_weights, product_quantize
from mcucompress.compression.structured import structured_prune

__all__ = ["cluster_weights", "TrainData", "load_npz", "distill", "accuracy", "fine_tune", "low_rank",
           "magnitude_prune", "structured_prune", "hash_weights", "product_quantize"]
