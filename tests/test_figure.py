"""The chapter's figure as data (core/figure.py): one pass gives the numbers Decode's tables show
(tokens, top-k probabilities, attention weights), and the states the figure draws are the model's
own, for a GRU, an LSTM, a bridge, an attention decoder and two layers."""
from pathlib import Path

import pytest
import torch

from core.beam import beam_search
from core.checkpoint import load_checkpoint
from core.config import ModelConfig
from core.data import Vocab
from core.decode import encode_source, greedy_decode
from core.figure import EOS, FROM_ATTENTION, FROM_C, FROM_PREVIOUS, PAD, UNKNOWN, WORD, figure_of, figure_pass
from core.model import build_model

ROOT = Path(__file__).resolve().parent.parent
WORDS = "go away now i am home he is calm we run".split()
SRC = Vocab([WORDS], reserved_tokens=["<pad>", "<bos>", "<eos>"])
TGT = Vocab([["va", "je", "suis", "chez", "moi", "il", "est", "calme", "nous", "courons", "."]],
            reserved_tokens=["<pad>", "<bos>", "<eos>"])
NUM_STEPS = 7
SENTENCE = "I am home now"
MODELS = {   # the chapter's model and each variant the figure draws differently
    "gru, 2 layers, book's rule": ModelConfig(embed_size=6, num_hiddens=8, num_layers=2, dropout=0.0, context="book"),
    "gru, 2 layers, encoder rule": ModelConfig(embed_size=6, num_hiddens=8, num_layers=2, dropout=0.0,
                                               context="encoder"),
    "lstm, 2 layers": ModelConfig(cell="lstm", embed_size=6, num_hiddens=8, num_layers=2, dropout=0.0),
    "bridge (gru 2x8 -> 1x5)": ModelConfig(embed_size=6, num_hiddens=8, num_layers=2, dropout=0.0,
                                           dec_num_hiddens=5, dec_num_layers=1),
    "bridge (lstm 1x8 -> 2x6)": ModelConfig(cell="lstm", embed_size=6, num_hiddens=8, num_layers=1, dropout=0.0,
                                            dec_num_hiddens=6, dec_num_layers=2),
    "attention, gru, 2 layers": ModelConfig(embed_size=6, num_hiddens=8, num_layers=2, dropout=0.0,
                                            decoder="attention"),
    "attention, lstm": ModelConfig(cell="lstm", embed_size=6, num_hiddens=8, num_layers=1, dropout=0.0,
                                   decoder="attention"),
}


