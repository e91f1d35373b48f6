"""Train: pick data and hyperparameters, watch the model learn, keep and compare checkpoints."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core.checkpoint import checkpoint_path, sanitize_name
from core.service.jobs import TrainingJob, check_limits
from core.train import RunSpec, plan_run
from ui import jobs, server, workspace
from ui.guards import guarded, guarded_message, show_error
from ui.i18n import _
from ui.views import train_continue, train_form, train_live
from ui.widgets import start_page

active = start_page("Train", "🏋️", job_badge=False)
st.title(_("🏋️ Train"))
st.caption(_("The chapter's training loop (notes 7.5): Adam, teacher forcing with `<bos>` + Y[:, :-1], "
             "the masked loss summed over the batch, gradient clipping. One run per browser tab; "
             "it keeps training while you visit other pages."))


def start(name_as_typed: str, make_spec: Callable[[], RunSpec], sample_every: int, may_save: bool) -> None:
    """Validate the run's spec and read its data here (errors shown), check it against the
    server's limits before anything is built, then hand the spec to the server's queue: a
    worker process builds, trains and saves it, now or in its turn."""
    name = guarded(_("This run name cannot be used"), sanitize_name, name_as_typed)
    if name is None:
        return
    if not may_save:
        show_error(_("Training did not start"), _("{name}.pt holds an earlier run").format(name=name),
                   _("Tick “Overwrite” for this run, or choose another run name to keep both."))
        return
    overwrite = checkpoint_path(name, workspace.folder()).exists()   # may_save: the user ticked "Overwrite" for it
    with st.spinner(_("Reading the data…")):
        spec = guarded(_("Training could not start"), make_spec)
        plan = guarded(_("Training could not start"), plan_run, spec) if spec is not None else None
    if spec is None or plan is None:
        return
    refused = guarded_message(check_limits, plan, server.limits())
    if refused:
        show_error(_("This server does not allow this run"), refused,      # refused: the engine's message
                   _("Make the run smaller, or ask the operator to raise the limit."))
        return
    if guarded(_("Training could not start"), jobs.start,
               TrainingJob(spec=spec, name=name, sample_every=sample_every, overwrite=overwrite,
                           checkpoint_dir=workspace.folder())):     # saved in this browser's workspace
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
    start(setup.name, lambda: RunSpec(data_config=setup.data, model_config=setup.model, train_config=setup.train,
                                      raw=setup.raw), setup.sample_every, setup.may_save)

with st.expander(_("⏯️ Continue training the checkpoint in use")):
    more = train_continue.continue_form(active, setup.train.device if setup else "auto")
    if st.button(_("⏯️ Continue training"), disabled=running or more is None, key="train.continue",
                 help=_("Stop the current run first.") if running else None) and more is not None:
        start(more.name, more.spec, setup.sample_every if setup else train_form.DEFAULT_SAMPLE_EVERY, more.may_save)

st.header(_("📈 Live"))
train_live.live_panel()
train_live.finished_panel()

st.header(_("⚖️ Compare runs"))
train_live.compare_panel()
