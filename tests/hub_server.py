"""A small in-process stand-in for the Hugging Face Hub HTTP API, for the tests.

The test machines cannot reach huggingface.co, but the project's Hub code should
still be tested through the real ``huggingface_hub`` client, with no mocks. So the
tests start a ``FakeHub`` on 127.0.0.1, point ``HF_ENDPOINT`` (or ``endpoint=``)
at it, and let the client talk plain HTTP to it. Afterwards a test can look at
what the "Hub" stored (``commits``, ``files``) and at every request the client
sent (``requests_log``), e.g. to check that a token was sent, or never leaked.

Only what the client needs for create_repo, upload_folder/create_commit,
create_branch, hf_hub_download, snapshot_download and model_info is served, for
model repos only. The preupload endpoint answers "regular" for every file, so
the client never switches to LFS or Xet and file contents travel inline as
base64 in the commit. As on the Hub, a new repo starts with one commit on
``main`` (here an empty one, without ``.gitattributes``). Unknown routes answer
404 with a JSON error that names the route.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_BRANCH = "main"

# The client retries 408/429/500/502/503/504 with backoff (1+2+4+8+8 s for a
# commit sent by upload_folder), so a refused commit is answered with a server
# error that it does not retry: the failed push then fails at once.
COMMIT_FAILURE_STATUS = 507


def git_blob_oid(data: bytes) -> str:
    """The git blob sha1 of ``data``: what the Hub uses as ETag and oid of a regular file."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    """The current time in the Hub's date format (``2024-01-31T12:00:00.000Z``)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class Commit:
    oid: str
    files: dict[str, bytes]
    message: str
    date: str


