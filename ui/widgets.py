"""Pieces every page shares: page frame + sidebar checkpoint picker, token chips, errors.

User text is never interpreted: chips escape it with `html.escape`, error messages with
`md_escape`, and translations are shown with `st.code`.
"""
from __future__ import annotations

import html
import os
import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import streamlit as st

from core.book_weights import origin_text
from core.checkpoint import Checkpoint, checkpoint_dir
from core.config import CONTEXTS
from core.device import one_thread_per_job
from core.i18n import message_of
from core.model import count_parameters
from core.service.operator import operator_token
from core.setups import (
    CONTEXT_RULE_FIELD,
    MAX_TEXT_CHARS,  # per text field; longer text is cut, with a message
    read_setup,
)

from . import book_import, i18n, jobs, models, server, state
from .i18n import N_, _
from .models import CheckpointRef
from .polling import WAITING_SECONDS, poll

T = TypeVar("T")
PAGES = {   # legacy multipage: the file name gives the URL path (/Train, /Masking, ...)
    "home": "app.py",
    "model": "pages/0_🔬_Model.py",
    "train": "pages/1_🏋️_Train.py",
    "masking": "pages/2_🎭_Masking.py",
    "decode": "pages/3_🔎_Decode.py",
    "bleu": "pages/4_📏_BLEU.py",
    "exercises": "pages/5_🧪_Exercises.py",
    "accumulation": "pages/6_➕_Accumulation.py",
    "operator": "pages/7_🛠️_Operator.py",
}
NAV = [   # (page, label, icon): the sidebar's links, drawn by start_page (config.toml hides
           # Streamlit's own list, which names the home page after its file, "app")
    ("home", N_("Home"), "🔁"),
    ("model", N_("Model"), "🔬"),
    ("train", N_("Train"), "🏋️"),
    ("masking", N_("Masking"), "🎭"),
    ("decode", N_("Decode"), "🔎"),
    ("bleu", N_("BLEU"), "📏"),
    ("exercises", N_("Exercises"), "🧪"),
    ("accumulation", N_("Accumulation"), "➕"),
]
BADGE_SECONDS = 2.0       # the sidebar badge's polling interval while this tab's job trains


@dataclass
class Active:
    """The checkpoint in use on every page (both None when there is none), with the decoder
    context rule chosen in the sidebar."""
    ref: CheckpointRef | None
    ckpt: Checkpoint | None

    @property
    def key(self) -> str:
        """Changes with the checkpoint's contents and its context rule: the key of what is computed from it."""
        return f"{models.cache_key(self.ref)}:{self.ckpt.model_config.context}" if self.ref and self.ckpt else ""


# -- text a user types -------------------------------------------------------------------------
def long_text_input(where, label: str, name: str, default: str, **kwargs) -> str:
    """A kept text input that takes any length and uses the first MAX_TEXT_CHARS characters,
    saying so (a widget's own max_chars silently drops a longer paste)."""
    text = where.text_input(label, **state.kept(name, default), **kwargs)
    if len(text) > MAX_TEXT_CHARS:
        st.warning(_("{field}: {count:,} characters; the first {most:,} are used.").format(
            field=label, count=len(text), most=MAX_TEXT_CHARS), icon="✂️")
        return text[:MAX_TEXT_CHARS]
    return text


# -- errors ------------------------------------------------------------------------------------
def md_escape(text: str) -> str:
    """Backslash-escape inline Markdown (and `$` math) so user text shows literally.

    Line-start syntax (`#`, `-`, `1.`) is left alone: escaped text never starts a line here.
    """
    return re.sub(r"([\\`*_\[\]<>$~|])", r"\\\1", text)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table of user text: each cell escaped (a `|` ends no cell, `<b>` stays text).
    The header is the app's own words."""
    cells = [[md_escape(" ".join(cell.splitlines())) for cell in row] for row in rows]   # a line break ends a row
    lines = [list(header), ["---"] * len(header)] + cells
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def md_code(text: str) -> str:
    """User text as a Markdown code span (escapes do not work inside one)."""
    return f"`{text.replace('`', chr(39))}`"


def show_error(what: str, err: BaseException | str, hint: str = "") -> None:
    st.error(f"**{md_escape(what)}**: {md_escape(i18n.said(err))}" + (f"  \n{hint}" if hint else ""), icon="⚠️")


