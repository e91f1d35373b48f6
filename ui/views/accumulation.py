"""The Accumulation view: one batch against accumulated micro-batches, and sum vs mean reduction."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.exercises.accumulation import AccumulationReport, TimeForMemory, compare, time_for_memory


@st.cache_resource(show_spinner="Computing the gradients…", max_entries=16)
def accumulation_report(batch_size: int, micro_batch: int, lr: float) -> AccumulationReport:
    return compare(batch_size, micro_batch, lr)


@st.cache_data(show_spinner="Measuring memory and time…", max_entries=16, ttl=300)   # times age: remeasure
def trade_off(batch_size: int, micro_batch: int) -> TimeForMemory:
    return time_for_memory(batch_size, micro_batch)


def show_trade_off(trade: TimeForMemory) -> None:
    """The notes' 以时间换空间: both halves of the trade as numbers."""
    st.header("Time for memory (以时间换空间)")
    c = st.columns(4)
    c[0].metric(f"Activations kept, batch of {trade.batch_size}", f"{trade.batch_bytes / 2**20:.2f} MiB")
    c[1].metric(f"… micro-batch of {trade.micro_batch}", f"{trade.micro_bytes / 2**20:.2f} MiB",
                delta=f"{1 / trade.memory_ratio - 1:.0%}", delta_color="inverse")
    c[2].metric("One step, whole batch", f"{trade.batch_seconds * 1e3:.1f} ms")
    c[3].metric(f"… as {trade.batch_size // trade.micro_batch} micro-batches", f"{trade.accumulated_seconds * 1e3:.1f} ms",
                delta=f"{trade.time_ratio - 1:+.0%}", delta_color="inverse")
    st.caption(f"Bytes of the tensors autograd keeps for the backward pass of the trainer's own loss (each "
               f"storage once, parameters left out), counted with `torch.autograd.graph.saved_tensors_hooks`; "
               f"times are the median of a few optimizer steps' forward and backward on this machine "
               f"({trade.kernel}; other work running beside it slows both). Accumulating keeps "
               f"{1 / trade.memory_ratio:.0%} of the activations at a time and takes {trade.time_ratio:.2f}× as "
               "long: less memory, paid for in time.")


def show_accumulation(report: AccumulationReport) -> None:
    st.header("7.5.1 · One batch vs accumulated micro-batches")
    c = st.columns(3)
    c[0].metric("Max |difference| (all parameters)", f"{report.max_abs_diff:.2e}")
    c[1].metric("Micro-batches", f"{report.num_micro} × {report.micro_batch}")
    st.caption(f"`Trainer._step` on the first {report.batch_size} corpus pairs, fresh model with dropout 0: once "
               f"as one batch, once as {report.num_micro} micro-batches whose gradients add up before the "
               "update. The gradients agree to float rounding: accumulation gives the big batch's update "
               "with a micro-batch's memory.")
    st.dataframe(pd.DataFrame([{"parameter": p.name, "shape": " × ".join(map(str, p.shape)),
                                "max |difference|": p.max_abs_diff, "‖g‖": p.grad_norm} for p in report.params]),
                 hide_index=True, column_config={"max |difference|": st.column_config.NumberColumn(format="%.2e"),
                                                 "‖g‖": st.column_config.NumberColumn(format="%.4f")})
    st.header("Sum vs mean reduction")
    c = st.columns(3)
    c[0].metric("‖g‖ with sum (the book)", f"{report.sum_norm:.4f}")
    c[1].metric("‖g‖ with mean", f"{report.mean_norm:.6f}")
    c[2].metric("Ratio sum / mean", f"{report.norm_ratio:.4f}", help="= the batch size")
    steps = report.step_sizes
    st.dataframe(pd.DataFrame([{"optimizer": opt.upper() if opt == "sgd" else "Adam",
                                "‖Δθ‖ with sum": steps[f"{opt}/sum"], "‖Δθ‖ with mean": steps[f"{opt}/mean"],
                                "sum / mean": report.step_ratio(opt)} for opt in ("sgd", "adam")]),
                 hide_index=True, column_config={k: st.column_config.NumberColumn(format="%.6f")
                                                 for k in ("‖Δθ‖ with sum", "‖Δθ‖ with mean")})
    st.markdown(
        f"One step with lr = {report.lr:g}. The sum's gradient is {report.norm_ratio:.2f}× the mean's, so an "
        f"**SGD** step is {report.step_ratio('sgd'):.2f}× longer: with the mean, SGD needs lr × {report.batch_size} "
        f"= {report.lr * report.batch_size:g} to move as far, and changing the batch size changes the effective "
        f"learning rate. **Adam** divides each gradient by its own running magnitude, so its step barely "
        f"changes ({report.step_ratio('adam'):.4f}×): with Adam the book's sum reduction is harmless.")
