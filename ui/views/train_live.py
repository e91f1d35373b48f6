"""The Train view's live panel (a polling fragment), the finished run, and run comparison.

The training thread never touches Streamlit: these functions redraw from `job.snapshot()`.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.history import Status, smooth, thin
from core.sampling import unknown_words_note
from core.service.jobs import JobSnapshot, TrainingJob

from .. import charts, i18n, jobs, state
from ..i18n import N_, _
from ..job_badge import status_word
from ..polling import follow
from ..sidebar import make_active
from ..state import get_kept, kept, set_kept
from ..text import md_code, md_escape

# Each redraw holds the GIL the training thread also needs and makes the browser re-render
# four charts: polling less often leaves the run more of its speed (bench/RESULTS.md, section 5).
REFRESH_SECONDS = 3.0
LIVE_POINTS = 200
def live_panel() -> None:
    """Progress, curves and samples of this tab's job; polls only while it trains."""
    job = jobs.current()
    if job is None:
        st.info(_("No run in this tab yet: set it up above and press **Start training**."), icon="🏋️")
        return
    follow(_live, job.alive, REFRESH_SECONDS, waiting=job.waiting)


def _live() -> TrainingJob | None:
    job = jobs.current()          # also the heartbeat that keeps the job alive
    if job is None:
        return None
    snap = job.snapshot()
    if snap.waiting:
        st.info(_("**{name}** is {wait}").format(name=md_escape(job.name), wait=jobs.describe_wait(job)), icon="⏳")
        st.button(_("⏹️ Stop"), on_click=job.stop, key="train.stop", help=_("Takes the run out of the queue."))
        return job
    progress = dict(name=md_escape(job.name), status=status_word(snap.status), epoch=snap.epoch,
                    total=snap.num_epochs, elapsed=snap.elapsed, eta=snap.eta_seconds)
    text = (_("**{name}** — {status}: epoch {epoch}/{total}, {elapsed:.1f} s") if snap.eta_seconds is None else
            _("**{name}** — {status}: epoch {epoch}/{total}, {elapsed:.1f} s, about {eta:.0f} s left"))
    st.progress(snap.progress, text=text.format(**progress))
    if job.alive:
        st.button(_("⏹️ Stop"), on_click=job.stop, key="train.stop", help=_("Stops after the current step."))
    _metrics(snap)
    _curves(snap)
    _samples(snap)
    return job                    # follow() reruns the page when it has ended: download, comparison


def _metrics(snap: JobSnapshot) -> None:
    c = st.columns(5)
    c[0].metric(_("Epoch"), f"{snap.epoch}/{snap.num_epochs}")
    c[1].metric(_("Optimizer steps"), f"{snap.step:,}")
    c[2].metric(_("Loss (last step)"), f"{snap.step_loss[-1]:.4f}" if snap.step_loss else "–")
    c[3].metric(_("Tokens/s"), f"{snap.tokens_per_second[-1]:,.0f}" if snap.tokens_per_second else "–")
    c[4].metric(_("Gradient norm (last step)"), f"{snap.step_grad_norm[-1]:.3f}" if snap.step_grad_norm else "–")


def _curves(snap: JobSnapshot) -> None:
    steps, loss = thin(snap.step_loss, LIVE_POINTS)      # a few hundred points, however long the run
    smoothed = thin(smooth(snap.step_loss), LIVE_POINTS)[1]      # not `_, …`: `_` translates
    norms = thin(snap.step_grad_norm, LIVE_POINTS)[1]
    left, right = st.columns(2)
    with left:
        charts.show(charts.curves({_("per step"): loss, _("smoothed"): smoothed},
                                  _("Loss each step (the book's metric: Σ loss / tokens)"), _("step"), x=steps),
                    key="train.step_loss")
        charts.show(charts.curves({_("gradient norm"): norms}, _("Gradient norm before clipping"), _("step"), x=steps,
                                  hline=(snap.clip_theta, _("clip θ = {theta:g}").format(theta=snap.clip_theta))),
                    key="train.grad_norm")
    with right:
        charts.show(charts.curves({_("per epoch"): snap.epoch_loss}, _("Loss each epoch (Σ loss / tokens)"),
                                  _("epoch")), key="train.epoch_loss")
        charts.show(charts.curves({_("tokens/s"): snap.tokens_per_second}, _("Training speed"), _("epoch"),
                                  _("tokens per second")), key="train.speed")
    _layer_norms(snap)


