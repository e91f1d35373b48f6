"""The mask and the masked loss: the chapter's demo numbers and parity with the book."""
import pytest
import torch

from core.loss import MaskedSoftmaxCELoss, UnmaskedSoftmaxCELoss, loss_breakdown, mask_parts, sequence_mask


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
    from core.exercises.masking import toy_batch
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
    from core.exercises.masking import MAX_VALID_LEN, parse_lengths
    assert parse_lengths(" 1, 2 3 ") == [1, 2, 3]
    for text, says in [("", "whole numbers"), ("a,b", "whole numbers"), ("-1", "whole numbers"),
                       ("², 1", "whole numbers"), ("1,2,3,4,5,6,7,8,9", "at most 8"),
                       ("99999999999999999999, 1", f"at most {MAX_VALID_LEN}")]:
        with pytest.raises(ValueError, match=says):
            parse_lengths(text)
