"""Train: pick data and hyperparameters, watch the model learn, keep and compare checkpoints."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core.checkpoint import checkpoint_path, sanitize_name
from core.service.jobs import TrainingJob, check_limits
from core.train import TrainingRun, start_run
from ui import jobs, server
from ui.i18n import _
from ui.views import train_continue, train_form, train_live
from ui.widgets import guarded, guarded_message, show_error, start_page

active = start_page("Train", "🏋️", job_badge=False)
st.title(_("🏋️ Train"))
st.caption(_("The chapter's training loop (notes 7.5): Adam, teacher forcing with `<bos>` + Y[:, :-1], "
             "the masked loss summed over the batch, gradient clipping. One run per browser tab; "
             "it keeps training while you visit other pages."))


def start(name_as_typed: str, build: Callable[[], TrainingRun], sample_every: int, may_save: bool) -> None:
    """Validate and build the run here (errors shown), check it against the server's limits,
    then hand it to the server's queue: it trains in a worker process, now or in its turn."""
    name = guarded(_("This run name cannot be used"), sanitize_name, name_as_typed)
    if name is None:
        return
    if not may_save:
        show_error(_("Training did not start"), _("{name}.pt holds an earlier run").format(name=name),
                   _("Tick “Overwrite” for this run, or choose another run name to keep both."))
        return
    overwrite = checkpoint_path(name).exists()       # may_save: the user ticked "Overwrite" for it
    with st.spinner(_("Preparing the data and the model…")):
        run = guarded(_("Training could not start"), build)
    if run is None:
        return
    refused = guarded_message(check_limits, run, server.limits())
    if refused:
        show_error(_("This server does not allow this run"), refused,      # refused: the engine's message
                   _("Make the run smaller, or ask the operator to raise the limit."))
        return
    if guarded(_("Training could not start"), jobs.start,
               TrainingJob(run, name, sample_every=sample_every, overwrite=overwrite)):
        train_form.renew_run_name()
        st.rerun()


job = jobs.current()
running = job is not None and job.alive
with st.expander(_("⚙️ Setup: data, model, training"), expanded=not running):
    setup = train_form.setup_form()
clicked = st.button(_("▶️ Start training"), type="primary", disabled=running or setup is None,
                    help=_("Stop the current run first.") if running else None)
train_form.server_caption()
if clicked and setup is not None:
    start(setup.name, lambda: start_run(setup.data, setup.model, setup.train, raw=setup.raw), setup.sample_every,
          setup.may_save)

with st.expander(_("⏯️ Continue training the checkpoint in use")):
    more = train_continue.continue_form(active, setup.train.device if setup else "auto")
    if st.button(_("⏯️ Continue training"), disabled=running or more is None, key="train.continue",
                 help=_("Stop the current run first.") if running else None) and more is not None:
        start(more.name, more.build, setup.sample_every if setup else train_form.DEFAULT_SAMPLE_EVERY, more.may_save)

st.header(_("📈 Live"))
train_live.live_panel()
train_live.finished_panel()

st.header(_("⚖️ Compare runs"))
train_live.compare_panel()
