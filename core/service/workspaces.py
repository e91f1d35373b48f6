"""Each browser's own checkpoints on a shared server.

A class shares one checkpoint folder. The files at its top (the shipped `default.pt`, what the
operator put there or `python -m core.train` wrote) are everyone's; what a browser trains,
continues or imports goes into its *workspace*, `<checkpoint folder>/workspaces/<id>/`, where
`<id>` is a random name the browser keeps (`ui/workspace.py`: a cookie). A tab lists the shared
files and its own workspace's, never another's; the operator's listing has every workspace.

The id is the only key to a workspace's files, so it is unguessable (96 random bits) and is
checked before it becomes part of a path: a value a browser sends can never name a folder
outside `workspaces/`.
"""
from __future__ import annotations

import re
import secrets
from pathlib import Path

from ..checkpoint import checkpoint_dir, list_checkpoints
from ..i18n import Text

WORKSPACES = "workspaces"                       # the folder of every workspace, inside the checkpoint folder
_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")     # what new_workspace_id() makes (URL-safe base64)


def new_workspace_id() -> str:
    """A fresh workspace's id: 12 random bytes, 16 URL-safe characters."""
    return secrets.token_urlsafe(12)


def is_workspace_id(value: object) -> bool:
    return isinstance(value, str) and bool(_ID.fullmatch(value))     # fullmatch: "$" would let a "\n" through


def workspaces_root(root: Path | None = None) -> Path:
    """The folder holding every workspace (`root`: the checkpoint folder, by default the server's)."""
    return (root or checkpoint_dir()) / WORKSPACES


def workspace_dir(workspace: str, root: Path | None = None) -> Path:
    """The folder of one workspace's checkpoints (not created: saving a checkpoint creates it)."""
    if not is_workspace_id(workspace):
        raise ValueError(Text("{workspace!r} is not a workspace id", workspace=workspace))
    return workspaces_root(root) / workspace


def workspace_checkpoints(workspace: str, root: Path | None = None) -> list[Path]:
    """The workspace's complete checkpoint files, newest first."""
    return list_checkpoints(workspace_dir(workspace, root))


def every_workspace(root: Path | None = None) -> dict[str, list[Path]]:
    """Every workspace that holds a checkpoint, with its files (newest first): the operator's view."""
    folder = workspaces_root(root)
    if not folder.is_dir():
        return {}
    found = {sub.name: list_checkpoints(sub) for sub in sorted(folder.iterdir())
             if sub.is_dir() and is_workspace_id(sub.name)}
    return {workspace: files for workspace, files in found.items() if files}
