"""MNIST digit classifier: model, data, training, weights on disk and on the Hugging Face Hub."""

from .model import ARCHITECTURES, DEFAULT_ARCH, DigitNet

__all__ = ["ARCHITECTURES", "DEFAULT_ARCH", "DigitNet"]