def guarded(what: str, fn: Callable[..., T], *args, hint: str = "", **kwargs) -> T | None:
    """Call `fn`; a user-caused failure becomes a message saying what to do, and None.

    CheckpointError, DataError and config validation errors are all ValueErrors.
    """
    try:
        return fn(*args, **kwargs)
    except ValueError as err:
        show_error(what, err, hint)
        return None


# -- page frame and sidebar --------------------------------------------------------------------
def start_page(title: str, icon: str, job_badge: bool = True) -> Active:
    """Page config and the sidebar (checkpoint picker, this tab's training job); the active checkpoint.

    `job_badge=False`: no training-job badge in the sidebar (the Train view shows the job
    itself; a second polling fragment there would take time from the training thread)."""
    st.set_page_config(page_title=f"{_(title)} · seq2seq playground", page_icon=icon, layout="wide")
    server.check_settings()
    one_thread_per_job()
    with st.sidebar:
        i18n.picker()
        nav = st.container()          # drawn after the picker: the links carry the context rule it settles
        active = _checkpoint_picker()
        with nav:
            _navigation()
        if job_badge:
            _job_status()
    return active


OPERATOR_LINK = ("operator", N_("Operator"), "🛠️")   # only where the operator set a token


def _navigation() -> None:
    """The links to every view, carrying the reader's language."""
    with st.container(key="nav"):
        for page, label, icon in NAV + ([OPERATOR_LINK] if operator_token(os.environ) else []):
            st.page_link(PAGES[page], label=_(label), icon=icon, query_params=link_params())
    st.divider()


def link_params() -> dict[str, str]:
    """Query parameters every internal link carries: the language (where the URL names it) and
    the decoder-context rule the learner chose (where they chose one)."""
    choice = state.get(state.CONTEXT_CHOICE)
    return i18n.link_params() | ({CONTEXT_RULE_FIELD.name: choice[1]} if choice else {})


def make_active(path: str) -> None:
    """Callback: use this checkpoint file on every page from now on."""
    state.put(state.ACTIVE_CHECKPOINT, models.file_ref(path).key)


def _remember_pick(picker: str) -> None:
    state.put(state.ACTIVE_CHECKPOINT, state.get(picker))


def _picker_key(keys: list[str], active: str) -> str:
    """The picker's widget key: new whenever the list or the checkpoint in use changes, so
    the widget starts afresh at `index` and never holds a stale value. (With one fixed key, a
    checkpoint saved by a run, listed before the one in use, showed up as selected after a
    page switch while the pages went on using the other.)"""
    return f"{state.PICKER}.{zlib.crc32(chr(0).join(keys + [active]).encode()):08x}"


def _take_upload(name: str, raw: bytes) -> None:
    """Use an uploaded checkpoint on every page, if it loads; weights trained with the book's
    code go to the import form; anything else says what the file is, and the checkpoint in use
    stays as it was."""
    by_name = models.refused_by_name(name)            # a text file, say: no need to read it
    if by_name is not None:
        state.put(state.UPLOAD_ERROR, (name, by_name))
        return
    found = book_import.book_state_dict(raw, name)
    if found is not None:
        book_import.offer(name, raw, found)
        state.put(state.UPLOAD_ERROR, None)
        return
    refused = raised_by(models.try_upload, name, raw)
    # kept as the engine said it (a Text), so it is shown in the language the reader picks next
    state.put(state.UPLOAD_ERROR, None if refused is None else (name, message_of(refused)))
    if refused is None:
        state.put(state.ACTIVE_CHECKPOINT, models.add_upload(name, raw).key)


def _upload_error() -> None:
    refused = state.get(state.UPLOAD_ERROR)
    if refused:
        name, why = refused
        st.error(_("**Could not load {file}**, so the checkpoint in use is unchanged: {error}").format(
            file=md_escape(name), error=md_escape(i18n.said(why))), icon="⚠️")


def raised_by(fn: Callable[..., object], *args) -> ValueError | None:
    """The ValueError `fn(*args)` raised, or None when it succeeded."""
    try:
        fn(*args)
    except ValueError as err:
        return err
    return None


def guarded_message(fn: Callable[..., object], *args) -> str | None:
    """None when `fn(*args)` succeeds; the message of the ValueError it raised otherwise (in the
    reader's language)."""
    refused = raised_by(fn, *args)
    return None if refused is None else i18n.said(refused)


