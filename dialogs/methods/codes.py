"""One-time codes sent by email, text message or voice call."""

import secrets

from adapters.delivery import Medium
from adapters.directory import Account
from dialogs.masking import mask_email, mask_phone
from dialogs.methods.base import (
    FlowLocked,
    MethodKit,
    PhoneBudgetSpent,
    Result,
    Verdict,
    digits_of,
)
from dialogs.replies import Reply
from dialogs.session import Challenge, Delivery, ResetSession


class CodeMethod:
    def __init__(self, medium: Medium) -> None:
        self.name: Medium = medium

    def destination(self, account: Account) -> str | None:
        if self.name == "email":
            return account.email
        if self.name == "sms":
            return account.mobile_phone
        return account.mobile_phone or account.office_phone

    def available(self, account: Account) -> bool:
        return bool(self.destination(account))

    def label(self, account: Account, kit: MethodKit, session: ResetSession) -> str:
        return kit.catalog.text(f"label_{self.name}", session.locale, to=self.masked(account))

    async def start(
        self, session: ResetSession, account: Account | None, kit: MethodKit, *, blind: bool
    ) -> Reply:
        codes = kit.settings.codes
        code = f"{secrets.randbelow(10**codes.length):0{codes.length}d}"
        to = self.destination(account) if account else None
        if not await kit.limits.reserve_send(session.subject, self.name):
            raise FlowLocked
        if blind and not await kit.limits.reserve_typed_send(session.client, self.name):
            to = None
        if to and not await kit.may_send(session, self.name):
            to = None
        if to and self.name != "email" and not await kit.limits.reserve_phone_budget():
            if not blind:
                raise PhoneBudgetSpent
            to = None
        session.challenge = Challenge(
            method=self.name,
            expires_at=kit.clock.now() + codes.lifetime,
            code_hash=kit.code_hash(session, code) if to else kit.unmatchable_hash(),
            attempts_left=codes.attempts,
        )
        minutes = round(codes.lifetime / 60)
        if to:
            message = kit.compose.code(self.name, to, code, minutes, session.locale)
            session.deliveries.append(Delivery(message, background=blind))
        if blind:
            return kit.say(session, f"blind_{self.name}", length=codes.length, minutes=minutes)
        assert account is not None
        return kit.say(
            session,
            f"sent_{self.name}",
            length=codes.length,
            minutes=minutes,
            to=self.masked(account),
        )

    async def check(
        self, session: ResetSession, account: Account | None, text: str, kit: MethodKit
    ) -> Verdict:
        challenge = session.challenge
        assert challenge is not None
        assert challenge.code_hash is not None
        if challenge.expires_at is None or kit.clock.now() >= challenge.expires_at:
            return Verdict(Result.VOID, kit.say(session, "code_expired"))
        if challenge.attempts_left <= 0:
            return Verdict(Result.VOID, kit.say(session, "code_void"))
        typed = digits_of(text)
        if typed is None:
            return Verdict(Result.PENDING, kit.say(session, "code_format"))
        may_pass = await kit.spend_attempt(session)
        challenge.attempts_left -= 1
        matches = secrets.compare_digest(kit.code_hash(session, typed), challenge.code_hash)
        if matches and may_pass:
            challenge.code_hash = None
            challenge.attempts_left = 0
            await kit.refund_attempt(session)
            return Verdict(Result.PASSED)
        if challenge.attempts_left <= 0:
            return Verdict(Result.FAILED, kit.say(session, "code_void"))
        return Verdict(Result.FAILED, kit.say(session, "code_wrong"))

    def masked(self, account: Account) -> str:
        """The destination as the chat may show it (b***@contoso.com, ***0123)."""
        to = self.destination(account) or ""
        return mask_email(to) if self.name == "email" else mask_phone(to)
