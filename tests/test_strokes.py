"""Strokes sent as points: refused with one clear sentence when malformed, drawn as the brush would."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_model.strokes import StrokesError, parse_strokes, render_strokes, strokes_picture


@pytest.mark.parametrize("value, message", [
    ("{", "not valid JSON"), ("3", "must be a JSON object"), ('{"width": 9}', "no 'height' or 'strokes'"),
    ('{"width": 1.5, "height": 9, "strokes": []}', "whole number"),
    ('{"width": 9000, "height": 9, "strokes": []}', "from 1 to 4096"),
    ('{"width": 9, "height": 9, "strokes": {}}', "must be a list of strokes"),
    ('{"width": 9, "height": 9, "strokes": [[[1, NaN]]]}', "two finite numbers"),
])
def test_bad_values_are_refused_clearly(value: str, message: str) -> None:
    with pytest.raises(StrokesError, match=message):
        parse_strokes(value)


def test_nothing_sent_is_blank_and_a_stroke_is_drawn_at_the_brush_width() -> None:
    assert strokes_picture("") is None and strokes_picture('{"width": 900, "height": 450, "strokes": []}') is None
    picture = np.array(render_strokes(900, 450, [[(100.0, 225.0), (800.0, 225.0)]]))
    assert picture[225, 450] == 0 and picture[0, 0] == 255
    assert (picture[:, 450] == 0).sum() == pytest.approx(50, abs=2)  # 900 / 18
