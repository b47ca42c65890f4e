"""What the app shows and returns for a reading, so that the page, the API and MCP agree.

`mnist_model.predict` reads an input; this module turns the reading into the values the app's
components take: a Gradio Label value (every class's probability, or for a number the number
and the probability that every digit is right), the JSON of `/read_number` (each digit's answer,
runners-up and box), the enlarged 28x28 previews, and the boxes drawn over the picture.
"""

from __future__ import annotations

from PIL import Image

from .predict import PREVIEW_SIZE, DigitReading, NumberReading, Prediction

BLANK_MESSAGE = "Draw a digit, or upload a picture of one"
Boxes = list[tuple[tuple[int, int, int, int], str]]  # (left, top, right, bottom) and a caption, per digit


def digit_outputs(prediction: Prediction) -> tuple[dict[str, float] | str, Image.Image]:
    """`/predict`'s outputs: the Label value, every class's probability (`BLANK_MESSAGE` for a
    blank input), and the 28x28 the model saw, enlarged."""
    return BLANK_MESSAGE if prediction.is_blank else prediction.confidences, prediction.preview


def number_outputs(reading: NumberReading) -> tuple[str, list[dict]]:
    """`/read_number`'s outputs: the number, and each digit's answer and box."""
    return reading.text, [digit_details(digit) for digit in reading.digits]


def digit_details(digit: DigitReading) -> dict:
    """One digit of a number as `/read_number` returns it."""
    return {
        "digit": digit.label,
        "probability": digit.probability,
        "top": [{"label": label, "probability": p} for label, p in digit.top],
        "box": digit.box._asdict(),
        "touching": digit.cut,
    }


def page_answer(reading: NumberReading) -> tuple[dict[str, float] | str, Image.Image, Boxes | None]:
    """The page's answer to a drawing or an upload: the Label value, the picture of what the
    model saw, and the digits' boxes over the input (None when there is no number to box).

    One digit shows its classes and the 28x28 it was read from, exactly as `/predict` would;
    several show the number with the probability that every digit is right, the digits side
    by side as the model saw them, and each one's box and answer.
    """
    if not reading.digits:
        return BLANK_MESSAGE, Image.new("L", (PREVIEW_SIZE, PREVIEW_SIZE)), None
    if len(reading.digits) == 1:
        (digit,) = reading.digits
        return digit.confidences, enlarged(digit.preview), None
    boxes = [(tuple(digit.box), f"{digit.label} {digit.probability:.0%}") for digit in reading.digits]
    return {reading.text: reading.probability}, strip(reading.digits), boxes


def enlarged(preview: Image.Image) -> Image.Image:
    """A 28x28 model input as the page shows it."""
    return preview.resize((PREVIEW_SIZE, PREVIEW_SIZE), Image.Resampling.NEAREST)


def strip(digits: list[DigitReading], gap: int = 4) -> Image.Image:
    """A number's digits as the model saw them, side by side, each enlarged 3x."""
    size = PREVIEW_SIZE * 3 // 5
    picture = Image.new("L", (len(digits) * (size + gap) - gap, size), 96)
    for i, digit in enumerate(digits):
        picture.paste(digit.preview.resize((size, size), Image.Resampling.NEAREST), (i * (size + gap), 0))
    return picture
