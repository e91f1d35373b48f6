"""The training loop: the book's step, and each knob provably taking effect."""
import copy
import math
import threading

import pytest
import torch

from core.config import DataConfig, ModelConfig, TrainConfig
from core.data import BatchIterator, Vocab
from core.history import EpochEvent, StepEvent
from core.model import build_model
from core.train import start_run
from core.trainer import Trainer, clip_gradients

VOCAB = Vocab([[str(i) for i in range(12)]], reserved_tokens=["<pad>", "<bos>", "<eos>"])


def make_batch(n=8, steps=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randint(3, len(VOCAB), (n, steps), generator=g)
    Y = torch.randint(3, len(VOCAB), (n, steps), generator=g)
    valid = torch.randint(1, steps + 1, (n,), generator=g)
    return X, valid, Y, valid.clone()


def grads_after_one_step(config: TrainConfig, batch, seed=0):
    """Gradients (after clipping) of one step from the same initial weights."""
    torch.manual_seed(seed)
    net = build_model(ModelConfig(embed_size=6, num_hiddens=8, dropout=0.0), len(VOCAB), len(VOCAB))
    trainer = Trainer(net, [batch], VOCAB, config, torch.device("cpu"))
    torch.manual_seed(seed + 1)
    loss_sum, tokens, norm = trainer._step(batch)
    return {n: p.grad.clone() for n, p in net.named_parameters()}, float(loss_sum), float(norm)


def test_accumulated_micro_batches_give_the_big_batchs_gradient():
    batch = make_batch(n=64)
    big, loss_big, _ = grads_after_one_step(TrainConfig(clip_theta=1e6), batch)
    acc, loss_acc, _ = grads_after_one_step(TrainConfig(clip_theta=1e6, accumulation_steps=4), batch)
    assert loss_big == pytest.approx(loss_acc, rel=1e-5)
    for name in big:
        assert torch.allclose(big[name], acc[name], atol=1e-6), name


def test_mean_reduction_scales_gradients_by_the_batch_size():
    batch = make_batch(n=16)
    summed, _, _ = grads_after_one_step(TrainConfig(clip_theta=1e6), batch)
    mean, _, _ = grads_after_one_step(TrainConfig(clip_theta=1e6, reduction="mean"), batch)
    for name in summed:
        assert torch.allclose(summed[name] / 16, mean[name], atol=1e-7), name


def test_teacher_forcing_ratio_below_one_feeds_own_predictions():
    batch = make_batch()
    forced, loss_forced, _ = grads_after_one_step(TrainConfig(), batch)
    free, loss_free, _ = grads_after_one_step(TrainConfig(teacher_forcing_ratio=0.0), batch)
    assert loss_forced != pytest.approx(loss_free)


def test_teacher_forcing_uses_bos_then_the_shifted_labels():
    net = build_model(ModelConfig(embed_size=4, num_hiddens=4, dropout=0.0), len(VOCAB), len(VOCAB))
    trainer = Trainer(net, [], VOCAB, TrainConfig(), torch.device("cpu"))
    X, valid, Y, _ = make_batch(n=2)
    seen = {}
    original = net.forward
    net.forward = lambda enc_X, dec_X, *a: (seen.setdefault("dec", dec_X), original(enc_X, dec_X, *a))[1]
    trainer._forward(X, valid, Y)
    assert seen["dec"][:, 0].tolist() == [VOCAB["<bos>"]] * 2
    assert torch.equal(seen["dec"][:, 1:], Y[:, :-1])


def test_clipping_equals_the_books_grad_clipping(d2l):
    for scale in (0.01, 100.0):
        torch.manual_seed(0)
        net = build_model(ModelConfig(embed_size=4, num_hiddens=4), 10, 10)
        for p in net.parameters():
            p.grad = torch.randn_like(p) * scale
        twin = copy.deepcopy(net)
        for a, b in zip(net.parameters(), twin.parameters()):
            b.grad = a.grad.clone()
        norm = clip_gradients(list(net.parameters()), 1.0)
        d2l.grad_clipping(twin, 1)
        expected_norm = math.sqrt(sum(float((p.grad ** 2).sum()) for p in net.parameters())) if scale < 1 else None
        for a, b in zip(net.parameters(), twin.parameters()):
            assert torch.allclose(a.grad, b.grad, atol=1e-7)
        assert norm > 0 and (expected_norm is None or float(norm) == pytest.approx(expected_norm, rel=1e-5))


def tiny_run(**train_overrides):
    data = DataConfig(source="reverse", num_examples=64, num_test=8, batch_size=16, num_steps=6)
    model = ModelConfig(embed_size=8, num_hiddens=8, num_layers=1, dropout=0.0)
    return start_run(data, model, TrainConfig(**{"num_epochs": 2, **train_overrides}))


def test_runs_are_repeatable_for_a_seed_on_the_cpu():
    a, b = tiny_run(seed=5).train(), tiny_run(seed=5).train()
    assert a.history.step_loss == b.history.step_loss
    assert tiny_run(seed=6).train().history.step_loss != a.history.step_loss


def test_events_report_every_step_and_epoch():
    events, run = [], tiny_run()
    result = run.train(events.append)
    steps = [e for e in events if isinstance(e, StepEvent)]
    epochs = [e for e in events if isinstance(e, EpochEvent)]
    assert len(steps) == 8 and [e.step for e in steps] == list(range(1, 9))
    assert [e.epoch for e in epochs] == [1, 2] and epochs[-1].loss == result.final_loss
    assert all(e.tokens_per_second > 0 and e.grad_norm > 0 for e in steps)
    assert result.tokens == 2 * int(run.data.arrays[3].sum())     # target tokens, both epochs


def test_stop_request_ends_the_run_after_the_current_step():
    run, stop = tiny_run(num_epochs=50), threading.Event()
    result = run.train(lambda e: stop.set() if isinstance(e, StepEvent) and e.step == 3 else None, stop)
    assert result.status == "stopped" and len(result.history.step_loss) == 3 and result.history.epoch_loss == []


def test_resume_continues_the_step_count_and_the_curves(checkpoint_dir):
    from core.checkpoint import load_checkpoint, save_checkpoint
    first = tiny_run(num_epochs=2)
    first.train()
    path = save_checkpoint(first.checkpoint(), checkpoint_dir / "r.pt")
    ckpt = load_checkpoint(path)
    resumed = start_run(ckpt.data_config, ckpt.model_config, TrainConfig(num_epochs=4), resume=ckpt)
    result = resumed.train()
    assert len(result.history.epoch_loss) == 4 and len(result.history.step_loss) == 16
    assert result.history.epoch_loss[:2] == first.trainer.history.epoch_loss


def test_continue_run_trains_a_saved_run_further_with_its_own_data_settings_and_adam_state(checkpoint_dir):
    from core.checkpoint import load_checkpoint, save_checkpoint
    from core.train import continue_run
    first = tiny_run(num_epochs=2, lr=0.01)
    first.train()
    ckpt = load_checkpoint(save_checkpoint(first.checkpoint(), checkpoint_dir / "r.pt"))
    adam_steps = ckpt.optimizer_state["state"][0]["step"]
    more = continue_run(ckpt, 3)
    assert more.train_config.num_epochs == 5 and more.train_config.lr == 0.01
    assert more.data.src_vocab is ckpt.src_vocab and more.data.train.source == first.data.train.source
    assert more.trainer.optimizer.state_dict()["state"][0]["step"] == adam_steps
    result = more.train()
    assert len(result.history.epoch_loss) == 5
    assert result.history.epoch_loss[:2] == first.trainer.history.epoch_loss


@pytest.mark.parametrize("more", [0, -1, 2.5, True])
def test_continue_run_rejects_a_bad_number_of_epochs(checkpoint_dir, more):
    from core.train import continue_run
    first = tiny_run(num_epochs=1)
    first.train()
    with pytest.raises(ValueError, match="more epochs"):
        continue_run(first.checkpoint(), more)


def test_nan_loss_stops_before_the_weights_change():
    run = tiny_run(num_epochs=3)
    before = {k: v.clone() for k, v in run.trainer.net.state_dict().items()}
    run.trainer.net.decoder.dense.register_forward_hook(lambda module, inputs, out: out * float("nan"))
    result = run.train()
    assert result.status == "diverged" and "loss became nan" in result.message
    assert all(torch.equal(before[k], v) for k, v in run.trainer.net.state_dict().items())


def test_unmasked_loss_option_changes_the_training_signal():
    masked, unmasked = tiny_run().train(), tiny_run(masked=False).train()
    assert masked.history.step_loss[0] != pytest.approx(unmasked.history.step_loss[0])


@pytest.mark.parametrize("masked", [True, False])
def test_the_configs_label_smoothing_is_the_loss_each_step_takes(masked):
    """The step's loss (masked: the path that scores valid tokens only) is torch's smoothed
    cross-entropy on the whole teacher-forced output, and start_run gives the same loss."""
    from core.loss import MaskedSoftmaxCELoss, UnmaskedSoftmaxCELoss
    from core.trainer import teacher_forced_logits
    batch = make_batch()
    X, valid, Y, Y_valid = batch
    _, loss, _ = grads_after_one_step(TrainConfig(clip_theta=1e6, masked=masked, label_smoothing=0.2), batch)
    torch.manual_seed(0)
    net = build_model(ModelConfig(embed_size=6, num_hiddens=8, dropout=0.0), len(VOCAB), len(VOCAB))
    reference = (MaskedSoftmaxCELoss if masked else UnmaskedSoftmaxCELoss)(label_smoothing=0.2)
    with torch.no_grad():
        expected = reference(teacher_forced_logits(net, X, valid, Y, VOCAB["<bos>"]), Y, Y_valid).sum()
    assert loss == pytest.approx(float(expected), rel=1e-5)
    assert loss != pytest.approx(grads_after_one_step(TrainConfig(clip_theta=1e6, masked=masked), batch)[1])
    assert tiny_run(masked=masked, label_smoothing=0.2).trainer.loss.label_smoothing == 0.2


def test_book_train_seq2seq_runs_on_the_books_data_iter(capsys):
    from core import train_seq2seq
    data = tiny_run().data
    net = build_model(ModelConfig(embed_size=8, num_hiddens=8), len(data.src_vocab), len(data.tgt_vocab))
    result = train_seq2seq(net, BatchIterator(data, 16), 0.005, 2, data.tgt_vocab, "cpu")
    assert "tokens/sec on cpu" in capsys.readouterr().out and math.isfinite(result.final_loss)


@pytest.mark.parametrize("bad", [dict(lr=0), dict(lr=float("inf")), dict(num_epochs=0), dict(clip_theta=-1),
                                 dict(teacher_forcing_ratio=1.5), dict(reduction="max"), dict(device="tpu")])
def test_invalid_train_configs_are_refused(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad).validate()


def test_more_accumulation_steps_than_the_batch_allows_is_refused():
    with pytest.raises(ValueError, match="accumulation_steps"):
        TrainConfig(accumulation_steps=65).validate(batch_size=64)


def test_skipping_positions_past_the_longest_target_changes_neither_loss_nor_gradients(d2l):
    """The masked loss and its gradients equal the book's full-length computation."""
    batch = make_batch(n=8, steps=8)
    X, valid, Y, Y_valid = batch
    Y_valid = torch.clamp(Y_valid, max=5)                 # every target shorter than num_steps
    batch = (X, valid, Y, Y_valid)
    grads, loss, _ = grads_after_one_step(TrainConfig(clip_theta=1e6), batch)
    torch.manual_seed(0)
    net = build_model(ModelConfig(embed_size=6, num_hiddens=8, dropout=0.0), len(VOCAB), len(VOCAB))
    bos = torch.full((8, 1), VOCAB["<bos>"])
    Y_hat, _ = net(X, torch.cat([bos, Y[:, :-1]], 1), valid)   # the book: all num_steps positions
    book_loss = d2l.MaskedSoftmaxCELoss()(Y_hat, Y, Y_valid)
    book_loss.sum().backward()
    assert loss == pytest.approx(float(book_loss.detach().sum()), rel=1e-6)
    for name, p in net.named_parameters():
        assert torch.allclose(grads[name], p.grad, atol=1e-6), name


def test_thinning_keeps_at_most_max_points_and_the_last_one():
    from core.history import thin
    positions, values = thin([float(i) for i in range(1000)], max_points=100)
    assert len(values) <= 101 and positions[0] == 1 and positions[-1] == 1000 and values[-1] == 999.0
    assert thin([1.0, 2.0], max_points=100) == ([1, 2], [1.0, 2.0]) and thin([]) == ([], [])


@pytest.mark.parametrize("decoder", ["plain", "attention"])
def test_the_loss_on_valid_positions_only_equals_the_books_masked_loss(decoder):
    """masked_sequence_loss skips the output layer at padding; loss and gradients stay the book's."""
    from core.loss import MaskedSoftmaxCELoss
    from core.trainer import masked_sequence_loss, teacher_forced_logits
    X, X_valid, Y, _ = make_batch(n=8, steps=7)
    Y_valid = torch.tensor([7, 1, 3, 5, 2, 7, 4, 1])
    torch.manual_seed(0)
    net = build_model(ModelConfig(embed_size=6, num_hiddens=8, dropout=0.0, decoder=decoder), len(VOCAB), len(VOCAB))
    ours = masked_sequence_loss(net, X, X_valid, Y, Y_valid, VOCAB["<bos>"], Y.shape[1])
    ours.sum().backward()
    ours_grads = {n: p.grad.clone() for n, p in net.named_parameters()}
    net.zero_grad()
    book = MaskedSoftmaxCELoss()(teacher_forced_logits(net, X, X_valid, Y, VOCAB["<bos>"]), Y, Y_valid)
    book.sum().backward()
    assert torch.allclose(ours, book, atol=1e-6)
    for name, p in net.named_parameters():
        assert torch.allclose(ours_grads[name], p.grad, atol=1e-6), name


def test_a_decoder_written_the_books_way_with_forward_alone_trains():
    """core.Decoder subclasses need only init_state and forward, as in the book: the book's own
    decoder, on core's base class, trains."""
    from types import SimpleNamespace

    from bench.d2l_reference import book_decoder_class
    from core import Decoder, EncoderDecoder, Seq2SeqEncoder
    BookDecoder = book_decoder_class(SimpleNamespace(Decoder=Decoder))
    net = EncoderDecoder(Seq2SeqEncoder(len(VOCAB), 6, 8, 1), BookDecoder(len(VOCAB), 6, 8, 1))
    result = Trainer(net, [make_batch(n=8, steps=6)], VOCAB, TrainConfig(num_epochs=2), torch.device("cpu")).run()
    assert result.status == "finished" and math.isfinite(result.final_loss)


def test_train_seq2seq_gives_the_learners_gru_back_as_an_nn_gru():
    from torch import nn

    from core import train_seq2seq
    net = build_model(ModelConfig(embed_size=6, num_hiddens=8, num_layers=1), len(VOCAB), len(VOCAB))
    train_seq2seq(net, [make_batch(n=8, steps=6)], 0.005, 1, VOCAB, "cpu")
    assert type(net.encoder.rnn) is nn.GRU and type(net.decoder.rnn) is nn.GRU