def _layer_norms(snap: JobSnapshot) -> None:
    """The gradient norm of each layer over this run's steps: which layer the total is made of."""
    if not snap.layer_grad_norms:
        return
    kept = [i - 1 for i in thin(snap.layer_steps, LIVE_POINTS)[0]]   # a few hundred points, as the others
    series = {layer: [norms[i] for i in kept] for layer, norms in snap.layer_grad_norms.items()}
    charts.show(charts.curves(series, _("Gradient norm per layer before clipping (embedding, each RNN layer, dense)"),
                              _("step"), x=[snap.layer_steps[i] for i in kept], height=320), key="train.layer_norms")


SEEN = {True: N_("trained on"), False: N_("not trained on")}


def _sample_columns(**labels: str) -> dict:
    """The samples' shown column names (the data keeps its keys, which tests and code read)."""
    labels = {"epoch": _("epoch"), "src": _("src"), "pred": _("pred"), "ref": _("ref"), **labels}
    return {key: st.column_config.Column(label) for key, label in labels.items()}


def _samples(snap: JobSnapshot) -> None:
    if not snap.samples:
        st.caption(_("Sample translations with their BLEU appear every few epochs."))
        return
    last = snap.samples[-1]["epoch"]
    st.markdown(_("**Sample translations after epoch {epoch}** (BLEU with k = 2)").format(epoch=last))
    rows = [{**r, "seen": _(SEEN[r.get("seen")]) if r.get("seen") in SEEN else "", "unknown": _unknown_note(r)}
            for r in snap.samples if r["epoch"] == last]
    st.dataframe(pd.DataFrame(rows)[["seen", "src", "pred", "ref", "bleu", "unknown"]], hide_index=True,
                 column_config={**_sample_columns(seen=_("in training?"), unknown=_("not in the vocabulary")),
                                "bleu": st.column_config.NumberColumn("BLEU", format="%.3f")})
    st.caption(_("Trained on: the model has seen this pair, so it shows memorisation. Not trained on: a held-out "
                 "pair (or a book example this run's data left out), so it shows how far the model generalises."))
    if any(r["unknown"] for r in rows):
        st.caption(_("A reference word outside the target vocabulary is `<unk>` to the model: no translation can get "
                     "it right, however long the run trains."))
    with st.expander(_("All samples so far")):
        every = [{**r, "unknown": _unknown_note(r)} for r in snap.samples]
        st.dataframe(pd.DataFrame(every), hide_index=True,
                     column_config=_sample_columns(seen=_("seen"), unknown=_("not in the vocabulary")))


def _unknown_note(row: dict) -> str:
    """Which of the row's reference words the target vocabulary lacks, and why (rows saved before
    they were recorded have no note)."""
    return "; ".join(i18n.said(note) for note in unknown_words_note(row.get("unknown") or {}))


def finished_panel() -> None:
    """Outcome, saved checkpoint, download and 'use it' for a run that ended."""
    job = jobs.current()
    if job is None or job.alive or job.status == Status.CREATED:
        return
    _outcome(job)
    if job.saved_to and Path(job.saved_to).is_file():
        c = st.columns([3, 1, 1], vertical_alignment="center")
        # its name only: the folder is the server's, and this browser's workspace lists it in the sidebar
        c[0].markdown(_("💾 Saved to {file}, among this browser's checkpoints").format(
            file=md_code(Path(job.saved_to).name)))
        c[1].download_button(_("⬇️ Download .pt"), Path(job.saved_to).read_bytes(),
                             file_name=Path(job.saved_to).name, mime="application/octet-stream")
        c[2].button(_("✅ Use on every page"), on_click=make_active, args=(job.saved_to,), key="train.use")


