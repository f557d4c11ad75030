"""Which conversation a web chat cookie speaks for, and one message at a time in it.

Only ids this server issued count. Each issued id has a record `webchat-id:<digest>` in the
shared store, under a digest of the cookie (so the store never holds a cookie that would
work), naming its conversation. A cookie without a record, however well-formed, gets a new
id and a new conversation. The conversation's own name is the server's choice and is never
derived from the cookie, so when the cookie changes the conversation's record (and a
password link bound to it) stays where it is.

The id is renewed at the first passed check. The answer that carries a reset's first passed
verification also carries a new id, and the old id's record is gone before that answer
leaves: an id planted in a victim's browser, or read from it, before they proved who they
are speaks for nothing afterwards. An id that meets a verified reset it was not renewed for
(its renewal never completed) counts as never issued.

One message at a time. A message claims its conversation with a conditional write of the
id's record that marks it busy; another message meanwhile, on any instance, is refused (the
page never sends two at once). So what is decided before a turn (whether this id may speak
for a verified reset, whether the CAPTCHA pass covers what the message may start) still
holds while the turn runs.

The CAPTCHA pass. A solved CAPTCHA is kept with the id as a pass for one reset: the one under
way when it was solved, or else the next one a message starts. Once that reset has ended,
the next one (the next typed name) needs a new answer.

What is read of the reset (its nonce, whether it is under way, whether a check passed, what
the page should offer next) is the same for every typed name until a check passed, so none
of this tells accounts apart.
"""

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal, get_args

from adapters.delivery import Medium
from bot.conversations import Conversation, new_webchat_conversation, read_conversation
from dialogs.machine import ENDS
from dialogs.methods.authenticator import AuthenticatorMethod
from dialogs.session import ResetSession
from state import Clock, EtagMismatch, Store

log = logging.getLogger(__name__)

BUSY_SECONDS = 60.0  # longer than any turn takes; a claim left by a crash ends by then
IDLE_SECONDS = 900.0  # how long an id lasts after its last message when no reset is under way
AFTER_RESET_SECONDS = 60.0  # kept a little past the end of the reset under way
_COOKIE_FORMAT = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
_SENT_CODES = frozenset(get_args(Medium))  # challenges whose code was sent, so can be resent

Awaiting = Literal["code", "app_code", "page", ""]
"""What the reset waits for: a code that was sent (`resend` works), a code from the
authenticator app, the password page (the chat learns the result by asking), or a text."""


class ConversationBusy(Exception):
    """Another message of the conversation is still being answered."""


@dataclass(frozen=True)
class ResetSeen:
    """What the web chat reads of a conversation's reset, through the dialog's own model."""

    nonce: str
    under_way: bool
    passed: bool
    expires_at: float
    awaiting: Awaiting = ""

    @classmethod
    def of(cls, record: Conversation | None) -> "ResetSeen | None":
        """The reset in a conversation record, None when there is none."""
        session = session_in(record)
        if session is None:
            return None
        under_way = session.state != "idle" and session.state not in ENDS
        return cls(
            session.nonce, under_way, bool(session.passed), session.expires_at, _awaiting(session)
        )


def session_in(record: Conversation | None) -> ResetSession | None:
    """The reset kept in a conversation record, None when there is none."""
    stored = record.session if record is not None else None
    return ResetSession.from_dict(stored) if stored is not None else None


def _awaiting(session: ResetSession) -> Awaiting:
    if session.state == "awaiting_password":
        return "page"
    challenge = session.challenge
    if session.state != "challenged" or challenge is None:
        return ""
    if challenge.method in _SENT_CODES:
        return "code"
    return "app_code" if challenge.method == AuthenticatorMethod.name else ""


@dataclass(frozen=True)
class CaptchaPass:
    until: float
    reset: str = ""  # the nonce of the reset it covers; empty while it waits for one


@dataclass
class Claim:
    """One message's hold on its conversation, and what it learns on the way."""

    conversation: str
    cookie: str
    etag: str | None  # of the claimed record; None for an id issued for this message
    reset: ResetSeen | None = None  # as the message found it
    renewed_for: str = ""  # the reset at whose first passed check this id was issued
    captcha: CaptchaPass | None = None
    new_cookie: str | None = None  # the id to set in the answer

    def captcha_covers(self, now: float) -> bool:
        """Whether the CAPTCHA pass kept with the id covers this message."""
        held = self.captcha
        if held is None or held.until <= now:
            return False
        if not held.reset:
            return True
        reset = self.reset
        return reset is not None and reset.under_way and held.reset == reset.nonce

    def captcha_solved(self, until: float) -> None:
        self.captcha = CaptchaPass(until)

    def learn(self, reset: ResetSeen | None) -> bool:
        """Take in the reset as the turn left it; True when the id must be renewed."""
        held = self.captcha
        if held is not None and not held.reset and reset is not None and reset.under_way:
            self.captcha = CaptchaPass(held.until, reset.nonce)
        self.reset = reset
        if reset is not None and reset.passed and reset.nonce != self.renewed_for:
            self.renewed_for = reset.nonce
            return True
        return False

    @property
    def speaks_for_unrenewed_check(self) -> bool:
        """Whether the reset has a passed check this id was not renewed at: an id from
        before that check, which must not speak for it."""
        return _unrenewed(self.reset, self.renewed_for)


