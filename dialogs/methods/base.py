"""The shape every verification method shares: whether it is offered, its label, the
challenge it issues and the check of an answer.

`blind` challenges serve a typed account name before anything is verified: the method says
the same words and keeps the same state whether or not the account exists or can use it,
and delivers nothing when it cannot.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from adapters.directory import Account, Directory
from dialogs.catalog import Catalog
from dialogs.limits import Limits
from dialogs.notices import Composer
from dialogs.proofs import Proof
from dialogs.replies import Reply
from dialogs.session import ResetSession
from dialogs.settings import DialogSettings
from state import Clock, Store


class FlowLocked(Exception):
    """A limit was reached: the reset flow for this account locks now."""


class PhoneBudgetSpent(Exception):
    """The global text/call budget is used up; the user must pick another method."""


class Result(Enum):
    PASSED = "passed"
    FAILED = "failed"
    PENDING = "pending"
    VOID = "void"


@dataclass(frozen=True)
class Verdict:
    result: Result
    reply: Reply | None = None


@dataclass(frozen=True)
class MethodKit:
    """What methods may use: the ports, the policy and the session's locale-aware texts."""

    settings: DialogSettings
    catalog: Catalog
    directory: Directory
    store: Store
    limits: Limits
    clock: Clock
    code_key: bytes
    compose: Composer

    def say(self, session: ResetSession, key: str, **values: Any) -> Reply:
        return Reply(self.catalog.text(key, session.locale, **values))

    def code_hash(self, session: ResetSession, code: str) -> str:
        message = f"{session.nonce}:{code}".encode()
        return hmac.new(self.code_key, message, hashlib.sha256).hexdigest()

    def unmatchable_hash(self) -> str:
        return hmac.new(self.code_key, secrets.token_bytes(32), hashlib.sha256).hexdigest()

    async def spend_attempt(self, session: ResetSession) -> bool:
        """Take a slot of the failure budget before an answer is checked; False when the
        answer may not pass whatever it is: the account behind a typed name is locked or
        has spent its own budget under another of its names, which a blind challenge must
        not show (it then answers as for a name that does not exist)."""
        if not await self.limits.reserve_attempt(session.subject):
            raise FlowLocked
        key = session.account_key
        if key is None:
            return True
        if not await self.limits.is_locked(key) and await self.limits.reserve_attempt(key):
            return True
        if session.blind:
            return False
        raise FlowLocked

    async def refund_attempt(self, session: ResetSession) -> None:
        """A passed check hands back the slots it took."""
        await self.limits.attempt_passed(session.subject)
        if session.account_key is not None:
            await self.limits.attempt_passed(session.account_key)

    async def may_send(self, session: ResetSession, medium: str) -> bool:
        """Whether a code may go to the account behind a typed name: not locked, and its own
        send budget (across all its names) not spent. False for a blind challenge means
        "send nothing, say the same"; otherwise the flow locks."""
        key = session.account_key
        if key is None:
            return True
        # Typed names draw on a budget of their own, so a visitor cannot spend the one the
        # account's owner has once signed in.
        budget = f"typed:{key}" if session.blind else key
        if not await self.limits.is_locked(key) and await self.limits.reserve_send(budget, medium):
            return True
        if session.blind:
            return False
        raise FlowLocked


def digits_of(text: str) -> str | None:
    """The code a person typed on a phone (spaces and dashes ignored), or None if the text
    is not a code at all: a stray word is answered, not counted as a failed attempt."""
    typed = "".join(ch for ch in text if not ch.isspace() and ch != "-")
    return typed if typed.isascii() and typed.isdigit() and len(typed) <= 10 else None


class VerificationMethod(Protocol):
    @property
    def name(self) -> str: ...

    def available(self, account: Account) -> bool: ...

    def proofs(self, account: Account) -> tuple[Proof, ...]:
        """What a passed check can prove for this account, in the order it tries them
        (see dialogs.proofs): two checks count as two only when they prove two things."""
        ...

    def label(self, account: Account, kit: MethodKit, session: ResetSession) -> str: ...

    async def start(
        self, session: ResetSession, account: Account | None, kit: MethodKit, *, blind: bool
    ) -> Reply: ...

    async def check(
        self, session: ResetSession, account: Account | None, text: str, kit: MethodKit
    ) -> Verdict: ...
