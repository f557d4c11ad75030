"""What a stored turn does to the outside world: the confirmations its passed checks record
in the method registry, its code deliveries (and what a failed one means for the
conversation), the account change, and the notices after it. What must not
delay a reply runs in the process's one background pool (`DialogPorts.background`).

All of it runs only after the turn's session was written: two turns racing on one session
may both decide to reset, but only the one whose write won is ever settled. The password
link a turn issued (`Outcome.issued_link`) is the caller's to record, with its session.
"""

import logging
from collections.abc import Coroutine
from typing import Any

from adapters.delivery import DeliveryFailed, Message, Receipt
from adapters.directory import Account, DirectoryUnavailable, PasswordRejected, ResetNotPermitted
from dialogs.kit import CHECK_PASSED, DialogKit
from dialogs.notices import Happened, Notice
from dialogs.reconfirmation import after_reset
from dialogs.replies import Outcome, Reply
from dialogs.session import AccountChange, AuditEvent, Delivery, ResetSession
from dialogs.tickets import moves_tickets

log = logging.getLogger(__name__)


class Effects:
    def __init__(self, kit: DialogKit) -> None:
        self._kit = kit

    async def settle(self, outcome: Outcome) -> Outcome:
        """See `ResetDialog.settle`."""
        kit = self._kit
        await kit.write_audit(outcome.events)
        await self._confirm_passed(outcome.events)
        for delivery in outcome.deliveries:
            if delivery.background:
                self._in_background(self._deliver(delivery, outcome.session))
                continue
            if (undelivered := await self._deliver(delivery, outcome.session)) is not None:
                return undelivered
        change = outcome.account_change
        if outcome.session is None:
            return Outcome(changed=False)
        if change is None:
            told = await self._ticket(ResetSession.from_dict(outcome.session), outcome.events)
            return Outcome(told, changed=False)
        session = ResetSession.from_dict(outcome.session)
        if session.state != "resetting" or not session.has_enough_verifications():
            log.error(
                "an account change without a verified session", extra={"state": session.state}
            )
            return Outcome(changed=False)
        with kit.machine.attached(session):
            replies = await self._change_account(session, change)
        await kit.write_audit(session.events)
        replies += await self._ticket(session, session.events)
        return Outcome(replies, session.to_dict())

    async def _confirm_passed(self, events: list[AuditEvent]) -> None:
        """Each check the stored turn saw pass confirms what it proved, as of now: only the
        turn whose write won records it, before the account change that may follow reads it
        (see `dialogs.reconfirmation.after_reset`)."""
        for event in events:
            account, proof = event.fields.get("account"), event.fields.get("proof")
            if event.name == CHECK_PASSED and account and proof:
                await self._kit.ports.registry.confirm(account, proof)

    async def _deliver(self, delivery: Delivery, stored: dict[str, Any] | None) -> Outcome | None:
        """Send one code; None when it went. A code the carrier did not take costs no
        budget and leaves no challenge: the user is told and offered the other methods. A
        blind challenge says nothing and keeps its budget spent, so a real name whose mail
        bounces and a made-up one still read alike to the end.
        """
        kit = self._kit
        message = delivery.message
        session = ResetSession.from_dict(stored or {})
        context = {**session.audit_context(), "method": message.medium}
        try:
            receipt: Receipt = await kit.ports.sender.send(message)
        except DeliveryFailed as failure:
            await kit.ports.audit.record(
                "code.send_failed",
                **context,
                outcome="maybe_sent" if failure.maybe_sent else "not_sent",
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
                return Outcome([kit.say(session, "send_uncertain", to=to)], changed=False)
            if delivery.background or stored is None:
                return None
            subjects = [session.subject, *filter(None, [session.account_key])]
            await kit.limits.nothing_sent(subjects, message.medium)
            return await self._undelivered(session, message.medium)
        await kit.ports.audit.record(
            "code.sent",
            **context,
            outcome="sent",
            provider=receipt.provider,
            message_id=receipt.id,
        )
        return None

    async def _destination(self, session: ResetSession, medium: str) -> str:
        """Where a code by `medium` goes, masked as the chat shows it."""
        account = await self._kit.account(session)
        return self._kit.codes[medium].masked(account, session.proven) if account else ""

    async def _undelivered(self, session: ResetSession, medium: str) -> Outcome:
        kit = self._kit
        account = await kit.account(session)
        to = kit.codes[medium].masked(account, session.proven) if account else ""
        with kit.machine.attached(session):
            session.challenge = None
            session.unreachable.append(medium)
            failed = kit.say(session, "send_failed", to=to)
            if account is not None and kit.policy.choices(session, account):
                session.offer_methods()
                intro = "choose_second" if session.passed else "choose_method"
                replies = [failed, kit.menu(session, account, intro)]
            else:
                replies = [
                    failed,
                    *await kit.escalate(session, "escalated", reason="undelivered"),
                ]
        await kit.write_audit(session.events)
        replies += await self._ticket(session, session.events)
        return Outcome(replies, session.to_dict(), supersedes=True)

    async def _ticket(self, session: ResetSession, events: list[AuditEvent]) -> list[Reply]:
        """The ticket the person is now to quote, when the turn moved one on."""
        kit = self._kit
        if not moves_tickets(events):
            return []
        told = await kit.ports.tickets.settled(session, events)
        if told is None:
            return []
        return [kit.say(session, told.message, ticket=told.ticket)]

    def _in_background(self, work: Coroutine[Any, Any, object]) -> None:
        if not self._kit.ports.background.start(work, failed="background work failed"):
            log.warning("background work dropped: the service is shutting down")

    async def _change_account(self, session: ResetSession, change: AccountChange) -> list[Reply]:
        kit = self._kit
        account = await kit.account(session)
        assert account is not None
        try:
            if change.unlock:
                return await self._unlock(session, account)
            return await self._change_password(session, account, change.password)
        except ResetNotPermitted:
            session.change_failed()
            return await kit.escalate(session, "helpdesk_only", reason="not_permitted")
        except DirectoryUnavailable:
            session.change_failed()
            log.error("directory unavailable during an account change")
            return [kit.say(session, "unavailable")]

    async def _unlock(self, session: ResetSession, account: Account) -> list[Reply]:
        kit = self._kit
        await kit.ports.directory.unlock(account)
        session.finish()
        session.finished, session.finished_at = "unlock", kit.ports.clock.now()
        await kit.clear_limits(session)
        await kit.record(session, "account.unlocked", methods=",".join(session.passed))
        self.notify(session, account, "unlock")
        return [kit.say(session, "unlocked")]

    async def _change_password(
        self, session: ResetSession, account: Account, chosen: str | None
    ) -> list[Reply]:
        kit = self._kit
        temporary = chosen is None
        password = chosen or kit.passwords.temporary()
        try:
            await kit.ports.directory.set_password(account, password, must_change=temporary)
        except PasswordRejected as rejected:
            session.change_failed()
            await kit.record(session, "password.refused_by_directory", kind=rejected.kind)
            if temporary:
                return await kit.escalate(session, "escalated", reason="temporary_refused")
            return [self._refusal(session, rejected)]
        signed_out = await self._after_reset(session, account, must_change=temporary)
        if temporary:
            text = kit.catalog.text("temporary_password", session.locale, password=password)
            done = Reply(text, sensitive=True)
        else:
            done = kit.say(session, "password_link_done" if session.link_key else "reset_done")
        tip = await after_reset(kit, session, account)
        if signed_out:
            return [done, *tip]
        helpdesk = kit.settings.helpdesk.contact
        return [done, kit.say(session, "not_signed_out", helpdesk=helpdesk), *tip]

    def _refusal(self, session: ResetSession, rejected: PasswordRejected) -> Reply:
        by_kind = {"history": "password_used_before", "same": "password_same"}
        if rejected.kind in by_kind:
            return self._kit.say(session, by_kind[rejected.kind])
        return self._kit.say(session, "password_refused", reason=rejected.reason)

    async def _after_reset(
        self, session: ResetSession, account: Account, *, must_change: bool
    ) -> bool:
        """The password is set: whatever follows, the reset is done, audited and told.
        Returns whether the account's other sessions were ended."""
        kit = self._kit
        session.finish()
        session.finished, session.finished_at = "reset", kit.ports.clock.now()
        try:
            await kit.ports.directory.revoke_sessions(account)
            signed_out = True
        except DirectoryUnavailable:
            log.error("password set, but the account's sessions could not be ended")
            signed_out = False
        await kit.clear_limits(session)
        await kit.record(
            session,
            "password.reset",
            methods=",".join(session.passed),
            must_change=must_change,
            admin=account.is_admin,
            signed_out=signed_out,
        )
        self.notify(session, account, "reset")
        return signed_out

    def notify(self, session: ResetSession, account: Account, notice: Notice) -> None:
        """Tell the owner, and for an admin's reset every admin, once the reply is out."""
        self._in_background(self._tell(session, account, notice, self._kit.ports.clock.now()))

    async def _tell(
        self, session: ResetSession, account: Account, notice: Notice, at: float
    ) -> None:
        kit = self._kit
        settings = kit.settings.notifications
        happened = Happened(account.username, at, session.channel, session.locale)
        context = {**session.audit_context(), "account": account.id, "notice": notice}
        if settings.users:
            if account.email:
                message = kit.compose.notice(notice, account.email, happened)
                await self._send_notice(message, context)
            text = kit.compose.notice_text(notice, happened)
            if await kit.ports.reach.tell(account, text, besides=session.channel):
                await kit.ports.audit.record("notice.sent", **context, outcome="sent", to="chat")
        if settings.admins and account.is_admin and notice == "reset":
            for address in await self._admin_addresses(account):
                message = kit.compose.notice("admin_reset", address, happened)
                await self._send_notice(message, {**context, "notice": "admin_reset"})

    async def _admin_addresses(self, account: Account) -> list[str]:
        """The directory's admins and the configured addresses, each once, without the
        admin who was reset (they had their own notice)."""
        try:
            admins = await self._kit.ports.directory.admin_emails()
        except DirectoryUnavailable:
            log.warning("directory admins unknown: only the configured addresses are told")
            admins = []
        own = (account.email or "").casefold()
        addresses: dict[str, str] = {}
        for address in [*admins, *self._kit.settings.notifications.admin_recipients]:
            if address.casefold() != own:
                addresses.setdefault(address.casefold(), address)
        return list(addresses.values())

    async def _send_notice(self, message: Message, context: dict[str, Any]) -> None:
        ports = self._kit.ports
        try:
            receipt = await ports.sender.send(message)
        except DeliveryFailed as failure:
            await ports.audit.record(
                "notice.send_failed", **context, outcome="not_sent", reason=failure.reason
            )
            log.warning("notice not sent", extra={"reason": failure.reason})
            return
        await ports.audit.record(
            "notice.sent",
            **context,
            outcome="sent",
            to="email",
            provider=receipt.provider,
            message_id=receipt.id,
        )
