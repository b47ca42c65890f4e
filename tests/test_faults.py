"""Faults: a bad model source at start-up, a training run killed while saving, a failed push.

Each fault is produced for real: `python app.py` processes started against the local Hub
stand-in (or an endpoint where nothing listens), `train.py` processes killed with SIGKILL at
chosen moments of their save, and pushes that the stand-in refuses or never answers.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import HUB_TOKEN, REPO_ROOT
from gradio_client import Client, handle_file
from huggingface_hub import HfApi
from safetensors.torch import save_model

from mnist_model.hub import push_model_folder
from mnist_model.model import DEFAULT_ARCH, DigitNet
from mnist_model.weights import MODEL_FOLDER_FILES, SHIPPED_WEIGHTS_DIR, load_model_folder
from testkit.app import free_port, launch_app

pytestmark = pytest.mark.slow  # each test starts the app, train.py or a push in a child process

OWNER = "carol"
START_UP_LIMIT_S = 60  # importing torch and gradio alone takes ~10 s on a busy 2-core machine


def files_of(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in folder.iterdir()}


@pytest.fixture(scope="module")
def hub_repos(hub, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Model repos on the stand-in: the shipped weights, weights of the wrong shape, corrupt weights."""
    api = HfApi(token=HUB_TOKEN)
    good = f"{OWNER}/digits"
    push_model_folder(SHIPPED_WEIGHTS_DIR, good, token=HUB_TOKEN)

    wrong_shape = f"{OWNER}/wrong-shape"  # config says the default network, the tensors are the seed's
    seed_weights = tmp_path_factory.mktemp("seed") / "model.safetensors"
    save_model(DigitNet("seed"), str(seed_weights))
    api.create_repo(wrong_shape, exist_ok=True)
    api.upload_file(path_or_fileobj=SHIPPED_WEIGHTS_DIR / "config.json", path_in_repo="config.json", repo_id=wrong_shape)
    api.upload_file(path_or_fileobj=seed_weights, path_in_repo="model.safetensors", repo_id=wrong_shape)

    corrupt = f"{OWNER}/corrupt"
    api.create_repo(corrupt, exist_ok=True)
    api.upload_file(path_or_fileobj=SHIPPED_WEIGHTS_DIR / "config.json", path_in_repo="config.json", repo_id=corrupt)
    api.upload_file(path_or_fileobj=b"\x08\x00\x00\x00\x00\x00\x00\x00{broken", path_in_repo="model.safetensors",
                    repo_id=corrupt)
    return {"good": good, "wrong_shape": wrong_shape, "corrupt": corrupt}


def start_app(args: list[str], env: dict[str, str], cwd: Path = REPO_ROOT) -> tuple[subprocess.Popen, str, int]:
    """Start `python app.py ARGS`; wait until it serves or exits. Returns (process, output so far, port)."""
    process, port = launch_app(args, env, subprocess.PIPE, cwd=cwd, limit_s=START_UP_LIMIT_S)
    return process, (process.stdout.read() if process.poll() is not None else ""), port


def stop(process: subprocess.Popen) -> str:
    process.terminate()
    output, _ = process.communicate(timeout=30)
    return output


def test_hub_unreachable_at_start_up_serves_the_local_weights(
    hub_repos, env_for_subprocess: dict[str, str], tmp_path: Path
) -> None:
    env = {**env_for_subprocess, "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}", "HF_HOME": str(tmp_path)}
    process, _, port = start_app(["--model", hub_repos["good"]], env)
    try:
        assert process.poll() is None, "app.py exited instead of falling back to the local weights"
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        value, _ = client.predict(handle_file(str(REPO_ROOT / "examples" / "sketch_composite_7.png")),
                                  api_name="/predict")
        assert value["label"] == "7"
    finally:
        output = stop(process)
    assert f"using the local weights in {SHIPPED_WEIGHTS_DIR} instead" in output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (f"{OWNER}/no-such-repo", f"error: the Hub has no model repo {OWNER}/no-such-repo"),
        (f"{OWNER}/digits@no-such-revision", f"error: the Hub repo {OWNER}/digits has no revision 'no-such-revision'"),
        (f"{OWNER}/wrong-shape", f"model.safetensors does not fit the '{DEFAULT_ARCH}' architecture of"),
        (f"{OWNER}/corrupt", "model.safetensors is not a valid safetensors file"),
    ],
    ids=["missing-repo", "missing-revision", "wrong-shape", "corrupt"],
)
def test_a_bad_hub_source_stops_start_up_with_one_clear_line(
    source: str, message: str, hub_repos, env_for_subprocess: dict[str, str]
) -> None:
    started = time.monotonic()
    process, output, _ = start_app(["--model", source], env_for_subprocess)
    if process.poll() is None:
        stop(process)
        pytest.fail(f"app.py served with --model {source} instead of stopping")
    assert process.returncode != 0
    assert message in output, output
    assert output.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in output, output
    assert time.monotonic() - started < START_UP_LIMIT_S


