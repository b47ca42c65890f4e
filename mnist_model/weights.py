"""Model folders on disk: written atomically, read strictly.

A model folder holds `model.safetensors` and `config.json` (written by `PyTorchModelHubMixin`),
`metrics.json` (what training measured), a `README.md` model card and its confusion-matrix
picture. It is the unit that `train.py` writes, the Hub stores and the app loads.

Writing goes to a hidden staging folder beside the target, which is swapped into place only when
every file is complete and flushed to disk: a crash or Ctrl-C mid-write leaves the previous
weights untouched. Reading never unpickles anything: weights come from safetensors only, loaded
with `strict=True`, and any wrong or corrupt file is reported by name.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import safetensors.torch
from safetensors import SafetensorError

from .card import CONFUSION_MATRIX_FILE, write_model_card
from .model import DigitNet, UnknownArchitectureError

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
CARD_FILE = "README.md"
MODEL_FOLDER_FILES = (WEIGHTS_FILE, CONFIG_FILE, METRICS_FILE, CARD_FILE, CONFUSION_MATRIX_FILE)
SHIPPED_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"


class WeightsError(RuntimeError):
    """A model folder is missing, incomplete, corrupt or does not fit the architecture."""


def save_model_folder(
    model: DigitNet, metrics: dict, folder: str | Path, repo_id: str | None = None
) -> Path:
    """Write the model, its metrics and its card to `folder`, replacing it atomically."""
    folder = Path(folder)
    if folder.exists():
        foreign = sorted(p.name for p in folder.iterdir() if p.name not in MODEL_FOLDER_FILES)
        if foreign or not folder.is_dir():
            raise WeightsError(
                f"refusing to replace {folder}: it holds files this program did not write "
                f"({', '.join(foreign) or 'it is not a folder'}); choose an empty or new folder"
            )
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.staging-", dir=folder.parent))
    try:
        write_model_card(staging, metrics, repo_id=repo_id)
        model.save_pretrained(staging)
        (staging / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        for path in staging.iterdir():
            path.chmod(0o644 & ~_umask())  # as a plain write would leave them (mkstemp-style 0600 otherwise)
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        staging.chmod(0o755 & ~_umask())
        _swap_into_place(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _swap_into_place(staging: Path, folder: Path) -> None:
    """Put the complete `staging` folder at `folder`; the old one is removed only afterwards.

    Where the system can exchange two paths in one step (Linux), a crash at any instant leaves
    either the old or the new folder in place. Elsewhere two renames are needed, and a crash
    between them leaves the old folder in a hidden `.NAME.old-*` folder beside it.
    """
    if not folder.exists():
        os.replace(staging, folder)
        return
    if _exchange(staging, folder):
        shutil.rmtree(staging)  # now holds the old folder
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
    os.replace(folder, retired / folder.name)
    os.replace(staging, folder)
    shutil.rmtree(retired)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths with Linux's renameat2(RENAME_EXCHANGE); False where unsupported."""
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):  # old kernel, or a file system without it
        return False
    raise OSError(error, os.strerror(error), str(b))


def _libc() -> ctypes.CDLL | None:
    if sys.platform != "linux":
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def load_model_folder(folder: str | Path) -> DigitNet:
    """Load a model folder into a `DigitNet` in eval mode on the CPU, checking every file."""
    folder = Path(folder)
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    if not folder.is_dir():
        raise WeightsError(f"no model folder at {folder}")
    for path in (config_path, weights_path):
        if not path.is_file():
            raise WeightsError(f"{path} is missing")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WeightsError(f"{config_path} is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise WeightsError(f"{config_path} must hold a JSON object such as {{\"arch\": \"slim\"}}")
    # Folders written before the refusal class and the ensemble hold one ten-class network.
    config = {"not_a_digit": False, "members": 1, **config}
    try:
        model = DigitNet(**config)
    except (TypeError, UnknownArchitectureError) as error:
        raise WeightsError(f"{config_path} does not describe a DigitNet: {error}") from None
    try:
        safetensors.torch.load_model(model, weights_path, strict=True, device="cpu")
    except SafetensorError as error:
        raise WeightsError(f"{weights_path} is not a valid safetensors file ({error})") from None
    except RuntimeError as error:
        detail = " ".join(str(error).split())[:300]
        raise WeightsError(
            f"{weights_path} does not fit the {model.arch!r} architecture of {config_path} ({detail})"
        ) from None
    return model.eval()


def read_metrics(folder: str | Path) -> dict | None:
    """The folder's metrics.json, or None when it has none or it cannot be read."""
    try:
        return json.loads((Path(folder) / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
