"""The mask and the masked loss: the chapter's demo numbers and parity with the book."""
import pytest
import torch

from core.loss import MaskedSoftmaxCELoss, UnmaskedSoftmaxCELoss, loss_breakdown, make_loss, mask_parts, sequence_mask


def test_mask_demo_from_the_notes_broadcasts_and_compares():
    parts = mask_parts(3, torch.tensor([1, 2]))
    assert parts.positions.tolist() == [[0, 1, 2]] and parts.valid_len.tolist() == [[1], [2]]
    assert parts.positions_broadcast.tolist() == [[0, 1, 2], [0, 1, 2]]
    assert parts.valid_broadcast.tolist() == [[1, 1, 1], [2, 2, 2]]
    assert parts.mask.tolist() == [[True, False, False], [True, True, False]]


def test_mask_hides_positions_past_valid_len_like_the_book(d2l):
    X = torch.tensor([[1, 2, 3], [4, 5, 6]])
    assert sequence_mask(X, torch.tensor([1, 2])).tolist() == [[1, 0, 0], [4, 5, 0]]
    Y = torch.ones(2, 3, 4)
    assert torch.equal(sequence_mask(Y, torch.tensor([1, 2]), value=-1),
                       d2l.sequence_mask(Y.clone(), torch.tensor([1, 2]), value=-1))


def test_sequence_mask_leaves_its_input_unchanged():
    X = torch.ones(2, 3)
    sequence_mask(X, torch.tensor([0, 1]))
    assert X.sum() == 6


def test_masked_loss_is_the_books_example():
    loss = MaskedSoftmaxCELoss()(torch.ones(3, 4, 10), torch.ones((3, 4), dtype=torch.long), torch.tensor([4, 2, 0]))
    assert torch.allclose(loss, torch.tensor([2.3026, 1.1513, 0.0]), atol=1e-4)


def test_masked_loss_equals_the_books_per_sequence_values(d2l):
    torch.manual_seed(1)
    pred, label = torch.randn(5, 7, 11), torch.randint(0, 11, (5, 7))
    valid_len = torch.tensor([7, 3, 1, 0, 5])
    assert torch.equal(MaskedSoftmaxCELoss()(pred, label, valid_len), d2l.MaskedSoftmaxCELoss()(pred, label, valid_len))


def test_unmasked_loss_scores_padding_too():
    pred, label = torch.randn(2, 3, 5), torch.tensor([[1, 2, 0], [3, 0, 0]])
    plain = UnmaskedSoftmaxCELoss()(pred, label, torch.tensor([2, 1]))
    per_position = torch.nn.functional.cross_entropy(pred.permute(0, 2, 1), label, reduction="none")
    assert torch.allclose(plain, per_position.mean(1))
    assert not torch.allclose(plain, MaskedSoftmaxCELoss()(pred, label, torch.tensor([2, 1])))


def test_loss_breakdown_adds_up_to_the_loss():
    pred, label, valid_len = torch.randn(2, 3, 6), torch.tensor([[1, 2, 3], [4, 0, 0]]), torch.tensor([3, 1])
    parts = loss_breakdown(pred, label, valid_len)
    assert parts.weights.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert torch.allclose(parts.masked_per_seq, MaskedSoftmaxCELoss()(pred, label, valid_len))
    assert torch.allclose(parts.plain_per_seq, UnmaskedSoftmaxCELoss()(pred, label))
    valid_terms = parts.per_position[parts.weights.bool()]
    assert parts.masked_per_token == pytest.approx(float(valid_terms.mean()), rel=1e-6)


def test_the_notes_toy_batch_gives_the_notes_mask_and_a_larger_plain_mean():
    from core.probes.masking import toy_batch
    batch = toy_batch(["A B C", "D"], ["A B F", "D Z X"], [3, 1], confidence=0.9)
    parts = loss_breakdown(batch.logits, batch.labels, batch.valid_len)
    assert parts.weights.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch.label_tokens[1] == ["D", "<pad>", "<pad>"]
    assert torch.allclose(parts.masked_per_seq, MaskedSoftmaxCELoss()(batch.logits, batch.labels, batch.valid_len))
    assert parts.plain_per_seq[1] > parts.masked_per_seq[1]     # guessing the padding costs the plain mean


