"""The operator's pass (core/service/operator_pass.py): what a browser keeps instead of the token."""
from __future__ import annotations

from core.service.operator_pass import PASS_SECONDS, issue_pass, pass_valid

TOKEN = "correct horse battery staple"
NOW = 1_800_000_000.0


def test_a_pass_is_good_with_its_token_for_its_lifetime_and_no_longer():
    kept = issue_pass(TOKEN, NOW)
    assert pass_valid(kept, TOKEN, NOW) and pass_valid(kept, TOKEN, NOW + PASS_SECONDS)
    assert not pass_valid(kept, TOKEN, NOW + PASS_SECONDS + 1)
    assert not pass_valid(kept, TOKEN, NOW - 60)                  # issued "in the future": not ours


def test_a_new_operator_token_ends_every_pass_made_with_the_old_one():
    kept = issue_pass(TOKEN, NOW)
    assert not pass_valid(kept, TOKEN + "!", NOW) and not pass_valid(kept, "", NOW)


def test_a_pass_tells_nothing_of_the_token_and_cannot_be_forged_or_stretched():
    kept = issue_pass(TOKEN, NOW)
    issued, nonce, mac = kept.split(".")
    assert TOKEN not in kept and "horse" not in kept and issue_pass(TOKEN, NOW) != kept     # a fresh nonce each time
    later = str(int(NOW) + PASS_SECONDS)
    assert not pass_valid(f"{later}.{nonce}.{mac}", TOKEN, NOW + PASS_SECONDS)              # its time is signed
    assert not pass_valid(f"{issued}.{nonce}x.{mac}", TOKEN, NOW)
    assert not pass_valid(f"{issued}.{nonce}.{'0' * len(mac)}", TOKEN, NOW)


def test_anything_a_browser_may_send_that_is_not_a_pass_is_refused():
    for sent in (None, "", TOKEN, "1.2", "a.b.c", "-1.x.y", f"{int(NOW)}.x.y.z", "9" * 10_000, 42, b"1.2.3"):
        assert not pass_valid(sent, TOKEN, NOW)
