"""The helpdesk's tickets about an account: the one a hand-off gave the bot, or the one the
bot opened when it could not help. At most one is open per account, kept under
`ticket:<account id>` (this module is its only owner) with what the bot saw: where it came
from, what was proven and which methods were tried, never a code, an answer or a password.

What a settled turn ended in moves the ticket on:

- a reset or an unlock resolves it, with a note of how the person proved who they are;
- a lock, or a hand-over to the helpdesk (`agent`, no method left, an account the bot may
  not reset) gives it back to people; without a ticket it opens one and tells the person
  its number, so they can quote it;
- a hand-off nobody finished within `helpdesk.handoff_timeout` is given back by `sweep`.

Only a conversation that speaks for a known account does any of this: the channel's own
identity, or a typed name with a check passed. A typed name with nothing proven gets the
helpdesk's contact as before, so a ticket number never tells whether a name exists.

A ticket record changes with the store's etags, so of two instances (or a sweep and a reset)
only one moves a ticket on. Updates the person need not wait for run in the background; a
ticket to open is waited for, because its number goes into the reply.
"""

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from adapters.audit import Audit
from adapters.directory import Account, Directory, DirectoryUnavailable
from adapters.tickets.base import Event, NewTicket, TicketSystem, TicketUnavailable, TicketUpdate
from dialogs.background import Background
from dialogs.durations import written
from dialogs.session import AuditEvent, ResetSession
from state import Clock, EtagMismatch, Store, StoreUnavailable

log = logging.getLogger(__name__)

TASK_NAME = "hand-off timeouts"
WAITING_KEY = "tickets:waiting"
"""One record of the hand-offs still waiting for their person, `{account id: deadline}`,
so the sweep finds them without a scan; it holds only what a timeout has yet to return."""
MAX_WAITING = 10_000
KEPT_FOR = 30 * 86400.0
"""Seconds a hand-off waiting for its person is kept: far past any timeout, which the sweep
acts on first. A ticket with the helpdesk is kept for the longer of the timeout and the
lockout: long enough that a person who resets once their lock has lifted resolves it and
asking again adds to it, not so long that the bot writes on a ticket the helpdesk has
long closed."""
_CAS_TRIES = 5

# Why a conversation went to the helpdesk (`reset.escalated`'s reason), in a ticket's words;
# enrolment's own hand-overs (nothing to register) are not password problems.
ESCALATIONS = {
    "asked": "The person asked to talk to someone.",
    "undelivered": "No code could be delivered to the methods the account has.",
    "not_permitted": "The directory does not let the bot reset this account.",
    "temporary_refused": "The directory refused the temporary password the bot chose.",
    "too_few_methods": "The account has too few verification methods for a self-service reset.",
    "not_eligible": "The account is outside the self-service reset policy.",
}
ENDING_EVENTS = frozenset({"password.reset", "account.unlocked", "reset.locked", "reset.escalated"})
_OUTCOMES = {"passed": "passed", "failed": "not passed", "unreachable": "not sent"}


def ticket_key(account_id: str) -> str:
    return f"ticket:{account_id}"


@dataclass(frozen=True)
class OpenTicket:
    """What `user status` shows of an account's open ticket."""

    ticket: str
    origin: str  # "handoff" or "bot"
    state: str  # "waiting" (for the person, after a hand-off) or "with_helpdesk"
    opened_at: float
    proven: tuple[str, ...]
    tried: tuple[str, ...]


@dataclass(frozen=True)
class Told:
    """The ticket a person is to be told about, and the message that tells it."""

    message: str  # "ticket_opened" or "ticket_with_helpdesk"
    ticket: str


def moves_tickets(events: Iterable[AuditEvent]) -> bool:
    """Whether a turn's events may move a ticket on: the cheap test every turn makes."""
    return any(event.name in ENDING_EVENTS for event in events)


@dataclass(frozen=True)
class Ending:
    """What a settled turn ended in, as far as a ticket cares."""

    event: Event
    note: str
    resolved: bool


