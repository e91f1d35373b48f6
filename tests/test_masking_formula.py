"""The Masking view's formula opens on a sequence with padding (issue 25): on one without, the
masked and the plain loss are equal and the mask's effect cannot be seen."""
from __future__ import annotations

import pytest

from core.loss import loss_breakdown
from core.probes.masking import toy_batch
from tests.apptest_helpers import open_page

MASKING = "pages/2_🎭_Masking.py"


def test_the_first_padded_sequence_is_the_first_shorter_than_the_padded_length():
    assert toy_batch(["A B C", "D"], ["A B F", "D Z X"], [3, 1], 0.9).first_padded() == 1
    assert toy_batch(["A", "B C", "D E"], ["A", "B C", "D E"], [1, 1, 2], 0.9).first_padded() == 0
    assert toy_batch(["A B", "C D"], ["A B", "C D"], [2, 5], 0.9).first_padded() == 0     # none padded: the first


def test_the_masking_formula_opens_on_a_sequence_with_padding(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(tmp_path))
    at = open_page(MASKING)
    formula = next(s for s in at.selectbox if s.label == "Formula for")
    shown = formula.index
    batch = toy_batch(["A B C", "D <pad> <pad>"], ["A B F", "D Z X"], [3, 1], 0.9)    # the notes' batch it opens on
    parts = loss_breakdown(batch.logits, batch.labels, batch.valid_len)
    assert int(batch.valid_len[shown]) < batch.labels.shape[1]                        # it has padding
    masked, plain = float(parts.masked_per_seq[shown]), float(parts.plain_per_seq[shown])
    assert masked != pytest.approx(plain)
    latex = [element.value for element in at.get("latex")]
    assert f"{masked:.4f}" in latex[0] and f"{plain:.4f}" in latex[1]
