"""The tokenizer choice: `space` (the book's split, the default) and `char` (one token per CJK
character), from the data file through training, checkpoints, decoding and corpus BLEU."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.checkpoint import load_checkpoint, save_checkpoint
from core.config import TOKENIZERS, DataConfig, ModelConfig, TrainConfig
from core.data import CJK_RANGES, Vocab, preprocess_nmt, split_words, tokenize, tokenize_nmt
from core.decode import encode_source, greedy_decode, translate
from core.metrics import corpus_bleu, corpus_scores
from core.sources import load_split
from core.train import configs_from_args, start_run, train_parser

ROOT = Path(__file__).resolve().parent.parent

# English -> Chinese: 4 subjects x 3 verbs x 5 drinks = 60 short pairs, 18 distinct characters.
SUBJECTS = [("i", "我"), ("you", "你"), ("he", "他"), ("she", "她")]
VERBS = [("like", "喜欢"), ("drink", "喝"), ("want", "想要")]
DRINKS = [("tea", "茶"), ("water", "水"), ("milk", "牛奶"), ("coffee", "咖啡"), ("juice", "果汁")]
EN_ZH_LINES = [f"{en_s} {en_v} {en_d} .\t{zh_s}{zh_v}{zh_d}。"
               for en_s, zh_s in SUBJECTS for en_v, zh_v in VERBS for en_d, zh_d in DRINKS]


def char_tokens(text: str) -> list[str]:
    """What training and decoding see: the book's preprocessing, then the char tokenizer."""
    return tokenize(preprocess_nmt(text), "char")


def is_cjk(token: str) -> bool:
    return len(token) == 1 and any(first <= token <= last for first, last in CJK_RANGES)


def write_en_zh_tsv(folder: Path) -> Path:
    path = folder / "en-zh.tsv"
    path.write_text("\n".join(EN_ZH_LINES) + "\n", encoding="utf-8")
    return path


# -- tokenization ------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    # the book's preprocessing lowercases and puts a space before the final "." (its previous
    # character is not a space), so "." is a token of its own
    ("他是tom的朋友.", ["他", "是", "tom", "的", "朋", "友", "."]),
    # and before the "." of "2.0" too: the char tokenizer keeps Latin text as the book splits it
    ("我爱 NLP 和 pytorch 2.0 。", ["我", "爱", "nlp", "和", "pytorch", "2", ".0", "。"]),
    ("你好，世界！", ["你", "好", "，", "世", "界", "！"]),
    ("「你好」（测试）；：、？", ["「", "你", "好", "」", "（", "测", "试", "）", "；", "：", "、", "？"]),
    ("我有3个苹果和12本书。", ["我", "有", "3", "个", "苹", "果", "和", "12", "本", "书", "。"]),
    ("东京は、日本の首都です。", ["东", "京", "は", "、", "日", "本", "の", "首", "都", "で", "す", "。"]),
    ("안녕 世界", ["안", "녕", "世", "界"]),
    ("  多个   空格  ", ["多", "个", "空", "格"]),            # extra spaces make no empty tokens
    ("i\u3000love\t你", ["i", "love", "你"]),                  # ideographic space and tabs separate
    ("<unk>的", ["<unk>", "的"]),
    ("ＡＢＣ１２３", ["ａｂｃ１２３"]),                        # fullwidth letters and digits stay a word
    ("𠀀𪚥", ["𠀀", "𪚥"]),                                    # CJK Extension B, beyond the BMP
    ("", []),
    ("   ", []),
])
def test_char_tokenizer_splits_every_cjk_character_and_keeps_latin_runs_together(text, expected):
    assert char_tokens(text) == expected


def test_char_tokens_joined_by_spaces_tokenize_back_to_themselves():
    for text in ("他是tom的朋友.", "我爱 NLP 和 pytorch 2.0 。", "a,b 你好,世界!"):
        tokens = char_tokens(text)
        assert char_tokens(" ".join(tokens)) == tokens == " ".join(tokens).split(" ")


@pytest.mark.parametrize("line", ["Go.", "I'm home.", "He's calm!", "Va !", "J'ai perdu.",
                                  "Il est calme.", "Je suis chez moi.", "a  b", " Tom, come here? "])
def test_space_tokenizer_is_the_books_split_on_single_spaces(line):
    text = preprocess_nmt(line)
    assert tokenize(text) == tokenize(text, "space") == text.split(" ")
    assert split_words(text) == text.split()


def test_tokenize_nmt_with_the_space_tokenizer_equals_the_books(d2l):
    text = preprocess_nmt("Go.\tVa !\nI lost.\tJ'ai perdu.\nHe's  calm.\tIl est calme.\nbad line\n"
                          "我喜欢茶。\t我 喜欢 茶 。")
    book = d2l.tokenize_nmt(text, 600)
    assert tokenize_nmt(text, 600) == tokenize_nmt(text, 600, tokenizer="space") == book
    _, char_target = tokenize_nmt(text, 600, tokenizer="char")
    assert char_target[-1] == ["我", "喜", "欢", "茶", "。"]


