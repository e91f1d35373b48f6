"""The Train view's live panel (a polling fragment), the finished run, and run comparison.

The training thread never touches Streamlit: these functions redraw from `job.snapshot()`.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.service.jobs import JobSnapshot, TrainingJob
from core.history import smooth, thin

from .. import charts, jobs, state
from ..polling import follow
from ..state import get_kept, kept, set_kept
from ..widgets import make_active, md_code, md_escape

# Each redraw holds the GIL the training thread also needs and makes the browser re-render
# four charts: polling less often leaves the run more of its speed (bench/RESULTS.md, section 5).
REFRESH_SECONDS = 3.0
LIVE_POINTS = 200


def live_panel() -> None:
    """Progress, curves and samples of this tab's job; polls only while it trains."""
    job = jobs.current()
    if job is None:
        st.info("No run in this tab yet: set it up above and press **Start training**.", icon="🏋️")
        return
    follow(_live, job.alive, REFRESH_SECONDS)


def _live() -> TrainingJob | None:
    job = jobs.current()          # also the heartbeat that keeps the job alive
    if job is None:
        return None
    snap = job.snapshot()
    if snap.waiting:
        st.info(f"**{md_escape(job.name)}** is {jobs.describe_wait(job)}", icon="⏳")
        st.button("⏹️ Stop", on_click=job.stop, key="train.stop", help="Takes the run out of the queue.")
        return job
    eta = f", about {snap.eta_seconds:.0f} s left" if snap.eta_seconds is not None else ""
    st.progress(snap.progress, text=f"**{md_escape(job.name)}** — {snap.status}: epoch {snap.epoch}/"
                                    f"{snap.num_epochs}, {snap.elapsed:.1f} s{eta}")
    if job.alive:
        st.button("⏹️ Stop", on_click=job.stop, key="train.stop", help="Stops after the current step.")
    _metrics(snap)
    _curves(snap)
    _samples(snap)
    return job                    # follow() reruns the page when it has ended: download, comparison


def _metrics(snap: JobSnapshot) -> None:
    c = st.columns(5)
    c[0].metric("Epoch", f"{snap.epoch}/{snap.num_epochs}")
    c[1].metric("Optimizer steps", f"{snap.step:,}")
    c[2].metric("Loss (last step)", f"{snap.step_loss[-1]:.4f}" if snap.step_loss else "–")
    c[3].metric("Tokens/s", f"{snap.tokens_per_second[-1]:,.0f}" if snap.tokens_per_second else "–")
    c[4].metric("Gradient norm (last step)", f"{snap.step_grad_norm[-1]:.3f}" if snap.step_grad_norm else "–")


def _curves(snap: JobSnapshot) -> None:
    steps, loss = thin(snap.step_loss, LIVE_POINTS)      # a few hundred points, however long the run
    _, smoothed = thin(smooth(snap.step_loss), LIVE_POINTS)
    _, norms = thin(snap.step_grad_norm, LIVE_POINTS)
    left, right = st.columns(2)
    with left:
        charts.show(charts.curves({"per step": loss, "smoothed": smoothed}, "Loss each step (the book's metric: "
                                  "Σ loss / tokens)", "step", x=steps), key="train.step_loss")
        charts.show(charts.curves({"gradient norm": norms}, "Gradient norm before clipping", "step", x=steps,
                                  hline=(snap.clip_theta, f"clip θ = {snap.clip_theta:g}")), key="train.grad_norm")
    with right:
        charts.show(charts.curves({"per epoch": snap.epoch_loss}, "Loss each epoch (Σ loss / tokens)", "epoch"),
                    key="train.epoch_loss")
        charts.show(charts.curves({"tokens/s": snap.tokens_per_second}, "Training speed", "epoch",
                                  "tokens per second"), key="train.speed")


SEEN = {True: "trained on", False: "not trained on"}


def _samples(snap: JobSnapshot) -> None:
    if not snap.samples:
        st.caption("Sample translations with their BLEU appear every few epochs.")
        return
    last = snap.samples[-1]["epoch"]
    st.markdown(f"**Sample translations after epoch {last}** (BLEU with k = 2)")
    rows = [{**r, "seen": SEEN.get(r.get("seen"), "")} for r in snap.samples if r["epoch"] == last]
    st.dataframe(pd.DataFrame(rows)[["seen", "src", "pred", "ref", "bleu"]], hide_index=True,
                 column_config={"bleu": st.column_config.NumberColumn("BLEU", format="%.3f"),
                                "seen": st.column_config.TextColumn("in training?")})
    st.caption("Trained on: the model has seen this pair, so it shows memorisation. Not trained on: a held-out "
               "pair (or a book example this run's data left out), so it shows how far the model generalises.")
    with st.expander("All samples so far"):
        st.dataframe(pd.DataFrame(snap.samples), hide_index=True)


def finished_panel() -> None:
    """Outcome, saved checkpoint, download and 'use it' for a run that ended."""
    job = jobs.current()
    if job is None or job.alive or job.status == "created":
        return
    _outcome(job)
    if job.saved_to and Path(job.saved_to).is_file():
        c = st.columns([3, 1, 1], vertical_alignment="center")
        c[0].markdown(f"💾 Saved to {md_code(job.saved_to)}")
        c[1].download_button("⬇️ Download .pt", Path(job.saved_to).read_bytes(),
                             file_name=Path(job.saved_to).name, mime="application/octet-stream")
        c[2].button("✅ Use on every page", on_click=make_active, args=(job.saved_to,), key="train.use")


def _outcome(job: TrainingJob) -> None:
    text = md_escape(job.message or job.status)
    {"finished": st.success, "stopped": st.warning}.get(job.status, st.error)(
        f"Run **{md_escape(job.name)}** {job.status}: {text}")


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
    return records[i].status + (f" (file overwritten by run {later + 1})" if later is not None else "")


def compare_panel() -> None:
    """Overlay the epoch-loss curves of this tab's finished runs (e.g. masked vs unmasked)."""
    records = jobs.runs()
    if not records:
        st.caption("Finished runs of this tab appear here; overlay their loss curves to compare, "
                   "e.g. the masked loss against the unmasked one.")
        return
    labels = [f"{i + 1}. {r.name} ({'masked' if r.masked else 'unmasked'}, {r.reduction})"
              for i, r in enumerate(records)]
    st.dataframe(pd.DataFrame({
        "run": labels, "status": [_status(records, i) for i in range(len(records))],
        "epochs": [r.epochs for r in records],
        "final loss": [r.epoch_loss[-1] if r.epoch_loss else None for r in records],
        "tokens/s (whole run)": [round(r.tokens_per_second) for r in records]}), hide_index=True)
    chosen = st.multiselect("Runs to overlay", labels, **_overlay_choice(labels))
    series = {label: r.epoch_loss for label, r in zip(labels, records) if label in chosen}
    charts.show(charts.curves(series, "Loss each epoch (Σ loss / tokens)", "epoch", height=340), key="train.compare_chart")
