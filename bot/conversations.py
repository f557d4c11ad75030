"""The conversation record: its id, its key, its layout, and the one way a decision is stored.

A conversation is one user's chat on one channel, named by an id built here
(`bot_framework_conversation`, `slack_conversation`, `new_webchat_conversation`). Its record
holds the dialog's session, the last activity ids the turn runner handled (a delivery the
channel repeats is answered once), the reference that reaches the conversation again (for
messages the bot starts itself) and, for a web chat, what the password page said when it
ended the reset: nothing can be sent to a web chat page, so the page leaves its result here
and the page asks for it. The next turn writes the record without that result: by then the
chat has moved on. Nothing secret is in these texts: the password chosen on the page is
never repeated, and a temporary password is never set there.

Every write is conditional on the etag that was read. `Conversations.apply` is the one place
that stores a decision of the dialog: write it, record the password link it issued, let the
dialog settle it (codes, password changes, audit events happen only after that write has
won), and write what settling changed. The turn runner and the password page both go
through it.

A password link record (created by `apply`, under the hash of its token, never over another
one) names the conversation it was sent in. The page finds the conversation through it
(`linked`), and keeps with it the hashes of the last few form tokens it issued: a link
preview (or a second tab) fetching the page must not void the form the owner already has
open. Every token dies with the link, when it is used or expires (`forget_link`).
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from bot.dialog_versions import DialogVersions
from dialogs import Outcome
from dialogs.machine import ENDS
from dialogs.password_link import digest, link_key, new_token, plausible_token, same_secret
from dialogs.session import IssuedLink
from state import Clock, EtagMismatch, Record, Store, StoreUnavailable

log = logging.getLogger(__name__)

REMEMBERED_DELIVERIES = 20
# Forms whose tokens stay valid at once: the owner's open form, a few previews and reloads.
MAX_FORMS = 8
# A link record rewritten by this many other requests while one form is issued is contended
# beyond any real use; that request is answered as unavailable rather than waiting on.
_ISSUE_TRIES = 5
_PREFIX = "session:"
_SLACK = "slack"
_WEBCHAT = "webchat:"  # every web chat conversation's id starts so


def record_key(conversation: str) -> str:
    """Where a conversation's record is kept (the password link names it so, too)."""
    return f"{_PREFIX}{conversation}"


def bot_framework_conversation(channel: str, conversation: str, user: str) -> str:
    """One user's conversation on one Bot Framework channel (Teams, Emulator, the console)."""
    return f"{channel}:{conversation}:{user}"


def slack_conversation(team: str, channel: str, user: str) -> str:
    """One user's conversation in one Slack channel of one workspace."""
    return f"{_SLACK}:{team}:{channel}:{user}"


def slack_user(conversation: str) -> tuple[str, str] | None:
    """The workspace and user of a Slack conversation; None for any other conversation."""
    parts = conversation.split(":", 3)
    if len(parts) != 4 or parts[0] != _SLACK:
        return None
    return parts[1], parts[3]


def new_webchat_conversation(name: str) -> str:
    """A web chat conversation under a name the server chose."""
    return f"{_WEBCHAT}{name}"


def requester_of(
    conversation: str, client: str | None, reference: Mapping[str, Any] | None
) -> str | None:
    """Who sent a message, as the audit trail names them: the channel's user id (a Bot
    Framework channel's, from the conversation's reference; a Slack user's), else the
    client's address (the bot's own web chat, which knows nobody)."""
    user = reference.get("user") if reference is not None else None
    if isinstance(user, Mapping) and isinstance(user.get("id"), str) and user["id"]:
        return str(user["id"])
    if (slack := slack_user(conversation)) is not None:
        return slack[1]
    return client


def is_webchat(conversation: str) -> bool:
    """Whether a conversation is a web chat one (it keeps the password page's result)."""
    return conversation.startswith(_WEBCHAT)


