"""The digit classifiers: one `nn.Module` class, three architectures, ten digits and a refusal.

`DigitNet(arch="slim")` is the project's model: small BatchNorm CNNs (five convolutions each)
whose strided 5x5 stem brings the image to 14x14 at once, so that every later convolution runs
on few pixels: they train fast even on a CPU. By default `DEFAULT_MEMBERS` of them sit side by
side in one module, every layer grouped by member, and the module answers with their mean:
a small ensemble, steadier than any one of its members, at one kernel per layer.

`DigitNet(arch="compact")` is the same design at twice the width.

`DigitNet(arch="seed")` is the tutorial's network (three unpadded 3x3 convolutions and one big
linear layer), one of it, kept so that the benchmarks can show what the design buys.

The model answers eleven classes: the ten digits and `NOT_A_DIGIT_LABEL` (index `NOT_A_DIGIT`),
which it learns from synthetic letters, symbols, shapes and scribbles (`mnist_model.synthetic`),
so that a star is refused instead of called a 4.

How readily it refuses is one number, `refusal_bias`, taken off the refusal's logit: training
chooses it after the weights, on digit styles and media it never trained on
(`mnist_model.calibration`), so that "not a digit" keeps to what is not a digit.

The class inherits `PyTorchModelHubMixin`, so `save_pretrained` / `push_to_hub` write
`model.safetensors` plus a `config.json` holding the `__init__` keyword arguments (`arch`,
`not_a_digit`, `members`, `refusal_bias`; a folder written before the refusal and the ensemble holds only
`arch`, and loads as one ten-class network). Load weights with `mnist_model.load_model`, which
reads safetensors only and checks every file; the mixin's `from_pretrained` is kept from ever
unpickling too.

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
NOT_A_DIGIT = 10  # the index of the refusal class, after the digits 0-9
NOT_A_DIGIT_LABEL = "not a digit"
DEFAULT_ARCH = "slim"
DEFAULT_MEMBERS = 3  # networks in the slim and compact ensembles; the tutorial's seed is one


def default_members(arch: str) -> int:
    """How many networks `arch` averages unless told otherwise."""
    return 1 if arch == "seed" else DEFAULT_MEMBERS


class UnknownArchitectureError(ValueError):
    """Raised for an `arch` name that `DigitNet` does not know."""


class UnpickledWeightsError(ValueError):
    """Raised instead of unpickling weights (`pytorch_model.bin`): pickles can run code."""


def _conv_bn_relu(c_in: int, c_out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]


def _strided(widths: tuple[int, int, int], classes: int, members: int) -> nn.Sequential:
    """The strided-stem design: `widths` channels at 14x14 (stem, then two convs) and 7x7 (two).

    With `members` > 1, that many independent networks side by side in one: every layer is
    grouped (one group per member), and the last is a grouped 3x3 convolution in place of each
    member's linear layer, so that the ensemble costs one kernel per layer, not one per member.
    """
    stem, middle, last = (width * members for width in widths)
    if members == 1:
        head: list[nn.Module] = [nn.Flatten(), nn.Dropout(0.25), nn.Linear(last * 3 * 3, classes)]
    else:
        head = [nn.Dropout(0.25), nn.Conv2d(last, classes * members, 3, groups=members), nn.Flatten()]
    return nn.Sequential(
        *_conv_bn_relu(1, stem, kernel=5, stride=2),  # 28x28 -> 14x14
        *_conv_bn_relu(stem, middle, groups=members),
        *_conv_bn_relu(middle, middle, groups=members),
        nn.MaxPool2d(2),  # -> 7x7
        *_conv_bn_relu(middle, last, groups=members),
        *_conv_bn_relu(last, last, groups=members),
        nn.MaxPool2d(2),  # -> 3x3
        *head,
    )


def _seed(classes: int, members: int) -> nn.Sequential:
    if members != 1:
        raise UnknownArchitectureError("the seed architecture is the tutorial's single network: members=1 only")
    return nn.Sequential(
        nn.Conv2d(1, 32, 3),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(),
        nn.Conv2d(64, 64, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(64 * 22 * 22, classes),
    )


_BUILDERS = {
    "slim": lambda classes, members: _strided((16, 32, 64), classes, members),
    "compact": lambda classes, members: _strided((32, 64, 128), classes, members),
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
    """A digit classifier: (N, 1, 28, 28) images in [0, 1] -> (N, 11) logits, the digits 0-9 then
    "not a digit" (N, 10 without the refusal class).

        >>> model = DigitNet()  # untrained; `mnist_model.load_model()` gives the trained one
        >>> model(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 11])
        >>> model.labels[-1]
        'not a digit'
    """

    def __init__(
        self, arch: str = DEFAULT_ARCH, not_a_digit: bool = True, members: int | None = None, refusal_bias: float = 0.0
    ) -> None:
        super().__init__()
        if arch not in _BUILDERS:
            raise UnknownArchitectureError(
                f"unknown architecture {arch!r}; choose one of: {', '.join(ARCHITECTURES)}"
            )
        self.arch = arch
        self.not_a_digit = not_a_digit
        self.labels = [str(digit) for digit in range(10)] + ([NOT_A_DIGIT_LABEL] if not_a_digit else [])
        self.members = default_members(arch) if members is None else members
        self.refusal_bias = float(refusal_bias) if not_a_digit else 0.0
        self.layers = _BUILDERS[arch](len(self.labels), self.members)
        offset = torch.zeros(len(self.labels))
        if not_a_digit:
            offset[NOT_A_DIGIT] = self.refusal_bias
        self.register_buffer("refusal_offset", offset, persistent=False)  # in config.json, not the weights

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The ensemble's logits: the mean of its members' (N, classes), with `refusal_bias`
        taken off the "not a digit" logit."""
        return self.member_logits(images).mean(dim=1) - self.refusal_offset

    def member_logits(self, images: torch.Tensor) -> torch.Tensor:
        """Each member's logits, (N, members, classes): training gives each member its own loss."""
        return self.layers((images - MNIST_MEAN) / MNIST_STD).unflatten(1, (self.members, len(self.labels)))

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
