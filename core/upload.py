"""A model file uploaded to the server, read once and within bounds: a playground checkpoint, or
weights trained with the book's code that the import form (`core.book_weights`) takes further.

The file is read a single time (`core/torch_file.py`: every size it declares against the
upload limit before PyTorch inflates or copies anything), and the model it describes is
checked against the operator's parameter limit before it is built. The limits come in as
numbers: the engine knows nothing of the service's settings.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .book_weights import BookSizes, api_of, book_model_config, from_api_keys, infer_sizes, state_dict_in
from .checkpoint import (
    FORMAT,
    Checkpoint,
    CheckpointError,
    checkpoint_from_payload,
    playground_payload,
    unreadable_checkpoint,
)
from .torch_file import read_torch_file


@dataclass(frozen=True)
class BookUpload:
    """Weights trained with the book's code: what the tensors tell of their model. What they were
    trained on (data and settings, or vocabulary files) is for the import form to ask."""
    state_dict: dict[str, torch.Tensor]     # keys as the file writes them (d2l 1.0's `rnn.rnn.`)
    api: str                                # the API its keys are written in
    sizes: BookSizes


@dataclass(frozen=True)
class Upload:
    """Exactly one of the two is set."""
    checkpoint: Checkpoint | None = None
    book: BookUpload | None = None


def open_upload(raw: bytes, name: str, *, max_bytes: int, max_parameters: int | None = None) -> Upload:
    """What the uploaded file `name` is: a playground checkpoint, checked and built, or the book's
    weights waiting for their settings. CheckpointError (CheckpointTooLarge for a size past a
    limit) says what is wrong with it; nothing larger than the limits is ever allocated."""
    payload = read_torch_file(raw, name, max_bytes, unreadable_checkpoint(name))
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        return Upload(checkpoint=checkpoint_from_payload(playground_payload(payload, name), name,
                                                         max_parameters=max_parameters))
    try:
        state_dict = state_dict_in(payload, name)
        api = api_of(state_dict)
        sizes = infer_sizes(from_api_keys(state_dict, api, name), name, api)
    except CheckpointError:     # not the chapter's model either: say what the file holds instead
        playground_payload(payload, name)
        raise
    book_model_config(sizes, api, name, max_parameters)
    return Upload(book=BookUpload(state_dict=state_dict, api=api, sizes=sizes))