def _outcome(job: TrainingJob) -> None:
    if job.status == Status.FINISHED:
        st.success(_finish_line(job))
        return
    text = md_escape(i18n.said(job.message) if job.message else status_word(job.status))   # the engine's words
    {Status.FINISHED: st.success, Status.STOPPED: st.warning}.get(job.status, st.error)(
        _("Run **{name}** {status}: {message}").format(name=md_escape(job.name), status=status_word(job.status),
                                                      message=text))


def _finish_line(job: TrainingJob) -> str:
    """"Run x finished (60 epochs)": the trainer's own "training finished" would only say it twice;
    a note of the job's (saved under another name) still follows."""
    name, epochs = md_escape(job.name), job.snapshot().epoch
    note = job.message if job.result is None or job.message != job.result.message else ""
    if not note:
        return _("Run **{name}** finished ({epochs} epochs)").format(name=name, epochs=epochs)
    return _("Run **{name}** finished ({epochs} epochs): {message}").format(
        name=name, epochs=epochs, message=md_escape(i18n.said(note)))


def _overlay_choice(labels: list[str]) -> dict:
    """The overlay's widget kwargs: the user's choice, kept across pages, plus every run that
    finished since it was last drawn (a multiselect's `default` applies only once)."""
    kwargs = kept(state.TRAIN_COMPARE, labels)
    offered = state.get(state.COMPARE_OFFERED, 0)
    if len(labels) > offered:
        chosen = [label for label in get_kept(state.TRAIN_COMPARE) if label in labels]
        set_kept(state.TRAIN_COMPARE, chosen + [label for label in labels[offered:] if label not in chosen])
    state.put(state.COMPARE_OFFERED, len(labels))
    return kwargs


def _status(records: list, i: int) -> str:
    """A run's status, and whether a later run of this tab was saved over its file."""
    later = next((j for j in range(i + 1, len(records))
                  if records[i].saved_to and records[j].saved_to == records[i].saved_to), None)
    status = status_word(records[i].status)
    if later is None:
        return status
    return _("{status} (file overwritten by run {run})").format(status=status, run=later + 1)


def _run_label(i: int, record, tr=str) -> str:
    """A run's name in the table, the overlay and its legend. The overlay's options (kept across
    pages) are the English labels, `tr=str`, so a language switch keeps the choice; `tr=_` shows them."""
    return tr(N_("{number}. {name} ({kind}, {reduction})")).format(
        number=i + 1, name=record.name, kind=tr(N_("masked") if record.masked else N_("unmasked")),
        reduction=record.reduction)


def compare_panel() -> None:
    """Overlay the epoch-loss curves of this tab's finished runs (e.g. masked vs unmasked)."""
    records = jobs.runs()
    if not records:
        st.caption(_("Finished runs of this tab appear here; overlay their loss curves to compare, "
                     "e.g. the masked loss against the unmasked one."))
        return
    labels = [_run_label(i, r) for i, r in enumerate(records)]
    shown = {label: _run_label(i, r, _) for i, (label, r) in enumerate(zip(labels, records))}
    st.dataframe(pd.DataFrame({
        "run": list(shown.values()), "status": [_status(records, i) for i in range(len(records))],
        "epochs": [r.epochs for r in records],
        "final loss": [r.epoch_loss[-1] if r.epoch_loss else None for r in records],
        "tokens/s (whole run)": [round(r.tokens_per_second) for r in records]}), hide_index=True,
        column_config={"run": st.column_config.Column(_("run")), "status": st.column_config.Column(_("status")),
                       "epochs": st.column_config.Column(_("epochs")),
                       "final loss": st.column_config.Column(_("final loss")),
                       "tokens/s (whole run)": st.column_config.Column(_("tokens/s (whole run)"))})
    chosen = st.multiselect(_("Runs to overlay"), labels, format_func=shown.get, **_overlay_choice(labels))
    series = {shown[label]: r.epoch_loss for label, r in zip(labels, records) if label in chosen}
    charts.show(charts.curves(series, _("Loss each epoch (Σ loss / tokens)"), _("epoch"), height=340),
                key="train.compare_chart")