class TicketDesk:
    def __init__(
        self,
        system: TicketSystem | None,
        *,
        directory: Directory,
        store: Store,
        clock: Clock,
        audit: Audit,
        background: Background,
        timeout: float,
        lockout: float,
    ) -> None:
        self._system = system
        self._directory = directory
        self._store = store
        self._clock = clock
        self._audit = audit
        self._background = background
        self._timeout = timeout
        self._lockout = lockout
        self._with_helpdesk_for = max(timeout, lockout)
        self._task: asyncio.Task[None] | None = None

    async def handed_off(self, account: Account, ticket: str, callback: str | None) -> None:
        """A hand-off reached the person: the ticket is the bot's until they finish, or
        until the timeout gives it back."""
        now = self._clock.now()
        value: dict[str, Any] = {
            "ticket": ticket,
            "origin": "handoff",
            "callback": callback,
            "opened_at": now,
            "state": "waiting",
            "proven": [],
            "tried": [],
        }
        await self._store.put(ticket_key(account.id), value, ttl=KEPT_FOR)
        await self._wait_for(account.id, now + self._timeout)

    async def open_ticket(self, account_id: str) -> OpenTicket | None:
        record = await self._store.get(ticket_key(account_id))
        if record is None:
            return None
        value: dict[str, Any] = record.value
        return OpenTicket(
            ticket=str(value.get("ticket", "")),
            origin=str(value.get("origin", "")),
            state=str(value.get("state", "")),
            opened_at=float(value.get("opened_at", 0.0)),
            proven=tuple(value.get("proven", ())),
            tried=tuple(value.get("tried", ())),
        )

    async def settled(self, session: ResetSession, events: Iterable[AuditEvent]) -> Told | None:
        """Move the account's ticket on for what the turn ended in; the ticket the person
        should now be told about (one just opened, or theirs given back to the helpdesk)."""
        if session.blind or session.account_id is None:
            return None
        ending = self._ending(session, events)
        if ending is None:
            return None
        try:
            record = await self._store.get(ticket_key(session.account_id))
            account = await self._directory.find(session.account_id)
        except (StoreUnavailable, DirectoryUnavailable) as error:
            log.warning("ticket not moved on", extra={"error": type(error).__name__})
            return None
        if account is None:
            return None
        context = _context(session)
        if ending.resolved:
            if record is not None:
                await self._close(account.id, record.value, record.etag, ending, context)
            return None
        summary = _summary(session)
        if record is not None:
            ticket = str(record.value["ticket"])
            said = record.value.get("state") == "with_helpdesk" and (
                record.value.get("event") == ending.event
            )
            if not said:
                await self._hand_back(
                    account.id, record.value, record.etag, ending, summary, context
                )
            return Told("ticket_with_helpdesk", ticket) if self._system else None
        number = await self._open(account, ending, summary, context)
        return None if number is None else Told("ticket_opened", number)

    async def sweep(self) -> int:
        """Give back every hand-off whose person has not finished by its deadline; how
        many were given back."""
        record = await self._store.get(WAITING_KEY)
        if record is None:
            return 0
        now = self._clock.now()
        due = [key for key, deadline in record.value.items() if float(deadline) <= now]
        returned = 0
        for account_id in due:
            ticket = await self._store.get(ticket_key(account_id))
            if ticket is not None and ticket.value.get("state") == "waiting":
                note = (
                    f"The person did not finish a password reset with the bot within "
                    f"{written(self._timeout)} of the hand-off; the ticket is back with the "
                    "helpdesk."
                )
                ending = Ending("timed_out", note, resolved=False)
                summary = {
                    "proven": ticket.value.get("proven", []),
                    "tried": ticket.value.get("tried", []),
                }
                if await self._hand_back(
                    account_id, ticket.value, ticket.etag, ending, summary, {"channel": "sweep"}
                ):
                    returned += 1
            await self._stop_waiting(account_id)
        return returned

    def start(self) -> None:
        """Sweep every tenth of the timeout (between a minute and five), until `close`."""
        self._task = asyncio.get_running_loop().create_task(self._sweeps(), name=TASK_NAME)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._system is not None:
            await self._system.close()

    async def _sweeps(self) -> None:
        every = min(300.0, max(60.0, self._timeout / 10))
        while True:
            await asyncio.sleep(every)
            try:
                returned = await self.sweep()
            except Exception as error:
                log.warning("hand-off sweep failed", extra={"error": type(error).__name__})
            else:
                if returned:
                    log.info("hand-offs given back", extra={"returned": returned})

    def _ending(self, session: ResetSession, events: Iterable[AuditEvent]) -> Ending | None:
        methods = ", ".join(session.passed) or "none"
        for event in events:
            fields = event.fields
            if event.name == "password.reset":
                signed_out = (
                    " Their other sessions were signed out."
                    if fields.get("signed_out")
                    else " Their other sessions could not be signed out."
                )
                note = (
                    f"The person reset their password with the bot ({_channel(session)}), "
                    f"verified by {methods}.{signed_out}"
                )
                return Ending("reset", note, resolved=True)
            if event.name == "account.unlocked":
                note = (
                    f"The person unlocked their account with the bot ({_channel(session)}), "
                    f"verified by {methods}."
                )
                return Ending("unlock", note, resolved=True)
            if event.name == "reset.locked":
                note = (
                    f"Self-service reset is locked for {written(self._lockout)} after too many "
                    f"failed attempts ({_channel(session)}). The person needs the helpdesk."
                )
                return Ending("locked", note, resolved=False)
            if event.name == "reset.escalated" and session.purpose == "reset":
                reason = ESCALATIONS.get(str(fields.get("reason")))
                if reason is not None:
                    handed = f"The bot handed the person to the helpdesk ({_channel(session)})."
                    note = f"{reason} {handed}"
                    return Ending("escalated", note, resolved=False)
        return None

    async def _open(
        self, account: Account, ending: Ending, summary: dict[str, Any], context: dict[str, Any]
    ) -> str | None:
        if self._system is None:
            return None
        new = NewTicket(
            summary=f"Password: {account.username} needs the helpdesk ({ending.event})",
            description=_description(account, ending, summary),
            user=account.email or account.username,
            event=ending.event,
        )
        try:
            number = await self._system.create(new)
        except TicketUnavailable as failure:
            await self._audit.record(
                "ticket.failed",
                **context,
                account=account.id,
                outcome="failed",
                ending=ending.event,
                reason=failure.reason,
            )
            log.warning("ticket not opened", extra={"reason": failure.reason})
            return None
        value = {
            "ticket": number,
            "origin": "bot",
            "callback": None,
            "opened_at": self._clock.now(),
            "state": "with_helpdesk",
            "event": ending.event,
            **summary,
        }
        with contextlib.suppress(StoreUnavailable):
            await self._store.put(ticket_key(account.id), value, ttl=self._with_helpdesk_for)
        await self._audit.record(
            "ticket.opened",
            **context,
            account=account.id,
            outcome="opened",
            ticket=number,
            ending=ending.event,
        )
        return number

    async def _close(
        self,
        account_id: str,
        value: dict[str, Any],
        etag: str,
        ending: Ending,
        context: dict[str, Any],
    ) -> None:
        try:
            await self._store.delete(ticket_key(account_id), if_match=etag)
        except EtagMismatch:
            return  # moved on by another turn or the sweep
        if value.get("state") == "waiting":
            await self._stop_waiting(account_id)
        self._update(account_id, value, ending, context)

    async def _hand_back(
        self,
        account_id: str,
        value: dict[str, Any],
        etag: str,
        ending: Ending,
        summary: dict[str, Any],
        context: dict[str, Any],
    ) -> bool:
        changed = {**value, "state": "with_helpdesk", "event": ending.event, **summary}
        try:
            await self._store.put(
                ticket_key(account_id), changed, ttl=self._with_helpdesk_for, if_match=etag
            )
        except EtagMismatch:
            return False
        if value.get("state") == "waiting":
            await self._stop_waiting(account_id)
        note = ending.note + _proof_lines(summary)
        self._update(account_id, value, Ending(ending.event, note, ending.resolved), context)
        return True

    def _update(
        self, account_id: str, value: dict[str, Any], ending: Ending, context: dict[str, Any]
    ) -> None:
        update = TicketUpdate(
            ticket=str(value["ticket"]),
            resolved=ending.resolved,
            event=ending.event,
            note=ending.note,
            callback=value.get("callback"),
        )
        work = self._send(account_id, update, context)
        self._background.start(work, failed="ticket update failed")

    async def _send(self, account_id: str, update: TicketUpdate, context: dict[str, Any]) -> None:
        fields = {
            **context,
            "account": account_id,
            "ticket": update.ticket,
            "ending": update.event,
        }
        if self._system is None:
            await self._audit.record(
                "ticket.not_updated", **fields, outcome="skipped", reason="no ticket system"
            )
            return
        try:
            await self._system.update(update)
        except TicketUnavailable as failure:
            await self._audit.record(
                "ticket.update_failed", **fields, outcome="failed", reason=failure.reason
            )
            log.warning("ticket not updated", extra={"reason": failure.reason})
            return
        outcome = "resolved" if update.resolved else "handed_back"
        await self._audit.record(
            "ticket.updated", **fields, outcome=outcome, resolved=update.resolved
        )

    async def _wait_for(self, account_id: str, deadline: float) -> None:
        await self._change_waiting(lambda waiting: {**waiting, account_id: deadline})

    async def _stop_waiting(self, account_id: str) -> None:
        await self._change_waiting(
            lambda waiting: {key: at for key, at in waiting.items() if key != account_id}
        )

    async def _change_waiting(self, change: Any) -> None:
        for _ in range(_CAS_TRIES):
            record = await self._store.get(WAITING_KEY)
            waiting = dict(record.value) if record else {}
            changed = change(waiting)
            if len(changed) > MAX_WAITING:
                oldest = sorted(changed.items(), key=lambda item: float(item[1]))
                changed = dict(oldest[len(changed) - MAX_WAITING :])
            try:
                if record is None:
                    await self._store.put(WAITING_KEY, changed, if_none_match=True)
                elif not changed:
                    await self._store.delete(WAITING_KEY, if_match=record.etag)
                else:
                    await self._store.put(WAITING_KEY, changed, if_match=record.etag)
            except EtagMismatch:
                continue
            return
        log.warning("hand-off timeouts not updated: too many writers at once")


