"""The Step view, stages 5 to 9: clipping, Adam's update, the loss after the step and "step
again", sum vs mean, and where the time goes (the numbers from `core.step`)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.step.scaling import SumVsMean
from core.step.session import StepRecord, StepReport, StepSession
from core.step.timing import STAGES, Scaling, StageTimes

from .. import charts, i18n
from ..i18n import _

MORE_STEPS = 10


def show_clipping(record: StepRecord) -> None:
    st.header(_("5 · Clipping"))
    clip = record.clipping
    c = st.columns(4)
    c[0].metric(_("‖g‖ before"), f"{clip.norm:.4f}")
    c[1].metric("θ", f"{clip.theta:g}")
    c[2].metric(_("Scale θ / ‖g‖ (at most 1)"), f"{clip.scale:.4f}")
    c[3].metric(_("‖g‖ after"), f"{clip.norm_after:.4f}")
    st.caption(i18n.said(clip.sentence()) + " " + _("The book's grad_clipping(net, 1), as the trainer runs it."))


def show_adam(record: StepRecord) -> None:
    st.header(_("6 · Adam's update"))
    adam = record.adam
    ratio, update, weight = "‖Δθ‖ / ‖θ‖", "‖Δθ‖", "‖θ‖"
    mean, moved = _("mean |Δθ| / lr"), _("weights moved")
    st.dataframe(pd.DataFrame([{_("parameter"): p.name, weight: p.weight_norm, update: p.update_norm, ratio: p.ratio,
                                mean: p.mean_abs_update / adam.lr, moved: p.moved} for p in adam.params]),
                 hide_index=True, height=300,
                 column_config={weight: st.column_config.NumberColumn(format="%.4f"),
                                update: st.column_config.NumberColumn(format="%.5f"),
                                ratio: st.column_config.NumberColumn(format="%.5f"),
                                mean: st.column_config.NumberColumn(format="%.3f"),
                                moved: st.column_config.NumberColumn(format="percent")})
    st.info(i18n.said(adam.sentence()), icon="📐")


def _again(session: StepSession, times: int) -> None:
    """Callback: more steps of the same model on the same batch, with the same Adam."""
    for _i in range(times):
        session.step()


def show_after(first: StepRecord, session: StepSession) -> None:
    st.header(_("7 · After the step"))
    c = st.columns(3)
    c[0].metric(_("Loss of this batch before"), f"{first.loss_before:.5f}")
    c[1].metric(_("… after one step"), f"{first.loss_after:.5f}", delta=f"{first.loss_after - first.loss_before:+.5f}",
                delta_color="inverse")
    c[2].metric(_("Steps taken on this batch"), len(session.records))
    st.caption(_("l.sum() / num_tokens of the same batch with dropout off, so that before and after differ by the "
                 "step alone."))
    b = st.columns([1, 1, 3])
    b[0].button(_("▶️ Step again"), key="step.again", on_click=_again, args=(session, 1))
    b[1].button(_("⏩ {count} more steps").format(count=MORE_STEPS), key="step.more", on_click=_again,
                args=(session, MORE_STEPS))
    if len(session.curve) > 2:
        charts.show(charts.curves({_("loss of this batch"): session.curve},
                                  _("The same batch, step after step: a batch being memorised"), _("steps taken"),
                                  x0=0), key="step.curve")
        latest = session.records[-1]
        st.caption(_("After {steps} steps: {loss:.5f}, {fraction:.1%} of where it started. Only this batch is "
                     "learned; the other pairs are not looked at.").format(
                         steps=len(session.records), loss=latest.loss_after,
                         fraction=latest.loss_after / session.curve[0] if session.curve[0] else 0.0))


def show_sum_vs_mean(versus: SumVsMean) -> None:
    st.header(_("8 · Sum vs mean, measured"))
    reduction, single, double = _("reduction"), _("‖g‖, {n} pairs").format(n=versus.batch_size), \
        _("‖g‖, {n} pairs").format(n=versus.double_size)
    growth = _("growth")
    st.dataframe(pd.DataFrame([{reduction: name, single: versus.norms[f"{key}/single"],
                                double: versus.norms[f"{key}/double"], growth: versus.growth(key)}
                               for key, name in (("sum", _("l.sum() (the book)")), ("mean", "l.mean()"))]),
                 hide_index=True, column_config={k: st.column_config.NumberColumn(format="%.4f")
                                                 for k in (single, double, growth)})
    if versus.double_size < 2 * versus.batch_size:
        st.caption(_("The data has only {n} pairs: the larger batch holds all of them.").format(n=versus.double_size))
    st.markdown(i18n.said(versus.sentence()))


def show_times(times: StageTimes, scaling: Scaling) -> None:
    st.header(_("9 · Where the time goes"))
    shown = [_(stage) for stage in STAGES]
    ms = [times.seconds[stage] * 1e3 for stage in STAGES]
    fig = go.Figure(go.Bar(x=ms, y=shown, orientation="h", marker_color=charts.ACCENT,
                           text=[f"{v:.2f} ms" for v in ms], textposition="auto"))
    fig.update_yaxes(autorange="reversed")
    charts.show(charts.layout(fig, _("Step {step} on {device}").format(step=times.step, device=times.device), 260,
                              "ms"), key="step.times")
    st.markdown(i18n.said(times.sentence(scaling)))
    st.caption(_("Each stage between two synchronisations (torch.cuda.synchronize on a GPU). The first step also "
                 "pays one-off costs (memory first allocated, Adam's state created): press Step again to see "
                 "a step without them. Other work on this machine slows every stage."))


def show_later_stages(report: StepReport, session: StepSession) -> None:
    first = report.first
    show_clipping(first)
    show_adam(first)
    show_after(first, session)
    show_sum_vs_mean(report.sum_vs_mean)
    show_times(session.records[-1].times, report.scaling)
