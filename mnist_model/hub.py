"""The Hugging Face Hub: publishing a model folder and fetching one back.

Publishing uploads a whole model folder (weights, config, metrics, card, picture) in one commit,
creating the repo (and branch) if needed. Fetching pins every file to the commit that the first
file resolved to, so a push landing in between cannot mix two versions, and gives up fast when
the Hub cannot be reached: the caller then falls back to local weights.

`huggingface_hub` reads `HF_ENDPOINT`, `HF_HOME` and `HF_HUB_OFFLINE` once, at import: set them
before importing this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi, get_hf_file_metadata, get_token, hf_hub_download, hf_hub_url
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from .weights import CONFIG_FILE, METRICS_FILE, MODEL_FOLDER_FILES, WEIGHTS_FILE

# A repo id is "owner/name"; an optional "@revision" names a branch, tag or commit.
_REPO_SPEC = re.compile(r"^(?P<repo>[\w.-]+/[\w.-]+)(?:@(?P<revision>[\w./-]+))?$")
# How long to wait for the Hub before falling back to local weights.
HUB_TIMEOUT_S = 3.0


class HubError(RuntimeError):
    """A push or a download failed; the message is one sentence and never holds a token."""


class HubUnreachableError(HubError):
    """The Hub could not be reached (offline, down, or `HF_HUB_OFFLINE`) and nothing was cached."""


@dataclass(frozen=True)
class RepoSpec:
    repo_id: str
    revision: str | None = None

    def __str__(self) -> str:
        return self.repo_id + (f"@{self.revision}" if self.revision else "")


def parse_repo_spec(text: str) -> RepoSpec | None:
    """`owner/name[@revision]` -> RepoSpec, or None when `text` is not of that form."""
    match = _REPO_SPEC.match(text)
    return RepoSpec(match["repo"], match["revision"]) if match else None


def download_model_folder(spec: RepoSpec) -> tuple[Path, str]:
    """Fetch a model folder from the Hub, or from the local cache when the Hub is out of reach.

    Returns (local folder, commit hash). The commit is resolved first with one request that is
    not retried, so an unreachable Hub costs at most `HUB_TIMEOUT_S` instead of the client's
    ~24 s of retries; every file is then fetched at that commit.
    """
    try:
        with _hub_errors(spec):
            url = hf_hub_url(spec.repo_id, CONFIG_FILE, revision=spec.revision)
            commit = get_hf_file_metadata(url, timeout=HUB_TIMEOUT_S).commit_hash
    except HubUnreachableError:
        cached = _cached_model_folder(spec)
        if cached is None:
            raise
        return cached
    with _hub_errors(spec):
        for name in (CONFIG_FILE, WEIGHTS_FILE, METRICS_FILE):
            try:
                folder = Path(hf_hub_download(spec.repo_id, name, revision=commit)).parent
            except EntryNotFoundError:
                if name != METRICS_FILE:  # metrics are informative only: a model without them loads
                    raise HubError(f"the Hub repo {spec} has no {name}") from None
    return folder, commit


def _cached_model_folder(spec: RepoSpec) -> tuple[Path, str] | None:
    """The model folder of `spec` in the local Hub cache, if both of its files are there."""
    try:
        for name in (CONFIG_FILE, WEIGHTS_FILE):
            folder = Path(hf_hub_download(spec.repo_id, name, revision=spec.revision, local_files_only=True)).parent
    except (LocalEntryNotFoundError, OfflineModeIsEnabled):
        return None
    return folder, folder.name  # cached files live in <cache>/snapshots/<commit>/


@contextmanager
def _hub_errors(spec: RepoSpec) -> Iterator[None]:
    """Turn the client's exceptions into one-sentence `HubError`s about `spec`."""
    try:
        yield
    except RepositoryNotFoundError:
        raise HubError(f"the Hub has no model repo {spec.repo_id} (or it is private and no token allows it)") from None
    except RevisionNotFoundError:
        raise HubError(f"the Hub repo {spec.repo_id} has no revision {spec.revision!r}") from None
    except EntryNotFoundError as error:
        raise HubError(f"the Hub repo {spec} lacks a file it needs ({_one_line(error)})") from None
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        if status is not None and status >= 500:
            raise HubUnreachableError(f"the Hub is failing ({_one_line(error)})") from None
        raise HubError(f"the Hub refused to serve {spec} ({_one_line(error)})") from None
    except HubError:
        raise
    except Exception as error:  # noqa: BLE001 - network errors of whichever HTTP library the client uses
        raise HubUnreachableError(f"could not reach the Hub for {spec} ({_one_line(error)})") from None


def push_model_folder(
    folder: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    branch: str | None = None,
    commit_message: str | None = None,
    token: str | None = None,
) -> str:
    """Upload a model folder to `repo_id` in one commit and return the commit's URL.

    The token comes from the argument, else `HF_TOKEN` or the saved `hf auth login`. A Hub commit
    adds all of its files or none, so a push that fails says which step failed and whether
    anything changed on the Hub: the repo or branch it may have created, never half the files.
    """
    folder = Path(folder)
    if parse_repo_spec(repo_id) is None or "@" in repo_id:
        raise HubError(f"{repo_id!r} is not a Hub repo id of the form OWNER/NAME")
    token = token or get_token()
    if not token:
        raise HubError("no Hugging Face token: set HF_TOKEN or run `hf auth login`, then push again")
    api = HfApi(token=token)
    target = repo_id + (f" (branch {branch})" if branch else "")
    done: list[str] = []  # what already changed on the Hub, for the error message
    step = "creating the repo"
    try:
        created = api.create_repo(repo_id, private=private, exist_ok=True)
        done.append(f"the repo {created.repo_id} exists")
        if branch and branch != "main":
            step = f"creating the branch {branch}"
            api.create_branch(repo_id, branch=branch, exist_ok=True)
            done.append(f"the branch {branch} exists")
        step = "committing the files"
        # On a lost answer the client sends the commit again; naming the parent makes a repeat of
        # a commit that did land fail (412) instead of landing twice.
        parent = api.repo_info(repo_id, revision=branch).sha
        commit = api.upload_folder(
            folder_path=folder,
            repo_id=repo_id,
            revision=branch,
            allow_patterns=list(MODEL_FOLDER_FILES),
            commit_message=commit_message or f"Upload MNIST model from {folder.name}/",
            parent_commit=parent,
        )
    except Exception as error:  # noqa: BLE001 - HTTP errors and network errors of whichever library
        raise HubError(_push_failure(target, step, done, error, token)) from None
    return commit.commit_url


def _push_failure(target: str, step: str, done: list[str], error: BaseException, token: str) -> str:
    """One sentence: what failed, why, and what is (or may be) on the Hub now."""
    status = getattr(getattr(error, "response", None), "status_code", None)
    answered = isinstance(error, HfHubHTTPError) and status is not None
    cause = f"the Hub refused it: {_one_line(error, token)}" if answered else f"no answer: {_one_line(error, token)}"
    if step != "committing the files":
        uploaded = "no file was uploaded"
    elif answered and status != 412:
        uploaded = "no file was uploaded (a Hub commit adds all of its files or none)"
    else:  # the commit may have reached the Hub and only its answer been lost (412: on a retry)
        uploaded = "whether the commit landed is unknown: look at the repo's history before pushing again"
    state = "; ".join([*done, uploaded])
    return f"the push to {target} failed while {step} ({cause}); {state}"


def _one_line(error: BaseException, secret: str | None = None) -> str:
    """First line of an error message, with any secret blanked out."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text.replace(secret, "***") if secret else text
