"""Publishing to and loading from the Hub, through the real `huggingface_hub` client over HTTP.

The Hub here is `tests/hub_server.py`, started by conftest.py on 127.0.0.1 before
`huggingface_hub` was imported. Pushes run the real command lines in child processes.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import HUB_TOKEN, REPO_ROOT
from huggingface_hub import HfApi
from test_weights import metrics_for

from mnist_model.hub import HubError
from mnist_model.loader import load_model
from mnist_model.model import DEFAULT_ARCH, DigitNet
from mnist_model.weights import MODEL_FOLDER_FILES, WeightsError, load_model_folder, save_model_folder
from testkit.app import free_port

pytestmark = pytest.mark.slow  # train.py and the push and load commands, each in a child process

REPO = "alice/digits"


def run(args: list[str], env: dict[str, str], **extra_env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT,
        env={**env, **extra_env},
    )


def outputs(model: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.linspace(0, 1, 4 * 28 * 28).reshape(4, 1, 28, 28))


@pytest.fixture(scope="module")
def pushed(tmp_path_factory, data_dir: Path, env_for_subprocess: dict[str, str], hub) -> Path:
    """A smoke model trained and published by `train.py --push`; returns its local folder."""
    out = tmp_path_factory.mktemp("pushed") / "model"
    result = run(
        ["train.py", "--data-dir", str(data_dir), "--epochs", "1", "--limit", "1000", "--out", str(out),
         "--push", "--repo-id", REPO, "--commit-message", "First model"],
        env_for_subprocess, HF_TOKEN=HUB_TOKEN,
    )
    assert result.returncode == 0, result.stderr
    assert f"pushed {out} to " in result.stdout
    assert HUB_TOKEN not in result.stdout + result.stderr
    return out


def test_train_py_push_uploads_the_whole_folder_in_one_commit(pushed: Path, hub) -> None:
    assert len(hub.commits(REPO)) == 2  # the repo's initial commit, then ours
    files = hub.files(REPO)
    assert sorted(files) == sorted(MODEL_FOLDER_FILES)
    for name in MODEL_FOLDER_FILES:
        assert files[name] == (pushed / name).read_bytes(), name
    assert any(headers.get("authorization") == f"Bearer {HUB_TOKEN}" for _, _, headers in hub.requests_log)


def test_load_by_repo_id_and_by_pinned_commit(pushed: Path, hub, tmp_path: Path, env_for_subprocess) -> None:
    first_commit = hub.commits(REPO)[-1]
    loaded = load_model(REPO)
    assert loaded.source == f"{REPO}@{first_commit}"
    assert torch.equal(outputs(loaded.model), outputs(load_model_folder(pushed)))
    assert loaded.metrics["test_images"] == 1000

    torch.manual_seed(7)
    second = DigitNet()
    save_model_folder(second, metrics_for(second), tmp_path / "second")
    result = run(["-m", "mnist_model", "push", str(tmp_path / "second"), "--repo-id", REPO],
                 env_for_subprocess, HF_TOKEN=HUB_TOKEN)
    assert result.returncode == 0, result.stderr
    assert hub.commits(REPO)[-1] != first_commit

    latest = load_model(REPO)
    assert torch.equal(outputs(latest.model), outputs(second.eval()))
    pinned = load_model(f"{REPO}@{first_commit}")
    assert pinned.source == f"{REPO}@{first_commit}"
    assert torch.equal(outputs(pinned.model), outputs(load_model_folder(pushed)))


def test_push_to_a_private_branch(pushed: Path, hub, env_for_subprocess) -> None:
    result = run(["-m", "mnist_model", "push", str(pushed), "--repo-id", "alice/private-digits",
                  "--private", "--branch", "experiment"], env_for_subprocess, HF_TOKEN=HUB_TOKEN)
    assert result.returncode == 0, result.stderr
    assert sorted(hub.files("alice/private-digits", "experiment")) == sorted(MODEL_FOLDER_FILES)
    assert hub.files("alice/private-digits", "main") == {}
    with pytest.raises(HubError, match="has no model repo alice/private-digits"):
        load_model("alice/private-digits@experiment")  # private, and this process has no token


@pytest.mark.parametrize("how", ["unreachable", "HF_HUB_OFFLINE"])
def test_falls_back_to_local_weights_quickly_when_the_hub_is_out_of_reach(
    how: str, pushed: Path, tmp_path: Path, env_for_subprocess
) -> None:
    script = textwrap.dedent(f"""
        import logging, time
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
        from mnist_model.loader import load_model
        started = time.perf_counter()
        loaded = load_model({REPO!r}, fallback={str(pushed)!r})
        print(f"{{time.perf_counter() - started:.3f}}")
        print(loaded.source)
    """)
    extra = {"HF_HOME": str(tmp_path / "empty-cache")}
    if how == "unreachable":
        extra["HF_ENDPOINT"] = f"http://127.0.0.1:{free_port()}"
    else:
        extra["HF_HUB_OFFLINE"] = "1"
    result = run(["-c", script], env_for_subprocess, **extra)
    assert result.returncode == 0, result.stderr
    seconds, source = result.stdout.split("\n")[:2]
    assert float(seconds) < 5
    assert source == f"the model folder {pushed.name} (the Hub was unreachable)"
    assert f"using the local weights in {pushed} instead" in result.stderr
    assert f"Loaded {DEFAULT_ARCH} weights from {source} ({pushed})" in result.stderr


def test_a_cached_pinned_commit_loads_without_the_hub(pushed: Path, hub, env_for_subprocess) -> None:
    commit = hub.commits(REPO)[1]
    load_model(f"{REPO}@{commit}")  # fills the test run's Hub cache
    script = f"from mnist_model.loader import load_model; print(load_model({REPO + '@' + commit!r}).source)"
    result = run(["-c", script], env_for_subprocess, HF_HUB_OFFLINE="1")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{REPO}@{commit}"


def test_unknown_repo_or_revision_is_an_error_not_a_fallback(pushed: Path) -> None:
    with pytest.raises(HubError, match="the Hub has no model repo alice/nothing-here"):
        load_model("alice/nothing-here")
    with pytest.raises(HubError, match="has no revision 'no-such-branch'"):
        load_model(f"{REPO}@no-such-branch")


def test_corrupt_weights_on_the_hub_name_the_file(pushed: Path) -> None:
    api = HfApi(token=HUB_TOKEN)
    api.create_repo("alice/broken", exist_ok=True)
    api.upload_file(path_or_fileobj=pushed / "config.json", path_in_repo="config.json", repo_id="alice/broken")
    api.upload_file(path_or_fileobj=b"not safetensors", path_in_repo="model.safetensors", repo_id="alice/broken")
    with pytest.raises(WeightsError, match=r"model\.safetensors is not a valid safetensors file"):
        load_model("alice/broken")


def test_push_without_a_token_is_one_clear_line(pushed: Path, tmp_path: Path, env_for_subprocess) -> None:
    before = {p.name: p.read_bytes() for p in pushed.iterdir()}
    result = run(["-m", "mnist_model", "push", str(pushed), "--repo-id", "alice/other"],
                 env_for_subprocess, HF_HOME=str(tmp_path / "no-login"))
    assert result.returncode == 1
    assert result.stderr.startswith("error: no Hugging Face token: set HF_TOKEN or run `hf auth login`")
    assert result.stderr.count("\n") == 1
    assert {p.name: p.read_bytes() for p in pushed.iterdir()} == before


def test_a_refused_push_is_one_line_without_the_token(pushed: Path, env_for_subprocess) -> None:
    wrong = "hf_wrong-token-that-must-not-be-echoed"
    result = run(["-m", "mnist_model", "push", str(pushed), "--repo-id", "alice/refused"],
                 env_for_subprocess, HF_TOKEN=wrong)
    assert result.returncode == 1
    assert result.stderr.startswith("error: the push to alice/refused failed while creating the repo (the Hub refused it: ")
    assert "401 Unauthorized" in result.stderr and "; no file was uploaded; the local files in" in result.stderr
    assert result.stderr.count("\n") == 1
    assert wrong not in result.stdout + result.stderr


def test_push_refuses_a_folder_that_would_not_load(tmp_path: Path, env_for_subprocess) -> None:
    result = run(["-m", "mnist_model", "push", str(tmp_path), "--repo-id", REPO],
                 env_for_subprocess, HF_TOKEN=HUB_TOKEN)
    assert result.returncode == 1
    assert result.stderr == f"error: {tmp_path / 'config.json'} is missing\n"
