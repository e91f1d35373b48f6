"""Weights trained with the book's own code (d2l 0.17.6) load into the playground, translate and
score as the book does, and go back into the book's classes; bad files say what is wrong."""
from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from core.book_weights import export_state_dict, import_state_dict, infer_sizes, read_vocab_file
from core.checkpoint import CheckpointError, checkpoint_payload, load_checkpoint
from core.decode import predict_seq2seq
from core.loss import MaskedSoftmaxCELoss

ROOT = Path(__file__).resolve().parent.parent
NUM_EXAMPLES, NUM_STEPS, EPOCHS = 600, 10, 8
RESERVED = ["<pad>", "<bos>", "<eos>"]


def book_data(d2l, text: str, num_examples: int = NUM_EXAMPLES):
    """`d2l.load_data_nmt`'s body on this text (it would otherwise download the file)."""
    source, target = d2l.tokenize_nmt(d2l.preprocess_nmt(text), num_examples)
    src_vocab = d2l.Vocab(source, min_freq=2, reserved_tokens=RESERVED)
    tgt_vocab = d2l.Vocab(target, min_freq=2, reserved_tokens=RESERVED)
    src_array, src_valid_len = d2l.build_array_nmt(source, src_vocab, NUM_STEPS)
    tgt_array, tgt_valid_len = d2l.build_array_nmt(target, tgt_vocab, NUM_STEPS)
    data_iter = d2l.load_array((src_array, src_valid_len, tgt_array, tgt_valid_len), 64)
    return data_iter, src_vocab, tgt_vocab, source


def book_net(d2l, book_decoder, cell: str, src: int, tgt: int):
    if cell == "lstm":
        from bench.d2l_reference import book_lstm_classes
        encoder, decoder = book_lstm_classes(d2l)
        return d2l.EncoderDecoder(encoder(src, 16, 32, 2, 0.1), decoder(tgt, 16, 32, 2, 0.1))
    return d2l.EncoderDecoder(d2l.Seq2SeqEncoder(src, 16, 32, 2, 0.1), book_decoder(tgt, 16, 32, 2, 0.1))


@pytest.fixture(scope="module", params=["gru", "lstm"])
def trained(request, d2l, book_decoder, fra_eng_text):
    """The book's model trained a few epochs with the book's own train_seq2seq, and its state_dict."""
    torch.manual_seed(0)
    data_iter, src_vocab, tgt_vocab, source = book_data(d2l, fra_eng_text)
    net = book_net(d2l, book_decoder, request.param, len(src_vocab), len(tgt_vocab))
    d2l.train_seq2seq(net, data_iter, 0.005, EPOCHS, tgt_vocab, "cpu")
    net.eval()
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    return {"cell": request.param, "net": net, "raw": buffer.getvalue(), "src_vocab": src_vocab,
            "tgt_vocab": tgt_vocab, "source": source, "data_iter": data_iter}


def test_the_sizes_are_read_off_the_tensors(trained):
    sizes = infer_sizes(torch.load(io.BytesIO(trained["raw"]), weights_only=True), "x")
    assert (sizes.cell, sizes.embed_size, sizes.num_hiddens, sizes.num_layers) == (trained["cell"], 16, 32, 2)
    assert (sizes.src_vocab, sizes.tgt_vocab) == (len(trained["src_vocab"]), len(trained["tgt_vocab"]))


def test_imported_weights_translate_like_the_books_predict_seq2seq(d2l, trained, fra_eng_text):
    ckpt = import_state_dict(trained["raw"], "seq2seq.params", data_text=fra_eng_text)
    assert ckpt.src_vocab.idx_to_token == trained["src_vocab"].idx_to_token
    assert ckpt.tgt_vocab.idx_to_token == trained["tgt_vocab"].idx_to_token
    assert "imported from d2l 0.17.6 state_dict" in ckpt.origin and "600 examples" in ckpt.origin
    sentences = [" ".join(tokens) for tokens in trained["source"][::10][:60]]
    assert len(sentences) >= 50
    for sentence in sentences:
        book = d2l.predict_seq2seq(trained["net"], sentence, trained["src_vocab"], trained["tgt_vocab"],
                                   NUM_STEPS, "cpu")[0]
        assert predict_seq2seq(ckpt.model, sentence, ckpt.src_vocab, ckpt.tgt_vocab, NUM_STEPS)[0] == book, sentence


