"""The digit classifiers: one `nn.Module` class, three architectures.

`DigitNet(arch="slim")` is the project's model: a small BatchNorm CNN (five convolutions)
whose strided 5x5 stem brings the image to 14x14 at once, so that every later convolution runs
on few pixels: it trains fast even on a CPU.

`DigitNet(arch="compact")` is the same design at twice the width: as accurate, slower to train.

`DigitNet(arch="seed")` is the tutorial's network (three unpadded 3x3 convolutions and one big
linear layer), kept so that the benchmarks can show what the design buys.

The class inherits `PyTorchModelHubMixin`, so `save_pretrained` / `push_to_hub` write
`model.safetensors` plus a `config.json` holding the `__init__` keyword arguments (here only
`arch`). Load weights with `mnist_model.load_model`, which reads safetensors only and checks
every file; the mixin's `from_pretrained` is kept from ever unpickling too.

Inputs are float tensors of shape (N, 1, 28, 28) in [0, 1], white ink on black, as
`torchvision.transforms.ToTensor` gives them for MNIST. The model normalises them itself, so
training, evaluation and the app can never disagree about the statistics used.
"""

from __future__ import annotations

import copy

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
ARCHITECTURES = ("slim", "compact", "seed")
DEFAULT_ARCH = "slim"


class UnknownArchitectureError(ValueError):
    """Raised for an `arch` name that `DigitNet` does not know."""


class UnpickledWeightsError(ValueError):
    """Raised instead of unpickling weights (`pytorch_model.bin`): pickles can run code."""


def _conv_bn_relu(c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


def _strided(widths: tuple[int, int, int]) -> nn.Sequential:
    """The strided-stem design: `widths` channels at 14x14 (stem, then two convs) and 7x7 (two)."""
    stem, middle, last = widths
    return nn.Sequential(
        *_conv_bn_relu(1, stem, kernel=5, stride=2),  # 28x28 -> 14x14
        *_conv_bn_relu(stem, middle),
        *_conv_bn_relu(middle, middle),
        nn.MaxPool2d(2),  # -> 7x7
        *_conv_bn_relu(middle, last),
        *_conv_bn_relu(last, last),
        nn.MaxPool2d(2),  # -> 3x3
        nn.Flatten(),
        nn.Dropout(0.25),
        nn.Linear(last * 3 * 3, 10),
    )


def _seed() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(),
        nn.Conv2d(64, 64, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(64 * 22 * 22, 10),
    )


_BUILDERS = {
    "slim": lambda: _strided((16, 32, 64)),
    "compact": lambda: _strided((32, 64, 128)),
    "seed": _seed,
}


class DigitNet(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="pytorch",
    license="mit",
    pipeline_tag="image-classification",
    tags=["mnist", "image-classification"],
):
    """An MNIST classifier: (N, 1, 28, 28) images in [0, 1] -> (N, 10) logits."""

    def __init__(self, arch: str = DEFAULT_ARCH) -> None:
        super().__init__()
        if arch not in _BUILDERS:
            raise UnknownArchitectureError(
                f"unknown architecture {arch!r}; choose one of: {', '.join(ARCHITECTURES)}"
            )
        self.arch = arch
        self.layers = _BUILDERS[arch]()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers((images - MNIST_MEAN) / MNIST_STD)

    @classmethod
    def _load_as_pickle(cls, model: DigitNet, model_file: str, map_location: str, strict: bool) -> DigitNet:
        """The mixin's fall-back for a Hub repo without safetensors: refused, never unpickled."""
        raise UnpickledWeightsError(
            f"{model_file} is a pickle; DigitNet reads weights from model.safetensors only"
        )


def for_inference(model: DigitNet) -> DigitNet:
    """A copy of `model` in eval mode, made to classify one image at a time fast on a CPU.

    Each BatchNorm is folded into the convolution before it and dropout is left out (five and
    one fewer layers to call), and the weights are stored channels-last, which sends the
    convolutions to oneDNN instead of PyTorch's generic im2col path. The same function to within
    float rounding (tests/test_model.py bounds the difference on the MNIST test set).
    """
    model = copy.deepcopy(model).eval()
    layers: list[nn.Module] = []
    for layer in model.layers:
        if isinstance(layer, nn.BatchNorm2d) and layers and isinstance(layers[-1], nn.Conv2d):
            layers[-1] = fuse_conv_bn_eval(layers[-1], layer)
        elif not isinstance(layer, nn.Dropout):
            layers.append(layer)
    model.layers = nn.Sequential(*layers)
    return model.to(memory_format=torch.channels_last)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
