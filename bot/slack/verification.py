"""Is this request from Slack? Checked on the raw body, before anything is parsed.

Slack signs `v0:{timestamp}:{body}` with the app's signing secret (HMAC-SHA256). The check
is slack_sdk's `SignatureVerifier` (constant-time compare, timestamps more than 300 s away
refused); what it leaves to the caller is done here: a timestamp that is not a number and a
body that is not UTF-8 are refused instead of raising. The clock is the bot's own, so tests
move a frozen clock rather than relaxing the window.
"""

from slack_sdk.signature import Clock as SlackClock
from slack_sdk.signature import SignatureVerifier

from bot.http import Headers
from state import Clock

TIMESTAMP_HEADER = "x-slack-request-timestamp"
SIGNATURE_HEADER = "x-slack-signature"


class _BotClock(SlackClock):
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock.now()


class RequestVerifier:
    def __init__(self, signing_secret: str, clock: Clock) -> None:
        self._verifier = SignatureVerifier(signing_secret, clock=_BotClock(clock))

    def is_from_slack(self, body: bytes, headers: Headers) -> bool:
        """True only for a correctly signed, fresh request; never raises on bad input."""
        timestamp = headers.get(TIMESTAMP_HEADER)
        signature = headers.get(SIGNATURE_HEADER)
        if not timestamp or not signature or not timestamp.isascii() or not timestamp.isdigit():
            return False
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return self._verifier.is_valid(body=body, timestamp=timestamp, signature=signature)