@dataclass
class Repo:
    private: bool
    branches: dict[str, list[Commit]]

    def history(self, revision: str) -> list[Commit] | None:
        """Commits up to ``revision`` (a branch name or a commit oid), oldest first."""
        if revision in self.branches:
            return list(self.branches[revision])
        for commits in self.branches.values():
            for index, commit in enumerate(commits):
                if commit.oid == revision:
                    return commits[: index + 1]
        return None


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def _json_reply(payload: object, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    reply_headers = {"Content-Type": "application/json", **(headers or {})}
    return Reply(status, json.dumps(payload).encode(), reply_headers)


class HubError(Exception):
    """An error answer, shaped like the Hub's: JSON ``{"error": ...}`` plus X-Error-* headers."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        # Header values must be latin-1 for http.server; keep them ASCII.
        error_headers = {"X-Error-Message": message.encode("ascii", "backslashreplace").decode(), **(headers or {})}
        if code:
            error_headers["X-Error-Code"] = code
        self.reply = _json_reply({"error": message, **(extra or {})}, status, error_headers)


def _repo_not_found() -> HubError:
    return HubError(404, "Repository not found", "RepoNotFound")


def _revision_not_found(revision: str) -> HubError:
    return HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")


def _tree_entries(files: dict[str, bytes], prefix: str, recursive: bool) -> list[dict[str, object]]:
    """The /tree listing of ``prefix``: its files and folders, or only its direct children."""
    base = f"{prefix}/" if prefix else ""
    entries: dict[str, dict[str, object]] = {}
    for path, data in files.items():
        if not path.startswith(base):
            continue
        parts = path[len(base) :].split("/")
        folders = [base + "/".join(parts[:depth]) for depth in range(1, len(parts))]
        if not recursive and folders:
            folders = folders[:1]
        for folder in folders:  # a folder's oid only has to be stable: hash its path
            entries[folder] = {"type": "directory", "path": folder, "size": 0, "oid": git_blob_oid(folder.encode())}
        if recursive or not folders:
            entries[path] = {"type": "file", "path": path, "size": len(data), "oid": git_blob_oid(data)}
    return [entries[path] for path in sorted(entries)]


class FakeHub:
    """In-memory stand-in for the Hub's HTTP API, enough for create_repo/upload_folder/
    hf_hub_download/snapshot_download/HfApi.model_info.

    ``valid_tokens``: if given, writes (create repo, preupload, commit, create branch)
    need ``Authorization: Bearer <token>`` with a token from the set, else they get
    401. If ``None``, any Bearer token is accepted. Reads of public repos need no
    token; a private repo looks missing (404 RepoNotFound) to a reader without a
    valid token.

    ``fail_commits``: when True, the commit endpoint refuses every commit with
    ``COMMIT_FAILURE_STATUS`` (a 5xx the client does not retry), after the
    preupload step, as a push that fails half-way would.

    ``lose_commit_answers``: when True, the commit endpoint applies every commit and
    then closes the connection without answering, as when a network fails after
    the Hub received the request: the client cannot know whether it landed.

    ``requests_log``: ``(method, path with query string, headers)`` of every request,
    header names in lower case.
    """

    def __init__(self, valid_tokens: set[str] | None = None) -> None:
        self.valid_tokens = valid_tokens
        self.fail_commits = False
        self.lose_commit_answers = False
        self.requests_log: list[tuple[str, str, dict[str, str]]] = []
        self.url = ""
        self._repos: dict[str, Repo] = {}
        self._commit_count = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> str:
        """Serve on a free port of 127.0.0.1 in a daemon thread; return the base URL."""
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-hub", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    # -- introspection -----------------------------------------------------------

    def commits(self, repo_id: str, revision: str = DEFAULT_BRANCH) -> list[str]:
        """Commit oids of ``revision`` (branch or commit oid), oldest first."""
        return [commit.oid for commit in self._history(repo_id, revision)]

    def files(self, repo_id: str, revision: str = DEFAULT_BRANCH) -> dict[str, bytes]:
        """The files of ``repo_id`` at ``revision`` (branch or commit oid), path -> content."""
        return dict(self._history(repo_id, revision)[-1].files)

    def _history(self, repo_id: str, revision: str) -> list[Commit]:
        with self._lock:
            history = self._repos[repo_id].history(revision)
        if history is None:
            raise KeyError(f"{repo_id} has no revision {revision!r}")
        return history

    # -- request handling ----------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Reply:
        """Log the request, route it and turn errors into error answers.

        A payload the stand-in cannot read gets a 400 rather than a dropped
        connection, which the client would retry with backoff.
        """
        self.requests_log.append((method, raw_path, headers))
        url = urlsplit(raw_path)
        parts = [unquote(part) for part in url.path.split("/")[1:]]
        try:
            with self._lock:
                return self._route(method, parts, parse_qs(url.query), headers, body)
        except HubError as error:
            return error.reply
        except (ValueError, KeyError, TypeError) as error:
            return HubError(400, f"FakeHub could not read the request: {error!r}").reply

    def _route(
        self, method: str, parts: list[str], query: dict[str, list[str]], headers: dict[str, str], body: bytes
    ) -> Reply:
        match method, parts:
            case "POST", ["api", "repos", "create"]:
                return self._create_repo(headers, json.loads(body))
            case "POST", ["api", "validate-yaml"]:
                return _json_reply({"errors": [], "warnings": []})
            case "GET", ["api", "models", owner, name]:
                return self._model_info(f"{owner}/{name}", DEFAULT_BRANCH, headers)
            case "GET", ["api", "models", owner, name, "revision", revision]:
                return self._model_info(f"{owner}/{name}", revision, headers)
            case "GET", ["api", "models", owner, name, "tree", revision, *path]:
                recursive = query.get("recursive", ["false"])[0].lower() == "true"
                return self._tree(f"{owner}/{name}", revision, "/".join(path).strip("/"), recursive, headers)
            case "POST", ["api", "models", owner, name, "preupload", revision]:
                return self._preupload(f"{owner}/{name}", revision, headers, json.loads(body))
            case "POST", ["api", "models", owner, name, "commit", revision]:
                return self._commit(f"{owner}/{name}", revision, headers, body)
            case "POST", ["api", "models", owner, name, "branch", branch]:
                return self._create_branch(f"{owner}/{name}", branch, headers, json.loads(body or b"{}"))
            case "GET" | "HEAD", [owner, name, "resolve", revision, *path] if path:
                return self._resolve(f"{owner}/{name}", revision, "/".join(path), headers)
        raise HubError(404, f"FakeHub has no route for {method} /{'/'.join(parts)}")

    # -- auth ---------------------------------------------------------------------

    def _is_authorized(self, headers: dict[str, str]) -> bool:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        return self.valid_tokens is None or token in self.valid_tokens

    def _readable_repo(self, repo_id: str, headers: dict[str, str]) -> Repo:
        repo = self._repos.get(repo_id)
        if repo is None or (repo.private and not self._is_authorized(headers)):
            raise _repo_not_found()
        return repo

    def _require_writer(self, headers: dict[str, str]) -> None:
        if not self._is_authorized(headers):
            raise HubError(401, "Invalid credentials in Authorization header")

    def _writable_repo(self, repo_id: str, headers: dict[str, str]) -> Repo:
        self._require_writer(headers)
        repo = self._repos.get(repo_id)
        if repo is None:
            raise _repo_not_found()
        return repo

    # -- commits --------------------------------------------------------------------

    def _new_commit(self, parent: Commit | None, files: dict[str, bytes], message: str) -> Commit:
        """A commit whose oid hashes a hub-wide counter, the parent, message and tree: unique per commit."""
        self._commit_count += 1
        digest = hashlib.sha1(f"{self._commit_count}\0{parent.oid if parent else ''}\0{message}\0".encode())
        for path in sorted(files):
            digest.update(f"{path}\0{git_blob_oid(files[path])}\0".encode())
        return Commit(digest.hexdigest(), files, message, _now())

    def _branch(self, repo: Repo, revision: str) -> list[Commit]:
        """The commit list of branch ``revision``; commits and preuploads only target branches."""
        if revision not in repo.branches:
            raise _revision_not_found(revision)
        return repo.branches[revision]

    # -- endpoints ------------------------------------------------------------------

    def _create_repo(self, headers: dict[str, str], payload: dict[str, str]) -> Reply:
        self._require_writer(headers)
        if not payload.get("organization"):
            raise HubError(400, "FakeHub needs a namespaced repo id: 'owner/name'")
        if payload.get("type", "model") != "model":
            raise HubError(400, "FakeHub only serves model repos")
        repo_id = f"{payload['organization']}/{payload['name']}"
        repo_url = f"{self.url}/{repo_id}"
        if repo_id in self._repos:
            raise HubError(409, "You already created this model repo", extra={"url": repo_url})
        initial = self._new_commit(None, {}, "initial commit")
        self._repos[repo_id] = Repo(payload.get("visibility") == "private", {DEFAULT_BRANCH: [initial]})
        return _json_reply({"url": repo_url})

    def _model_info(self, repo_id: str, revision: str, headers: dict[str, str]) -> Reply:
        repo = self._readable_repo(repo_id, headers)
        history = repo.history(revision)
        if history is None:
            raise _revision_not_found(revision)
        commit = history[-1]
        siblings = [
            {"rfilename": path, "size": len(data), "blobId": git_blob_oid(data)}
            for path, data in sorted(commit.files.items())
        ]
        return _json_reply(
            {
                "id": repo_id,
                "author": repo_id.split("/")[0],
                "sha": commit.oid,
                "private": repo.private,
                "gated": False,
                "disabled": False,
                "createdAt": history[0].date,
                "lastModified": commit.date,
                "tags": [],
                "siblings": siblings,
            }
        )

    def _tree(self, repo_id: str, revision: str, prefix: str, recursive: bool, headers: dict[str, str]) -> Reply:
        history = self._readable_repo(repo_id, headers).history(revision)
        if history is None:
            raise _revision_not_found(revision)
        entries = _tree_entries(history[-1].files, prefix, recursive)
        if prefix and not entries:
            raise HubError(404, f"{prefix} does not exist on {revision}", "EntryNotFound")
        return _json_reply(entries)

    def _preupload(self, repo_id: str, revision: str, headers: dict[str, str], payload: dict[str, list]) -> Reply:
        head = self._branch(self._writable_repo(repo_id, headers), revision)[-1]
        answers = [
            {
                "path": item["path"],
                "uploadMode": "regular",
                "shouldIgnore": False,
                "oid": git_blob_oid(head.files[item["path"]]) if item["path"] in head.files else None,
            }
            for item in payload["files"]
        ]
        return _json_reply({"files": answers})

    def _commit(self, repo_id: str, revision: str, headers: dict[str, str], body: bytes) -> Reply:
        repo = self._writable_repo(repo_id, headers)
        if self.fail_commits:
            raise HubError(COMMIT_FAILURE_STATUS, "FakeHub refuses commits (fail_commits is set)")
        branch = self._branch(repo, revision)
        files = dict(branch[-1].files)
        header = _apply_operations(files, body)
        parent_oid = header.get("parentCommit")
        if parent_oid is not None and parent_oid != branch[-1].oid:
            raise HubError(412, "A commit has happened since. Please refresh and try again.")
        commit = self._new_commit(branch[-1], files, header["summary"])
        branch.append(commit)
        if self.lose_commit_answers:
            raise _NoAnswer
        commit_url = f"{self.url}/{repo_id}/commit/{commit.oid}"
        return _json_reply({"success": True, "commitOid": commit.oid, "commitUrl": commit_url})

    def _create_branch(self, repo_id: str, branch: str, headers: dict[str, str], payload: dict[str, str]) -> Reply:
        repo = self._writable_repo(repo_id, headers)
        if branch in repo.branches:
            raise HubError(409, f"Reference already exists: refs/heads/{branch}")
        starting_point = payload.get("startingPoint", DEFAULT_BRANCH)
        history = repo.history(starting_point)
        if history is None:
            raise _revision_not_found(starting_point)
        repo.branches[branch] = history
        return _json_reply({})

    def _resolve(self, repo_id: str, revision: str, path: str, headers: dict[str, str]) -> Reply:
        history = self._readable_repo(repo_id, headers).history(revision)
        if history is None:
            raise _revision_not_found(revision)
        commit = history[-1]
        if path not in commit.files:
            raise HubError(404, "Entry not found", "EntryNotFound", {"X-Repo-Commit": commit.oid})
        data = commit.files[path]
        reply_headers = {
            "Content-Type": "application/octet-stream",
            "ETag": f'"{git_blob_oid(data)}"',
            "X-Repo-Commit": commit.oid,
        }
        return Reply(200, data, reply_headers)


def _apply_operations(files: dict[str, bytes], body: bytes) -> dict[str, str]:
    """Apply the NDJSON commit operations in ``body`` to ``files``; return the commit header."""
    header: dict[str, str] = {}
    for line in body.splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        key, value = item["key"], item["value"]
        if key == "header":
            header = value
        elif key == "file":
            files[value["path"]] = base64.b64decode(value["content"])
        elif key == "deletedFile":
            if files.pop(value["path"], None) is None:
                raise HubError(404, f"A file with this name doesn't exist: {value['path']}", "EntryNotFound")
        elif key == "deletedFolder":
            folder = value["path"].rstrip("/") + "/"
            for path in [path for path in files if path.startswith(folder)]:
                del files[path]
        else:
            raise HubError(400, f"FakeHub does not support the commit operation {key!r} (only regular files)")
    if "summary" not in header:
        raise HubError(400, "Commit payload has no header line")
    return header


class _NoAnswer(Exception):
    """The request was handled, but its connection is closed without an answer."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], hub: FakeHub) -> None:
        super().__init__(address, handler)
        self.hub = hub


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the client pools connections
    disable_nagle_algorithm = True  # else each reply waits ~40 ms on delayed ACKs
    server: _Server

    def _dispatch(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            reply = self.server.hub.handle(self.command, self.path, headers, body)
        except _NoAnswer:
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet: ``requests_log`` records every request instead."""
