"""The reset conversation: one message in, replies and the next session state out.

The dialog holds no per-conversation state itself; the caller loads the session, passes it
in and stores what comes back (with optimistic concurrency). What the turn does to the
outside world waits until that write has succeeded: the caller then calls `settle`, which
delivers codes and changes the password. Two turns racing on one session can therefore
both compute a pass, but only the one whose write wins ever resets the password.
It talks to the world only through the ports it was given, and never to a channel.
"""

import asyncio
import logging
import re
import secrets
import unicodedata
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from adapters.audit import Audit
from adapters.delivery import CodeSender, DeliveryFailed, Message, Receipt
from adapters.directory import (
    Account,
    Directory,
    DirectoryUnavailable,
    PasswordRejected,
    ResetNotPermitted,
)
from dialogs.catalog import Catalog
from dialogs.limits import Limits
from dialogs.machine import ENDS, ResetMachine
from dialogs.methods import (
    AuthenticatorMethod,
    CodeMethod,
    FlowLocked,
    MethodKit,
    PhoneBudgetSpent,
    QuestionsMethod,
    Result,
    VerificationMethod,
)
from dialogs.notices import Composer, Happened, Notice
from dialogs.password_link import link_key, new_token
from dialogs.password_policy import PasswordPolicy
from dialogs.picking import asks_to_start, pick
from dialogs.policy import ResetPolicy
from dialogs.reach import ChatReach, NoChatReach
from dialogs.replies import Choice, Inbound, LinkButton, Outcome, Reply
from dialogs.session import AccountChange, AuditEvent, Delivery, IssuedLink, ResetSession
from dialogs.settings import DialogSettings, PasswordSettings
from state import Clock, Store

log = logging.getLogger(__name__)

MAX_MESSAGE = 1000
MAX_ACCOUNT_NAME = 256
_COMMANDS = {
    "cancel": "cancel",
    "stop": "cancel",
    "quit": "cancel",
    "exit": "cancel",
    "help": "help",
    "?": "help",
    "agent": "agent",
    "human": "agent",
    "helpdesk": "agent",
    "person": "agent",
    "other": "other",
    "resend": "resend",
}
_OWN = {"my", "me", "mine", "password", "pw", "pwd"}
_RESET_TARGET = re.compile(
    r"^(?:please\s+)?reset\s+(?:the\s+)?(?:password\s+(?:for|of)\s+)?"
    r"(?P<name>[^\s']+?)(?:'s)?(?:\s+password)?[.!]?$"
)


