"""The sidebar's import of weights trained with the book's code (`core.book_weights`).

A bare state_dict cannot say what it was trained on; this form asks (the book's defaults
filled in), imports it into an ordinary checkpoint under `checkpoints/` and puts it in use.
"""
from __future__ import annotations

import io
import time
import zipfile

import streamlit as st

from core.book_weights import (API, BOOK_NUM_EXAMPLES, BOOK_NUM_STEPS, export_state_dict, exportable,
                               import_state_dict, infer_sizes, read_state_dict, read_vocab_file)
from core.checkpoint import Checkpoint, CheckpointError, checkpoint_path, sanitize_name, save_checkpoint
from core.config import MAX_NUM_STEPS
from core.sources import read_tatoeba_bytes, read_tatoeba_file

from . import models, state

REBUILD, FILES = "rebuilt from the book's data", "from vocabulary files"


def book_state_dict(raw: bytes, name: str) -> str | None:
    """A line about the model these bytes hold, when they are a book-trained state_dict; else None."""
    try:
        sizes = infer_sizes(read_state_dict(raw, name), name)
    except CheckpointError:
        return None
    return (f"{sizes.cell.upper()} {sizes.num_layers}×{sizes.num_hiddens}, embed {sizes.embed_size}, "
            f"vocabularies {sizes.src_vocab} / {sizes.tgt_vocab}")


def offer(name: str, raw: bytes, about: str) -> None:
    state.put(state.PENDING_IMPORT, (name, raw, about))


def import_form() -> None:
    """Drawn in the sidebar while an uploaded state_dict waits for what it cannot tell."""
    pending = state.get(state.PENDING_IMPORT)
    if pending is None:
        return
    name, raw, about = pending
    st.info(f"**{name}** holds weights trained with the book's code ({about}) but not what they were "
            "trained on: say it, and import them as a checkpoint.", icon="📥")
    st.radio("Trained with", [f"d2l {API} (load_data_nmt, train_seq2seq; the Chinese edition's)"],
             key=state.IMPORT_API, help="d2l 1.0's class API (MTFraEng, Seq2Seq) is not supported yet.")
    how = st.radio("Vocabularies", [REBUILD, FILES], key=state.IMPORT_HOW,
                   help="Rebuilt exactly as load_data_nmt builds them, from the same file and settings; "
                        "or exported from the notebook: json.dump(vocab.idx_to_token, f).")
    if how == REBUILD:
        args = _rebuild_inputs()
    else:
        args = _vocab_inputs()
    if st.button("📥 Import", key="import.go", disabled=args is None, type="primary") and args is not None:
        try:
            ckpt = import_state_dict(raw, name, **args)
        except (CheckpointError, ValueError) as err:
            st.error(f"Not imported: {err}", icon="⚠️")
            return
        path = save_checkpoint(ckpt, _free_path(name))
        state.put(state.PENDING_IMPORT, None)
        state.put(state.ACTIVE_CHECKPOINT, models.file_ref(path).key)
        st.rerun()
    if st.button("Cancel", key="import.cancel"):
        state.put(state.PENDING_IMPORT, None)
        st.rerun()


def _rebuild_inputs() -> dict | None:
    files = models.book_files()
    if files:
        st.caption(f"Data: the book's file the app reads, `{files[0]}`.")
        text, path = read_tatoeba_file(files[0]), files[0]
    else:
        upload = st.file_uploader("The notebook's fra-eng.zip or fra.txt", type=["zip", "txt"], key="import.data")
        if upload is None:
            return None
        text, path = read_tatoeba_bytes(upload.getvalue(), upload.name), upload.name
    c = st.columns(2)
    num_examples = c[0].number_input("num_examples", 1, 1_000_000, BOOK_NUM_EXAMPLES, key=state.IMPORT_EXAMPLES)
    num_steps = c[1].number_input("num_steps", 2, MAX_NUM_STEPS, BOOK_NUM_STEPS, key=state.IMPORT_STEPS)
    return {"data_text": text, "data_path": path, "num_examples": int(num_examples), "num_steps": int(num_steps)}


def _vocab_inputs() -> dict | None:
    src = st.file_uploader("Source vocabulary (.json or .txt)", type=["json", "txt"], key="import.src")
    tgt = st.file_uploader("Target vocabulary (.json or .txt)", type=["json", "txt"], key="import.tgt")
    num_steps = st.number_input("num_steps", 2, MAX_NUM_STEPS, BOOK_NUM_STEPS, key=state.IMPORT_STEPS)
    if src is None or tgt is None:
        return None
    try:
        vocabs = (read_vocab_file(src.getvalue(), src.name), read_vocab_file(tgt.getvalue(), tgt.name))
    except CheckpointError as err:
        st.error(str(err), icon="⚠️")
        return None
    return {"vocabs": vocabs, "num_steps": int(num_steps)}


def _free_path(name: str):
    """checkpoints/<name>.pt, or with a time stamp when that is taken (an import never overwrites)."""
    stem = sanitize_name(name.rsplit(".", 1)[0] or "imported")
    path = checkpoint_path(stem)
    return path if not path.exists() else checkpoint_path(sanitize_name(f"{stem}-{time.strftime('%m%d-%H%M%S')}"))


def export_button(ckpt: Checkpoint, label: str) -> None:
    """A zip for the notebook: the weights with the book's keys and both vocabularies as text."""
    reason = exportable(ckpt)
    if reason is not None:
        st.caption(f"Not exportable to the book's classes: {reason}.")
        return
    params, src, tgt = export_state_dict(ckpt)
    stem = label.split(" ")[0].rsplit(".", 1)[0] or "seq2seq"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{stem}.params", params)
        z.writestr("src_vocab.txt", src + "\n")
        z.writestr("tgt_vocab.txt", tgt + "\n")
    st.download_button("⬇️ For the book's code: weights + vocabularies (.zip)", buffer.getvalue(),
                       file_name=f"{stem}-for-d2l.zip", mime="application/zip", key="home.export",
                       help="net.load_state_dict(torch.load('….params')) in the notebook; see the README.")
