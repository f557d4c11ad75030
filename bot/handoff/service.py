"""A helpdesk ticket handed to the bot: the signed caller names the ticket and the user,
and the bot offers that user, in their own chat, to reset their password there.

What the answer says is only whether the offer reached someone: an account the directory
does not know answers exactly as one it knows but cannot reach, so the hand-off tells the
caller nothing about the directory it did not already know. A ticket is handled once; its
first answer is kept and given again to a replay, which sends nothing. Nothing here touches
a conversation: a hand-off proves nothing about who answers it. A hand-off that reached its
person leaves the ticket with the bot (`dialogs.tickets`): resolved when they reset, given
back to the helpdesk when they are locked out or do not finish in time.
"""

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from adapters.audit import Audit
from adapters.directory import Directory, DirectoryUnavailable
from adapters.tickets.signature import is_signed
from bot.http import TOO_LARGE, HttpAnswer, HttpRequest
from dialogs import Catalog
from dialogs.catalog import DEFAULT_LOCALE
from dialogs.reach import ChatReach
from dialogs.tickets import TicketDesk
from state import Clock, EtagMismatch, Store

SECRET_VARIABLE = "SSPR_HANDOFF_SECRET"  # noqa: S105 - the variable's name
MAX_BODY = 8 * 1024
KEPT_FOR = 24 * 3600
"""Seconds a ticket stays handled: far past the signature's window, so no replay of a
signed request can reach the user twice."""

NOT_SIGNED = HttpAnswer.json(401, {"error": "missing, invalid or expired signature"})
IN_PROGRESS = HttpAnswer.json(409, {"error": "this ticket is being handed off"})
UNAVAILABLE = HttpAnswer.json(503, {"error": "the directory is unavailable; try again"})
NOT_REACHED: dict[str, Any] = {"reached": False, "reason": "not reachable"}


class HandOffRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    ticket: str = Field(min_length=1, max_length=64)
    user: str = Field(min_length=1, max_length=256)
    locale: str | None = Field(default=None, pattern=r"^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*$")
    callback: str | None = Field(default=None, min_length=1, max_length=2048)
    """Where the caller takes updates on this ticket, when the ticket system is the signed
    webhook: the update goes there instead of the webhook's own URL (https only)."""

    @field_validator("ticket", "user")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable() or value != value.strip():
            raise ValueError("must be printable, without surrounding spaces")
        return value


class HandOff:
    """`POST /api/handoff`, framework-neutral: a request in, an answer out."""

    def __init__(
        self,
        secret: str,
        *,
        directory: Directory,
        reach: ChatReach,
        store: Store,
        audit: Audit,
        catalog: Catalog,
        clock: Clock,
        tickets: TicketDesk,
    ) -> None:
        self._secret = secret
        self._directory = directory
        self._reach = reach
        self._store = store
        self._audit = audit
        self._catalog = catalog
        self._clock = clock
        self._tickets = tickets

    async def handle(self, request: HttpRequest) -> HttpAnswer:
        if request.body is None:
            return TOO_LARGE
        if not is_signed(self._secret, request.headers, request.body, now=self._clock.now()):
            return NOT_SIGNED
        try:
            handoff = HandOffRequest.model_validate_json(request.body)
        except ValidationError as error:
            fields = sorted(
                {".".join(map(str, problem["loc"])) or "body" for problem in error.errors()}
            )
            return HttpAnswer.json(400, {"error": "invalid hand-off", "fields": fields})
        key = f"handoff:{handoff.ticket}"
        try:
            etag = await self._store.put(key, {}, ttl=KEPT_FOR, if_none_match=True)
        except EtagMismatch:
            return await self._first_answer(key)
        try:
            answer = await self._offer(handoff)
        except DirectoryUnavailable:
            await self._store.delete(key, if_match=etag)
            return UNAVAILABLE
        await self._store.put(key, {"answer": answer}, ttl=KEPT_FOR, if_match=etag)
        return HttpAnswer.json(202, answer)

    async def _first_answer(self, key: str) -> HttpAnswer:
        record = await self._store.get(key)
        answer = None if record is None else record.value.get("answer")
        if not isinstance(answer, Mapping):
            return IN_PROGRESS
        return HttpAnswer.json(202, answer)

    async def _offer(self, handoff: HandOffRequest) -> dict[str, Any]:
        account = await self._directory.find(handoff.user)
        reached = False
        if account is not None and account.enabled:
            text = self._catalog.text(
                "handoff_offer",
                handoff.locale or DEFAULT_LOCALE,
                ticket=handoff.ticket,
                name=account.display_name,
            )
            reached = await self._reach.tell(account, text, besides="")
            if reached:
                await self._tickets.handed_off(account, handoff.ticket, handoff.callback)
        await self._audit.record(
            "handoff.received",
            requester=f"ticket:{handoff.ticket}",
            channel="handoff",
            account=None if account is None else account.id,
            outcome="offered" if reached else "not_reached",
            ticket=handoff.ticket,
            reached=reached,
        )
        return {"reached": True} if reached else dict(NOT_REACHED)


def handoff_secret(secrets: Mapping[str, str]) -> str | None:
    """The shared secret that turns hand-offs on; None (off) when unset or empty."""
    return secrets.get(SECRET_VARIABLE) or None
