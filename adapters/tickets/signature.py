"""The signature a helpdesk system puts on a hand-off, and the bot on its webhook calls:
HMAC-SHA256 with the shared secret over `v1:<timestamp>:<raw body>`, sent as
`X-SSPR-Signature: v1=<hex>` beside `X-SSPR-Timestamp` (Unix seconds). The timestamp is
inside what is signed, so a captured request is good for five minutes at most; the ticket
being handled once covers the rest.
"""

import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_HEADER = "X-SSPR-Signature"
TIMESTAMP_HEADER = "X-SSPR-Timestamp"
VERSION = "v1"
WINDOW = 300
"""Seconds a signed request stays good, either side of the bot's clock (a sender's clock
may run ahead of it)."""


def signature_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers that make `body`, sent at `timestamp`, a signed hand-off."""
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: f"{VERSION}={_digest(secret, str(timestamp), body)}",
    }


def is_signed(secret: str, headers: Mapping[str, str], body: bytes, *, now: float) -> bool:
    """Whether `body` carries a good signature made within the window around `now`.
    `headers` looks names up in any case, as `bot.http.Headers` does."""
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    scheme, _, sent = headers.get(SIGNATURE_HEADER, "").partition("=")
    if not (timestamp.isascii() and timestamp.isdigit()) or scheme != VERSION:
        return False
    if not sent.isascii():
        return False
    if abs(now - int(timestamp)) > WINDOW:
        return False
    expected = _digest(secret, timestamp, body)
    return hmac.compare_digest(expected, sent.strip().lower())


def _digest(secret: str, timestamp: str, body: bytes) -> str:
    message = f"{VERSION}:{timestamp}:".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
