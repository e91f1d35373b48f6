"""The fused GRU recurrence computes nn.GRU's function with nn.GRU's parameters."""
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from core.config import ModelConfig, TrainConfig
from core.fast import fused_gru
from core.model import build_model
from core.trainer import Trainer
from tests.apptest_helpers import HANG_GUARD
from tests.test_train import VOCAB, make_batch


@pytest.fixture(scope="module", autouse=True)
def built():
    if not (shutil.which("c++") or shutil.which("g++")):
        pytest.skip("no C++ compiler here: the fused GRU cannot be built, training runs nn.GRU")
    if not fused_gru.load(timeout=300):
        pytest.fail(f"the fused GRU did not build: {fused_gru.status()}")


def ran_fused(out: torch.Tensor) -> bool:
    """Whether the fused recurrence made this output (its autograd node), not nn.GRU."""
    return type(out.grad_fn).__name__ == "_RecurrenceBackward"


def close(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-5) -> bool:
    """Equal up to float rounding: sums over many terms differ in their last bits, so the
    tolerance is relative to the tensor's scale, not to each (possibly cancelled) entry."""
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max()) <= rel * float(a.abs().max()) + 1e-7


def outputs_and_grads(gru: nn.GRU, forward, X, h0, seed=1):
    """Outputs, final state and every gradient of a fixed weighted sum of both."""
    g = torch.Generator().manual_seed(7)
    weights_out = torch.randn(X.shape[0], X.shape[1], gru.hidden_size, generator=g)
    weights_state = torch.randn(gru.num_layers, X.shape[1], gru.hidden_size, generator=g)
    X, h0 = X.clone().requires_grad_(), h0.clone().requires_grad_()
    gru.zero_grad(set_to_none=True)
    torch.manual_seed(seed)                        # same dropout masks for both
    out, state = forward(gru, X, h0)
    ((out * weights_out).sum() + (state * weights_state).sum()).backward()
    return [out.detach(), state.detach(), X.grad, h0.grad] + [p.grad for p in gru.parameters()]


@pytest.mark.parametrize("layers, dropout, batch, hidden", [(1, 0.0, 5, 7), (2, 0.0, 64, 64), (2, 0.3, 16, 32), (3, 0.1, 3, 16)])
def test_outputs_and_every_gradient_equal_nn_grus(layers, dropout, batch, hidden):
    torch.manual_seed(0)
    gru = nn.GRU(12, hidden, layers, dropout=dropout)
    X, h0 = torch.randn(9, batch, 12), torch.randn(layers, batch, hidden)
    reference = outputs_and_grads(gru, lambda rnn, x, h: rnn(x, h), X, h0)
    fused = outputs_and_grads(gru, fused_gru.gru_layers, X, h0)
    for name, a, b in zip(["output", "state", "dX", "dh0"] + [n for n, _ in gru.named_parameters()], reference, fused):
        assert close(a, b), name


def test_a_single_step_and_no_initial_state_work():
    torch.manual_seed(0)
    gru = nn.GRU(4, 6, 2)
    X = torch.randn(1, 3, 4)
    out, state = fused_gru.gru_layers(gru, X)
    ref_out, ref_state = gru(X)
    assert close(out, ref_out) and close(state, ref_state)


def test_evaluation_and_decoding_keep_nn_grus_kernels():
    gru, X = nn.GRU(4, 6, 2), torch.randn(3, 2, 4)
    assert fused_gru.applies(gru, X)
    with torch.no_grad():
        assert not fused_gru.applies(gru, X)
    assert not fused_gru.applies(gru.eval(), X)
    assert not fused_gru.applies(nn.LSTM(4, 6, 2), X)
    assert not fused_gru.applies(gru.train(), X.double())
    assert not fused_gru.applies(nn.GRU(4, 6, 2, batch_first=True), X)
    assert not fused_gru.applies(nn.GRU(4, 6, 2, bidirectional=True), X)
    assert not fused_gru.applies(nn.GRU(4, 6, 2).double(), X)
    packed = nn.utils.rnn.pack_padded_sequence(X, torch.tensor([3, 2]))
    assert not fused_gru.applies(gru, packed)