def test_imported_weights_give_the_books_masked_loss_on_a_batch(d2l, trained, fra_eng_text):
    ckpt = import_state_dict(trained["raw"], "seq2seq.params", data_text=fra_eng_text)
    X, X_valid_len, Y, Y_valid_len = next(iter(trained["data_iter"]))
    bos = torch.tensor([trained["tgt_vocab"]["<bos>"]] * Y.shape[0]).reshape(-1, 1)
    dec_input = torch.cat([bos, Y[:, :-1]], 1)
    with torch.no_grad():
        book = d2l.MaskedSoftmaxCELoss()(trained["net"].eval()(X, dec_input, X_valid_len)[0], Y, Y_valid_len)
        ours = MaskedSoftmaxCELoss()(ckpt.model.eval()(X, dec_input, X_valid_len)[0], Y, Y_valid_len)
    assert torch.allclose(book, ours, atol=1e-6)


def test_exported_weights_load_into_the_books_classes_and_give_the_same_outputs(d2l, book_decoder, trained, fra_eng_text):
    ckpt = import_state_dict(trained["raw"], "seq2seq.params", data_text=fra_eng_text)
    params, src_text, tgt_text = export_state_dict(ckpt)
    again = book_net(d2l, book_decoder, trained["cell"], len(trained["src_vocab"]), len(trained["tgt_vocab"]))
    again.load_state_dict(torch.load(io.BytesIO(params)))
    again.eval()
    X, X_valid_len, Y, _ = next(iter(trained["data_iter"]))
    with torch.no_grad():
        assert torch.equal(again(X, Y, X_valid_len)[0], trained["net"](X, Y, X_valid_len)[0])
    assert src_text.split("\n") == trained["src_vocab"].idx_to_token
    assert read_vocab_file(tgt_text.encode(), "tgt.txt").idx_to_token == trained["tgt_vocab"].idx_to_token


def test_vocabulary_files_from_the_notebook_replace_rebuilding_them(trained):
    src = json.dumps(trained["src_vocab"].idx_to_token).encode()           # JSON list
    tgt = "\n".join(trained["tgt_vocab"].idx_to_token).encode()             # one token a line
    ckpt = import_state_dict(trained["raw"], "x.params", vocabs=(read_vocab_file(src, "src.json"),
                                                                 read_vocab_file(tgt, "tgt.txt")))
    assert len(ckpt.tgt_vocab) == len(trained["tgt_vocab"]) and "vocabulary files" in ckpt.origin


def test_weights_trained_on_other_num_examples_are_refused_saying_so(trained, fra_eng_text):
    with pytest.raises(CheckpointError, match=r"source vocabulary built from .* num_examples=300 has \d+ tokens "
                                              r"but the weights' source embedding has \d+ rows.*num_examples"):
        import_state_dict(trained["raw"], "x.params", data_text=fra_eng_text, num_examples=300)


def test_a_renamed_key_and_a_wrong_cell_are_named(trained, fra_eng_text):
    state = torch.load(io.BytesIO(trained["raw"]), weights_only=True)
    state["decoder.output.weight"] = state.pop("decoder.dense.weight")
    buffer = io.BytesIO()
    torch.save(state, buffer)
    with pytest.raises(CheckpointError, match=r"missing \['decoder.dense.weight'\]; unexpected \['decoder.output.weight'\]"):
        import_state_dict(buffer.getvalue(), "renamed.params", data_text=fra_eng_text)
    other = "gru" if trained["cell"] == "lstm" else "lstm"
    with pytest.raises(CheckpointError, match=f"not an {other.upper()}'s"):
        import_state_dict(trained["raw"], "x.params", data_text=fra_eng_text, cell=other)


