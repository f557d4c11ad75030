"""What every part of the dialog shares: the ports, the catalog, the methods and policy,
the audit notes, and the endings any step may reach (a lock, the helpdesk).

Built once per dialog, so the conversation, the password step and the effects read the same
limits and the same methods, and say things in the same words.
"""

from typing import Any

from adapters.directory import Account
from dialogs.catalog import Catalog
from dialogs.limits import Limits
from dialogs.machine import ResetMachine
from dialogs.methods import MethodKit, code_methods, verification_methods
from dialogs.notices import Composer
from dialogs.password_policy import PasswordPolicy
from dialogs.policy import ResetPolicy
from dialogs.ports import DialogPorts
from dialogs.replies import Choice, Reply
from dialogs.session import AuditEvent, ResetSession
from dialogs.settings import DialogSettings

# The audit event of a passed check; once its turn is stored, what it proved is confirmed in
# the method registry (`dialogs.effects`).
CHECK_PASSED = "challenge.passed"


class DialogKit:
    def __init__(self, settings: DialogSettings, ports: DialogPorts, catalog: Catalog) -> None:
        self.settings = settings
        self.ports = ports
        self.catalog = catalog
        self.compose = Composer(self.catalog, settings.helpdesk.contact)
        self.limits = Limits(ports.store, settings.limits, ports.clock)
        self.passwords = PasswordPolicy(settings.password, ports.breaches)
        self.machine = ResetMachine()
        self.methods_kit = MethodKit(
            settings=settings,
            catalog=self.catalog,
            directory=ports.directory,
            store=ports.store,
            limits=self.limits,
            clock=ports.clock,
            code_key=ports.code_key,
            compose=self.compose,
        )
        self.codes = code_methods()
        self.methods = verification_methods(settings, self.codes)
        self.policy = ResetPolicy(settings, ports.directory, self.methods)

    def say(self, session: ResetSession, key: str, **values: Any) -> Reply:
        return Reply(self.catalog.text(key, session.locale, **values))

    async def account(self, session: ResetSession) -> Account | None:
        if session.account_id is None:
            return None
        return await self.ports.directory.find(session.account_id)

    async def record(self, session: ResetSession, event: str, **fields: Any) -> None:
        """Note an audit event; it is written when the turn is stored (see `settle`)."""
        session.note(event, **fields)

    async def write_audit(self, events: list[AuditEvent]) -> None:
        for event in events:
            await self.ports.audit.record(event.name, **event.fields)

    async def escalate(self, session: ResetSession, message: str, *, reason: str) -> list[Reply]:
        session.escalate()
        await self.record(session, "reset.escalated", reason=reason)
        return [self.say(session, message, helpdesk=self.settings.helpdesk.contact)]

    async def lock(self, session: ResetSession, *, already: bool = False) -> list[Reply]:
        if not already:
            await self.limits.lock(session.subject)
            if session.account_key is not None and not session.blind:
                await self.limits.lock(session.account_key)
        session.lock()
        await self.record(session, "reset.locked", already=already)
        return [self.say(session, "locked", helpdesk=self.settings.helpdesk.contact)]

    async def locked(self, session: ResetSession) -> bool:
        """Whether the flow is locked as this conversation may show it: the subject's lock,
        and once something is verified the account's (a lock set in any conversation, on
        any instance, under any of the account's names)."""
        if await self.limits.is_locked(session.subject):
            return True
        key = session.account_key
        return key is not None and not session.blind and await self.limits.is_locked(key)

    async def failures_exhausted(self, session: ResetSession) -> bool:
        """The subject's failures are spent. The account's, spent under any of its names,
        lock the account, though a blind challenge goes on answering as before (the
        account's lock then keeps any answer from passing and any code from going out)."""
        key = session.account_key
        if key is not None and await self.limits.failures_exhausted(key):
            await self.limits.lock(key)
            if not session.blind:
                return True
        return await self.limits.failures_exhausted(session.subject)

    async def clear_limits(self, session: ResetSession) -> None:
        await self.limits.clear(session.subject)
        if session.account_key is not None:
            await self.limits.clear(session.account_key)

    def menu(
        self, session: ResetSession, account: Account, intro: str | None, *, say: str = ""
    ) -> Reply:
        """The methods menu: offered afresh under `intro`, or again (None) as it stood,
        under `say` (the words of a menu shown again: "Please pick one")."""
        if intro is not None:
            session.offered = list(self.policy.choices(session, account))
            session.note("methods.offered", offered=",".join(session.offered))
        choices = tuple(
            Choice(name, self.methods[name].label(account, self.methods_kit, session))
            for name in session.offered
        )
        text = self.catalog.text(intro or say or "choose_method", session.locale)
        return Reply(text, choices)
