"""mcucompress: compress Keras / int8 TFLite models and generate verified C for Cortex-M."""

__version__ = "0.1.0"