def net_for(config: ModelConfig, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(config, len(SRC), len(TGT))


@pytest.mark.parametrize("name", MODELS)
def test_the_figure_shows_the_tokens_probabilities_and_attention_decodes_tables_show(name):
    net, k = net_for(MODELS[name]), 4
    figure = figure_of(net, SENTENCE, SRC, TGT, NUM_STEPS, top_k=k)
    greedy = greedy_decode(net, SENTENCE, SRC, TGT, NUM_STEPS, book=False)
    assert len(figure.steps) == len(greedy.steps) and figure.stop_reason == greedy.stop_reason
    for ours, decode in zip(figure.steps, greedy.steps):
        assert (ours.input_token, ours.chosen_token) == (decode.input_token, decode.chosen_token)
        assert torch.equal(ours.decoded.probs, decode.probs)                  # the whole distribution, bit for bit
        assert ours.top_k == decode.top_k(TGT, k)                             # Decode's bars and heatmap
        assert ours.probability == float(decode.probs[decode.chosen_id])      # Decode's p(chosen)
        assert ours.attention == decode.attention                             # Decode's attention map (None: plain)
    assert [s.input_token for s in figure.steps] == ["<bos>"] + [s.chosen_token for s in figure.steps[:-1]]


def test_the_shipped_checkpoint_draws_its_translation_of_a_held_out_sentence():
    ckpt = load_checkpoint(ROOT / "checkpoints" / "default.pt")
    figure = figure_of(ckpt.model, "I'm home.", ckpt.src_vocab, ckpt.tgt_vocab, ckpt.data_config.num_steps)
    assert [s.chosen_token for s in figure.steps] == ["je", "suis", "chez", "moi", ".", "<eos>"]
    assert [s.token for s in figure.source] == ["i'm", "home", ".", "<eos>"] + ["<pad>"] * 6


@pytest.mark.parametrize("name", MODELS)
def test_every_layers_state_at_every_source_step_ends_in_the_encoders_final_state(name):
    net = net_for(MODELS[name])
    figure = figure_of(net, SENTENCE, SRC, TGT, NUM_STEPS)
    source = torch.tensor([figure.source[i].token_id for i in range(NUM_STEPS)])
    with torch.no_grad():
        outputs, final = net.eval().encoder(source[None])
    lstm = MODELS[name].cell == "lstm"
    h, c = final if lstm else (final, None)
    assert len(figure.source) == NUM_STEPS and all(len(s.layers) == MODELS[name].num_layers for s in figure.source)
    for layer, (drawn, real) in enumerate(zip(figure.source[-1].layers, figure.encoder_final)):
        assert torch.allclose(drawn.h, h[layer, 0], atol=1e-6) and torch.equal(real.h, h[layer, 0])
        assert (drawn.c is None) == (not lstm)
        if lstm:
            assert torch.allclose(drawn.c, c[layer, 0], atol=1e-6)
    # the top layer's state at each step is the encoder's output at that step
    for t, step in enumerate(figure.source):
        assert torch.allclose(step.layers[-1].h, outputs[t, 0], atol=1e-6)


def test_the_source_is_drawn_as_the_encoder_reads_it_eos_padding_and_unknown_words():
    figure = figure_of(net_for(MODELS["gru, 2 layers, book's rule"]), "I am Paris", SRC, TGT, NUM_STEPS)
    assert [(s.token, s.kind) for s in figure.source] == [
        ("i", WORD), ("am", WORD), ("paris", UNKNOWN), ("<eos>", EOS), ("<pad>", PAD), ("<pad>", PAD), ("<pad>", PAD)]
    assert figure.source[2].token_id == SRC.unk and figure.valid_len == 4
    long = figure_of(net_for(MODELS["gru, 2 layers, book's rule"]), " ".join(WORDS), SRC, TGT, NUM_STEPS)
    assert [s.token for s in long.source] == WORDS[:NUM_STEPS]            # truncated: no <eos> reaches the encoder


def test_under_the_encoder_rule_every_step_receives_c():
    figure = figure_of(net_for(MODELS["gru, 2 layers, encoder rule"]), SENTENCE, SRC, TGT, NUM_STEPS)
    assert figure.rule == "encoder" and figure.context is not None
    assert torch.equal(figure.context, figure.initial[-1].h)                # c = the top layer of the initial state
    assert all(s.context_from == FROM_C and torch.equal(s.context, figure.context) for s in figure.steps)
    assert all(figure.drift(s) == 0 for s in figure.steps)


@pytest.mark.parametrize("name", ["gru, 2 layers, book's rule", "lstm, 2 layers"])
def test_under_the_books_rule_each_step_after_the_first_receives_the_previous_decoder_state(name):
    figure = figure_of(net_for(MODELS[name], seed=1), SENTENCE, SRC, TGT, NUM_STEPS)
    assert figure.rule == "book" and len(figure.steps) > 2                 # seed 1: no early <eos>
    first, *rest = figure.steps
    assert first.context_from == FROM_C and torch.equal(first.context, figure.context)
    for before, step in zip(figure.steps, rest):
        assert step.context_from == FROM_PREVIOUS
        assert torch.equal(step.context, before.layers[-1].h)               # state[-1]: the top layer's h
    assert all(figure.drift(s) > 0 for s in rest)                           # the context drifts from c


@pytest.mark.parametrize("name", ["attention, gru, 2 layers", "attention, lstm"])
def test_an_attention_steps_context_is_its_weights_sum_of_the_encoder_outputs(name):
    figure = figure_of(net_for(MODELS[name]), SENTENCE, SRC, TGT, NUM_STEPS)
    assert figure.context is None and figure.rule is None and "attention" in figure.shapes
    outputs = torch.stack([s.layers[-1].h for s in figure.source])        # (T, H): the encoder's outputs
    for step in figure.steps:
        weights = torch.tensor(step.attention)
        assert step.context_from == FROM_ATTENTION and len(weights) == NUM_STEPS
        assert float(weights.sum()) == pytest.approx(1.0, abs=1e-5)
        assert float(weights[figure.valid_len:].sum()) == 0.0              # padding gets no weight
        assert torch.allclose(step.context, weights @ outputs, atol=1e-6)


@pytest.mark.parametrize("name", ["bridge (gru 2x8 -> 1x5)", "bridge (lstm 1x8 -> 2x6)"])
def test_a_bridges_output_is_the_decoders_initial_state_in_its_own_sizes(name):
    config = MODELS[name]
    net = net_for(config)
    figure = figure_of(net, SENTENCE, SRC, TGT, NUM_STEPS)
    assert figure.bridged
    with torch.no_grad():
        bridged = net.eval().bridge(net.encoder(torch.tensor([[s.token_id for s in figure.source]]))[1])
    h = bridged[0] if config.cell == "lstm" else bridged
    assert len(figure.initial) == config.decoder_layers and len(figure.encoder_final) == config.num_layers
    assert all(torch.equal(layer.h, h[i, 0]) for i, layer in enumerate(figure.initial))
    assert torch.equal(figure.context, figure.initial[-1].h)
    assert all(len(s.layers) == config.decoder_layers and s.layers[0].h.numel() == config.decoder_hiddens
               for s in figure.steps)
    assert figure.shapes["decoder_state"].text == f"(L′, N, H′) = ({config.decoder_layers}, 1, {config.decoder_hiddens})"
    assert figure.shapes["encoder_state"].text == f"(L, N, H) = ({config.num_layers}, 1, {config.num_hiddens})"


def test_shapes_are_named_in_the_notes_letters_with_this_models_numbers():
    figure = figure_of(net_for(MODELS["lstm, 2 layers"]), SENTENCE, SRC, TGT, NUM_STEPS)
    assert {k: s.text for k, s in figure.shapes.items()} == {
        "source": f"(N, T) = (1, {NUM_STEPS})", "encoder_state": "(L, N, H) = (2, 1, 8)",
        "encoder_outputs": f"(T, N, H) = ({NUM_STEPS}, 1, 8)", "decoder_state": "(L, N, H) = (2, 1, 8)",
        "context": "(N, H) = (1, 8)", "decoder_input": "(N, 1) = (1, 1)", "logits": f"(N, 1, V) = (1, 1, {len(TGT)})"}
    assert figure.cell == "lstm" and all(layer.c is not None for s in figure.steps for layer in s.layers)


@pytest.mark.parametrize("name", ["gru, 2 layers, encoder rule", "attention, gru, 2 layers"])
def test_a_beam_hypothesis_is_walked_token_by_token_with_its_own_probabilities(name):
    net = net_for(MODELS[name], seed=3)
    source = encode_source(SENTENCE, SRC, NUM_STEPS, book=False)
    best = beam_search(net, source, TGT, NUM_STEPS, beam_size=4).best
    figure = figure_pass(net, source, SRC, TGT, NUM_STEPS, follow=best.ids)
    assert figure.follows == "beam"
    assert [s.chosen_token for s in figure.steps] == best.tokens
    assert sum(float(s.decoded.probs[s.decoded.chosen_id].log()) for s in figure.steps) == pytest.approx(
        best.log_prob, abs=1e-4)
    assert [s.decoded.forced for s in figure.steps] == [
        s.chosen_token != s.top_k[0][0] for s in figure.steps]              # marked where beam leaves the argmax
