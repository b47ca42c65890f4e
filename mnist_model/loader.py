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
    source: str  # where the weights came from, for logs and the app's footer
    metrics: dict | None


def load_model(source: str | Path | None = None, fallback: str | Path = SHIPPED_WEIGHTS_DIR) -> LoadedModel:
    """Load the model from `source` (folder or `owner/name[@revision]`), eval mode, on the CPU."""
    source = str(source) if source is not None else str(fallback)
    spec = None if Path(source).is_dir() else parse_repo_spec(source)
    if spec is None:
        loaded = LoadedModel(load_model_folder(source), f"local folder {source}", read_metrics(source))
    else:
        try:
            folder, commit = download_model_folder(spec)
        except HubUnreachableError as error:
            logger.warning("%s; using the local weights in %s instead", error, fallback)
            folder, description = Path(fallback), f"local folder {fallback} (Hub unreachable)"
        else:
            description = f"{spec.repo_id}@{commit}"
        loaded = LoadedModel(load_model_folder(folder), description, read_metrics(folder))
    logger.info("Loaded %s weights from %s", loaded.model.arch, loaded.source)
    return loaded