def _clean(text: str) -> str:
    """Drop control characters (a pasted NUL or escape must not reach a directory query)."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] != "C" or ch in "\n\t").strip()


def requested_account(text: str) -> str | None:
    """The account named in "reset bob" / "reset password for bob", if any other than 'my'."""
    match = _RESET_TARGET.match(text.casefold())
    if not match or match.group("name") in _OWN:
        return None
    return match.group("name")


class ResetDialog:
    def __init__(
        self,
        settings: DialogSettings,
        *,
        directory: Directory,
        sender: CodeSender,
        store: Store,
        audit: Audit,
        clock: Clock,
        code_key: bytes,
        password_page: str,
        reach: ChatReach | None = None,
    ) -> None:
        """`password_page`: the configured public address links are made from (the token
        is appended), never anything a request said about itself. `reach` tells people in
        their other chats after a reset."""
        self._settings = settings
        self._password_page = password_page
        self._store = store
        self._directory = directory
        self._sender = sender
        self._audit = audit
        self._clock = clock
        self._catalog = Catalog(settings.messages)
        self._compose = Composer(self._catalog, settings.helpdesk.contact)
        self._reach: ChatReach = reach or NoChatReach()
        self._limits = Limits(store, settings.limits, clock)
        self._passwords = PasswordPolicy(settings.password)
        self._machine = ResetMachine()
        self._background: set[asyncio.Task[None]] = set()
        self._kit = MethodKit(
            settings=settings,
            catalog=self._catalog,
            directory=directory,
            store=store,
            limits=self._limits,
            clock=clock,
            code_key=code_key,
            compose=self._compose,
        )
        self._codes = {medium: CodeMethod(medium) for medium in ("email", "sms", "voice")}
        self._methods: dict[str, VerificationMethod] = {
            **self._codes,
            "authenticator": AuthenticatorMethod(),
            "questions": QuestionsMethod(settings.questions.asked),
        }
        self._policy = ResetPolicy(settings, directory, self._methods)

    @property
    def session_ttl(self) -> float:
        """How long a stored session is worth keeping (a little past its own timeout)."""
        return self._settings.session.timeout + 60

    @property
    def password_settings(self) -> PasswordSettings:
        return self._settings.password

    def message(self, key: str, locale: str) -> Reply:
        """A standalone message from the catalog (for answers the caller gives itself)."""
        return Reply(self._catalog.text(key, locale))

    def now(self) -> float:
        return self._clock.now()

    async def account_name(self, stored: dict[str, Any]) -> str:
        """The username a stored session resets (for the password page's heading)."""
        account = await self._account(ResetSession.from_dict(stored))
        return account.username if account else ""

    def text(self, key: str, locale: str, /, **values: Any) -> str:
        """A catalog text (the password page's words come from here too)."""
        return self._catalog.text(key, locale, **values)

    async def turn(self, stored: dict[str, Any] | None, inbound: Inbound) -> Outcome:
        text = _clean(inbound.text)
        previous = ResetSession.from_dict(stored) if stored else None
        if len(inbound.text) > MAX_MESSAGE:
            locale = previous.locale if previous else inbound.locale
            return Outcome([Reply(self._catalog.text("too_long", locale))], stored, changed=False)
        if (
            previous is not None
            and previous.state == "done"
            and not self._starts_again(previous, text)
        ):
            return Outcome([self._closing(previous, text)], stored, changed=False)
        if previous is None or previous.state in ENDS:
            session = ResetSession(locale=inbound.locale or "en")
        else:
            session = previous
        session.client = inbound.client
        with self._machine.attached(session):
            replies = await self._step(session, inbound, text)
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
        ended_long_ago = self._clock.now() >= finished.finished_at + self._settings.session.timeout
        return ended_long_ago or asks_to_start(text)

    def _closing(self, finished: ResetSession, text: str) -> Reply:
        """The short answer to a message after a finished reset: what was done, and when."""
        command = _COMMANDS.get(text.casefold())
        if command == "help":
            return self._say(finished, "help")
        if command == "agent":
            return self._say(finished, "closing_agent", helpdesk=self._settings.helpdesk.contact)
        at = datetime.fromtimestamp(finished.finished_at, UTC).strftime("%H:%M UTC")
        key = "closing_unlock" if finished.finished == "unlock" else "closing_reset"
        return self._say(finished, key, time=at)

    async def settle(self, outcome: Outcome, *, session_key: str | None = None) -> Outcome:
        """Do what a stored turn decided: record its password link, deliver its codes,
        change the password or unlock.

        Call only after `outcome.session` was written (under `session_key` in the store).
        Returns the further replies and, when the password step ran, the session to write
        next.
        """
        await self._write_audit(outcome.events)
        link = outcome.issued_link
        if link is not None and outcome.session is not None and session_key is not None:
            await self._store.put(
                link.key,
                {
                    "session_key": session_key,
                    "nonce": outcome.session["nonce"],
                    "expires_at": link.expires_at,
                    "csrf": "",
                },
                ttl=max(link.expires_at - self._clock.now(), 1.0),
                if_none_match=True,
            )
        for delivery in outcome.deliveries:
            if delivery.background:
                self._in_background(self._deliver(delivery, outcome.session))
                continue
            if (undelivered := await self._deliver(delivery, outcome.session)) is not None:
                return undelivered
        change = outcome.account_change
        if change is None or outcome.session is None:
            return Outcome(changed=False)
        session = ResetSession.from_dict(outcome.session)
        if session.state != "resetting" or not session.has_enough_verifications():
            log.error(
                "an account change without a verified session", extra={"state": session.state}
            )
            return Outcome(changed=False)
        with self._machine.attached(session):
            replies = await self._change_account(session, change)
        await self._write_audit(session.events)
        return Outcome(replies, session.to_dict())

    async def _deliver(self, delivery: Delivery, stored: dict[str, Any] | None) -> Outcome | None:
        """Send one code; None when it went. A code the carrier did not take costs no
        budget and leaves no challenge: the user is told and offered the other methods. A
        blind challenge says nothing and keeps its budget spent, so a real name whose mail
        bounces and a made-up one still read alike to the end.
        """
        message = delivery.message
        session = ResetSession.from_dict(stored or {})
        context = {"session": session.nonce[:12], "account": session.account_id}
        try:
            receipt: Receipt = await self._sender.send(message)
        except DeliveryFailed as failure:
            await self._audit.record(
                "code.send_failed",
                **context,
                method=message.medium,
                reason=failure.reason,
                maybe_sent=failure.maybe_sent,
            )
            log.warning(
                "code not sent",
                extra={"method": message.medium, "reason": failure.reason},
            )
            if failure.maybe_sent:
                if delivery.background:
                    return None
                to = await self._destination(session, message.medium)
                return Outcome([self._say(session, "send_uncertain", to=to)], changed=False)
            if delivery.background or stored is None:
                return None
            subjects = [session.subject, *filter(None, [session.account_key])]
            await self._limits.nothing_sent(subjects, message.medium)
            return await self._undelivered(session, message.medium)
        await self._audit.record(
            "code.sent",
            **context,
            method=message.medium,
            provider=receipt.provider,
            message_id=receipt.id,
        )
        return None

    async def _destination(self, session: ResetSession, medium: str) -> str:
        """Where a code by `medium` goes, masked as the chat shows it."""
        account = await self._account(session)
        return self._codes[medium].masked(account, session.proven) if account else ""

    async def _undelivered(self, session: ResetSession, medium: str) -> Outcome:
        account = await self._account(session)
        to = self._codes[medium].masked(account, session.proven) if account else ""
        with self._machine.attached(session):
            session.challenge = None
            session.unreachable.append(medium)
            failed = self._say(session, "send_failed", to=to)
            if account is not None and self._policy.choices(session, account):
                session.offer_methods()
                intro = "choose_second" if session.passed else "choose_method"
                replies = [failed, self._menu(session, account, intro)]
            else:
                replies = [
                    failed,
                    *await self._escalate(session, "escalated", reason="undelivered"),
                ]
        await self._write_audit(session.events)
        return Outcome(replies, session.to_dict(), supersedes=True)

    async def _write_audit(self, events: list[AuditEvent]) -> None:
        for event in events:
            await self._audit.record(event.name, **event.fields)

    async def drain(self) -> None:
        """Wait for deliveries still under way (at shutdown and in tests)."""
        while self._background:
            await asyncio.gather(*self._background)

    def _in_background(self, work: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(self._quietly(work))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @staticmethod
    async def _quietly(work: Coroutine[Any, Any, object]) -> None:
        try:
            await work
        except Exception as error:
            log.warning("background work failed", extra={"error": type(error).__name__})

    def _say(self, session: ResetSession, key: str, **values: Any) -> Reply:
        return Reply(self._catalog.text(key, session.locale, **values))

    async def _step(self, session: ResetSession, inbound: Inbound, text: str) -> list[Reply]:
        now = self._clock.now()
        command = _COMMANDS.get(text.casefold())
        if session.state != "idle" and now >= session.expires_at:
            session.expire()
            await self._record(session, "reset.expired")
            return [self._say(session, "expired")]
        if command == "help":
            return [self._say(session, "help")]
        if command == "cancel":
            session.cancel()
            await self._record(session, "reset.cancelled")
            return [self._say(session, "cancelled")]
        if command == "agent":
            return await self._escalate(session, "escalated", reason="asked")
        if session.state not in ("idle", "identifying") and await self._locked(session):
            return await self._lock(session, already=True)
        try:
            if session.state == "idle":
                return await self._begin(session, inbound, text)
            if session.state == "identifying":
                return await self._identify_typed(session, text)
            if session.state == "choosing_method":
                return await self._choose(session, text)
            if session.state == "challenged":
                return await self._answer(session, text, command)
            if session.state == "choosing_password":
                return await self._take_password(session, inbound.text)
            if session.state == "awaiting_password":
                return await self._awaiting_page(session)
            return [self._say(session, "try_again")]
        except FlowLocked:
            return await self._lock(session)

    async def _begin(self, session: ResetSession, inbound: Inbound, text: str) -> list[Reply]:
        now = self._clock.now()
        session.started_at = now
        session.expires_at = now + self._settings.session.timeout
        session.nonce = secrets.token_hex(16)
        session.channel = inbound.channel
        if inbound.user is None:
            session.typed = True
            session.ask_account()
            await self._record(session, "reset.started", channel=inbound.channel)
            return [self._say(session, "ask_account")]
        account = await self._directory.find(inbound.user)
        requested = requested_account(text)
        if requested and not self._names_account(requested, account, inbound.user):
            await self._record(session, "reset.refused_other_account", channel=inbound.channel)
            return [self._say(session, "own_account_only", username=inbound.user)]
        session.subject = account.id if account else f"user:{inbound.user.casefold()}"
        await self._record(session, "reset.started", channel=inbound.channel)
        if account is None or not await self._policy.eligible(account):
            return await self._escalate(session, "not_eligible", reason="not_eligible")
        if await self._limits.is_locked(session.subject):
            return await self._lock(session, already=True)
        session.account_id = account.id
        session.required = self._policy.required(account)
        if not self._policy.can_complete(account):
            return await self._escalate(session, "too_few_methods", reason="too_few_methods")
        greeting = self._catalog.text("greeting", session.locale, name=account.display_name)
        session.offer_methods()
        menu = self._menu(session, account, "choose_method")
        return [Reply(f"{greeting}\n\n{menu.text}", menu.choices)]

    async def _identify_typed(self, session: ResetSession, text: str) -> list[Reply]:
        name = text if 0 < len(text) <= MAX_ACCOUNT_NAME else ""
        account = await self._directory.find(name) if name else None
        session.subject = f"name:{name.casefold()}"
        if await self._limits.is_locked(session.subject):
            return await self._lock(session, already=True)
        if account is not None and await self._policy.eligible(account):
            session.account_id = account.id
            session.required = self._policy.required(account)
        first = self._policy.blind_order()[0]
        reply = await self._methods[first].start(
            session, await self._account(session), self._kit, blind=True
        )
        session.issue_challenge()
        await self._record(session, "challenge.issued", method=first, blind=True)
        return [reply]

    async def _choose(self, session: ResetSession, text: str) -> list[Reply]:
        account = await self._account(session)
        assert account is not None
        if asks_to_start(text):
            return [self._menu(session, account, None)]
        labels = {
            name: self._methods[name].label(account, self._kit, session) for name in session.offered
        }
        picked = pick(text, session.offered, labels)
        if picked is None:
            return [self._menu(session, account, None, say="pick_one")]
        try:
            reply = await self._methods[picked].start(session, account, self._kit, blind=False)
        except PhoneBudgetSpent:
            session.offered = [m for m in session.offered if m not in ("sms", "voice")]
            return [self._say(session, "phone_busy"), self._menu(session, account, None)]
        session.issue_challenge()
        await self._record(session, "challenge.issued", method=picked, blind=False)
        return [reply]

    async def _answer(self, session: ResetSession, text: str, command: str | None) -> list[Reply]:
        challenge = session.challenge
        assert challenge is not None
        account = await self._account(session)
        blind = session.typed and not session.passed
        if command == "resend":
            if challenge.method not in ("email", "sms", "voice"):
                return [self._say(session, "no_resend")]
            reply = await self._methods[challenge.method].start(
                session, account, self._kit, blind=blind
            )
            session.issue_challenge()
            return [reply]
        if command == "other":
            return await self._other(session, account, blind)
        verdict = await self._methods[challenge.method].check(session, account, text, self._kit)
        if verdict.result is Result.PASSED:
            assert account is not None
            return await self._passed(session, account, challenge.method)
        if verdict.result is Result.FAILED:
            await self._record(session, "challenge.failed", method=challenge.method)
            if await self._failures_exhausted(session):
                return await self._lock(session)
            if challenge.method == "questions" and account is not None:
                again = await self._methods["questions"].start(
                    session, account, self._kit, blind=False
                )
                return [*self._replies(verdict.reply), again]
        return self._replies(verdict.reply)

    async def _other(
        self, session: ResetSession, account: Account | None, blind: bool
    ) -> list[Reply]:
        challenge = session.challenge
        assert challenge is not None
        if blind:
            order = self._policy.blind_order()
            following = order[(order.index(challenge.method) + 1) % len(order)]
            reply = await self._methods[following].start(session, account, self._kit, blind=True)
            session.issue_challenge()
            return [reply]
        assert account is not None
        session.offer_methods()
        return [self._menu(session, account, "choose_method")]

    async def _passed(self, session: ResetSession, account: Account, method: str) -> list[Reply]:
        proof = self._policy.proof(method, session, account)
        if method not in session.passed:
            session.passed.append(method)
        if proof is not None:
            session.proven.append(proof)
        session.challenge = None
        await self._record(session, "challenge.passed", method=method, proof=proof)
        if session.verified():
            return await self._password_step(session, account)
        if not self._policy.choices(session, account):
            return await self._escalate(session, "too_few_methods", reason="too_few_methods")
        session.offer_methods()
        return [self._menu(session, account, "choose_second")]

    async def _password_step(self, session: ResetSession, account: Account) -> list[Reply]:
        """Verified. A locked-out account may rather be unlocked, keeping its password."""
        if self._directory.can_unlock and account.locked:
            session.offered = ["unlock", "reset"]
            return [self._unlock_menu(session)]
        return self._new_password_step(session)

    def _new_password_step(self, session: ResetSession) -> list[Reply]:
        settings = self._settings.password
        if settings.entry == "link":
            return [self._issue_link(session)]
        if settings.entry == "chat":
            return [
                self._say(
                    session, "ask_new_password", min=settings.min_length, max=settings.max_length
                )
            ]
        return self._begin_change(session, session.start_reset, AccountChange())

    def _begin_change(
        self, session: ResetSession, trigger: Callable[[], bool], change: AccountChange
    ) -> list[Reply]:
        """Only a step the machine allowed (its guard counts what was proven) carries a
        change to the directory."""
        if not trigger():
            log.error("the machine refused the password step", extra={"state": session.state})
            return [self._say(session, "try_again")]
        session.account_change = change
        return []

    def _issue_link(self, session: ResetSession) -> Reply:
        """Verified: the password page link, recorded (as a hash) once the turn is stored."""
        token = new_token()
        lifetime = self._settings.password.link_lifetime
        expires_at = min(self._clock.now() + lifetime, session.expires_at)
        session.send_link()
        session.link_key = link_key(token)
        session.link_expires_at = expires_at
        session.issued_link = IssuedLink(token, session.link_key, expires_at)
        session.events.append(
            AuditEvent(
                "password.link_sent",
                {"session": session.nonce[:12], "account": session.account_id},
            )
        )
        minutes = max(1, round((expires_at - self._clock.now()) / 60))
        url = f"{self._password_page}{token}"
        text = self._catalog.text("password_link", session.locale, url=url, minutes=minutes)
        label = self._catalog.text("password_link_button", session.locale)
        return Reply(text, link=LinkButton(label, url))

    async def _awaiting_page(self, session: ResetSession) -> list[Reply]:
        if self._clock.now() >= session.link_expires_at:
            session.expire()
            await self._record(session, "reset.expired")
            return [self._say(session, "expired")]
        return [self._say(session, "password_link_pending")]

    def usable_link(
        self, stored: dict[str, Any] | None, link: dict[str, Any], key: str
    ) -> ResetSession | None:
        """The session a password page link belongs to, while the link may still be used:
        the same session (nonce and link), still waiting for the password, not expired."""
        if not stored:
            return None
        session = ResetSession.from_dict(stored)
        now = self._clock.now()
        usable = (
            session.state == "awaiting_password"
            and session.link_key == key
            and session.nonce == link.get("nonce")
            and now < float(link.get("expires_at", 0))
            and now < session.link_expires_at
            and now < session.expires_at
        )
        return session if usable else None

    async def page_password(self, stored: dict[str, Any], password: str, confirm: str) -> Outcome:
        """A password posted on the page for a usable link (see `usable_link`).

        A refusal comes back as one reply and nothing to store; an accepted password as the
        session to store (moved on to `resetting`, so a second post finds the link used) and
        the change for `settle`, exactly as a chat turn would.
        """
        session = ResetSession.from_dict(stored)
        if password != confirm:
            return Outcome([self._say(session, "password_mismatch")], stored, changed=False)
        account = await self._account(session)
        if account is None:
            return Outcome([self._say(session, "password_link_used")], stored, changed=False)
        if await self._locked(session):
            helpdesk = self._settings.helpdesk.contact
            return Outcome([self._say(session, "locked", helpdesk=helpdesk)], stored, changed=False)
        refusal = self._passwords.refusal(password, self._context_words(account))
        if refusal is not None:
            reply = self._say(session, refusal.message, **refusal.values)
            return Outcome([reply], stored, changed=False)
        with self._machine.attached(session):
            refused = self._begin_change(
                session, session.start_reset, AccountChange(password=password)
            )
        if refused:
            return Outcome(refused, stored, changed=False)
        await self._record(session, "password.link_used")
        return Outcome(
            [],
            session.to_dict(),
            account_change=session.account_change,
            events=session.events,
        )

    @staticmethod
    def _context_words(account: Account) -> list[str]:
        context = [account.username, *account.display_name.split()]
        if account.email:
            context.append(account.email.partition("@")[0])
        return context

    def _unlock_menu(self, session: ResetSession, say: str = "unlock_or_reset") -> Reply:
        choices = tuple(
            Choice(name, self._catalog.text(f"label_{name}", session.locale))
            for name in session.offered
        )
        return Reply(self._catalog.text(say, session.locale), choices)

    async def _take_password(self, session: ResetSession, password: str) -> list[Reply]:
        if session.offered == ["unlock", "reset"]:
            labels = {choice.value: choice.label for choice in self._unlock_menu(session).choices}
            picked = pick(password, session.offered, labels)
            if picked is None:
                return [self._unlock_menu(session, "pick_one")]
            session.offered = []
            if picked == "reset":
                return self._new_password_step(session)
            return self._begin_change(session, session.start_unlock, AccountChange(unlock=True))
        if self._settings.password.entry != "chat":
            return self._new_password_step(session)
        account = await self._account(session)
        assert account is not None
        refusal = self._passwords.refusal(password, self._context_words(account))
        if refusal is not None:
            return [self._say(session, refusal.message, **refusal.values)]
        return self._begin_change(session, session.start_reset, AccountChange(password=password))

    async def _change_account(self, session: ResetSession, change: AccountChange) -> list[Reply]:
        account = await self._account(session)
        assert account is not None
        try:
            if change.unlock:
                return await self._unlock(session, account)
            return await self._change_password(session, account, change.password)
        except ResetNotPermitted:
            session.change_failed()
            return await self._escalate(session, "helpdesk_only", reason="not_permitted")
        except DirectoryUnavailable:
            session.change_failed()
            log.error("directory unavailable during an account change")
            return [self._say(session, "unavailable")]

    async def _unlock(self, session: ResetSession, account: Account) -> list[Reply]:
        await self._directory.unlock(account)
        session.finish()
        session.finished, session.finished_at = "unlock", self._clock.now()
        await self._clear_limits(session)
        await self._record(session, "account.unlocked", methods=",".join(session.passed))
        self._notify(session, account, "unlock")
        return [self._say(session, "unlocked")]

    async def _change_password(
        self, session: ResetSession, account: Account, chosen: str | None
    ) -> list[Reply]:
        temporary = chosen is None
        password = chosen or self._passwords.temporary()
        try:
            await self._directory.set_password(account, password, must_change=temporary)
        except PasswordRejected as rejected:
            session.change_failed()
            await self._record(session, "password.refused_by_directory", kind=rejected.kind)
            if temporary:
                return await self._escalate(session, "escalated", reason="temporary_refused")
            return [self._refusal(session, rejected)]
        signed_out = await self._after_reset(session, account, must_change=temporary)
        if temporary:
            text = self._catalog.text("temporary_password", session.locale, password=password)
            done = Reply(text, sensitive=True)
        else:
            done = self._say(session, "password_link_done" if session.link_key else "reset_done")
        if signed_out:
            return [done]
        helpdesk = self._settings.helpdesk.contact
        return [done, self._say(session, "not_signed_out", helpdesk=helpdesk)]

    def _refusal(self, session: ResetSession, rejected: PasswordRejected) -> Reply:
        by_kind = {"history": "password_used_before", "same": "password_same"}
        if rejected.kind in by_kind:
            return self._say(session, by_kind[rejected.kind])
        return self._say(session, "password_refused", reason=rejected.reason)

    async def _after_reset(
        self, session: ResetSession, account: Account, *, must_change: bool
    ) -> bool:
        """The password is set: whatever follows, the reset is done, audited and told.
        Returns whether the account's other sessions were ended."""
        session.finish()
        session.finished, session.finished_at = "reset", self._clock.now()
        try:
            await self._directory.revoke_sessions(account)
            signed_out = True
        except DirectoryUnavailable:
            log.error("password set, but the account's sessions could not be ended")
            signed_out = False
        await self._clear_limits(session)
        await self._record(
            session,
            "password.reset",
            methods=",".join(session.passed),
            must_change=must_change,
            admin=account.is_admin,
            signed_out=signed_out,
        )
        self._notify(session, account, "reset")
        return signed_out

    def _notify(self, session: ResetSession, account: Account, notice: Notice) -> None:
        """Tell the owner, and for an admin's reset every admin, once the reply is out."""
        self._in_background(self._tell(session, account, notice, self._clock.now()))

    async def _tell(
        self, session: ResetSession, account: Account, notice: Notice, at: float
    ) -> None:
        settings = self._settings.notifications
        happened = Happened(account.username, at, session.channel, session.locale)
        context = {"session": session.nonce[:12], "account": account.id, "notice": notice}
        if settings.users:
            if account.email:
                message = self._compose.notice(notice, account.email, happened)
                await self._send_notice(message, context)
            text = self._compose.notice_text(notice, happened)
            if await self._reach.tell(account, text, besides=session.channel):
                await self._audit.record("notice.sent", **context, to="chat")
        if settings.admins and account.is_admin and notice == "reset":
            for address in await self._admin_addresses(account):
                message = self._compose.notice("admin_reset", address, happened)
                await self._send_notice(message, {**context, "notice": "admin_reset"})

    async def _admin_addresses(self, account: Account) -> list[str]:
        """The directory's admins and the configured addresses, each once, without the
        admin who was reset (they had their own notice)."""
        try:
            admins = await self._directory.admin_emails()
        except DirectoryUnavailable:
            log.warning("directory admins unknown: only the configured addresses are told")
            admins = []
        own = (account.email or "").casefold()
        addresses: dict[str, str] = {}
        for address in [*admins, *self._settings.notifications.admin_recipients]:
            if address.casefold() != own:
                addresses.setdefault(address.casefold(), address)
        return list(addresses.values())

    async def _send_notice(self, message: Message, context: dict[str, Any]) -> None:
        try:
            receipt = await self._sender.send(message)
        except DeliveryFailed as failure:
            await self._audit.record("notice.send_failed", **context, reason=failure.reason)
            log.warning("notice not sent", extra={"reason": failure.reason})
            return
        await self._audit.record(
            "notice.sent",
            **context,
            to="email",
            provider=receipt.provider,
            message_id=receipt.id,
        )

    async def _locked(self, session: ResetSession) -> bool:
        """Whether the flow is locked as this conversation may show it: the subject's lock,
        and once something is verified the account's (a lock set in any conversation, on
        any instance, under any of the account's names)."""
        if await self._limits.is_locked(session.subject):
            return True
        key = session.account_key
        return key is not None and not session.blind and await self._limits.is_locked(key)

    async def _failures_exhausted(self, session: ResetSession) -> bool:
        """The subject's failures are spent. The account's, spent under any of its names,
        lock the account, though a blind challenge goes on answering as before (the
        account's lock then keeps any answer from passing and any code from going out)."""
        key = session.account_key
        if key is not None and await self._limits.failures_exhausted(key):
            await self._limits.lock(key)
            if not session.blind:
                return True
        return await self._limits.failures_exhausted(session.subject)

    async def _clear_limits(self, session: ResetSession) -> None:
        await self._limits.clear(session.subject)
        if session.account_key is not None:
            await self._limits.clear(session.account_key)

    async def _lock(self, session: ResetSession, *, already: bool = False) -> list[Reply]:
        if not already:
            await self._limits.lock(session.subject)
            if session.account_key is not None and not session.blind:
                await self._limits.lock(session.account_key)
        session.lock()
        await self._record(session, "reset.locked", already=already)
        return [self._say(session, "locked", helpdesk=self._settings.helpdesk.contact)]

    async def _escalate(self, session: ResetSession, message: str, *, reason: str) -> list[Reply]:
        session.escalate()
        await self._record(session, "reset.escalated", reason=reason)
        return [self._say(session, message, helpdesk=self._settings.helpdesk.contact)]

    def _menu(
        self, session: ResetSession, account: Account, intro: str | None, *, say: str = ""
    ) -> Reply:
        """The methods menu: offered afresh under `intro`, or again (None) as it stood,
        under `say` (the words of a menu shown again: "Please pick one")."""
        if intro is not None:
            session.offered = list(self._policy.choices(session, account))
        choices = tuple(
            Choice(name, self._methods[name].label(account, self._kit, session))
            for name in session.offered
        )
        text = self._catalog.text(intro or say or "choose_method", session.locale)
        return Reply(text, choices)

    async def _account(self, session: ResetSession) -> Account | None:
        if session.account_id is None:
            return None
        return await self._directory.find(session.account_id)

    @staticmethod
    def _names_account(name: str, account: Account | None, user: str) -> bool:
        names = {user.casefold()}
        if account is not None:
            names |= {account.id.casefold(), account.username.casefold()}
            names |= {alias.casefold() for alias in account.aliases}
            if account.email:
                names.add(account.email.casefold())
        return name.casefold() in names

    @staticmethod
    def _replies(reply: Reply | None) -> list[Reply]:
        return [reply] if reply is not None else []

    async def _record(self, session: ResetSession, event: str, **fields: Any) -> None:
        """Note an audit event; it is written when the turn is stored (see `settle`)."""
        context = {"session": session.nonce[:12], "account": session.account_id}
        session.events.append(AuditEvent(event, {**context, "state": session.state, **fields}))
