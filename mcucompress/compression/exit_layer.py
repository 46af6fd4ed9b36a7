"""The Keras side of an early exit: a layer that marks where an exit head's confidence is tested.

``EarlyExit(threshold)([features, probs])`` returns ``features`` unchanged, so the network after
it computes exactly what it did before; ``probs`` is the exit head's softmax. The importer turns
it into the IR's ``early_exit`` op (quantize/early_exit.py), which ends the inference there when
the head is confident. Keeping the head as an input of this layer keeps a single-output model
whose layer graph orders every head before the rest of the network.
"""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="mcucompress")
class EarlyExit(keras.layers.Layer):
    def __init__(self, threshold: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.threshold = float(threshold)

    def call(self, inputs):
        return inputs[0]

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}

