"""The conversation: a message in, the replies and the session's next state out. A reset,
or registering methods (`register`, see `dialogs.enrolment`, and the re-confirmation of stale
ones, `dialogs.reconfirmation`), which shares its checks. Every passed check confirms what
it proved in the method registry once the turn is stored (see `dialogs.effects`).

Each live state that takes a message has one step in `STEPS`; the table is checked against
the machine at import, so a state added to `dialogs.machine` cannot silently fall through.
What a step decides to do to the outside world rides on the session (see `dialogs.effects`).
"""

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from adapters.directory import Account
from dialogs.commands import MAX_ACCOUNT_NAME, MAX_MESSAGE, clean, command, requested_account
from dialogs.enrolment import Enrolment, offer
from dialogs.kit import CHECK_PASSED, DialogKit
from dialogs.machine import ENDS, STATES
from dialogs.methods import FlowLocked, PhoneBudgetSpent, Result
from dialogs.password_step import PasswordStep
from dialogs.picking import asks_to_start, pick
from dialogs.reconfirmation import Reconfirmation
from dialogs.replies import Inbound, Outcome, Reply
from dialogs.session import ResetSession


@dataclass(frozen=True)
class Said:
    """One message as the steps read it: as typed, cleaned, and the command it is."""

    inbound: Inbound
    text: str
    command: str | None