class ConversationIds:
    """The owner of the `webchat-id:` records."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def claim(self, cookie: str | None) -> Claim:
        """The conversation `cookie` speaks for, held for one message; a new id and
        conversation when the cookie was not issued here. ConversationBusy while another
        message holds it."""
        if cookie is None or not _COOKIE_FORMAT.match(cookie):
            return self._issue()
        key = _key(cookie)
        record = await self._store.get(key)
        if record is None:
            return self._issue()
        kept = record.value
        now = self._clock.now()
        if kept["busy_until"] > now:
            raise ConversationBusy
        captcha = kept["captcha"]
        claim = Claim(
            kept["conversation"],
            cookie,
            None,
            renewed_for=kept["renewed_for"],
            captcha=CaptchaPass(captcha["until"], captcha["reset"]) if captcha else None,
        )
        lasts_until = kept["lasts_until"]
        try:
            claim.etag = await self._store.put(
                key,
                _value(claim, lasts_until, busy_until=now + BUSY_SECONDS),
                ttl=max(lasts_until - now, BUSY_SECONDS),
                if_match=record.etag,
            )
        except EtagMismatch:
            raise ConversationBusy from None
        claim.reset = ResetSeen.of(await read_conversation(self._store, claim.conversation))
        if claim.speaks_for_unrenewed_check:
            log.warning("a web chat id met a verified reset it was not renewed for")
            await self._store.delete(key)
            return self._issue()
        return claim

    async def finish(self, claim: Claim, *, answered: bool) -> None:
        """Keep what the message changed and let the next one in.

        `answered`: the message got the dialog's answer. Then the reset is read again as
        the turn left it (`claim.reset`, which also says what the page should offer next): a
        first passed check renews the id (the new one in `claim.new_cookie`), a reset the
        message started spends the CAPTCHA pass. An id issued for a message that was refused
        is never kept.
        """
        if claim.etag is None and not answered:
            claim.new_cookie = None
            return
        renew = False
        if answered:
            after = await read_conversation(self._store, claim.conversation)
            renew = claim.learn(ResetSeen.of(after))
        now = self._clock.now()
        lasts_until = _lasts_until(claim, now)
        value = _value(claim, lasts_until, busy_until=0.0)
        ttl = lasts_until - now
        if claim.etag is None:
            await self._store.put(_key(claim.cookie), value, ttl=ttl, if_none_match=True)
            return
        try:
            if renew:
                await self._store.delete(_key(claim.cookie), if_match=claim.etag)
                claim.cookie = claim.new_cookie = _new_cookie()
                await self._store.put(_key(claim.cookie), value, ttl=ttl, if_none_match=True)
            else:
                await self._store.put(_key(claim.cookie), value, ttl=ttl, if_match=claim.etag)
        except EtagMismatch:
            log.warning("a web chat message outlasted its claim on the conversation")

    async def conversation_record(self, cookie: str | None) -> Conversation | None:
        """The record of the conversation an id speaks for, read without claiming it (the
        page asking whether the password page is done). None when the id was not issued
        here, or meets a verified reset it was not renewed for."""
        if cookie is None or not _COOKIE_FORMAT.match(cookie):
            return None
        kept = await self._store.get(_key(cookie))
        if kept is None:
            return None
        record = await read_conversation(self._store, kept.value["conversation"])
        if _unrenewed(ResetSeen.of(record), kept.value["renewed_for"]):
            return None
        return record

    def _issue(self) -> Claim:
        cookie = _new_cookie()
        conversation = new_webchat_conversation(secrets.token_hex(20))
        return Claim(conversation, cookie, None, new_cookie=cookie)


async def conversation_of(store: Store, cookie: str) -> str | None:
    """The conversation an issued cookie speaks for, if it was issued."""
    record = await store.get(_key(cookie))
    return None if record is None else str(record.value["conversation"])


def _unrenewed(reset: ResetSeen | None, renewed_for: str) -> bool:
    """Whether the reset has a passed check that an id renewed at `renewed_for` was not
    renewed at."""
    return reset is not None and reset.passed and reset.nonce != renewed_for


def _new_cookie() -> str:
    return secrets.token_urlsafe(32)


def _key(cookie: str) -> str:
    return f"webchat-id:{hashlib.sha256(cookie.encode()).hexdigest()}"


def _lasts_until(claim: Claim, now: float) -> float:
    ends = [now + IDLE_SECONDS]
    if claim.reset is not None and claim.reset.under_way:
        ends.append(claim.reset.expires_at + AFTER_RESET_SECONDS)
    if claim.captcha is not None:
        ends.append(claim.captcha.until)
    return max(ends)


def _value(claim: Claim, lasts_until: float, *, busy_until: float) -> dict[str, Any]:
    held = claim.captcha
    return {
        "conversation": claim.conversation,
        "renewed_for": claim.renewed_for,
        "captcha": None if held is None else {"until": held.until, "reset": held.reset},
        "busy_until": busy_until,
        "lasts_until": lasts_until,
    }