@dataclass(frozen=True)
class Conversation:
    """A conversation record as read (`etag` None when there was none), or as to be written
    over that version."""

    id: str
    session: dict[str, Any] | None = None
    deliveries: tuple[str, ...] = ()
    reference: Mapping[str, Any] | None = None
    page_result: tuple[str, ...] = ()
    etag: str | None = None

    def handled(self, activity_id: str | None) -> bool:
        """Whether this delivery was answered already (the channel repeated it)."""
        return activity_id is not None and activity_id in self.deliveries

    def after_turn(
        self,
        session: dict[str, Any] | None,
        activity_id: str | None,
        reference: Mapping[str, Any] | None,
    ) -> "Conversation":
        """The record as a turn leaves it: its session, its delivery remembered, the newest
        reference kept, and the password page's result dropped."""
        deliveries = self.deliveries
        if activity_id is not None:
            deliveries = (*deliveries, activity_id)[-REMEMBERED_DELIVERIES:]
        return replace(
            self,
            session=session,
            deliveries=deliveries,
            reference=reference or self.reference,
            page_result=(),
        )


def _value(record: Conversation) -> dict[str, Any]:
    value: dict[str, Any] = {"session": record.session, "deliveries": list(record.deliveries)}
    if record.reference is not None:
        value["reference"] = dict(record.reference)
    if record.page_result:
        value["page_outcome"] = list(record.page_result)
    return value


def _texts(kept: Any) -> tuple[str, ...]:
    return tuple(each for each in kept if isinstance(each, str)) if isinstance(kept, list) else ()


async def read_conversation(store: Store, conversation: str) -> Conversation:
    """The conversation's record with its etag; an empty one (no etag) when there is none."""
    record = await store.get(record_key(conversation))
    if record is None:
        return Conversation(conversation)
    value = record.value
    session, reference = value.get("session"), value.get("reference")
    return Conversation(
        conversation,
        session if isinstance(session, dict) else None,
        _texts(value.get("deliveries")),
        reference if isinstance(reference, dict) else None,
        _texts(value.get("page_outcome")),
        record.etag,
    )


@dataclass(frozen=True)
class PasswordLink:
    """A password link record (`key`, the hash of its token) and the conversation it was
    issued in."""

    key: str
    link: Record
    conversation: Conversation

    @property
    def session(self) -> dict[str, Any]:
        return self.conversation.session or {}

    def issued_here(self, csrf: str) -> bool:
        """Whether `csrf` is one of the link's form tokens, comparing with every one of them."""
        matches = [same_secret(csrf, each) for each in _issued(self.link.value)]
        return any(matches)


def _issued(link: Mapping[str, Any]) -> list[str]:
    """The hashes of the form tokens issued for a link, oldest first."""
    kept = link.get("csrf")
    if isinstance(kept, list):
        return [each for each in kept if isinstance(each, str) and each]
    return []


def _link_value(conversation: str, nonce: str, expires_at: float) -> dict[str, Any]:
    """A new link record: the conversation it opens, the session it was issued for, when it
    ends, and no form token yet (the page adds each form's)."""
    return {
        "session_key": record_key(conversation),
        "nonce": nonce,
        "expires_at": expires_at,
        "csrf": [],
    }