def test_smoothing_starts_at_the_first_value_and_follows_the_curve():
    from core.history import smooth
    assert smooth([4.0]) == [4.0]
    assert smooth([1.0] * 5) == pytest.approx([1.0] * 5)
    assert smooth([0.0, 10.0], weight=0.5)[1] == pytest.approx(20 / 3)


def test_valid_lengths_are_parsed_or_refused_with_what_to_type():
    from core.probes.masking import MAX_VALID_LEN, parse_lengths
    assert parse_lengths(" 1, 2 3 ") == [1, 2, 3]
    for text, says in [("", "whole numbers"), ("a,b", "whole numbers"), ("-1", "whole numbers"),
                       ("², 1", "whole numbers"), ("1,2,3,4,5,6,7,8,9", "at most 8"),
                       ("99999999999999999999, 1", f"at most {MAX_VALID_LEN}")]:
        with pytest.raises(ValueError, match=says):
            parse_lengths(text)


# -- label smoothing (TrainConfig.label_smoothing; 0 = the book) --------------------------------
def test_label_smoothing_zero_is_the_books_masked_loss_bit_for_bit(d2l):
    torch.manual_seed(2)
    pred, label, valid_len = torch.randn(4, 6, 9), torch.randint(0, 9, (4, 6)), torch.tensor([6, 2, 0, 4])
    book = d2l.MaskedSoftmaxCELoss()(pred, label, valid_len)
    assert torch.equal(make_loss(masked=True, label_smoothing=0.0)(pred, label, valid_len), book)
    nll = make_loss(masked=True, log_probs=True, label_smoothing=0.0)
    assert torch.equal(nll.token_loss(torch.log_softmax(pred, -1), label),
                       -torch.log_softmax(pred, -1).gather(-1, label.unsqueeze(-1)).squeeze(-1))


def smoothed_by_hand(pred: torch.Tensor, label: torch.Tensor, valid_len: torch.Tensor, eps: float) -> torch.Tensor:
    """(1 − ε)·(−log p(label)) + (ε / V)·Σ_v −log p(v) at each position, 0 past valid_len, mean over steps."""
    log_p = torch.log_softmax(pred, dim=-1)
    per_position = torch.zeros(label.shape)
    for i in range(label.shape[0]):
        for t in range(int(valid_len[i])):
            per_position[i, t] = -(1 - eps) * log_p[i, t, label[i, t]] - eps * log_p[i, t].sum() / pred.shape[-1]
    return per_position.mean(dim=1)


@pytest.mark.parametrize("eps", [0.1, 0.5])
def test_label_smoothing_is_the_hand_computation_masked_as_the_book_masks(eps):
    torch.manual_seed(3)
    pred, label, valid_len = torch.randn(3, 5, 7), torch.randint(0, 7, (3, 5)), torch.tensor([5, 2, 0])
    expected = smoothed_by_hand(pred, label, valid_len, eps)
    assert torch.allclose(MaskedSoftmaxCELoss(label_smoothing=eps)(pred, label, valid_len), expected, atol=1e-6)
    log_probs = torch.log_softmax(pred, dim=-1)       # the adaptive softmax's output, smoothed alike
    assert torch.allclose(make_loss(log_probs=True, label_smoothing=eps)(log_probs, label, valid_len), expected,
                          atol=1e-6)
    # the trainer's valid-positions-only path scores each valid token with `token_loss`: the same terms
    keep = torch.arange(5)[None, :] < valid_len[:, None]
    for loss, out in ((make_loss(label_smoothing=eps), pred), (make_loss(log_probs=True, label_smoothing=eps),
                                                                log_probs)):
        per_token = torch.zeros(label.shape).masked_scatter(keep, loss.token_loss(out[keep], label[keep]))
        assert torch.allclose(per_token.mean(dim=1), expected, atol=1e-6)
    assert not torch.allclose(MaskedSoftmaxCELoss()(pred, label, valid_len), expected)


def test_the_unmasked_losses_smooth_every_position_padding_included():
    torch.manual_seed(4)
    pred, label = torch.randn(2, 4, 6), torch.randint(0, 6, (2, 4))
    everywhere = torch.tensor([4, 4])
    expected = smoothed_by_hand(pred, label, everywhere, 0.2)
    assert torch.allclose(make_loss(masked=False, label_smoothing=0.2)(pred, label, torch.tensor([1, 2])), expected,
                          atol=1e-6)
    assert torch.allclose(make_loss(masked=False, log_probs=True, label_smoothing=0.2)(
        torch.log_softmax(pred, -1), label), expected, atol=1e-6)
