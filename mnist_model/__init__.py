"""MNIST digit classifier: model, data, training, weights on disk and on the Hugging Face Hub.

    from mnist_model import load_model
    loaded = load_model("weights")        # a model folder, or "OWNER/NAME@REVISION" on the Hub
    logits = loaded.model(images)         # images: (N, 1, 28, 28) floats in [0, 1]
"""

from .loader import LoadedModel, load_model
from .model import ARCHITECTURES, DEFAULT_ARCH, DigitNet

__all__ = ["ARCHITECTURES", "DEFAULT_ARCH", "DigitNet", "LoadedModel", "load_model"]