class Conversations:
    """Reads and writes conversation records for the dialog that decides on them."""

    def __init__(self, store: Store, versions: DialogVersions, clock: Clock) -> None:
        """`versions`: the dialog by the rules each conversation began under. A record is
        kept as long as its rules' `session.kept_for` (a little past the session's own
        timeout, so an expired session still answers as expired)."""
        self._store = store
        self._versions = versions
        self._clock = clock

    async def read(self, conversation: str) -> Conversation:
        return await read_conversation(self._store, conversation)

    async def linked(self, token: str) -> PasswordLink | None:
        """The link a token opens, while it may still be used (the dialog's `usable_link`);
        None for a token never issued, a used or expired link, or an ended reset."""
        if not plausible_token(token):
            return None
        key = link_key(token)
        link = await self._store.get(key)
        if link is None:
            return None
        named = link.value.get("session_key")
        if not isinstance(named, str) or not named.startswith(_PREFIX):
            return None
        nonce, expires_at = link.value.get("nonce"), link.value.get("expires_at")
        if not isinstance(nonce, str) or not isinstance(expires_at, int | float):
            return None
        conversation = await self.read(named.removeprefix(_PREFIX))
        if conversation.etag is None:
            return None
        usable = self._versions.of(conversation.session).dialog.usable_link(
            conversation.session, key=key, nonce=nonce, expires_at=float(expires_at)
        )
        if usable is None:
            return None
        return PasswordLink(key, link, conversation)

    async def issue_form_token(self, found: PasswordLink) -> str | None:
        """A new form token, its hash kept with the link beside the newest others; None when
        the link is gone (used) meanwhile."""
        csrf = new_token()
        link = found.link
        for _ in range(_ISSUE_TRIES):
            kept = _issued(link.value)[-(MAX_FORMS - 1) :]
            value = {**link.value, "csrf": [*kept, digest(csrf)]}
            ttl = max(float(value["expires_at"]) - self._clock.now(), 1.0)
            try:
                await self._store.put(found.key, value, ttl=ttl, if_match=link.etag)
                return csrf
            except EtagMismatch:
                current = await self._store.get(found.key)
                if current is None:
                    return None
                link = current
        raise StoreUnavailable("the password link kept changing while a form was issued")

    async def forget_link(self, found: PasswordLink) -> None:
        """The link is used: it and every form token issued for it stop working."""
        await self._store.delete(found.key)

    async def write(self, record: Conversation) -> Conversation:
        """Write only over the version `record` was read as (or where there was none);
        EtagMismatch when another write came first."""
        etag = await self._store.put(
            record_key(record.id),
            _value(record),
            ttl=self._versions.of(record.session).settings.session.kept_for,
            if_match=record.etag,
            if_none_match=record.etag is None,
        )
        return replace(record, etag=etag)

    async def apply(
        self,
        after: Conversation,
        outcome: Outcome,
        *,
        write: bool = True,
        keep_result: bool = False,
    ) -> Outcome:
        """Store a decision: write `after` (the record as the decision leaves it; skipped
        when `write` is false, for a turn that changed nothing), record the password link
        it issued, settle `outcome`, and write the session settling produced. `keep_result`:
        the password page decided, and a web chat that it ended keeps what it said.

        EtagMismatch from the first write: nothing happened, decide again on fresh state. A
        conflict on the second write is only logged: the password change has happened
        either way, and a decision is never carried out twice.
        """
        if write:
            after = await self.write(after)
        if outcome.issued_link is not None and outcome.session is not None:
            await self._record_link(after.id, outcome.session, outcome.issued_link)
        settled = await self._versions.of(outcome.session).dialog.settle(outcome)
        if settled.changed:
            session = settled.session or {}
            ended = keep_result and session.get("state") in ENDS and is_webchat(after.id)
            said = tuple(reply.text for reply in settled.replies) if ended else after.page_result
            try:
                await self.write(replace(after, session=settled.session, page_result=said))
            except EtagMismatch:
                log.warning(
                    "a message crossed a password change", extra={"session": record_key(after.id)}
                )
        return settled

    async def _record_link(
        self, conversation: str, session: Mapping[str, Any], issued: IssuedLink
    ) -> None:
        """The link record of a stored turn, kept as long as the link works. Created only
        where none is (a token is never issued twice), before any code or change goes out."""
        await self._store.put(
            issued.key,
            _link_value(conversation, str(session["nonce"]), issued.expires_at),
            ttl=max(issued.expires_at - self._clock.now(), 1.0),
            if_none_match=True,
        )