def _checkpoint_picker() -> Active:
    st.subheader(_("🧠 Checkpoint"))
    slot = st.container()             # the picker goes above the uploader, but needs its result
    with st.expander(_("Upload a checkpoint (.pt) or the book's weights (.params)"),
                     expanded=state.get(state.PENDING_IMPORT) is not None):
        upload = st.file_uploader(_("Checkpoint file"), key=state.UPLOADER,   # any file: ours says why not
                                  label_visibility="collapsed", max_upload_size=server.upload_limit_mb())
        if upload is not None and state.get(state.LAST_UPLOAD) != upload.file_id:   # a new file: try it
            state.put(state.LAST_UPLOAD, upload.file_id)
            _take_upload(upload.name, upload.getvalue())
        _upload_error()
    book_import.import_form()
    refs = {ref.key: ref for ref in models.available()}
    with slot:
        if not refs:
            st.warning(_("No checkpoint in {folder} yet: train one on the Train page or upload one below.").format(
                folder=md_code(str(checkpoint_dir()))), icon="🧭")
            return Active(None, None)
        if state.get(state.ACTIVE_CHECKPOINT) not in refs:
            state.put(state.ACTIVE_CHECKPOINT, next(iter(refs)))
        keys, active = list(refs), state.get(state.ACTIVE_CHECKPOINT)
        picker = _picker_key(keys, active)
        key = st.selectbox(_("In use on every page"), keys, index=keys.index(active),
                           format_func=lambda k: refs[k].label, key=picker, on_change=_remember_pick, args=(picker,))
        ckpt = guarded(_("Could not load {checkpoint}").format(checkpoint=refs[key].label), models.load, refs[key],
                       hint=_("Pick another checkpoint, or train a new one."))
        if ckpt is not None:
            st.caption(checkpoint_line(ckpt))
            ckpt = _context_rule(refs[key], ckpt)
    return Active(refs[key], ckpt)


def _context_rule(ref: CheckpointRef, ckpt: Checkpoint) -> Checkpoint:
    """The decoder's context at inference, switchable for any plain-decoder checkpoint: its own
    rule by default, the other one click away (training is the same either way). A choice holds
    on every page and in the URL until the learner changes it or another checkpoint is in use."""
    _follow_context_link(ref)
    if ckpt.model_config.decoder != "plain":
        _keep_context_choice(None)    # nothing to switch: a link's rule does not wait for another checkpoint
        return ckpt
    widget = state.CONTEXT_RULE + ref.key
    # Streamlit forgets a widget's value on a page switch: the radio starts from the session's choice
    state.put(widget, _chosen_rule(ref, ckpt))
    rule = st.radio(_("Decoder context at inference"), CONTEXTS, format_func=shown_as(CONTEXT_LABELS),
                    horizontal=True, key=widget, on_change=_choose_rule, args=(ref.key, widget),
                    help=_("encoder: the encoder's final state at every step, as the chapter's figure draws it "
                           "and d2l 1.0 does. book: d2l 0.17.6's state[-1], which while decoding is the previous "
                           "decoder state, a context training never showed the model."))
    if rule != ckpt.model_config.context:
        st.caption(_("Decoding with the {rule} rule; this checkpoint was saved with the {saved} rule. "
                     "Its weights are the same.").format(rule=context_label(rule),
                                                          saved=context_label(ckpt.model_config.context)))
    return models.with_context(models.cache_key(ref), ckpt, rule)


def _follow_context_link(ref: CheckpointRef) -> None:
    """A `?inference_context=` this session has neither applied nor written is a link opened here:
    its rule becomes the choice for the checkpoint in use (a refused value is said, and ignored)."""
    given = st.query_params.get(CONTEXT_RULE_FIELD.name)
    if given is None or given == state.get(state.CONTEXT_LINKED):
        return
    state.put(state.CONTEXT_LINKED, given)
    values, problems = read_setup({CONTEXT_RULE_FIELD.name: given}, (CONTEXT_RULE_FIELD,))
    for problem in problems:
        st.warning(_("This link's decoder context was not used ({problem}); the checkpoint's own rule decodes.").format(
            problem=md_escape(i18n.said(problem))), icon="🔗")
    if CONTEXT_RULE_FIELD.name in values:
        state.put(state.CONTEXT_CHOICE, (ref.key, values[CONTEXT_RULE_FIELD.name]))


def _chosen_rule(ref: CheckpointRef, ckpt: Checkpoint) -> str:
    """The learner's rule while the checkpoint they chose it for is in use; once another one is,
    that checkpoint's own rule again."""
    choice = state.get(state.CONTEXT_CHOICE)
    if choice is None or choice[0] != ref.key:
        _keep_context_choice(None)
        return ckpt.model_config.context
    _keep_context_choice(choice)      # back into the URL if a link without it brought us here
    return choice[1]


