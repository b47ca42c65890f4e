"""The app's event functions: its six API endpoints (also MCP tools) and the page's own answers.

Gradio names an endpoint, and MCP describes a tool, from its function: the name, the type
hints and the docstring's `Args:` and `Returns:`. So the docstrings below are what an assistant
reads about each tool, and say what a caller must send and gets back. Every input goes through
one `Predictor` (`mnist_model.predict`); an input it cannot read becomes a `gr.Error` with the
reason, shown on the page and returned to the client, never a traceback.

    >>> from mnist_model.loader import load_model
    >>> from mnist_model.predict import Classifier
    >>> endpoints = Endpoints(Classifier(load_model().model))
    >>> endpoints.read_strokes('{"width": 90, "height": 90, "strokes": [[[20, 20], [70, 20], [40, 80]]]}')[0]
    '7'
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import gradio as gr
from PIL import Image

from .answers import digit_outputs, number_outputs, page_answer
from .decode import ImageError, ImageSource, load_image
from .pool import WorkerError
from .predict import NumberReading, Prediction, Predictor
from .strokes import StrokesError, strokes_picture

Label = dict[str, float] | str  # a gr.Label value: every class's probability, or a message


class Endpoints:
    """What each event of the app runs, bound to the app's `Predictor`."""

    def __init__(self, classifier: Predictor) -> None:
        self.classifier = classifier

    def predict(self, image: str | None) -> tuple[Label, Image.Image]:
        """Classify a picture of one digit, 0 to 9, handwritten or printed: a drawing, scan or photo.

        The picture is prepared the way MNIST was (ink fitted into 20x20, centred in 28x28). Ink
        that is not a digit (a letter, a symbol, a shape, a scribble) is answered "not a digit".

        Args:
            image: a PNG or JPEG file, given as a data: URL (data:image/png;base64,...) or an http(s) URL.
        Returns:
            a label: the likeliest class ("0" to "9", or "not a digit") and the probabilities of all eleven; a blank picture (no ink) gives a label without confidences, "Draw a digit, or upload a picture of one"
            the 28x28 image the model saw, white on black, enlarged 5x to 140x140
        """
        return digit_outputs(self._classify(image))

    def predict_sketch(self, sketch: dict | None) -> tuple[Label, Image.Image]:
        """Classify a digit drawn on the app's Sketchpad, 0 to 9, as the browser sends it.

        For a picture file, use predict instead. Ink that is not a digit is answered "not a digit".

        Args:
            sketch: a Sketchpad value, {"background": file or null, "layers": [files], "composite": file}, each file a PNG.
        Returns:
            a label: the likeliest class ("0" to "9", or "not a digit") and the probabilities of all eleven; a blank drawing (no ink) gives a label without confidences, "Draw a digit, or upload a picture of one"
            the 28x28 image the model saw, white on black, enlarged 5x to 140x140
        """
        return digit_outputs(self._classify(sketch))

    def predict_strokes(self, strokes: str | dict | None) -> tuple[Label, Image.Image]:
        """Classify a digit written as pen strokes, 0 to 9: the way for an assistant to write one.

        The strokes are drawn black on white with a round pen width/18 wide, then read as predict reads a picture. Ink that is not a digit is answered "not a digit".

        Args:
            strokes: JSON text {"width": W, "height": H, "strokes": [[[x, y], [x, y], ...], ...]}: the pad's size (whole numbers, 1 to 4096; the page's pad is 900x450) and each stroke's points in pad coordinates, x right and y down from the top left; a one-point stroke is a dot.
        Returns:
            a label: the likeliest class ("0" to "9", or "not a digit") and the probabilities of all eleven; a blank drawing (no strokes) gives a label without confidences, "Draw a digit, or upload a picture of one"
            the 28x28 image the model saw, white on black, enlarged 5x to 140x140
        """
        return digit_outputs(self._classify(_drawn(strokes)))

    def read_number(self, image: str | None) -> tuple[str, list[dict]]:
        """Read the whole number written on a picture (a year, a price, a phone number): every digit, left to right.

        Each digit is prepared and classified as predict does one, all in one batch. A piece of
        ink that is not a digit shows as "?" in the number.

        Args:
            image: a PNG or JPEG file, given as a data: URL (data:image/png;base64,...) or an http(s) URL.
        Returns:
            the number as a string, e.g. "2026", "?" for each piece that is not a digit; "" when the picture is blank (no ink)
            per digit, left to right: {"digit", "probability", "top": the three likeliest classes as {"label", "probability"}, "box": its ink in the picture's pixels as {"left", "top", "right", "bottom"}, "touching": whether it was cut from ink shared with a neighbour}
        """
        return number_outputs(self._read(image))

    def read_number_sketch(self, sketch: dict | None) -> tuple[str, list[dict]]:
        """Read the whole number drawn on the app's Sketchpad: every digit, left to right.

        For a picture file, use read_number instead. A piece of ink that is not a digit shows as "?".

        Args:
            sketch: a Sketchpad value, {"background": file or null, "layers": [files], "composite": file}, each file a PNG.
        Returns:
            the number as a string, e.g. "2026", "?" for each piece that is not a digit; "" when the drawing is blank (no ink)
            per digit, left to right: {"digit", "probability", "top": the three likeliest classes as {"label", "probability"}, "box": its ink in the drawing's pixels as {"left", "top", "right", "bottom"}, "touching": whether it was cut from ink shared with a neighbour}
        """
        return number_outputs(self._read(sketch))

    def read_strokes(self, strokes: str | dict | None) -> tuple[str, list[dict]]:
        """Read the whole number written as pen strokes: every digit, left to right.

        The strokes are drawn as predict_strokes draws them, then read as read_number reads a picture. A piece of ink that is not a digit shows as "?".

        Args:
            strokes: JSON text {"width": W, "height": H, "strokes": [[[x, y], [x, y], ...], ...]}: the pad's size (whole numbers, 1 to 4096; the page's pad is 900x450) and each stroke's points in pad coordinates, x right and y down from the top left; a one-point stroke is a dot.
        Returns:
            the number as a string, e.g. "2026", "?" for each piece that is not a digit; "" when the drawing is blank (no strokes)
            per digit, left to right: {"digit", "probability", "top": the three likeliest classes as {"label", "probability"}, "box": its ink in pad coordinates as {"left", "top", "right", "bottom"}, "touching": whether it was cut from ink shared with a neighbour}
        """
        return number_outputs(self._read(_drawn(strokes)))

    def show(self, source: ImageSource | None) -> tuple[Label, Image.Image, dict]:
        """The page's answer to an upload (`mnist_model.answers.page_answer`): the label, the
        picture of what the model saw, and an update of the digits' boxes over the input."""
        label, picture, boxes = page_answer(self._read(source))
        if boxes is None:
            return label, picture, gr.update(visible=False)
        # over the picture as the digits' boxes measure it: EXIF-turned
        return label, picture, gr.update(value=(load_image(source), boxes), visible=True)

    def show_strokes(self, strokes: str | None) -> tuple[Label, Image.Image, dict]:
        """The page's answer to the pad, while the pen moves and once it lifts."""
        return self.show(_drawn(strokes))

    def _classify(self, source: ImageSource | None) -> Prediction:
        with _told_clearly():
            return self.classifier.predict(source)

    def _read(self, source: ImageSource | None) -> NumberReading:
        with _told_clearly():
            return self.classifier.read_number(source)


def _drawn(strokes: str | dict | None) -> Image.Image | None:
    """The strokes drawn as a picture (`mnist_model.strokes`)."""
    with _told_clearly():
        return strokes_picture(strokes)


@contextmanager
def _told_clearly() -> Iterator[None]:
    """An input that cannot be read, or a worker lost on it, as a `gr.Error` with the reason:
    shown on the page and returned to the client, without a traceback in the server's log."""
    try:
        yield
    except (ImageError, StrokesError, WorkerError) as error:
        raise gr.Error(str(error), print_exception=False) from None