class Conversation:
    def __init__(self, kit: DialogKit, password: PasswordStep, enrolment: Enrolment) -> None:
        self._kit = kit
        self._password = password
        self._enrolment = enrolment
        self._reconfirmation = Reconfirmation(kit)

    async def turn(
        self, stored: dict[str, Any] | None, inbound: Inbound, requester: str | None = None
    ) -> Outcome:
        """See `ResetDialog.turn`."""
        kit = self._kit
        text = clean(inbound.text)
        previous = ResetSession.from_dict(stored) if stored else None
        if len(inbound.text) > MAX_MESSAGE:
            locale = previous.locale if previous else inbound.locale
            return Outcome([Reply(kit.catalog.text("too_long", locale))], stored, changed=False)
        starting = previous is None or previous.state in ENDS
        if starting and command(text) == "register" and inbound.user is None:
            locale = previous.locale if previous else inbound.locale
            refusal = kit.catalog.text("enrol_signed_in_only", locale)
            return Outcome([Reply(refusal)], stored, changed=False)
        if (
            previous is not None
            and previous.state == "done"
            and not self._starts_again(previous, text)
        ):
            return Outcome([self._closing(previous, text)], stored, changed=False)
        if previous is None or previous.state in ENDS:
            session = ResetSession(
                locale=inbound.locale or kit.catalog.default_locale, nonce=secrets.token_hex(16)
            )
        else:
            session = previous
        session.client = inbound.client
        session.requester = requester or ""
        session.channel = session.channel or inbound.channel
        with kit.machine.attached(session):
            replies = await self._step(session, Said(inbound, text, command(text)))
        return Outcome(
            replies,
            session.to_dict(),
            deliveries=session.deliveries,
            account_change=session.account_change,
            events=session.events,
            issued_link=session.issued_link,
        )

    def _starts_again(self, finished: ResetSession, text: str) -> bool:
        """After a finished reset only a request for one ("reset", "I forgot my password")
        starts another, until a session's length has passed; "thanks" does not."""
        timeout = self._kit.settings.session.timeout
        ended_long_ago = self._kit.ports.clock.now() >= finished.finished_at + timeout
        return ended_long_ago or asks_to_start(text) or command(text) == "register"

    def _closing(self, finished: ResetSession, text: str) -> Reply:
        """The short answer to a message after a finished reset: what was done, and when."""
        kit = self._kit
        said = command(text)
        if said == "help":
            return kit.say(finished, "help")
        if said == "agent":
            return kit.say(finished, "closing_agent", helpdesk=kit.settings.helpdesk.contact)
        at = datetime.fromtimestamp(finished.finished_at, UTC).strftime("%H:%M UTC")
        key = "closing_unlock" if finished.finished == "unlock" else "closing_reset"
        return kit.say(finished, key, time=at)

    async def _step(self, session: ResetSession, said: Said) -> list[Reply]:
        """What any state answers first (the session's end, help, cancel, the helpdesk, a
        lock), then the state's own step."""
        kit = self._kit
        if session.state != "idle" and kit.ports.clock.now() >= session.expires_at:
            session.expire()
            await kit.record(session, "reset.expired")
            return [kit.say(session, "expired")]
        if said.command == "help":
            return [kit.say(session, "help")]
        if said.command == "cancel":
            session.cancel()
            await kit.record(session, "reset.cancelled")
            return [kit.say(session, "cancelled")]
        if said.command == "agent":
            return await kit.escalate(session, "escalated", reason="asked")
        if session.state not in ("idle", "identifying") and await kit.locked(session):
            return await kit.lock(session, already=True)
        step = STEPS.get(session.state)
        if step is None:
            return [kit.say(session, "try_again")]
        try:
            return await step(self, session, said)
        except FlowLocked:
            return await kit.lock(session)

    async def _begin(self, session: ResetSession, said: Said) -> list[Reply]:
        kit = self._kit
        inbound = said.inbound
        now = kit.ports.clock.now()
        session.expires_at = now + kit.settings.session.timeout
        session.nonce = session.nonce or secrets.token_hex(16)
        session.channel = inbound.channel
        if said.command == "register":
            return await self._enrolment.begin(session, inbound)
        if inbound.user is None:
            session.typed = True
            session.ask_account()
            await kit.record(session, "reset.started")
            return [kit.say(session, "ask_account")]
        account = await kit.ports.directory.find(inbound.user)
        requested = requested_account(said.text)
        if requested and not _names_account(requested, account, inbound.user):
            await kit.record(session, "reset.refused_other_account")
            return [kit.say(session, "own_account_only", username=inbound.user)]
        session.subject = account.id if account else f"user:{inbound.user.casefold()}"
        session.audited_account = account.id if account else None
        await kit.record(session, "reset.started")
        eligible = account is not None and await kit.policy.eligible(account)
        await kit.record(session, "reset.identified", outcome=_identified(account, eligible))
        if account is None or not eligible:
            return await kit.escalate(session, "not_eligible", reason="not_eligible")
        if await kit.limits.is_locked(session.subject):
            return await kit.lock(session, already=True)
        session.account_id = account.id
        session.required = kit.policy.required(account)
        if not kit.policy.can_complete(account):
            refused = await kit.escalate(session, "too_few_methods", reason="too_few_methods")
            return [*refused, *offer(kit, session, account, "enrol_offer_too_few")]
        if (asked := await self._reconfirmation.begin(session, account, said.text)) is not None:
            return asked
        greeting = kit.catalog.text("greeting", session.locale, name=account.display_name)
        session.offer_methods()
        menu = kit.menu(session, account, "choose_method")
        return [Reply(f"{greeting}\n\n{menu.text}", menu.choices)]

    async def _identify_typed(self, session: ResetSession, said: Said) -> list[Reply]:
        kit = self._kit
        text = said.text
        name = text if 0 < len(text) <= MAX_ACCOUNT_NAME else ""
        account = await kit.ports.directory.find(name) if name else None
        session.subject = f"name:{name.casefold()}"
        session.audited_account = account.id if account else None
        eligible = account is not None and await kit.policy.eligible(account)
        await kit.record(session, "reset.identified", outcome=_identified(account, eligible))
        if await kit.limits.is_locked(session.subject):
            return await kit.lock(session, already=True)
        if account is not None and eligible:
            session.account_id = account.id
            session.required = kit.policy.required(account)
        first = kit.policy.blind_order()[0]
        reply = await kit.methods[first].start(
            session, await kit.account(session), kit.methods_kit, blind=True
        )
        session.issue_challenge()
        await kit.record(session, "challenge.issued", method=first, blind=True)
        return [reply]

    async def _choose(self, session: ResetSession, said: Said) -> list[Reply]:
        kit = self._kit
        account = await kit.account(session)
        assert account is not None
        if asks_to_start(said.text):
            return [kit.menu(session, account, None)]
        labels = {
            name: kit.methods[name].label(account, kit.methods_kit, session)
            for name in session.offered
        }
        picked = pick(said.text, session.offered, labels)
        if picked is None:
            return [kit.menu(session, account, None, say="pick_one")]
        try:
            reply = await kit.methods[picked].start(session, account, kit.methods_kit, blind=False)
        except PhoneBudgetSpent:
            session.offered = [m for m in session.offered if m not in ("sms", "voice")]
            return [kit.say(session, "phone_busy"), kit.menu(session, account, None)]
        session.issue_challenge()
        await kit.record(session, "challenge.issued", method=picked, blind=False)
        return [reply]

    async def _answer(self, session: ResetSession, said: Said) -> list[Reply]:
        kit = self._kit
        challenge = session.challenge
        assert challenge is not None
        account = await kit.account(session)
        blind = session.typed and not session.passed
        if said.command == "resend":
            if challenge.method not in ("email", "sms", "voice"):
                return [kit.say(session, "no_resend")]
            reply = await kit.methods[challenge.method].start(
                session, account, kit.methods_kit, blind=blind
            )
            session.issue_challenge()
            await kit.record(session, "challenge.resent", blind=blind)
            return [reply]
        if said.command == "other":
            return await self._other(session, account, blind)
        method = kit.methods[challenge.method]
        verdict = await method.check(session, account, said.text, kit.methods_kit)
        if verdict.result is Result.PASSED:
            assert account is not None
            return await self._passed(session, account, challenge.method)
        if verdict.result is Result.FAILED:
            await kit.record(session, "challenge.failed", method=challenge.method)
            if challenge.method not in session.failed:
                session.failed.append(challenge.method)
            if await kit.failures_exhausted(session):
                return await kit.lock(session)
            if challenge.method == "questions" and account is not None:
                again = await kit.methods["questions"].start(
                    session, account, kit.methods_kit, blind=False
                )
                return [*_replies(verdict.reply), again]
        return _replies(verdict.reply)

    async def _other(
        self, session: ResetSession, account: Account | None, blind: bool
    ) -> list[Reply]:
        kit = self._kit
        challenge = session.challenge
        assert challenge is not None
        if blind:
            order = kit.policy.blind_order()
            following = order[(order.index(challenge.method) + 1) % len(order)]
            reply = await kit.methods[following].start(
                session, account, kit.methods_kit, blind=True
            )
            session.issue_challenge()
            await kit.record(
                session, "challenge.switched", method=following, previous=challenge.method
            )
            return [reply]
        assert account is not None
        await kit.record(session, "challenge.switched", method=None, previous=challenge.method)
        session.offer_methods()
        return [kit.menu(session, account, "choose_method")]

    async def _passed(self, session: ResetSession, account: Account, method: str) -> list[Reply]:
        kit = self._kit
        proof = kit.policy.proof(method, session, account)
        if method not in session.passed:
            session.passed.append(method)
        if proof is not None:
            session.proven.append(proof)
        session.challenge = None
        await kit.record(session, CHECK_PASSED, method=method, proof=proof)
        if session.purpose == "register":
            return await self._enrolment.verified(session, account, proof)
        if session.verified():
            return await self._password.begin(session, account)
        if not kit.policy.choices(session, account):
            return await kit.escalate(session, "too_few_methods", reason="too_few_methods")
        session.offer_methods()
        return [kit.menu(session, account, "choose_second")]

    async def _reconfirming(self, session: ResetSession, said: Said) -> list[Reply]:
        put_off = await self._reconfirmation.put_off(session, said.text)
        return put_off if put_off is not None else await self._choose(session, said)

    async def _take_password(self, session: ResetSession, said: Said) -> list[Reply]:
        return await self._password.take(session, said.inbound.text)

    async def _awaiting_page(self, session: ResetSession, said: Said) -> list[Reply]:
        return await self._password.awaiting_page(session)

    async def _enrolling(self, session: ResetSession, said: Said) -> list[Reply]:
        return await self._enrolment.choose(session, said.text)

    async def _enrolling_authenticator(self, session: ResetSession, said: Said) -> list[Reply]:
        return await self._enrolment.take_code(session, said.text)

    async def _enrolling_questions(self, session: ResetSession, said: Said) -> list[Reply]:
        return await self._enrolment.take_question(session, said.text)


