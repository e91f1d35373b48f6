"""The Exercises view: the experiment picker, this tab's experiment job, its results.

The experiment's thread never touches Streamlit: a polling fragment redraws from
`ExperimentJob.snapshot()`, and finished results are read back from the on-disk cache.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.exercises.experiments import Experiment, ExperimentJob, ExperimentResult, Variant, interpret, measured_here
from core.exercises.readings import variant_label
from core.history import Status

from .. import charts, i18n, jobs, state
from ..i18n import N_, _
from ..job_badge import status_word
from ..polling import follow
from ..text import md_escape

REFRESH_SECONDS = 1.0
# What ExperimentJob says when it ends (core keeps them in English): translated where shown.
JOB_MESSAGES = (N_("every variant trained and was scored"), N_("stopped by request: nothing was cached"),
                N_("a variant diverged: nothing was cached, try a smaller lr"), N_("the browser session went away"))


def experiment_name(experiment: Experiment) -> str:
    """'7.9.2 · No mask in the loss', in the reader's language."""
    return f"{experiment.section} · {_(experiment.title)}"


def label(variant_or_result) -> str:
    """A variant's label in the reader's language (results keep it in English)."""
    return variant_label(variant_or_result.label, i18n.current())


# -- the experiment job ------------------------------------------------------------------------
def current_job() -> ExperimentJob | None:
    """This tab's experiment job, after a heartbeat (a closed tab's job stops or leaves the queue)."""
    job = state.get(state.EXPERIMENT_JOB)
    if job is not None:
        job.heartbeat()
    return job


def start_job(experiment: Experiment, rerun: bool) -> None:
    """Button callback: queue `experiment` on the server's queue (one job per tab)."""
    job = current_job()
    if job is None or not job.alive:
        try:
            state.put(state.EXPERIMENT_JOB, jobs.submit(ExperimentJob(experiment, rerun=rerun)))
        except ValueError as err:
            state.put(state.EXPERIMENT_REFUSED, i18n.said(err))


def last_result(experiment: Experiment) -> ExperimentResult | None:
    """What this tab's ended job measured for `experiment`, cached or not (a stopped run's part)."""
    job = current_job()
    if job is None or job.alive or job.result is None or job.result.cache_key != experiment.cache_key:
        return None
    return job.result


def pick_experiment(experiments: list[Experiment]) -> Experiment:
    by_key = {e.key: e for e in experiments}
    key = st.selectbox(_("Exercise"), list(by_key), format_func=lambda k: experiment_name(by_key[k]),
                       **state.kept(state.EXERCISE_PICK, experiments[0].key))
    return by_key.get(key, experiments[0])


def variant_table(variants: tuple[Variant, ...]) -> pd.DataFrame:
    """What each variant trains: the settings the exercises turn, one row per variant."""
    def decoder(v: Variant) -> str:
        size = f"{v.model.decoder_layers}×{v.model.decoder_hiddens}"
        return _("{size} (bridge)").format(size=size) if v.model.needs_bridge else size

    return pd.DataFrame([{
        _("variant"): label(v), _("cell"): v.model.cell.upper(),
        _("encoder"): f"{v.model.num_layers}×{v.model.num_hiddens}", _("decoder"): decoder(v),
        _("output layer"): v.output_layer, _("loss"): _("masked") if v.train.masked else _("unmasked"),
        _("teacher forcing"): v.train.teacher_forcing_ratio, _("lr"): v.train.lr, _("epochs"): v.train.num_epochs,
    } for v in variants])


def controls(experiment: Experiment, cached: ExperimentResult | None) -> None:
    """Run (or Re-run) and Stop; only one experiment trains per tab."""
    job = current_job()
    busy = job is not None and job.alive
    c = st.columns([1, 1, 4], vertical_alignment="center")
    c[0].button(_("🔁 Re-run") if cached else _("▶️ Run"), type="secondary" if cached else "primary",
                key="exercises.run", disabled=busy, on_click=start_job, args=(experiment, cached is not None),
                help=_("Another experiment is training in this tab.") if busy else None)
    if busy:
        c[1].button(_("⏹️ Stop"), key="exercises.stop", on_click=job.stop)
    if not cached:
        c[2].caption(_("Trains {runs} variants × {epochs} epochs from scratch; the result is cached, so it shows "
                       "at once next time.").format(runs=len(experiment.variants),
                                                    epochs=experiment.variants[0].train.num_epochs))
    elif measured_here(experiment):
        c[2].caption(_("Measured on this server ({seconds:.0f} CPU seconds of training, one thread). Re-run trains "
                       "the variants again, here.").format(seconds=cached.cpu_seconds))
    else:
        c[2].caption(_("Shipped with the project ({seconds:.0f} CPU seconds of training, one thread). Re-run trains "
                       "the variants again, here.").format(seconds=cached.cpu_seconds))


