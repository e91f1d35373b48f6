"""The sidebar's import of weights trained with the book's code (`core.book_weights`).

A bare state_dict cannot say what it was trained on; this form asks (the book's defaults
filled in), imports it into an ordinary checkpoint under `checkpoints/` and puts it in use.
"""
from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import streamlit as st

from core.book_weights import (
    API,
    API_10,
    BOOK_NUM_EXAMPLES,
    BOOK_NUM_STEPS,
    NUM_STEPS_10,
    NUM_TRAIN_10,
    NUM_VAL_10,
    BookSizes,
    export_state_dict,
    exportable,
    import_state_dict,
    origin_text,
    read_vocab_file,
)
from core.checkpoint import Checkpoint, CheckpointError, checkpoint_path, sanitize_name, save_checkpoint
from core.config import MAX_NUM_STEPS
from core.data import DataError
from core.sources import MAX_FILE_BYTES, read_tatoeba_bytes, read_tatoeba_file
from core.upload import BookUpload

from . import i18n, models, server, state, workspace
from .i18n import N_, _
from .text import md_escape

REBUILD, FILES = N_("rebuilt from the book's data"), N_("from vocabulary files")  # the radio's values, shown translated
API_LABELS = {API: N_("d2l {api}: load_data_nmt, train_seq2seq (the Chinese edition's)"),
              API_10: "d2l {api}: MTFraEng, Seq2Seq, Trainer"}      # nothing but the book's names: no translation


def bounds() -> dict[str, int | None]:
    """The operator's limits as the engine takes them (numbers): what an uploaded file and what
    it declares may weigh, and how many parameters the model it describes may have."""
    limits = server.limits()
    return {"max_bytes": limits.max_upload_mb * 2**20, "max_parameters": limits.max_parameters}


def _about(sizes: BookSizes, api: str) -> str:
    return _("{cell} {layers}×{hiddens}, embed {embed}, vocabularies {src} / {tgt}, d2l {api}'s keys").format(
        cell=sizes.cell.upper(), layers=sizes.num_layers, hiddens=sizes.num_hiddens, embed=sizes.embed_size,
        src=sizes.src_vocab, tgt=sizes.tgt_vocab, api=api)


def offer_book(name: str, book: BookUpload) -> None:
    """Put the book's weights that `core.upload.open_upload` found in the import form: the
    state_dict it read waits there, so the file is never read again."""
    state.put(state.PENDING_IMPORT, (name, book.state_dict, _about(book.sizes, book.api)))
    state.put(state.IMPORT_API, book.api)


def import_form() -> None:
    """Drawn in the sidebar while an uploaded state_dict waits for what it cannot tell; once it
    is imported, says so (once)."""
    _confirm_import()
    pending = state.get(state.PENDING_IMPORT)
    if pending is None:
        return
    name, raw, about = pending
    st.info(_("**{file}** holds weights trained with the book's code ({about}) but not what they were "
              "trained on: say it, and import them as a checkpoint.").format(file=name, about=about), icon="📥")
    # the options' labels translated now: AppTest calls a format_func outside the run, where the language is unknown
    apis = {api: _(label).format(api=api) for api, label in API_LABELS.items()}
    hows = {how: _(how) for how in (REBUILD, FILES)}
    api = st.radio(_("Trained with"), list(apis), format_func=apis.get, key=state.IMPORT_API,
                   help=_("Set from the file's keys (d2l 1.0's GRU wraps nn.GRU as rnn.rnn)."))
    how = st.radio(_("Vocabularies"), list(hows), format_func=hows.get, key=state.IMPORT_HOW,
                   help=_("Rebuilt exactly as load_data_nmt builds them, from the same file and settings; "
                          "or exported from the notebook: json.dump(vocab.idx_to_token, f)."))
    args = _rebuild_inputs(api) if how == REBUILD else _vocab_inputs(api)
    if st.button(_("📥 Import"), key="import.go", disabled=args is None, type="primary") and args is not None:
        try:
            ckpt = import_state_dict(raw, name, api=api, **bounds(), **args)
            # a read-only or full checkpoint folder is a CheckpointError too, naming the file, not the folder
            path = save_checkpoint(ckpt, _free_path(name))
        except (CheckpointError, ValueError) as err:
            st.error(_("Not imported: {error}").format(error=i18n.said(err)), icon="⚠️")
            return
        state.put(state.PENDING_IMPORT, None)
        state.put(state.IMPORTED, (name, path.name, ckpt.origin))
        state.put(state.ACTIVE_CHECKPOINT, models.file_ref(path).key)
        st.rerun()
    if st.button(_("Cancel"), key="import.cancel"):
        state.put(state.PENDING_IMPORT, None)
        st.rerun()


