"""Training: a seconds-long smoke run learns, is reproducible on the CPU, and fails clearly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mnist_model.data import DataNotFoundError, load_mnist
from mnist_model.model import DEFAULT_ARCH
from mnist_model.training import TrainConfig, train
from mnist_model.weights import MODEL_FOLDER_FILES, load_model_folder

pytestmark = pytest.mark.slow  # training runs, and train.py in child processes

REPO_ROOT = Path(__file__).resolve().parent.parent
SMOKE = dict(epochs=2, limit=3000, batch_size=128, lr=0.05)


def run_train(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO_ROOT / "train.py"), *args],
        capture_output=True, text=True, timeout=300, **kwargs,
    )


def test_smoke_training_learns_and_is_reproducible(data_dir: Path) -> None:
    config = TrainConfig(data_dir=data_dir, device="cpu", **SMOKE)
    first = train(config, progress=False)
    second = train(config, progress=False)
    metrics = first.metrics
    assert metrics["test_images"] == 3000
    assert metrics["train_images"] == 3000 + sum(metrics["synthetic_train_images"].values())
    assert metrics["test_accuracy"] > 0.85, metrics["test_accuracy"]  # chance is 0.10
    assert len(metrics["history"]) == 2
    for name, tensor in first.model.state_dict().items():
        assert torch.equal(tensor, second.model.state_dict()[name]), name


def test_train_py_writes_a_complete_model_folder(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    result = run_train("--data-dir", str(data_dir), "--epochs", "1", "--limit", "1000", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(MODEL_FOLDER_FILES)
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("test_accuracy", "validation_accuracy", "per_class_test_accuracy", "epochs",
                "training_seconds", "images_per_second", "device_name", "torch_version", "git_commit", "date"):
        assert key in metrics, key
    card = (out / "README.md").read_text()
    assert "model-index" in card and f"value: {round(metrics['test_accuracy'], 4)}" in card
    assert load_model_folder(out).arch == DEFAULT_ARCH


def test_missing_data_is_one_clear_sentence(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match=r"point --data-dir or \$MNIST_DATA_DIR at a folder"):
        load_mnist(tmp_path / "nowhere", train=False)
    result = run_train("--data-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert result.stderr.startswith("error: MNIST is not in ")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_unknown_architecture_is_refused_by_train_py(tmp_path: Path) -> None:
    result = run_train("--arch", "resnet", "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "invalid choice: 'resnet'" in result.stderr