def test_a_gru_with_forward_hooks_runs_through_nn_gru_so_its_hooks_are_called():
    gru, X = nn.GRU(4, 6, 2), torch.randn(3, 2, 4)
    seen = []
    handle = gru.register_forward_hook(lambda module, args, out: seen.append(out[0].shape))
    assert not fused_gru.applies(gru, X)
    out, _ = fused_gru.run_rnn(gru, X)
    assert seen == [out.shape] and not ran_fused(out)
    handle.remove()
    assert fused_gru.applies(gru, X)
    with nn.modules.module.register_module_forward_pre_hook(lambda module, args: None):
        assert not fused_gru.applies(gru, X)


def test_the_switch_turns_it_off(monkeypatch):
    monkeypatch.setenv(fused_gru.ENV_SWITCH, "0")
    assert not fused_gru.applies(nn.GRU(4, 6), torch.randn(3, 2, 4))
    assert "off" in fused_gru.status()


def test_run_rnn_takes_the_fused_path_for_training_and_nn_gru_otherwise():
    gru, X = nn.GRU(4, 6, 2), torch.randn(3, 2, 4)
    assert ran_fused(fused_gru.run_rnn(gru, X)[0])
    assert not ran_fused(fused_gru.run_rnn(gru.eval(), X)[0])


def test_a_failed_build_falls_back_to_nn_gru(monkeypatch, tmp_path):
    monkeypatch.setattr(fused_gru, "_state", {"loaded": False, "error": None, "started": False,
                                              "ready": threading.Event()})
    monkeypatch.setattr(fused_gru, "SOURCE", tmp_path / "missing.cpp")
    assert fused_gru.load(timeout=60) is False
    assert "unavailable" in fused_gru.status()
    gru, X = nn.GRU(4, 6), torch.randn(3, 2, 4)
    out, _ = fused_gru.run_rnn(gru, X)
    assert not ran_fused(out) and torch.equal(out, gru(X)[0])


def test_a_build_that_never_ends_does_not_hold_up_training(monkeypatch):
    """torch's build lock has no timeout: a stale lock file must cost a wait, not a hang."""
    never = threading.Event()
    monkeypatch.setattr(fused_gru, "_state", {"loaded": False, "error": None, "started": False,
                                              "ready": threading.Event()})
    monkeypatch.setattr(fused_gru, "_build", lambda state: never.wait(30))
    assert fused_gru.load(timeout=0.2) is False
    assert "not ready in time" in fused_gru.status()     # and it keeps nn.GRU: no switch later
    out, _ = fused_gru.run_rnn(nn.GRU(4, 6), torch.randn(3, 2, 4))
    assert not ran_fused(out)
    never.set()


def test_a_training_step_gives_nn_grus_loss_and_gradients(monkeypatch):
    """The whole step (encoder, decoder, masked loss, clipping) with and without it."""
    batch = make_batch(n=16, steps=8)

    def step():
        torch.manual_seed(0)
        net = build_model(ModelConfig(embed_size=6, num_hiddens=8, dropout=0.2), len(VOCAB), len(VOCAB))
        trainer = Trainer(net, [batch], VOCAB, TrainConfig(), torch.device("cpu"), fused=True)
        torch.manual_seed(1)
        loss, _, norm = trainer._step(batch)
        return float(loss), float(norm), {n: p.grad.clone() for n, p in net.named_parameters()}

    calls = []
    original = fused_gru._Recurrence.apply
    monkeypatch.setattr(fused_gru._Recurrence, "apply", lambda *a: calls.append(1) or original(*a))
    fused = step()
    assert calls, "the fused recurrence did not run"
    monkeypatch.setenv(fused_gru.ENV_SWITCH, "0")
    calls.clear()
    reference = step()
    assert not calls
    assert fused[0] == pytest.approx(reference[0], rel=1e-6) and fused[1] == pytest.approx(reference[1], rel=1e-5)
    for name, grad in reference[2].items():
        assert close(grad, fused[2][name], rel=1e-4), name


