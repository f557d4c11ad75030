"""One-time codes sent by email, text message or voice call."""

import re
import secrets
from collections.abc import Collection

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
from dialogs.proofs import Proof
from dialogs.replies import Reply
from dialogs.session import Challenge, Delivery, ResetSession


class CodeMethod:
    def __init__(self, medium: Medium) -> None:
        self.name: Medium = medium

    def routes(self, account: Account) -> list[tuple[Proof, str]]:
        """Where a code can go for this account, with what its arrival proves, in the
        order tried: a call rings the mobile phone, else the office phone (when that is
        another number)."""
        if self.name == "email":
            return [("email", account.email)] if account.email else []
        mobile = account.mobile_phone
        routes: list[tuple[Proof, str]] = [("mobile_phone", mobile)] if mobile else []
        office = account.office_phone
        if self.name == "voice" and office and _digits(office) != _digits(mobile or ""):
            routes.append(("office_phone", office))
        return routes

    def proofs(self, account: Account) -> tuple[Proof, ...]:
        return tuple(proof for proof, _ in self.routes(account))

    def destination(self, account: Account, proven: Collection[str] = ()) -> str | None:
        """Where the next code goes: the first route whose proof is not had yet."""
        return next((to for proof, to in self.routes(account) if proof not in proven), None)

    def available(self, account: Account) -> bool:
        return bool(self.routes(account))

    def label(self, account: Account, kit: MethodKit, session: ResetSession) -> str:
        to = self.masked(account, session.proven)
        return kit.catalog.text(f"label_{self.name}", session.locale, to=to)

    async def start(
        self, session: ResetSession, account: Account | None, kit: MethodKit, *, blind: bool
    ) -> Reply:
        codes = kit.settings.codes
        code = f"{secrets.randbelow(10**codes.length):0{codes.length}d}"
        to = self.destination(account, session.proven) if account else None
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
            to=self.masked(account, session.proven),
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

    def masked(self, account: Account, proven: Collection[str] = ()) -> str:
        """The destination as the chat may show it (b***@contoso.com, ***0123)."""
        to = self.destination(account, proven) or ""
        return mask_email(to) if self.name == "email" else mask_phone(to)


def _digits(number: str) -> str:
    """A phone number as the carrier dials it, so one number written two ways is one phone."""
    return re.sub(r"\D", "", number)