def test_missing_weights_folder_stops_start_up_with_one_clear_line(
    env_for_subprocess: dict[str, str], tmp_path: Path
) -> None:
    """A checkout without weights/ (deleted, or never trained): the app says so and exits."""
    for name in ("app.py", "mnist_model", "examples"):
        copy = shutil.copytree if (REPO_ROOT / name).is_dir() else shutil.copy
        copy(REPO_ROOT / name, tmp_path / name)
    env = {key: value for key, value in env_for_subprocess.items() if key != "PYTHONPATH"}
    process, output, _ = start_app([], env, cwd=tmp_path)
    if process.poll() is None:
        stop(process)
        pytest.fail("app.py served without any weights")
    assert process.returncode != 0
    assert output.strip().splitlines()[-1] == f"error: no model folder at {tmp_path / 'weights'}", output


# Run `train.py` in a process that kills itself with SIGKILL at one moment of its save.
KILLED_TRAIN = textwrap.dedent("""
    import os, runpy, shutil, signal, sys
    from pathlib import Path
    import mnist_model.weights as weights

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    moment = os.environ["KILL_AT"]
    if moment == "writing":  # the weights file half written, the other files not yet
        real_save = weights.DigitNet.save_pretrained
        def save_half_then_die(self, folder, *args, **kwargs):
            real_save(self, folder, *args, **kwargs)
            path = Path(folder) / "model.safetensors"
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
            die()
        weights.DigitNet.save_pretrained = save_half_then_die
    elif moment == "before-swap":  # every file written and flushed, the folder not yet replaced
        weights._swap_into_place = die
    elif moment == "after-swap":  # the new folder in place, the old one not yet deleted
        shutil.rmtree = die
    sys.argv = ["train.py", *sys.argv[1:]]
    runpy.run_path("train.py", run_name="__main__")
""")