def test_a_nan_in_the_weights_reaches_the_output_and_the_gradients():
    """Compiled with -ffast-math, the kernel must still let a NaN through, or the trainer's
    guard against a diverged loss would never see it."""
    gru = nn.GRU(4, 6, 2)
    with torch.no_grad():
        gru.weight_hh_l0[0, 0] = float("nan")
    X = torch.randn(3, 2, 4)
    out, state = fused_gru.gru_layers(gru, X)
    out.sum().backward()
    assert torch.isnan(out).any() and torch.isnan(state).any() and torch.isnan(gru.weight_ih_l1.grad).any()


def test_loading_the_kernel_leaves_the_processs_float_modes_alone():
    """-ffast-math is a compile flag only: subnormal numbers are not flushed to zero."""
    assert float(torch.tensor([1e-39]) * 1.0) != 0.0
    assert 1e-310 * 1.0 != 0.0


def test_a_lock_left_by_a_killed_build_is_removed_and_a_fresh_one_is_kept(tmp_path):
    lock = tmp_path / "lock"
    lock.touch()
    assert not fused_gru.clear_stale_lock(tmp_path) and lock.exists()        # a build is running
    old = time.time() - fused_gru.STALE_LOCK_SECONDS - 1
    os.utime(lock, (old, old))
    assert fused_gru.clear_stale_lock(tmp_path) and not lock.exists()
    assert not fused_gru.clear_stale_lock(tmp_path)                          # no lock: nothing to do


def test_a_library_built_before_loads_without_waiting_for_a_build_lock(monkeypatch, tmp_path):
    """A process killed while ninja checked the build leaves a fresh lock; the next one loads
    the library it finds instead of waiting (up to STALE_LOCK_SECONDS) for that lock."""
    from torch.utils import cpp_extension
    flags = fused_gru._compile_flags()
    name = "seq2seq_fused_gru_" + ("avx2" if "-mavx2" in flags else "base")
    real = fused_gru.prebuilt_library(Path(cpp_extension._get_build_directory(name, verbose=False)), name)
    assert real is not None, "the module fixture built it"
    (tmp_path / real.name).symlink_to(real)          # the same file: dlopen does not load it twice
    (tmp_path / "lock").touch()                                         # someone is "building"
    monkeypatch.setattr(cpp_extension, "_get_build_directory", lambda name, verbose: str(tmp_path))
    monkeypatch.setattr(fused_gru, "_state", {"loaded": False, "error": None, "started": False,
                                              "ready": threading.Event()})
    assert fused_gru.load(timeout=10) is True and (tmp_path / "lock").exists()


def test_a_library_older_than_its_source_is_not_used(tmp_path, monkeypatch):
    source = tmp_path / "fused_gru.cpp"
    source.touch()
    monkeypatch.setattr(fused_gru, "SOURCE", source)
    library = tmp_path / "x.so"
    library.touch()
    assert fused_gru.prebuilt_library(tmp_path, "x") == library
    old = time.time() - 60
    os.utime(library, (old, old))
    assert fused_gru.prebuilt_library(tmp_path, "x") is None
    assert fused_gru.prebuilt_library(tmp_path, "missing") is None


def test_fuse_puts_a_fused_gru_holding_the_same_parameters_in_place_and_draws_no_random_numbers():
    net = build_model(ModelConfig(embed_size=6, num_hiddens=8, num_layers=2), len(VOCAB), len(VOCAB))
    before = dict(net.named_parameters())
    torch.manual_seed(5)
    expected_next = torch.rand(1)
    torch.manual_seed(5)
    assert fused_gru.fuse(net)
    assert torch.equal(torch.rand(1), expected_next)                  # no random numbers drawn
    assert type(net.encoder.rnn) is fused_gru.FusedGRU and type(net.decoder.rnn) is fused_gru.FusedGRU
    after = dict(net.named_parameters())
    assert list(after) == list(before) and all(after[n] is p for n, p in before.items())
    assert not any(type(m) is nn.GRU for m in net.modules())


