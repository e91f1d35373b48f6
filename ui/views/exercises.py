"""The Exercises view: the experiment picker, this tab's experiment job, its results.

The experiment's thread never touches Streamlit: a polling fragment redraws from
`ExperimentJob.snapshot()`, and finished results are read back from the on-disk cache.
"""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.exercises.experiments import Experiment, ExperimentJob, ExperimentResult, Variant, interpret, measured_here

from .. import charts, jobs, state
from ..polling import follow
from ..widgets import md_escape

REFRESH_SECONDS = 1.0


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
            state.put(state.EXPERIMENT_REFUSED, str(err))


def last_result(experiment: Experiment) -> ExperimentResult | None:
    """What this tab's ended job measured for `experiment`, cached or not (a stopped run's part)."""
    job = current_job()
    if job is None or job.alive or job.result is None or job.result.cache_key != experiment.cache_key:
        return None
    return job.result


def pick_experiment(experiments: list[Experiment]) -> Experiment:
    by_key = {e.key: e for e in experiments}
    key = st.selectbox("Exercise", list(by_key), format_func=lambda k: f"{by_key[k].section} · {by_key[k].title}",
                       **state.kept(state.EXERCISE_PICK, experiments[0].key))
    return by_key.get(key, experiments[0])


def variant_table(variants: tuple[Variant, ...]) -> pd.DataFrame:
    """What each variant trains: the settings the exercises turn, one row per variant."""
    return pd.DataFrame([{
        "variant": v.label, "cell": v.model.cell.upper(),
        "encoder": f"{v.model.num_layers}×{v.model.num_hiddens}",
        "decoder": f"{v.model.decoder_layers}×{v.model.decoder_hiddens}" + (" (bridge)" if v.model.needs_bridge else ""),
        "output layer": v.output_layer, "loss": "masked" if v.train.masked else "unmasked",
        "teacher forcing": v.train.teacher_forcing_ratio, "lr": v.train.lr, "epochs": v.train.num_epochs,
    } for v in variants])


def controls(experiment: Experiment, cached: ExperimentResult | None) -> None:
    """Run (or Re-run) and Stop; only one experiment trains per tab."""
    job = current_job()
    busy = job is not None and job.alive
    c = st.columns([1, 1, 4], vertical_alignment="center")
    c[0].button("🔁 Re-run" if cached else "▶️ Run", type="secondary" if cached else "primary", key="exercises.run",
                disabled=busy, on_click=start_job, args=(experiment, cached is not None),
                help="Another experiment is training in this tab." if busy else None)
    if busy:
        c[1].button("⏹️ Stop", key="exercises.stop", on_click=job.stop)
    runs = len(experiment.variants)
    c[2].caption(f"Trains {runs} variants × {experiment.variants[0].train.num_epochs} epochs from scratch; "
                 "the result is cached, so it shows at once next time." if not cached else
                 f"{'Measured on this server' if measured_here(experiment) else 'Shipped with the project'} "
                 f"({cached.seconds:.0f} s of training). Re-run trains the variants again, here.")


def progress_panel() -> None:
    """Progress of this tab's job (polling while it trains), or how it ended."""
    refused = state.get(state.EXPERIMENT_REFUSED)
    if refused:
        st.error(f"The experiment did not start: {md_escape(refused)}", icon="🚦")
        state.forget(state.EXPERIMENT_REFUSED)
    job = current_job()
    if job is None:
        return
    follow(_progress, job.alive, REFRESH_SECONDS)


def _progress() -> ExperimentJob:
    job = current_job()
    snap = job.snapshot()
    name = f"{job.experiment.section} · {job.experiment.title}"
    if job.status == "queued":
        st.info(f"**{md_escape(name)}**: {jobs.describe_wait(job)}", icon="⏳")
    elif job.alive:
        st.progress(snap.fraction, text=f"**{md_escape(name)}**: variant {snap.variant + 1}/{snap.num_variants} "
                                        f"({md_escape(snap.label)}), epoch {snap.epoch}/{snap.num_epochs}, "
                                        f"{snap.elapsed:.0f} s")
    elif snap.status != "finished":
        (st.warning if snap.status == "stopped" else st.error)(f"**{md_escape(name)}** {snap.status}: "
                                                               f"{md_escape(snap.message)}")
    return job                        # follow() reruns the page when it has ended: the cached result


# -- results -----------------------------------------------------------------------------------
def result_table(result: ExperimentResult) -> pd.DataFrame:
    return pd.DataFrame([{
        "variant": v.label, "final loss": v.final_loss, "held-out loss": v.heldout_loss,
        "held-out BLEU (0–100)": v.bleu, "parameters": v.parameters, "train s": round(v.train_seconds, 1),
        "status": v.status} for v in result.variants])


def show_result(result: ExperimentResult) -> None:
    st.info(md_escape(interpret(result)), icon="🧪")
    best = max((v.bleu for v in result.variants), default=0.0)
    st.dataframe(result_table(result), hide_index=True, column_config={
        "final loss": st.column_config.NumberColumn(format="%.4f", help="training pairs, the book's Σ loss / tokens"),
        "held-out loss": st.column_config.NumberColumn(format="%.4f", help="masked loss, teacher forced, held-out pairs"),
        "held-out BLEU (0–100)": st.column_config.ProgressColumn(format="%.1f", min_value=0.0, max_value=max(best, 1.0),
                                                         help="corpus BLEU (0–100) of greedy translations"),
        "parameters": st.column_config.NumberColumn(format="localized")})
    charts.show(charts.curves({v.label: v.epoch_loss for v in result.variants},
                              "Training loss each epoch (Σ loss / tokens)", "epoch", height=320),
                key="exercises.curves")
    st.markdown("**Held-out translations** (greedy decoding)")
    samples = result.variants[0].samples
    rows = [{"source": s["src"], "reference": s["ref"],
             **{v.label: v.samples[i]["pred"] if i < len(v.samples) else "" for v in result.variants}}
            for i, s in enumerate(samples)]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