def _choose_rule(ref_key: str, widget: str) -> None:
    """Callback: the learner picked a rule in the sidebar."""
    _keep_context_choice((ref_key, state.get(widget)))


def _keep_context_choice(choice: tuple[str, str] | None) -> None:
    """Keep the choice for the session and in the URL (the sidebar's links carry it on, see
    `link_params`); None: no choice, each checkpoint decodes with its own rule."""
    state.put(state.CONTEXT_CHOICE, choice)
    name = CONTEXT_RULE_FIELD.name
    if choice is None and name in st.query_params:
        del st.query_params[name]
    elif choice is not None and st.query_params.get(name) != choice[1]:
        st.query_params[name] = choice[1]
    state.put(state.CONTEXT_LINKED, None if choice is None else choice[1])   # our own edit, not a new link


CONTEXT_LABELS = {"encoder": N_("encoder"), "book": N_("book")}   # a context rule (a config value) as shown


def context_label(rule: str) -> str:
    return _(CONTEXT_LABELS[rule]) if rule in CONTEXT_LABELS else rule


def shown_as(labels: dict[str, str]) -> Callable[[str], str]:
    """A format_func showing each option (a value the code compares) as its label in the reader's
    language. Translated now, while the page runs: a format_func is also called outside the run
    (AppTest does, to read a widget), where the reader's language is not known."""
    shown = {value: _(label) for value, label in labels.items()}
    return lambda value: shown.get(value, value)


SOURCE_LABELS = {   # a DataConfig.source (a config value) as the reader reads it beside a checkpoint
    "corpus": N_("corpus"), "copy": N_("copy task"), "reverse": N_("reverse task"), "sort": N_("sort task"),
    "tatoeba": N_("Tatoeba"), "tsv": N_("TSV"),
}


def source_label(source: str) -> str:
    return _(SOURCE_LABELS[source]) if source in SOURCE_LABELS else source


def checkpoint_line(ckpt: Checkpoint) -> str:
    m, h = ckpt.model_config, ckpt.history
    if ckpt.origin and not h.epoch_loss:
        trained = i18n.said(origin_text(ckpt.origin, short=True)).split(",")[0]
    elif h.epoch_loss:
        trained = _("{epochs} epochs, loss {loss:.3f}").format(epochs=len(h.epoch_loss), loss=h.epoch_loss[-1])
    else:
        trained = _("{epochs} epochs").format(epochs=len(h.epoch_loss))
    return _("{cell} {layers}×{hiddens}, {source} data, {trained}").format(
        cell=m.cell.upper(), layers=m.num_layers, hiddens=m.num_hiddens,
        source=source_label(ckpt.data_config.source), trained=trained)


def _job_status() -> None:
    job = jobs.current()
    if job is None:
        return
    if not job.alive:
        _job_badge()
    elif job.waiting:
        poll(_waiting_badge, WAITING_SECONDS)
    else:
        poll(_job_badge, BADGE_SECONDS)   # also the job's heartbeat while this tab is on another page


def _waiting_badge() -> None:
    """The badge of a run in the queue, polled seldom; once it starts, the page reruns and polls
    it at a running job's pace."""
    job = jobs.current()
    if job is not None and not job.waiting:       # started, or ended without starting
        st.rerun()
    _job_badge()


def _job_badge() -> None:
    job = jobs.current()
    if job is not None:
        snap = job.snapshot()
        if snap.waiting and snap.place:
            text = _("🏋️ {run}: {status}, number {place} in the queue").format(
                run=md_escape(job.name), status=status_word(snap.status), place=snap.place)
        else:
            text = _("🏋️ {run}: {status}, epoch {epoch}/{total}").format(
                run=md_escape(job.name), status=status_word(snap.status), epoch=snap.epoch, total=snap.num_epochs)
        st.progress(snap.progress, text=text)


STATUS_WORDS = {   # a job's status (core.service.jobs) as the reader's word for it; the status itself stays data
    "created": N_("created"), "queued": N_("queued"), "running": N_("running"), "finished": N_("finished"),
    "stopped": N_("stopped"), "diverged": N_("diverged"), "failed": N_("failed"),
}


def status_word(status: str) -> str:
    return _(STATUS_WORDS[status]) if status in STATUS_WORDS else status


