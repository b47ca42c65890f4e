"""Command-line pieces shared by `train.py` and `python -m mnist_model`.

Errors that a user can fix are printed as one line (`error: ...`) with exit status 1 instead of
a traceback; the push options are declared once so both commands spell them the same.
"""

from __future__ import annotations

import argparse
import sys

from .hub import HubError, push_model_folder


def fail(error: BaseException) -> int:
    print(f"error: {error}", file=sys.stderr)
    return 1


def add_push_arguments(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--repo-id", required=required, metavar="OWNER/NAME", help="Hub model repo to push to")
    parser.add_argument("--private", action="store_true", help="create the repo as private")
    parser.add_argument("--branch", help="branch to push to (created if needed; default: main)")
    parser.add_argument("--commit-message", help="message of the Hub commit")


def push(args: argparse.Namespace) -> int:
    """Push `args.out` to `args.repo_id`; the token comes from HF_TOKEN or `hf auth login`."""
    try:
        url = push_model_folder(
            args.out, args.repo_id, private=args.private, branch=args.branch, commit_message=args.commit_message
        )
    except HubError as error:
        return fail(f"{error}; the local files in {args.out} are intact")
    print(f"pushed {args.out} to {url}")
    return 0
