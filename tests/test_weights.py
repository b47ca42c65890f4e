"""Model folders on disk: atomic writes, strict reads, a clear error for every bad file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_model

from mnist_model.model import DEFAULT_ARCH, DigitNet
from mnist_model.weights import (
    MODEL_FOLDER_FILES,
    WeightsError,
    load_model_folder,
    read_metrics,
    save_model_folder,
)


def metrics_for(model: DigitNet) -> dict:
    """The metrics fields the card needs, for a model that was never trained."""
    return {
        "arch": model.arch, "test_accuracy": 0.1, "validation_accuracy": 0.1, "validation_images": 5000,
        "test_confusion_matrix": [[1 if t == p else 0 for p in range(10)] for t in range(10)],
    }


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    torch.manual_seed(1)
    model = DigitNet()
    return save_model_folder(model, metrics_for(model), tmp_path / "weights")


def test_saved_folder_loads_back_identically(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(MODEL_FOLDER_FILES)
    torch.manual_seed(1)
    original = DigitNet().eval()
    images = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(original(images), load_model_folder(folder)(images))
    assert read_metrics(folder)["arch"] == DEFAULT_ARCH


def test_a_failed_save_leaves_the_previous_folder_intact(folder: Path) -> None:
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    model = DigitNet()
    broken = {**metrics_for(model), "not_json": object()}  # fails while writing metrics.json
    with pytest.raises(TypeError):
        save_model_folder(model, broken, folder)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert [p.name for p in folder.parent.iterdir()] == ["weights"]  # no staging folder left over


def test_a_folder_with_foreign_files_is_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    model = DigitNet()
    with pytest.raises(WeightsError, match=r"refusing to replace .*notes\.txt"):
        save_model_folder(model, metrics_for(model), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_corrupt_weights_name_the_file(folder: Path) -> None:
    (folder / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(WeightsError, match=r"model\.safetensors is not a valid safetensors file"):
        load_model_folder(folder)


def test_truncated_weights_name_the_file(folder: Path) -> None:
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(WeightsError, match=r"model\.safetensors"):
        load_model_folder(folder)


def test_weights_of_another_architecture_are_refused(folder: Path) -> None:
    save_model(DigitNet("seed"), str(folder / "model.safetensors"))
    with pytest.raises(WeightsError, match=rf"model\.safetensors does not fit the '{DEFAULT_ARCH}' architecture"):
        load_model_folder(folder)


def test_bad_config_names_the_file(folder: Path) -> None:
    config = folder / "config.json"
    config.write_text("{not json")
    with pytest.raises(WeightsError, match=r"config\.json is not valid JSON"):
        load_model_folder(folder)
    config.write_text(json.dumps({"arch": "resnet"}))
    with pytest.raises(WeightsError, match=r"config\.json does not describe a DigitNet: unknown architecture"):
        load_model_folder(folder)


def test_missing_files_are_named(folder: Path, tmp_path: Path) -> None:
    (folder / "model.safetensors").unlink()
    with pytest.raises(WeightsError, match=r"model\.safetensors is missing"):
        load_model_folder(folder)
    with pytest.raises(WeightsError, match="no model folder at"):
        load_model_folder(tmp_path / "absent")
