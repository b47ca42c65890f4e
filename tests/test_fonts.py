"""The font catalogue: training, validation and judged fonts never overlap, each is installed,
a missing role is one sentence naming its packages, and a folder of one's own is searched first."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnist_model import fonts
from mnist_model.fonts import JUDGED, ROLES, STYLES, TRAINING, VALIDATION, FontsNotFoundError, font_files


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("style", STYLES)
def test_every_role_and_style_has_installed_fonts(role: str, style: str) -> None:
    assert font_files(role, style)


def test_no_font_has_two_roles() -> None:
    names = {role: {path.name for path in font_files(role)} for role in ROLES}
    assert not names["training"] & names["validation"]
    assert not names["training"] & names["judged"]
    assert not names["validation"] & names["judged"]


def test_no_prefix_of_one_role_starts_a_prefix_of_another() -> None:
    prefixes = {role: [p for style in STYLES for p in table[style]] for role, table in
                (("training", TRAINING), ("validation", VALIDATION), ("judged", JUDGED))}  # fmt: skip
    for role, own in prefixes.items():
        for other, theirs in prefixes.items():
            if role != other:
                assert not [(a, b) for a in own for b in theirs if a.startswith(b) or b.startswith(a)], (role, other)


def test_judged_fonts_are_the_packages_kept_for_judging() -> None:
    judged = {path.name for path in font_files("judged")}
    for name in ("Humor-Sans.ttf", "Purisa.ttf", "FreeSans.ttf", "Roboto-Regular.ttf", "Hack-Regular.ttf"):
        assert name in judged
    assert not any(name.startswith(("StandardSymbols", "D050000L")) for name in judged)  # no digits there


def test_missing_fonts_are_one_sentence_naming_the_packages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(fonts, "SYSTEM_FONTS", tmp_path)
    monkeypatch.delenv(fonts.FONTS_DIR_ENV, raising=False)
    fonts._scan.cache_clear()
    try:
        with pytest.raises(FontsNotFoundError, match="install the Debian packages fonts-dejavu-core fonts-liberation2"):
            font_files("training")
    finally:
        fonts._scan.cache_clear()


def test_a_fonts_folder_of_ones_own_is_searched_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    source = font_files("training", "handwriting")[0]
    (tmp_path / source.name).write_bytes(source.read_bytes())
    monkeypatch.setenv(fonts.FONTS_DIR_ENV, str(tmp_path))
    assert tmp_path / source.name in font_files("training", "handwriting")
    assert source not in font_files("training", "handwriting")