def _identified(account: Account | None, eligible: bool) -> str:
    """`reset.identified`'s outcome: what the name came to, for the helpdesk's eyes only
    (the person hears the same either way on a channel where names are typed)."""
    if account is None:
        return "not_found"
    return "identified" if eligible else "not_eligible"


def _names_account(name: str, account: Account | None, user: str) -> bool:
    names = {user.casefold()}
    if account is not None:
        names |= {account.id.casefold(), account.username.casefold()}
        names |= {alias.casefold() for alias in account.aliases}
        if account.email:
            names.add(account.email.casefold())
    return name.casefold() in names


def _replies(reply: Reply | None) -> list[Reply]:
    return [reply] if reply is not None else []


Step = Callable[[Conversation, ResetSession, Said], Awaitable[list[Reply]]]

STEPS: dict[str, Step] = {
    "idle": Conversation._begin,
    "identifying": Conversation._identify_typed,
    "choosing_method": Conversation._choose,
    "challenged": Conversation._answer,
    "reconfirming": Conversation._reconfirming,
    "choosing_password": Conversation._take_password,
    "awaiting_password": Conversation._awaiting_page,
    "enrolling": Conversation._enrolling,
    "enrolling_authenticator": Conversation._enrolling_authenticator,
    "enrolling_questions": Conversation._enrolling_questions,
}
# The directory write is under way (settled after the turn that started it was stored):
# a message then is answered "try again".
WITHOUT_INPUT = frozenset({"resetting"})


def uncovered_states(steps: dict[str, Step]) -> set[str]:
    """Live states with neither a step nor a reason to take no message, and steps for
    states the machine does not have or never keeps a session in (an end)."""
    live = set(STATES) - ENDS
    return (live - WITHOUT_INPUT) ^ set(steps)


if uncovered := uncovered_states(STEPS):
    raise RuntimeError(f"the conversation's steps do not match the machine: {sorted(uncovered)}")