def no_checkpoint(what: str) -> None:
    """Say clearly why there is no model to use, and offer training."""
    if models.available():          # there are checkpoints: the one picked did not load
        st.warning(_("{what} needs a model, and the checkpoint picked in the sidebar could not be loaded "
                     "(the sidebar says why): pick another one there, or train a new one.").format(what=what),
                   icon="🧭")
    else:
        st.warning(_("{what} needs a trained model and none is available: the shipped "
                     "`checkpoints/default.pt` is missing and no other checkpoint was found. "
                     "Train one (a synthetic task takes seconds) or upload a `.pt` file in the sidebar.").format(
                         what=what), icon="🧭")
    st.page_link(PAGES["train"], label=_("Train a model"), icon="🏋️", query_params=link_params())


def checkpoint_facts(ckpt: Checkpoint) -> dict[str, str]:
    d, m, h = ckpt.data_config, ckpt.model_config, ckpt.history
    sizes = dict(cell=m.cell.upper(), embed=m.embed_size, layers=m.num_layers, hiddens=m.num_hiddens,
                 decoder_layers=m.decoder_layers, decoder_hiddens=m.decoder_hiddens, dropout=m.dropout,
                 parameters=count_parameters(ckpt.model))
    model = (_("{cell}, embed {embed}, {layers}×{hiddens}, decoder {decoder_layers}×{decoder_hiddens} via a bridge, "
               "dropout {dropout}, {parameters:,} parameters") if m.needs_bridge else
             _("{cell}, embed {embed}, {layers}×{hiddens}, dropout {dropout}, {parameters:,} parameters"))
    data = (_("{source} ({path}), num_steps {num_steps}") if d.path else _("{source}, num_steps {num_steps}"))
    training = (_("{epochs} epochs, final loss {loss:.4f}") if h.epoch_loss else _("{epochs} epochs")).format(
        epochs=len(h.epoch_loss), loss=h.epoch_loss[-1] if h.epoch_loss else 0.0)
    return {
        _("data"): data.format(source=source_label(d.source), path=d.path, num_steps=d.num_steps),
        _("model"): model.format(**sizes),
        _("decoder context"): _("Bahdanau attention over the encoder outputs") if m.decoder == "attention"
                              else _("the encoder's state at every step") if m.context == "encoder"
                              else _("the book's state[-1] of the running decoder state"),
        _("vocabularies"): _("source {src:,} tokens, target {tgt:,} tokens").format(
            src=len(ckpt.src_vocab), tgt=len(ckpt.tgt_vocab)),
        **({_("origin"): i18n.said(origin_text(ckpt.origin))} if ckpt.origin else {}),
        _("training"): training,
        _("held-out pairs"): f"{len(ckpt.test_pairs):,}",
    }


# -- token chips -------------------------------------------------------------------------------
_CHIP_COLORS = {   # kind -> (background, text)
    "token": ("#eef1f5", "#1f2933"), "special": ("#e3e8ff", "#3040b0"), "pad": ("#f5f5f5", "#9aa5b1"),
    "unknown": ("#fbd9cf", "#9b2c13"), "match": ("#cdeee9", "#12645a"), "clipped": ("#ffe8cc", "#8a5200"),
    "miss": ("#f1f1f1", "#7b8794"), "chosen": ("#fde2da", "#b23a1b"), "forced": ("#ffe8cc", "#8a5200"),
}


@dataclass
class Chip:
    text: str
    kind: str = "token"      # a key of _CHIP_COLORS
    note: str = ""           # small text under the token (an id, a count)
    tip: str = ""            # hover text


def chips_html(chips: Sequence[Chip]) -> str:
    parts = []
    for chip in chips:
        bg, fg = _CHIP_COLORS[chip.kind]
        strike = "text-decoration: line-through;" if chip.kind == "miss" else ""
        note = (f"<span style='display:block;font-size:0.7em;opacity:0.75'>{html.escape(chip.note)}</span>"
                if chip.note else "")
        parts.append(
            f"<span title='{html.escape(chip.tip, quote=True)}' style='display:inline-block;margin:2px 3px;"
            f"padding:2px 8px;border-radius:8px;background:{bg};color:{fg};font-family:monospace;"
            f"text-align:center;line-height:1.3;{strike}'>{html.escape(chip.text) or '&nbsp;'}{note}</span>")
    return "<div style='line-height:2.2'>" + "".join(parts) + "</div>"


def chip_row(chips: Sequence[Chip]) -> None:
    st.markdown(chips_html(chips), unsafe_allow_html=True)
