"""How readily the model says "not a digit": one bias, chosen on what training never saw.

Trained weights answer "not a digit" wherever that logit is the largest. On digits of a style
or a medium the weights never met, that refuses real digits: the promise is the other way
round, that a digit is read and only what is not a digit is refused. So after training, the
run takes the refusal's logit down by a bias (`DigitNet.refusal_bias`), chosen on validation
sets that hold digit styles and media kept out of training (`mnist_model.training_data`):

- every digit kind may be refused at most `DIGIT_KIND_LIMIT` of the time, MNIST's validation
  digits at most `MNIST_LIMIT`;
- of the biases that keep both, the smallest, which refuses the most non-digits.

The whole trade-off (each bias: the digits refused per kind, the non-digits refused) goes into
`metrics.json`, so a reader sees what the chosen bias costs and buys.

    logits = {"validation": (model(images), labels), ...}   # without a bias
    chosen = calibrate(logits)
    chosen.bias, chosen.curve[0]   # 1.25, {"bias": -2.0, "refused": {...}, "not_digits_refused": 0.99}
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .model import NOT_A_DIGIT

DIGIT_KIND_LIMIT = 0.005  # half the 1% promised on unseen kinds, as validation sets are small
MNIST_LIMIT = 0.0005
MNIST_KIND = "validation"
BIASES = tuple(step / 4 for step in range(-8, 33))  # -2 to 8 in quarters


@dataclass(frozen=True)
class Calibration:
    """The chosen bias and the trade-off curve it was chosen from."""

    bias: float
    curve: list[dict]  # one point a bias: {"bias", "refused": {kind: digits refused}, "not_digits_refused"}

    def point(self, bias: float) -> dict:
        return next(point for point in self.curve if point["bias"] == bias)


def calibrate(logits: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> Calibration:
    """The bias for `logits` (kind -> (unbiased logits, labels)); non-digits are the rows
    labelled `NOT_A_DIGIT`, in whichever kinds hold them."""
    curve = [_point(logits, bias) for bias in BIASES]
    keeps = [point for point in curve if _keeps_promise(point)]
    chosen = keeps[0] if keeps else curve[-1]
    return Calibration(chosen["bias"], curve)


def _point(logits: dict[str, tuple[torch.Tensor, torch.Tensor]], bias: float) -> dict:
    refused: dict[str, float] = {}
    non_digits = caught = 0
    for kind, (values, labels) in logits.items():
        biased = values.clone()
        biased[:, NOT_A_DIGIT] -= bias
        answer = biased.argmax(dim=1)
        digits = labels != NOT_A_DIGIT
        if digits.any():
            refused[kind] = (answer[digits] == NOT_A_DIGIT).float().mean().item()
        non_digits += int((~digits).sum())
        caught += int((answer[~digits] == NOT_A_DIGIT).sum())
    return {"bias": bias, "refused": refused, "not_digits_refused": caught / max(1, non_digits)}


def _keeps_promise(point: dict) -> bool:
    return all(
        share <= (MNIST_LIMIT if kind == MNIST_KIND else DIGIT_KIND_LIMIT) for kind, share in point["refused"].items()
    )
