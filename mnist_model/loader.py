"""One entry point for "give me the model": from a local folder or from a Hub repo.

A source is a folder path (default: the repo's shipped `weights/`) or `owner/name[@revision]`.
When the Hub cannot be reached the local weights are used instead, within seconds, and the log
says so; a source that exists but is wrong (unknown repo or revision, corrupt file) is an error,
since silently serving other weights would mislead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .hub import HubUnreachableError, download_model_folder, parse_repo_spec
from .model import DigitNet
from .weights import SHIPPED_WEIGHTS_DIR, load_model_folder, read_metrics

logger = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    model: DigitNet
    # where the weights came from, fit to show anyone (the app's footer): "the shipped weights",
    # "the model folder NAME" or "OWNER/NAME@COMMIT", never a path of this machine's disk
    source: str
    metrics: dict | None


def load_model(source: str | Path | None = None, fallback: str | Path = SHIPPED_WEIGHTS_DIR) -> LoadedModel:
    """Load the model from `source` (folder or `owner/name[@revision]`), eval mode, on the CPU."""
    source = str(source) if source is not None else str(fallback)
    spec = None if Path(source).is_dir() else parse_repo_spec(source)
    if spec is None:
        folder, description = Path(source), _folder_name(Path(source))
    else:
        try:
            folder, commit = download_model_folder(spec)
        except HubUnreachableError as error:
            logger.warning("%s; using the local weights in %s instead", error, fallback)
            folder, description = Path(fallback), f"{_folder_name(Path(fallback))} (the Hub was unreachable)"
        else:
            description = f"{spec.repo_id}@{commit}"
    loaded = LoadedModel(load_model_folder(folder), description, read_metrics(folder))
    logger.info("Loaded %s weights from %s (%s)", loaded.model.arch, loaded.source, folder)
    return loaded


def _folder_name(folder: Path) -> str:
    """A local model folder as `LoadedModel.source` names it."""
    if folder.resolve() == SHIPPED_WEIGHTS_DIR.resolve():
        return "the shipped weights"
    return f"the model folder {folder.resolve().name}"
