"""The operator's pass: what a browser keeps so that a reload of the operator page stays signed in.

The token the operator types lives in one Streamlit session, and a reload opens a new session.
What survives a reload is the browser's cookies, but the token itself must never go there (a
cookie travels with every request and the page's scripts can read it), nor into the URL. So the
browser keeps a pass instead: when it was issued, a random nonce, and an HMAC of both keyed with
the token. The server, which knows the token, checks it. A pass

- cannot be made without the token, and tells nothing about it (HMAC-SHA256);
- expires PASS_SECONDS after it was issued, whatever the browser does with its cookie;
- stops working for every browser at once when the operator changes SEQ2SEQ_OPERATOR_TOKEN.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

PASS_SECONDS = 12 * 3600      # a school day: a pass left in a shared browser does not outlive it
_PURPOSE = "seq2seq-playground operator pass"   # the MAC signs this purpose too: a pass is good for nothing else
_LONGEST = 200                # characters: anything longer is not a pass (and is not hashed)


def issue_pass(token: str, now: float) -> str:
    """A new pass for a browser whose operator gave `token` at `now` (seconds since the epoch)."""
    issued, nonce = str(int(now)), secrets.token_urlsafe(12)
    return f"{issued}.{nonce}.{_mac(token, issued, nonce)}"


def pass_valid(value: object, token: str, now: float, lifetime: float = PASS_SECONDS) -> bool:
    """Is `value` (what the browser sent, anything) a pass made with `token`, issued at most
    `lifetime` seconds before `now`? The MAC is compared in constant time."""
    if not isinstance(value, str) or len(value) > _LONGEST or value.count(".") != 2:
        return False
    issued, nonce, mac = value.split(".")
    if not issued.isdigit() or not 0 <= now - int(issued) <= lifetime:
        return False
    return hmac.compare_digest(mac.encode(), _mac(token, issued, nonce).encode())


def _mac(token: str, issued: str, nonce: str) -> str:
    message = f"{_PURPOSE}|{issued}|{nonce}".encode()
    return hmac.new(token.encode(), message, hashlib.sha256).hexdigest()