def _confirm_import() -> None:
    """What the import just made and that it is in use now, shown on the run after it (once)."""
    done = state.get(state.IMPORTED)
    if done is None:
        return
    state.put(state.IMPORTED, None)
    name, checkpoint, origin = done
    st.success(_("Imported **{file}** as the checkpoint **{checkpoint}** ({origin}); it is now in use on every "
                 "page.").format(file=md_escape(name), checkpoint=md_escape(checkpoint),
                                 origin=md_escape(i18n.said(origin_text(origin)))), icon="📥")


def _rebuild_inputs(api: str) -> dict | None:
    files = models.book_files()
    if files:
        st.caption(_("Data: the book's file the app reads, `{path}`.").format(path=Path(files[0]).name))
        text, path = read_tatoeba_file(files[0]), files[0]
    else:
        upload = st.file_uploader(_("The notebook's fra-eng.zip or fra.txt"), type=["zip", "txt"], key="import.data",
                                  max_upload_size=server.upload_limit_mb(MAX_FILE_BYTES // 2**20))
        if upload is None:
            return None
        try:
            text, path = read_tatoeba_bytes(upload.getvalue(), upload.name), upload.name
        except DataError as err:          # a bomb, a binary or a file without pairs: said, not raised
            st.error(i18n.said(err), icon="⚠️")
            return None
    args = {"data_text": text, "data_path": path, "num_steps": _num_steps(api)}
    if api == API:
        args["num_examples"] = int(st.number_input("num_examples", 1, 1_000_000, BOOK_NUM_EXAMPLES,
                                                   key=state.IMPORT_EXAMPLES))
    else:
        c = st.columns(2)
        args["num_train"] = int(c[0].number_input("num_train", 1, 1_000_000, NUM_TRAIN_10, key=state.IMPORT_TRAIN))
        args["num_val"] = int(c[1].number_input("num_val", 0, 1_000_000, NUM_VAL_10, key=state.IMPORT_VAL))
    return args


def _num_steps(api: str) -> int:
    """num_steps, with that API's default (a key per API, so switching shows the other default)."""
    default = BOOK_NUM_STEPS if api == API else NUM_STEPS_10
    return int(st.number_input("num_steps", 2, MAX_NUM_STEPS, default, key=f"{state.IMPORT_STEPS}.{api}"))


def _vocab_inputs(api: str) -> dict | None:
    src = st.file_uploader(_("Source vocabulary (.json or .txt)"), type=["json", "txt"], key="import.src",
                           max_upload_size=server.upload_limit_mb())
    tgt = st.file_uploader(_("Target vocabulary (.json or .txt)"), type=["json", "txt"], key="import.tgt",
                           max_upload_size=server.upload_limit_mb())
    num_steps = _num_steps(api)
    if src is None or tgt is None:
        return None
    try:
        vocabs = (read_vocab_file(src.getvalue(), src.name, "source"),
                  read_vocab_file(tgt.getvalue(), tgt.name, "target"))
    except CheckpointError as err:
        st.error(i18n.said(err), icon="⚠️")
        return None
    return {"vocabs": vocabs, "num_steps": num_steps}


def _free_path(name: str):
    """<name>.pt in this browser's workspace (an import is its own, as an upload is), or with a
    time stamp when that is taken (an import never overwrites)."""
    stem = sanitize_name(name.rsplit(".", 1)[0] or "imported")
    folder = workspace.folder()
    path = checkpoint_path(stem, folder)
    return path if not path.exists() else checkpoint_path(sanitize_name(f"{stem}-{time.strftime('%m%d-%H%M%S')}"), folder)


def export_button(ckpt: Checkpoint, label: str) -> None:
    """A zip for the notebook: the weights with the book's keys and both vocabularies as text."""
    reason = exportable(ckpt)
    if reason is not None:
        st.caption(_("Not exportable to the book's classes: {reason}.").format(reason=i18n.said(reason)))
        return
    params, src, tgt = export_state_dict(ckpt, api=API)
    params_10 = export_state_dict(ckpt, api=API_10)[0]
    # the file's name: the label before its note, " (uploaded)" or, in Chinese, "（已上传）"
    stem = label.split(" ")[0].split("（")[0].rsplit(".", 1)[0] or "seq2seq"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{stem}.params", params)                      # d2l 0.17.6's keys
        z.writestr(f"{stem}-d2l-1.0.params", params_10)           # d2l 1.0's (encoder.rnn.rnn.…)
        z.writestr("src_vocab.txt", src + "\n")
        z.writestr("tgt_vocab.txt", tgt + "\n")
    st.download_button(_("⬇️ For the book's code: weights + vocabularies (.zip)"), buffer.getvalue(),
                       file_name=f"{stem}-for-d2l.zip", mime="application/zip", key="home.export",
                       help=_("net.load_state_dict(torch.load('….params')) in the notebook; see the README."))