def train_into(out: Path, data_dir: Path, env: dict[str, str], kill_at: str | None = None) -> subprocess.CompletedProcess:
    args = ["--data-dir", str(data_dir), "--epochs", "1", "--limit", "300", "--out", str(out)]
    command = [sys.executable, "-c", KILLED_TRAIN, *args] if kill_at else [sys.executable, "train.py", *args]
    return subprocess.run(command, cwd=REPO_ROOT, env={**env, "KILL_AT": kill_at or ""},
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("moment", ["writing", "before-swap", "after-swap"])
def test_a_training_run_killed_while_saving_leaves_a_complete_model_folder(
    moment: str, data_dir: Path, env_for_subprocess: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "weights"
    shutil.copytree(SHIPPED_WEIGHTS_DIR, out)
    before = files_of(out)

    killed = train_into(out, data_dir, env_for_subprocess, kill_at=moment)
    assert killed.returncode == -signal.SIGKILL, killed.stderr

    after = files_of(out)
    assert sorted(after) == sorted(MODEL_FOLDER_FILES)
    load_model_folder(out)
    if moment == "after-swap":  # the new model is complete: the kill came after its swap
        assert after != before and b'"test_images": 300' in after["metrics.json"]
    else:
        assert after == before  # byte for byte the previous weights

    again = train_into(out, data_dir, env_for_subprocess)
    assert again.returncode == 0, again.stderr
    assert b'"test_images": 300' in files_of(out)["metrics.json"]
    load_model_folder(out)


def push(folder: Path, repo_id: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mnist_model", "push", str(folder), "--repo-id", repo_id],
        cwd=REPO_ROOT, env={**env, "HF_TOKEN": HUB_TOKEN}, capture_output=True, text=True, timeout=120, check=False,
    )


def test_a_push_refused_half_way_says_nothing_was_uploaded(hub, env_for_subprocess, tmp_path: Path) -> None:
    folder = shutil.copytree(SHIPPED_WEIGHTS_DIR, tmp_path / "weights")
    before = files_of(folder)
    repo = f"{OWNER}/refused-commit"
    hub.fail_commits = True  # the repo gets created, the files are announced, the commit is refused
    try:
        result = push(folder, repo, env_for_subprocess)
    finally:
        hub.fail_commits = False
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and HUB_TOKEN not in result.stdout + result.stderr
    assert result.stderr.startswith(f"error: the push to {repo} failed while committing the files (the Hub refused it: ")
    assert result.stderr.rstrip().endswith(
        f"; the repo {repo} exists; no file was uploaded (a Hub commit adds all of its files or none)"
        f"; the local files in {folder} are intact"
    )
    assert hub.files(repo) == {}  # indeed nothing
    assert files_of(folder) == before

    retry = push(folder, repo, env_for_subprocess)
    assert retry.returncode == 0, retry.stderr
    assert sorted(hub.files(repo)) == sorted(MODEL_FOLDER_FILES)


def test_a_push_whose_answer_is_lost_says_it_may_have_landed(hub, env_for_subprocess, tmp_path: Path) -> None:
    """The commit lands but its answer is lost: the client retries, and must not commit twice."""
    folder = shutil.copytree(SHIPPED_WEIGHTS_DIR, tmp_path / "weights")
    repo = f"{OWNER}/lost-answer"
    hub.lose_commit_answers = True
    try:
        result = push(folder, repo, env_for_subprocess)
    finally:
        hub.lose_commit_answers = False
    assert result.returncode == 1
    assert HUB_TOKEN not in result.stdout + result.stderr and "Traceback" not in result.stderr
    *client_retry_notes, error = result.stderr.strip().splitlines()  # the client logs its retries
    assert error.startswith(f"error: the push to {repo} failed while committing the files (")
    assert "whether the commit landed is unknown: look at the repo's history before pushing again" in error
    assert all("Retry" in note or "thrown while requesting" in note for note in client_retry_notes)
    assert len(hub.commits(repo)) == 2  # the repo's first commit, then ours: once, not once per retry
    assert sorted(hub.files(repo)) == sorted(MODEL_FOLDER_FILES)


def test_a_push_to_an_unreachable_hub_is_one_line(env_for_subprocess, tmp_path: Path) -> None:
    folder = shutil.copytree(SHIPPED_WEIGHTS_DIR, tmp_path / "weights")
    env = {**env_for_subprocess, "HF_ENDPOINT": f"http://127.0.0.1:{free_port()}"}
    started = time.monotonic()
    result = push(folder, f"{OWNER}/unreachable", env)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: the push to {OWNER}/unreachable failed while creating the repo (no answer: ")
    assert "; no file was uploaded; the local files in" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert time.monotonic() - started < 60


def test_pushing_never_writes_the_token_anywhere(hub, env_for_subprocess, tmp_path: Path) -> None:
    """The token goes in the Authorization header of write requests and nowhere else."""
    folder = shutil.copytree(SHIPPED_WEIGHTS_DIR, tmp_path / "weights")
    repo = f"{OWNER}/token-check"
    result = push(folder, repo, env_for_subprocess)
    assert result.returncode == 0, result.stderr
    assert HUB_TOKEN not in result.stdout + result.stderr
    for name, content in hub.files(repo).items():
        assert HUB_TOKEN.encode() not in content, name
    assert all(HUB_TOKEN not in path for _, path, _ in hub.requests_log)
    for _, _, headers in hub.requests_log:
        assert all(HUB_TOKEN not in value for key, value in headers.items() if key != "authorization")
    assert os.environ.get("HF_TOKEN") is None  # the test process itself never holds it