def test_a_run_is_trained_on_one_kernel_chosen_before_its_first_step_and_the_books_function_keeps_nn_gru():
    from core.config import DataConfig
    from core.train import start_run, train_seq2seq
    data = DataConfig(source="reverse", num_examples=32, num_test=4, batch_size=8, num_steps=5)
    run = start_run(data, ModelConfig(embed_size=4, num_hiddens=4, num_layers=1), TrainConfig(num_epochs=1))
    assert run.trainer.fused and type(run.trainer.net.encoder.rnn) is fused_gru.FusedGRU   # before it trained
    net = build_model(ModelConfig(embed_size=4, num_hiddens=4, num_layers=1), len(VOCAB), len(VOCAB))
    train_seq2seq(net, [make_batch(n=4, steps=5)], 0.005, 1, VOCAB, "cpu")
    assert type(net.encoder.rnn) is nn.GRU and type(net.decoder.rnn) is nn.GRU     # the learner's own modules


def test_a_process_that_gave_up_waiting_for_the_build_keeps_nn_gru_when_the_build_ends_later(monkeypatch):
    """Which kernel a step runs never depends on when a build happened to end."""
    release = threading.Event()
    state = {"loaded": False, "error": None, "started": False, "ready": threading.Event(), "gave_up": False}
    monkeypatch.setattr(fused_gru, "_state", state)

    def slow_build(state):
        release.wait(HANG_GUARD)
        state["loaded"] = True
        state["ready"].set()
    monkeypatch.setattr(fused_gru, "_build", slow_build)
    net = build_model(ModelConfig(embed_size=4, num_hiddens=4, num_layers=1), len(VOCAB), len(VOCAB))
    assert fused_gru.fuse(net, timeout=0.01) is False and type(net.encoder.rnn) is nn.GRU
    release.set()
    assert state["ready"].wait(HANG_GUARD) and state["loaded"]
    assert not fused_gru.applies(nn.GRU(4, 6), torch.randn(3, 2, 4)) and "not ready in time" in fused_gru.status()


def test_a_model_without_a_gru_is_left_as_it_is_and_waits_for_no_build(monkeypatch):
    monkeypatch.setattr(fused_gru, "load", lambda timeout=None: pytest.fail("waited for the kernel's build"))
    net = build_model(ModelConfig(cell="lstm", embed_size=4, num_hiddens=4, num_layers=1), len(VOCAB), len(VOCAB))
    assert fused_gru.fuse(net) is False and type(net.encoder.rnn) is nn.LSTM
    assert str(fused_gru.kernel_text(False)) != "fused GRU kernel"


def test_a_fused_gru_unpickled_where_the_kernel_cannot_load_keeps_nn_gru_for_good(monkeypatch):
    """A run is pickled to a worker process or a Ray actor: the kernel is decided there, once,
    before its first step."""
    import pickle
    net = build_model(ModelConfig(embed_size=4, num_hiddens=4, num_layers=1), len(VOCAB), len(VOCAB))
    assert fused_gru.fuse(net) and net.encoder.rnn.runs_kernel
    raw = pickle.dumps(net)
    assert pickle.loads(raw).encoder.rnn.runs_kernel                 # here the kernel is loaded
    monkeypatch.setattr(fused_gru, "_state", {"loaded": False, "error": "no compiler", "started": True,
                                              "ready": threading.Event(), "gave_up": False})
    fused_gru._state["ready"].set()
    elsewhere = pickle.loads(raw).encoder.rnn                         # a process without it
    assert not elsewhere.runs_kernel
    fused_gru._state["loaded"] = True                                 # even if it appeared later
    X = torch.randn(3, 2, 4)
    assert not ran_fused(elsewhere(X)[0])