def progress_panel() -> None:
    """Progress of this tab's job (polling while it trains), or how it ended."""
    refused = state.get(state.EXPERIMENT_REFUSED)
    if refused:
        st.error(_("The experiment did not start: {reason}").format(reason=md_escape(refused)), icon="🚦")
        state.forget(state.EXPERIMENT_REFUSED)
    job = current_job()
    if job is None:
        return
    follow(_progress, job.alive, REFRESH_SECONDS, waiting=job.waiting)


def _progress() -> ExperimentJob:
    job = current_job()
    snap = job.snapshot()
    name = md_escape(experiment_name(job.experiment))
    if job.status == Status.QUEUED:
        st.info(f"**{name}**: {jobs.describe_wait(job)}", icon="⏳")
    elif job.alive:
        st.progress(snap.fraction, text=_("**{name}**: variant {variant}/{variants} ({label}), epoch {epoch}/{epochs}, "
                                          "{elapsed:.0f} s").format(
            name=name, variant=snap.variant + 1, variants=snap.num_variants, label=md_escape(label(snap)),
            epoch=snap.epoch, epochs=snap.num_epochs, elapsed=snap.elapsed))
    elif snap.status != Status.FINISHED:
        (st.warning if snap.status == Status.STOPPED else st.error)(
            _ended(snap.status).format(name=name, status=snap.status, message=md_escape(i18n.said(snap.message))))
    return job                        # follow() reruns the page when it has ended: the cached result


def _ended(status: Status) -> str:
    """The message of a job that ended without finishing, with {name} and {message} to fill in."""
    if status == Status.STOPPED:
        return _("**{name}** stopped: {message}")
    if status == Status.DIVERGED:
        return _("**{name}** diverged: {message}")
    if status == Status.FAILED:
        return _("**{name}** failed: {message}")
    return _("**{name}** {status}: {message}")


# -- results -----------------------------------------------------------------------------------
def result_table(result: ExperimentResult) -> pd.DataFrame:
    return pd.DataFrame([{
        _("variant"): label(v), _("final loss"): v.final_loss, _("held-out loss"): v.heldout_loss,
        _("held-out BLEU (0–100)"): v.bleu, _("parameters"): v.parameters,
        _("training CPU s"): round(v.cpu_seconds, 1),
        _("status"): status_word(v.status)} for v in result.variants])


def show_result(result: ExperimentResult) -> None:
    st.info(md_escape(interpret(result, i18n.current())), icon="🧪")
    best = max((v.bleu for v in result.variants), default=0.0)
    st.dataframe(result_table(result), hide_index=True, column_config={
        _("final loss"): st.column_config.NumberColumn(format="%.4f",
                                                       help=_("training pairs, the book's Σ loss / tokens")),
        _("held-out loss"): st.column_config.NumberColumn(format="%.4f",
                                                          help=_("masked loss, teacher forced, held-out pairs")),
        _("held-out BLEU (0–100)"): st.column_config.ProgressColumn(
            format="%.1f", min_value=0.0, max_value=max(best, 1.0),
            help=_("corpus BLEU (0–100) of greedy translations")),
        _("parameters"): st.column_config.NumberColumn(format="localized"),
        _("training CPU s"): st.column_config.NumberColumn(
            format="%.1f", help=_("CPU seconds the training thread used, with one thread: the work the variant "
                                  "needs, which other load on the server hardly changes (its wall-clock time "
                                  "does)"))})
    charts.show(charts.curves({label(v): v.epoch_loss for v in result.variants},
                              _("Training loss each epoch (Σ loss / tokens)"), _("epoch"), height=320),
                key="exercises.curves")
    st.markdown(_("**Held-out translations** (greedy decoding)"))
    samples = result.variants[0].samples
    rows = [{_("source"): s["src"], _("reference"): s["ref"],
             **{label(v): v.samples[i]["pred"] if i < len(v.samples) else "" for v in result.variants}}
            for i, s in enumerate(samples)]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
