"""Codes from an authenticator app (TOTP, RFC 6238), never accepted twice.

`pyotp` verifies a code but keeps no memory, so the last accepted time step per account is
kept in the store and claimed with a conditional write: a code seen once (in this session,
another session or another bot instance) is refused (NIST SP 800-63B 5.1.4.2).
"""

import secrets
from datetime import UTC, datetime

import pyotp

from adapters.directory import Account
from dialogs.methods.base import MethodKit, Result, Verdict, digits_of
from dialogs.proofs import Proof
from dialogs.replies import Reply
from dialogs.session import Challenge, ResetSession
from state import Clock, EtagMismatch, Store

_DRIFT_STEPS = (-1, 0, 1)


class AuthenticatorMethod:
    name = "authenticator"

    def available(self, account: Account) -> bool:
        return account.has_totp

    def proofs(self, account: Account) -> tuple[Proof, ...]:
        return ("authenticator",) if account.has_totp else ()

    def label(self, account: Account, kit: MethodKit, session: ResetSession) -> str:
        return kit.catalog.text("label_authenticator", session.locale)

    async def start(
        self, session: ResetSession, account: Account | None, kit: MethodKit, *, blind: bool
    ) -> Reply:
        session.challenge = Challenge(method=self.name)
        return kit.say(session, "blind_authenticator" if blind else "ask_authenticator")

    async def check(
        self, session: ResetSession, account: Account | None, text: str, kit: MethodKit
    ) -> Verdict:
        typed = digits_of(text)
        if typed is None:
            return Verdict(Result.PENDING, kit.say(session, "code_format"))
        if not await kit.spend_attempt(session):
            account = None  # answered exactly as for a name that does not exist
        secret = await kit.directory.totp_secret(account) if account else None
        step = matching_step(secret, typed, kit.clock) if secret else None
        if account and step is not None and await claim_step(kit.store, account.id, step):
            await kit.refund_attempt(session)
            return Verdict(Result.PASSED)
        return Verdict(Result.FAILED, kit.say(session, "code_wrong"))


def matching_step(secret: str, typed: str, clock: Clock) -> int | None:
    """The time step (now, or one either side for a slow clock) whose code `typed` is."""
    totp = pyotp.TOTP(secret)
    now = totp.timecode(datetime.fromtimestamp(clock.now(), UTC))
    for offset in _DRIFT_STEPS:
        if secrets.compare_digest(totp.generate_otp(now + offset), typed):
            return int(now + offset)
    return None


async def claim_step(store: Store, account_id: str, step: int) -> bool:
    """Take `step` as the account's last accepted one; False when it or a later one was
    taken already (a code seen once, anywhere, is refused; so is one registering an app)."""
    key = f"totp:{account_id}"
    record = await store.get(key)
    if record is not None and int(record.value["step"]) >= step:
        return False
    try:
        await store.put(
            key,
            {"step": step},
            ttl=3600,
            if_match=record.etag if record else None,
            if_none_match=record is None,
        )
    except EtagMismatch:
        return False
    return True
