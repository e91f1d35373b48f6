"""Each browser's workspace on a shared server (core.service.workspaces): a folder of its own under
the checkpoint folder, named by an id a browser cannot bend into another path."""
from __future__ import annotations

import pytest

from core.service.workspaces import (
    WORKSPACES,
    every_workspace,
    is_workspace_id,
    new_workspace_id,
    workspace_checkpoints,
    workspace_dir,
)


def test_a_new_workspace_id_is_random_and_has_the_shape_every_id_must_have():
    ids = {new_workspace_id() for _ in range(100)}
    assert len(ids) == 100 and all(is_workspace_id(i) and len(i) == 16 for i in ids)


@pytest.mark.parametrize("value", ["", "short", "../../etc/passwd", "a/b" * 8, "." * 20, "..%2f" * 5,
                                   "x" * 16 + "\x00", "x" * 16 + "\n", "x" * 65, None, 12345678901234567])
def test_a_value_that_is_no_id_never_names_a_folder(checkpoint_dir, value):
    assert not is_workspace_id(value)
    with pytest.raises(ValueError, match="not a workspace id"):
        workspace_dir(value)


def test_each_workspace_is_a_folder_of_its_own_under_the_checkpoint_folder(checkpoint_dir):
    a, b = new_workspace_id(), new_workspace_id()
    assert workspace_dir(a) == checkpoint_dir / WORKSPACES / a and workspace_dir(a) != workspace_dir(b)
    assert workspace_checkpoints(a) == [] and not workspace_dir(a).exists()       # made by the first save


def test_the_operators_listing_has_every_workspace_with_a_checkpoint_and_nothing_else(checkpoint_dir):
    a, b, empty = new_workspace_id(), new_workspace_id(), new_workspace_id()
    for workspace, name in ((a, "a-run"), (b, "b-run")):
        workspace_dir(workspace).mkdir(parents=True)
        (workspace_dir(workspace) / f"{name}.pt").write_bytes(b"weights")
    workspace_dir(empty).mkdir(parents=True)
    (checkpoint_dir / WORKSPACES / "not-an-id").mkdir()                 # a folder no browser can own
    (checkpoint_dir / WORKSPACES / "not-an-id" / "stray.pt").write_bytes(b"weights")
    assert {w: [p.name for p in files] for w, files in every_workspace().items()} == {a: ["a-run.pt"], b: ["b-run.pt"]}
    assert [p.name for p in workspace_checkpoints(a)] == ["a-run.pt"]
