"""A checkpoint described in the reader's words: the sidebar's one line, Home's facts.

Names only, never a server path: a data file is named by its file name.
"""
from __future__ import annotations

from pathlib import Path

from core.book_weights import origin_text
from core.checkpoint import Checkpoint
from core.model import count_parameters

from . import i18n
from .i18n import N_, _

SOURCE_LABELS = {   # a DataConfig.source (a config value) as the reader reads it beside a checkpoint
    "corpus": N_("corpus"), "copy": N_("copy task"), "reverse": N_("reverse task"), "sort": N_("sort task"),
    "tatoeba": N_("Tatoeba"), "tsv": N_("TSV"),
}


def source_label(source: str) -> str:
    return _(SOURCE_LABELS[source]) if source in SOURCE_LABELS else source


def checkpoint_line(ckpt: Checkpoint) -> str:
    m, h = ckpt.model_config, ckpt.history
    if ckpt.origin and not h.epoch_loss:
        trained = i18n.said(origin_text(ckpt.origin, short=True)).split(",")[0]
    elif h.epoch_loss:
        trained = _("{epochs} epochs, loss {loss:.3f}").format(epochs=len(h.epoch_loss), loss=h.epoch_loss[-1])
    else:
        trained = _("{epochs} epochs").format(epochs=len(h.epoch_loss))
    return _("{cell} {layers}×{hiddens}, {source} data, {trained}").format(
        cell=m.cell.upper(), layers=m.num_layers, hiddens=m.num_hiddens,
        source=source_label(ckpt.data_config.source), trained=trained)


def checkpoint_facts(ckpt: Checkpoint) -> dict[str, str]:
    d, m, h = ckpt.data_config, ckpt.model_config, ckpt.history
    sizes = dict(cell=m.cell.upper(), embed=m.embed_size, layers=m.num_layers, hiddens=m.num_hiddens,
                 decoder_layers=m.decoder_layers, decoder_hiddens=m.decoder_hiddens, dropout=m.dropout,
                 parameters=count_parameters(ckpt.model))
    model = (_("{cell}, embed {embed}, {layers}×{hiddens}, decoder {decoder_layers}×{decoder_hiddens} via a bridge, "
               "dropout {dropout}, {parameters:,} parameters") if m.needs_bridge else
             _("{cell}, embed {embed}, {layers}×{hiddens}, dropout {dropout}, {parameters:,} parameters"))
    data = (_("{source} ({path}), num_steps {num_steps}") if d.path else _("{source}, num_steps {num_steps}"))
    training = (_("{epochs} epochs, final loss {loss:.4f}") if h.epoch_loss else _("{epochs} epochs")).format(
        epochs=len(h.epoch_loss), loss=h.epoch_loss[-1] if h.epoch_loss else 0.0)
    return {
        # the file's name: the path it was read from is the server's (or the trainer's machine's)
        _("data"): data.format(source=source_label(d.source), path=Path(d.path or "").name, num_steps=d.num_steps),
        _("model"): model.format(**sizes),
        _("decoder context"): _("Bahdanau attention over the encoder outputs") if m.decoder == "attention"
                              else _("the encoder's state at every step") if m.context == "encoder"
                              else _("the book's state[-1] of the running decoder state"),
        _("vocabularies"): _("source {src:,} tokens, target {tgt:,} tokens").format(
            src=len(ckpt.src_vocab), tgt=len(ckpt.tgt_vocab)),
        **({_("origin"): i18n.said(origin_text(ckpt.origin))} if ckpt.origin else {}),
        _("training"): training,
        _("held-out pairs"): f"{len(ckpt.test_pairs):,}",
    }
