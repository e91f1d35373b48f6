"""The Accumulation view: one batch against accumulated micro-batches, and sum vs mean reduction."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.probes.accumulation import AccumulationReport, TimeForMemory, compare, time_for_memory

from .. import i18n
from ..i18n import _


# The spinners are drawn here rather than by the caches (whose text is fixed when the module is
# imported) so that they speak the reader's language; a cache hit returns before one shows.
def accumulation_report(batch_size: int, micro_batch: int, lr: float) -> AccumulationReport:
    with st.spinner(_("Computing the gradients…")):
        return _accumulation_report(batch_size, micro_batch, lr)


@st.cache_resource(show_spinner=False, max_entries=16)
def _accumulation_report(batch_size: int, micro_batch: int, lr: float) -> AccumulationReport:
    return compare(batch_size, micro_batch, lr)


def trade_off(batch_size: int, micro_batch: int) -> TimeForMemory:
    with st.spinner(_("Measuring memory and time…")):
        return _trade_off(batch_size, micro_batch)


@st.cache_data(show_spinner=False, max_entries=16, ttl=300)   # times age: remeasure
def _trade_off(batch_size: int, micro_batch: int) -> TimeForMemory:
    return time_for_memory(batch_size, micro_batch)


def show_trade_off(trade: TimeForMemory) -> None:
    """The notes' 以时间换空间: both halves of the trade as numbers."""
    st.header(_("Time for memory (以时间换空间)"))
    c = st.columns(4)
    c[0].metric(_("Activations kept, batch of {size}").format(size=trade.batch_size),
                f"{trade.batch_bytes / 2**20:.2f} MiB")
    c[1].metric(_("… micro-batch of {size}").format(size=trade.micro_batch), f"{trade.micro_bytes / 2**20:.2f} MiB",
                delta=f"{1 / trade.memory_ratio - 1:.0%}", delta_color="inverse")
    c[2].metric(_("One step, whole batch"), f"{trade.batch_seconds * 1e3:.1f} ms")
    c[3].metric(_("… as {count} micro-batches").format(count=trade.batch_size // trade.micro_batch),
                f"{trade.accumulated_seconds * 1e3:.1f} ms", delta=f"{trade.time_ratio - 1:+.0%}",
                delta_color="inverse")
    st.caption(_("Bytes of the tensors autograd keeps for the backward pass of the trainer's own loss (each "
                 "storage once, parameters left out), counted with `torch.autograd.graph.saved_tensors_hooks`; "
                 "times are the median of a few optimizer steps' forward and backward on this machine "
                 "({kernel}; other work running beside it slows both). Accumulating keeps "
                 "{kept:.0%} of the activations at a time and takes {slower:.2f}× as "
                 "long: less memory, paid for in time.").format(kernel=i18n.said(trade.kernel), kept=1 / trade.memory_ratio,
                                                                slower=trade.time_ratio))


def show_accumulation(report: AccumulationReport) -> None:
    st.header(_("7.5.1 · One batch vs accumulated micro-batches"))
    c = st.columns(3)
    c[0].metric(_("Max |difference| (all parameters)"), f"{report.max_abs_diff:.2e}")
    c[1].metric(_("Micro-batches"), f"{report.num_micro} × {report.micro_batch}")
    st.caption(_("`Trainer._step` on the first {batch_size} corpus pairs, fresh model with dropout 0: once "
                 "as one batch, once as {num_micro} micro-batches whose gradients add up before the "
                 "update. The gradients agree to float rounding: accumulation gives the big batch's update "
                 "with a micro-batch's memory.").format(batch_size=report.batch_size, num_micro=report.num_micro))
    diff, norm = _("max |difference|"), "‖g‖"
    st.dataframe(pd.DataFrame([{_("parameter"): p.name, _("shape"): " × ".join(map(str, p.shape)),
                                diff: p.max_abs_diff, norm: p.grad_norm} for p in report.params]),
                 hide_index=True, column_config={diff: st.column_config.NumberColumn(format="%.2e"),
                                                 norm: st.column_config.NumberColumn(format="%.4f")})
    st.header(_("Sum vs mean reduction"))
    c = st.columns(3)
    c[0].metric(_("‖g‖ with sum (the book)"), f"{report.sum_norm:.4f}")
    c[1].metric(_("‖g‖ with mean"), f"{report.mean_norm:.6f}")
    c[2].metric(_("Ratio sum / mean"), f"{report.norm_ratio:.4f}", help=_("= the batch size"))
    steps = report.step_sizes
    with_sum, with_mean = _("‖Δθ‖ with sum"), _("‖Δθ‖ with mean")
    st.dataframe(pd.DataFrame([{_("optimizer"): opt.upper() if opt == "sgd" else "Adam",
                                with_sum: steps[f"{opt}/sum"], with_mean: steps[f"{opt}/mean"],
                                _("sum / mean"): report.step_ratio(opt)} for opt in ("sgd", "adam")]),
                 hide_index=True, column_config={k: st.column_config.NumberColumn(format="%.6f")
                                                 for k in (with_sum, with_mean)})
    st.markdown(_(
        "One step with lr = {lr:g}. The sum's gradient is {norm_ratio:.2f}× the mean's, so an "
        "**SGD** step is {sgd_ratio:.2f}× longer: with the mean, SGD needs lr × {batch_size} "
        "= {scaled_lr:g} to move as far, and changing the batch size changes the effective "
        "learning rate. **Adam** divides each gradient by its own running magnitude, so its step barely "
        "changes ({adam_ratio:.4f}×): with Adam the book's sum reduction is harmless.").format(
        lr=report.lr, norm_ratio=report.norm_ratio, sgd_ratio=report.step_ratio("sgd"), batch_size=report.batch_size,
        scaled_lr=report.lr * report.batch_size, adam_ratio=report.step_ratio("adam")))
