"""ganlint: find the lines that make a Keras GAN fail silently, then prove it by training."""

__version__ = "0.1.0"