def _summary(session: ResetSession) -> dict[str, Any]:
    """What the helpdesk may see of the conversation: the proofs it established and each
    method tried with how it went."""
    tried: dict[str, str] = {}
    for method in session.passed:
        tried[method] = _OUTCOMES["passed"]
    for method in session.failed:
        tried.setdefault(method, _OUTCOMES["failed"])
    for method in session.unreachable:
        tried.setdefault(method, _OUTCOMES["unreachable"])
    return {
        "proven": sorted(set(session.proven)),
        "tried": [f"{method}: {outcome}" for method, outcome in tried.items()],
    }


def _context(session: ResetSession) -> dict[str, Any]:
    """What a ticket's events share with the conversation that moved the ticket on."""
    context = session.audit_context()
    return {name: context[name] for name in ("correlation_id", "requester", "channel")}


def _proof_lines(summary: dict[str, Any]) -> str:
    proven = ", ".join(summary.get("proven", [])) or "nothing"
    tried = "; ".join(summary.get("tried", [])) or "none"
    return f"\nProven: {proven}.\nMethods tried: {tried}."


def _description(account: Account, ending: Ending, summary: dict[str, Any]) -> str:
    return (
        f"Account: {account.username} ({account.display_name})\n"
        f"{ending.note}{_proof_lines(summary)}\n"
        "The bot never keeps codes, answers or passwords; verify the person as usual."
    )


def _channel(session: ResetSession) -> str:
    return f"channel {session.channel or 'unknown'}"
