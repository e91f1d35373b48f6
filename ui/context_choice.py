"""The sidebar's "Decoder context at inference": a learner's choice that holds on every page and
in the URL (`?inference_context=`, with the checkpoint it was chosen for in `?inference_for=`),
until they change it or another checkpoint is in use (then that checkpoint's own rule again)."""
from __future__ import annotations

import streamlit as st

from core.checkpoint import Checkpoint
from core.config import CONTEXTS
from core.setups import CONTEXT_FOR_FIELD, CONTEXT_RULE_FIELD, read_setup

from . import i18n, models, state
from .i18n import N_, _, shown_as
from .models import CheckpointRef
from .text import md_escape

CONTEXT_LABELS = {"encoder": N_("encoder"), "book": N_("book")}   # a context rule (a config value) as shown


def context_label(rule: str) -> str:
    return _(CONTEXT_LABELS[rule]) if rule in CONTEXT_LABELS else rule


def link_params() -> dict[str, str]:
    """Query parameters every internal link carries: the language (where the URL names it) and
    the decoder-context rule the learner chose, with its checkpoint's name (where they chose one)."""
    choice = state.get(state.CONTEXT_CHOICE)
    return i18n.link_params() | (_choice_params(choice) if choice else {})


def _choice_params(choice: tuple[str, str]) -> dict[str, str]:
    ref_key, rule = choice
    return {CONTEXT_RULE_FIELD.name: rule, CONTEXT_FOR_FIELD.name: _checkpoint_name(ref_key)}


def _checkpoint_name(ref_key: str) -> str:
    """The checkpoint's file name (an upload: its content key), as `CheckpointRef.name` gives it:
    never the server's path to it, nor whose workspace it is in."""
    return ref_key if ref_key.startswith(models.UPLOAD) else ref_key.split(":", 1)[1].rsplit("/", 1)[-1]


def rule_picker(ref: CheckpointRef, ckpt: Checkpoint) -> Checkpoint:
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
    return models.with_context(ref, ckpt, rule)


def _follow_context_link(ref: CheckpointRef) -> None:
    """A `?inference_context=` this session has neither applied nor written is a link opened here:
    its rule becomes the choice for the checkpoint in use, if the link chose it for that one (a
    refused value is said, and ignored; a rule chosen for another checkpoint is not used)."""
    given = st.query_params.get(CONTEXT_RULE_FIELD.name)
    if given is None or given == state.get(state.CONTEXT_LINKED):
        return
    state.put(state.CONTEXT_LINKED, given)
    chosen_for = st.query_params.get(CONTEXT_FOR_FIELD.name)
    if chosen_for is not None and chosen_for != ref.name:
        return                        # e.g. a reload: the shipped checkpoint is in use again
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
    wanted: dict[str, str | None] = {CONTEXT_RULE_FIELD.name: None, CONTEXT_FOR_FIELD.name: None}
    wanted.update(_choice_params(choice) if choice else {})
    for param, value in wanted.items():
        if value is None and param in st.query_params:
            del st.query_params[param]
        elif value is not None and st.query_params.get(param) != value:
            st.query_params[param] = value
    state.put(state.CONTEXT_LINKED, None if choice is None else choice[1])   # our own edit, not a new link
