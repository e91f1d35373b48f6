"""Property: any text goes through preprocessing -> decoding -> BLEU without an exception."""
import math

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import ModelConfig
from core.data import Vocab, preprocess_nmt
from core.decode import greedy_decode, translate
from core.metrics import bleu, bleu_breakdown, corpus_bleu
from core.model import build_model

torch.manual_seed(0)
SRC = Vocab([["go", ".", "i", "lost", "!", "?"]], reserved_tokens=["<pad>", "<bos>", "<eos>"])
TGT = Vocab([["va", "!", "j'ai", "perdu", "."]], reserved_tokens=["<pad>", "<bos>", "<eos>"])
NET = build_model(ModelConfig(embed_size=4, num_hiddens=8, num_layers=1), len(SRC), len(TGT)).eval()

any_text = st.one_of(st.text(max_size=300), st.sampled_from([
    "", "   ", "\t\n", "?!.,", "日本語の文", "🙂🙂 go .", "\x00\x07\x1b[31m", "<script>alert(1)</script>",
    '<img src=x onerror="document.title=\'owned\'">', "go " * 1000]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sentence=any_text, reference=any_text, k=st.integers(1, 4))
def test_any_text_decodes_and_scores(sentence, reference, k):
    result = greedy_decode(NET, sentence, SRC, TGT, num_steps=10, book=False)
    assert result.stop_reason in ("eos", "num_steps") and 1 <= len(result.steps) <= 10
    assert result.source.valid_len <= 10 and len(result.source.padded) == 10
    score = bleu(result.translation, reference, k)
    assert 0.0 <= score <= 1.0 and math.isfinite(score)
    assert bleu_breakdown(result.translation, reference, k).score == score
    assert 0.0 <= corpus_bleu([result.translation], [preprocess_nmt(reference)]).score <= 100.0
    assert translate(NET, [sentence], SRC, TGT, 10, book=False) == [result.translation]