def test_an_unknown_tokenizer_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"tokenizer must be one of \('space', 'char'\), got 'word'"):
        DataConfig(tokenizer="word").validate()
    with pytest.raises(ValueError, match="tokenizer must be one of"):
        tokenize("a b", "word")
    assert TOKENIZERS == ("space", "char") and DataConfig().tokenizer == "space"


# -- data files --------------------------------------------------------------------------------
def test_tsv_source_tokenizes_both_sides_with_the_configs_tokenizer(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("我喜欢茶。\tI like tea.\nHe likes tea.\t他喜欢茶。\n" * 3, encoding="utf-8")
    train, _ = load_split(DataConfig(source="tsv", path=str(path), num_test=0, tokenizer="char"))
    assert ["我", "喜", "欢", "茶", "。"] in train.source and ["i", "like", "tea", "."] in train.target
    assert ["他", "喜", "欢", "茶", "。"] in train.target
    space, _ = load_split(DataConfig(source="tsv", path=str(path), num_test=0))
    assert ["我喜欢茶。"] in space.source and ["他喜欢茶。"] in space.target


def test_tatoeba_source_tokenizes_with_the_configs_tokenizer(tmp_path):
    path = tmp_path / "cmn.txt"
    path.write_text("\n".join(EN_ZH_LINES[:10]), encoding="utf-8")
    config = DataConfig(source="tatoeba", path=str(path), num_examples=5, num_test=3, tokenizer="char")
    train, test = load_split(config)
    assert train.target[0] == ["我", "喜", "欢", "茶", "。"] and len(train) == 6
    assert all(is_cjk(t) for line in test.target for t in line) and len(test) == 3


def test_the_shipped_corpus_and_synthetic_tasks_are_the_same_with_either_tokenizer():
    for source in ("corpus", "reverse"):
        space = load_split(DataConfig(source=source, num_examples=300, num_test=50))
        char = load_split(DataConfig(source=source, num_examples=300, num_test=50, tokenizer="char"))
        assert [(p.source, p.target) for p in space] == [(p.source, p.target) for p in char]


# -- decoding ----------------------------------------------------------------------------------
def test_a_typed_sentence_is_split_with_the_models_tokenizer():
    vocab = Vocab([["我", "喜", "欢", "茶", "。"]], reserved_tokens=["<pad>", "<bos>", "<eos>"])
    char = encode_source("我喜欢茶。", vocab, 10, book=False, tokenizer="char")
    assert char.tokens == ["我", "喜", "欢", "茶", "。"] and not any(char.unknown)
    assert encode_source("我 喜 欢 茶 。", vocab, 10, tokenizer="char").tokens == char.tokens
    assert encode_source("我喜欢茶。", vocab, 10, book=False).tokens == ["我喜欢茶。"]   # the default
    assert encode_source("Go  home.", vocab, 10).tokens == ["go", "", "home."]           # the book's


# -- a whole run -------------------------------------------------------------------------------
def train_en_zh(path: Path, num_epochs: int = 60):
    data = DataConfig(source="tsv", path=str(path), tokenizer="char", num_test=0, batch_size=16,
                      num_steps=10, min_freq=1)
    # context="encoder": greedy decoding sees the context training saw, so memorising shows
    model = ModelConfig(embed_size=16, num_hiddens=32, num_layers=1, dropout=0.0, context="encoder")
    run = start_run(data, model, TrainConfig(num_epochs=num_epochs, lr=0.01))
    run.train()
    return run


def test_a_char_run_on_an_english_chinese_tsv_learns_characters_and_keeps_its_tokenizer(tmp_path):
    run = train_en_zh(write_en_zh_tsv(tmp_path))
    targets = [t for t in run.data.tgt_vocab.idx_to_token if not t.startswith("<")]
    assert len(targets) == 18 and all(is_cjk(t) for t in targets)          # characters, not sentences
    assert "我喜欢茶。" not in run.data.tgt_vocab and "tea" in run.data.src_vocab

    ckpt = load_checkpoint(save_checkpoint(run.checkpoint(), tmp_path / "en-zh.pt"))
    assert ckpt.data_config.tokenizer == "char" and ckpt.data_config == run.data_config

    num_steps = ckpt.data_config.num_steps
    result = greedy_decode(ckpt.model, "I like tea.", ckpt.src_vocab, ckpt.tgt_vocab, num_steps,
                           book=False, tokenizer="char")
    assert result.source.tokens == ["i", "like", "tea", "."]
    assert all(is_cjk(t) for t in result.tokens)
    assert result.translation == "我 喜 欢 茶 。" and result.stop_reason == "eos"
    sentences = run.data.train.sentences()
    preds = translate(ckpt.model, [s for s, _ in sentences], ckpt.src_vocab, ckpt.tgt_vocab, num_steps,
                      tokenizer="char")
    assert preds == [r for _, r in sentences]                              # all 60 memorised


def test_a_resumed_run_keeps_the_checkpoints_tokenizer(tmp_path):
    run = train_en_zh(write_en_zh_tsv(tmp_path), num_epochs=1)
    ckpt = run.checkpoint()
    resumed = start_run(DataConfig(source="tsv", path=ckpt.data_config.path, num_test=0, batch_size=16,
                                   num_steps=10, min_freq=1),
                        ckpt.model_config, TrainConfig(num_epochs=2, lr=0.01), resume=ckpt)
    assert resumed.data_config.tokenizer == "char"
    assert resumed.data.train.target == run.data.train.target


# -- checkpoints -------------------------------------------------------------------------------
def test_a_data_config_saved_before_the_tokenizer_existed_loads_as_space():
    old = {"source": "tatoeba", "path": "fra.txt", "num_examples": 600, "num_test": 200, "num_steps": 10,
           "batch_size": 64, "min_freq": 2, "seed": 0}
    assert DataConfig.from_dict(old).tokenizer == "space"


def test_a_space_config_saves_the_same_dict_as_before_the_tokenizer_existed():
    assert "tokenizer" not in DataConfig().to_dict()                  # checkpoints and result hashes
    assert DataConfig(tokenizer="char").to_dict()["tokenizer"] == "char"
    for config in (DataConfig(), DataConfig(tokenizer="char")):
        assert DataConfig.from_dict(config.to_dict()) == config


def test_an_old_checkpoint_file_without_a_tokenizer_loads_as_space(tmp_path):
    run = start_run(DataConfig(source="reverse", num_examples=32, num_test=4, batch_size=8, num_steps=6),
                    ModelConfig(embed_size=8, num_hiddens=8, num_layers=1), TrainConfig(num_epochs=1))
    path = save_checkpoint(run.checkpoint(), tmp_path / "old.pt")
    payload = torch.load(path, weights_only=True)
    payload["data_config"].pop("tokenizer", None)
    torch.save(payload, path)
    assert load_checkpoint(path).data_config.tokenizer == "space"


# -- corpus scores -----------------------------------------------------------------------------
def test_corpus_bleu_of_chinese_targets_uses_sacrebleus_zh_tokenizer():
    preds, refs = ["我 喜 欢 茶 。", "他 喝 水 。"], ["我 喜 欢 茶 。", "他 喝 牛 奶 。"]
    scores = corpus_scores(preds, refs, tokenizer="char")
    assert "tok:zh" in scores.bleu.signature and 0 < scores.bleu.score < 100
    # sacrebleu's zh tokenizer splits CJK characters itself: un-spaced text scores the same
    assert corpus_bleu(["我喜欢茶。", "他喝水。"], refs, "char").score == pytest.approx(scores.bleu.score)
    assert corpus_bleu([], [], "char").signature == scores.bleu.signature


def test_corpus_bleu_by_default_stays_whitespace_tokenized():
    sentence = ["je suis chez moi ."]
    default = corpus_scores(sentence, sentence)
    assert "tok:none" in default.bleu.signature and default.bleu.score == pytest.approx(100)
    assert corpus_scores(sentence, sentence, tokenizer="space") == default
    # whitespace only: an un-spaced Chinese sentence is one token, so nothing matches
    assert corpus_bleu(["我喜欢茶。"], ["我 喜 欢 茶 。"]).score == 0.0
    with pytest.raises(ValueError, match="tokenizer must be one of"):
        corpus_bleu(["a"], ["a"], "word")


# -- command lines -----------------------------------------------------------------------------
def test_the_train_cli_parses_tokenizer_into_the_data_config():
    data, _, _ = configs_from_args(train_parser().parse_args(["--data", "reverse", "--tokenizer", "char"]))
    assert data.tokenizer == "char"
    default, _, _ = configs_from_args(train_parser().parse_args(["--data", "reverse"]))
    assert default.tokenizer == "space"
    with pytest.raises(SystemExit):
        train_parser().parse_args(["--tokenizer", "word"])


def run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.trains
@pytest.mark.process
def test_train_with_tokenizer_char_then_evaluate_reports_zh_bleu(tmp_path):
    out = tmp_path / "cli-zh.pt"
    train = run_module("core.train", "--data", str(write_en_zh_tsv(tmp_path)), "--tokenizer", "char",
                       "--num-test", "10", "--epochs", "2", "--embed-size", "8", "--num-hiddens", "8",
                       "--min-freq", "1", "--out", str(out), "--json")
    assert train.returncode == 0, train.stderr
    assert load_checkpoint(out).data_config.tokenizer == "char"
    evaluation = run_module("core.evaluate", str(out), "--json")
    assert evaluation.returncode == 0, evaluation.stderr
    report = json.loads(evaluation.stdout.strip().splitlines()[-1])
    assert report["tokenizer"] == "char" and "tok:zh" in report["bleu_signature"]
    assert {"examples", "corpus_bleu", "chrf", "chrf_signature", "num_test", "mean_sentence_bleu"} <= set(report)
    assert report["num_test"] == 10