def test_a_playground_checkpoint_a_pickled_vocab_and_a_malicious_pickle_are_refused(trained, fra_eng_text, tmp_path, monkeypatch):
    ckpt = import_state_dict(trained["raw"], "x.params", data_text=fra_eng_text)
    buffer = io.BytesIO()
    torch.save(checkpoint_payload(ckpt), buffer)
    with pytest.raises(CheckpointError, match="playground checkpoint already"):
        import_state_dict(buffer.getvalue(), "mine.pt", data_text=fra_eng_text)
    vocab = io.BytesIO()
    torch.save(trained["src_vocab"], vocab)                                  # a pickled d2l Vocab object
    with pytest.raises(CheckpointError, match="never unpickled"):
        import_state_dict(vocab.getvalue(), "vocab.pt", data_text=fra_eng_text)
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with pytest.raises(CheckpointError):
        import_state_dict(pickle.dumps(Exploit()), "evil.params", data_text=fra_eng_text)
    with pytest.raises(CheckpointError, match="never unpickled"):
        read_vocab_file(pickle.dumps(["<unk>", "a"]), "vocab.pkl")
    assert not marker.exists()


@pytest.mark.trains
@pytest.mark.process
def test_the_command_line_imports_and_exports(trained, fra_eng_path, tmp_path):
    params = tmp_path / "seq2seq.params"
    params.write_bytes(trained["raw"])
    env = {**os.environ, "SEQ2SEQ_CHECKPOINT_DIR": str(tmp_path), "FRA_ENG_PATH": str(fra_eng_path)}
    done = subprocess.run([sys.executable, "-m", "core.import_d2l", str(params), "--api", "0.17.6", "--out", "mine",
                           "--num-examples", "600", "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["model"]["cell"] == trained["cell"] and Path(result["checkpoint"]).is_file()
    assert load_checkpoint(result["checkpoint"]).origin.startswith("imported from d2l 0.17.6")
    out = subprocess.run([sys.executable, "-m", "core.import_d2l", "--export", result["checkpoint"], "--out",
                          str(tmp_path / "back"), "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert torch.load(tmp_path / "back.params").keys() == torch.load(params).keys()
    bad = subprocess.run([sys.executable, "-m", "core.import_d2l", str(params), "--out", "x", "--api", "2.0"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "not supported" in bad.stderr and "Traceback" not in bad.stderr


# -- d2l 1.0's class API (MTFraEng, Seq2Seq, Trainer) -------------------------------------------
@pytest.fixture(scope="module")
def d2l10():
    """d2l/torch.py of d2l==1.0.3 beside 0.17.6 (scripts/test.sh installs it in bench/_d2l_env)."""
    from bench.d2l_reference import import_d2l_10
    return import_d2l_10()


@pytest.fixture(scope="module", params=["gru", "lstm"])
def trained10(request, d2l10, fra_eng_text):
    """The book's 1.0 model trained a few epochs with its own Trainer on its own MTFraEng."""
    from bench.d2l_reference import book_10_classes
    decoder, lstm_encoder, lstm_decoder = book_10_classes(d2l10)

    class MTFraEng(d2l10.MTFraEng):
        def _download(self):            # the book's file, read in place instead of downloaded
            return fra_eng_text

    data = MTFraEng(batch_size=128)
    torch.manual_seed(0)
    src, tgt = len(data.src_vocab), len(data.tgt_vocab)
    if request.param == "lstm":
        encoder, dec = lstm_encoder(src, 32, 64, 2, 0.2), lstm_decoder(tgt, 32, 64, 2, 0.2)
    else:
        encoder, dec = d2l10.Seq2SeqEncoder(src, 32, 64, 2, 0.2), decoder(tgt, 32, 64, 2, 0.2)
    model = d2l10.Seq2Seq(encoder, dec, tgt_pad=data.tgt_vocab["<pad>"], lr=0.005)
    d2l10.Trainer(max_epochs=6, gradient_clip_val=1, num_gpus=0).fit(model, data)
    model.eval()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return {"cell": request.param, "model": model, "data": data, "raw": buffer.getvalue()}


def book10_translations(trained10, pairs):
    """predict_step's greedy ids, cut at <eos>, as sentences."""
    data, model = trained10["data"], trained10["model"]
    batch = data.build([s for s, _ in pairs], [t for _, t in pairs])
    ids, _ = model.predict_step(batch, "cpu", data.num_steps)
    out = []
    for row in ids.tolist():
        tokens = data.tgt_vocab.to_tokens(row)
        out.append(" ".join(tokens[:tokens.index("<eos>")] if "<eos>" in tokens else tokens))
    return out


def test_d2l_10_weights_import_with_its_vocabularies_and_translate_like_its_predict_step(trained10, fra_eng_text):
    from core.decode import translate
    ckpt = import_state_dict(trained10["raw"], "seq2seq.params", data_text=fra_eng_text, api="1.0")
    data = trained10["data"]
    assert ckpt.src_vocab.idx_to_token == data.src_vocab.idx_to_token
    assert ckpt.tgt_vocab.idx_to_token == data.tgt_vocab.idx_to_token
    assert ckpt.model_config.context == "encoder" and ckpt.model_config.cell == trained10["cell"]
    assert len(ckpt.test_pairs) == len(data.arrays[0]) - 512 and "imported from d2l 1.0 state_dict" in ckpt.origin
    pairs = ckpt.test_pairs[:60]
    ours = translate(ckpt.model, [s for s, _ in pairs], ckpt.src_vocab, ckpt.tgt_vocab, data.num_steps)
    assert ours == book10_translations(trained10, pairs)


def test_d2l_10_weights_give_its_masked_loss_and_go_back_into_its_classes(d2l10, trained10, fra_eng_text):
    from bench.d2l_reference import book_10_classes
    ckpt = import_state_dict(trained10["raw"], "seq2seq.params", data_text=fra_eng_text, api="1.0")
    src, dec_in, src_valid, labels = (t[:32] for t in trained10["data"].arrays)
    with torch.no_grad():
        book = trained10["model"](src, dec_in, src_valid)
        ours = ckpt.model.eval()(src, dec_in, src_valid)[0]
        book_loss = float(trained10["model"].loss(book, labels))
        assert float(trained10["model"].loss(ours, labels)) == pytest.approx(book_loss, abs=1e-6)
    params, _, _ = export_state_dict(ckpt, api="1.0")
    decoder, lstm_encoder, lstm_decoder = book_10_classes(d2l10)
    s, t = len(ckpt.src_vocab), len(ckpt.tgt_vocab)
    enc, dec = ((lstm_encoder(s, 32, 64, 2, 0.2), lstm_decoder(t, 32, 64, 2, 0.2)) if trained10["cell"] == "lstm"
                else (d2l10.Seq2SeqEncoder(s, 32, 64, 2, 0.2), decoder(t, 32, 64, 2, 0.2)))
    again = d2l10.Seq2Seq(enc, dec, tgt_pad=0, lr=0.005)
    with torch.no_grad():
        again(src, dec_in, src_valid)                    # LazyLinear takes its shape on a first call
    again.load_state_dict(torch.load(io.BytesIO(params)))
    with torch.no_grad():
        assert torch.equal(again.eval()(src, dec_in, src_valid), book)


@pytest.mark.trains
def test_the_wrong_api_for_the_keys_is_named(trained10, trained, fra_eng_text):
    with pytest.raises(CheckpointError, match="are d2l 1.0's class API: import it as API 1.0"):
        import_state_dict(trained10["raw"], "x.params", data_text=fra_eng_text, api="0.17.6")
    with pytest.raises(CheckpointError, match="are d2l 0.17.6's: import it as API 0.17.6"):
        import_state_dict(trained["raw"], "x.params", data_text=fra_eng_text, api="1.0")
    with pytest.raises(CheckpointError, match=r"num_train=256.*has \d+ tokens"):
        import_state_dict(trained10["raw"], "x.params", data_text=fra_eng_text, api="1.0", num_train=256)


def test_the_command_line_offline_names_the_books_file_and_data_path_instead_of_a_urlopen_error(
        tmp_path, monkeypatch, capsys):
    """Without --data and without a network, the download's failure says what to do, not `<urlopen error …>`."""
    import socket
    import urllib.error
    import urllib.request

    from core import import_d2l
    from core.config import ModelConfig
    from core.model import build_model

    def offline(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.delenv("FRA_ENG_PATH", raising=False)
    monkeypatch.setenv("SEQ2SEQ_CACHE", str(tmp_path / "cache"))       # nothing downloaded before
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    params = tmp_path / "seq2seq.params"
    torch.save(build_model(ModelConfig(embed_size=8, num_hiddens=8, num_layers=1), 12, 12).state_dict(), params)
    assert import_d2l.main([str(params), "--out", "offline"]) == 2
    said = capsys.readouterr().err
    assert "fra-eng.zip" in said and "--data PATH" in said and "no network" in said, said
    assert "urlopen error" not in said and "Name or service not known" in said
