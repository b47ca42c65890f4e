"""Which fonts type the synthetic digits and letters, and which are kept out of training.

A model that learns printed digits from a handful of typefaces reads those typefaces and few
others, so training types in many: print faces (sans, serif, mono, rounded, typewriter) and
faces that imitate handwriting. Fonts are named by the start of their file names, an allow-list
per role, so that installing another font package never slips a judged font into training:

- `TRAINING`: what `mnist_model.synthetic` types with;
- `VALIDATION`: never trained on; the calibration of the refusal (`mnist_model.calibration`)
  looks at them, as digit styles the model has not seen;
- `JUDGED`: never trained on nor looked at while training: the benchmarks' held-out fonts
  (`benchmarks.open_world`), the Debian packages that the project keeps for judging.

Each role is split into "print" and "handwriting" styles. Fonts are looked for in
`$MNIST_FONTS_DIR` (a flat folder of font files, for a machine without Debian's packages) and
then under `/usr/share/fonts`.

    files = font_files("training", "handwriting")   # [Path(".../Kristi.ttf"), ...]
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

FONTS_DIR_ENV = "MNIST_FONTS_DIR"
SYSTEM_FONTS = Path("/usr/share/fonts")
STYLES = ("print", "handwriting")
# role -> style -> file-name prefixes. Debian packages in brackets.
TRAINING = {
    "print": ("DejaVuSans", "Liberation", "Arimo", "Cousine", "Tinos",  # [fonts-dejavu-core, -liberation2, -croscore]
              "Carlito", "Go-", "JetBrainsMono", "Jura", "Cabin-", "Comfortaa",  # [-crosextra-carlito, -go, ...]
              "OldStandard", "Quicksand", "GNUTypewriter", "CharisSIL"),
    "handwriting": ("BecauseWeBuild", "BecauseWeConnect", "BecauseWeCreate", "BecauseWeLearn",  # [fonts-bwht]
                    "dkg", "Kristi", "Rufscript", "Delphine", "KaushanScript", "CabinSketch", "LeckerliOne",
                    "lobster", "Havana", "Joscelyn"),
}  # fmt: skip
VALIDATION = {
    "print": ("DejaVuSerif", "Caladea"),  # [fonts-dejavu-core, fonts-crosextra-caladea]
    "handwriting": ("BecauseWeMentor", "BecauseWeOrganize", "SteveHand"),  # [fonts-bwht, fonts-sjfonts]
}
JUDGED = {
    "print": ("Free", "C059", "Nimbus", "P052", "URWBookman", "URWGothic", "Z003",  # [fonts-freefont-ttf, -urw-base35]
              "Roboto", "Cantarell", "OpenSans", "Lato", "LinBiolinum", "LinLibertine", "EBGaramond",
              "FiraCode", "Inconsolata", "Hack", "Andika"),
    "handwriting": ("Humor-Sans", "ComicNeue", "Breip", "breip", "Ecolier", "femkeklaver", "TomsonTalks",
                    "DancingScript", "Purisa"),
}  # fmt: skip
ROLES = {"training": TRAINING, "validation": VALIDATION, "judged": JUDGED}
# Debian packages holding every font above, for error messages and CI.
PACKAGES = {
    "training": "fonts-dejavu-core fonts-liberation2 fonts-croscore fonts-crosextra-carlito fonts-go "
                "fonts-jetbrains-mono fonts-jura fonts-cabin fonts-comfortaa fonts-oldstandard fonts-quicksand "
                "fonts-gnutypewriter fonts-sil-charis fonts-bwht fonts-dkg-handwriting fonts-kristi "
                "fonts-rufscript fonts-sjfonts fonts-kaushanscript fonts-cabinsketch fonts-leckerli-one "
                "fonts-lobster fonts-havana fonts-joscelyn",
    "validation": "fonts-dejavu-core fonts-crosextra-caladea fonts-bwht fonts-sjfonts",
    "judged": "fonts-humor-sans fonts-comic-neue fonts-breip fonts-ecolier-court fonts-femkeklaver "
              "fonts-tomsontalks fonts-dancingscript fonts-tlwg-purisa-ttf fonts-freefont-ttf fonts-urw-base35 "
              "fonts-roboto-unhinted fonts-cantarell fonts-open-sans fonts-lato fonts-linuxlibertine "
              "fonts-ebgaramond fonts-firacode fonts-inconsolata fonts-hack fonts-sil-andika",
}  # fmt: skip
_NOT_DIGITS = ("Math", "Symbol", "D050000L")  # faces whose digits are symbols, or that hold none


class FontsNotFoundError(RuntimeError):
    """None of a role's fonts is installed where this module looks."""


def font_files(role: str, style: str | None = None) -> list[Path]:
    """The installed font files of `role` ("training", "validation", "judged"), of one style
    or both; raises `FontsNotFoundError` when there are none."""
    styles = STYLES if style is None else (style,)
    prefixes = tuple(prefix for name in styles for prefix in ROLES[role][name])
    chosen = [path for name, path in _installed().items() if name.startswith(prefixes)]
    if not chosen:
        raise FontsNotFoundError(
            f"no {role} fonts{f' ({style})' if style else ''} found: install the Debian packages "
            f"{PACKAGES[role]}, or point ${FONTS_DIR_ENV} at a folder holding their font files"
        )
    return chosen


def _installed() -> dict[str, Path]:
    """Every usable font file by file name, the fonts folder's copy first."""
    return _scan(os.environ.get(FONTS_DIR_ENV, ""))


@cache
def _scan(fonts_dir: str) -> dict[str, Path]:
    folders = [Path(fonts_dir)] if fonts_dir else []
    found: dict[str, Path] = {}
    for folder in [*folders, SYSTEM_FONTS]:
        files = sorted(folder.rglob("*")) if folder.is_dir() else []
        for path in files:
            if path.suffix.lower() in (".ttf", ".otf") and not any(word in path.name for word in _NOT_DIGITS):
                found.setdefault(path.name, path)
    return dict(sorted(found.items()))
