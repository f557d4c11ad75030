"""The shape every verification method shares: whether it is offered, its label, the
challenge it issues and the check of an answer.

`blind` challenges serve a typed account name before anything is verified: the method says
the same words and keeps the same state whether or not the account exists or can use it,
and delivers nothing when it cannot.
"""

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from adapters.directory import Account, Directory
from dialogs.catalog import Catalog
from dialogs.limits import Limits
from dialogs.notices import Composer
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

    async def spend_attempt(self, session: ResetSession) -> None:
        if not await self.limits.reserve_attempt(session.subject):
            raise FlowLocked

    async def refund_attempt(self, session: ResetSession) -> None:
        await self.limits.attempt_passed(session.subject)


def digits_of(text: str) -> str | None:
    """The code a person typed on a phone (spaces and dashes ignored), or None if the text
    is not a code at all: a stray word is answered, not counted as a failed attempt."""
    typed = "".join(ch for ch in text if not ch.isspace() and ch != "-")
    return typed if typed.isascii() and typed.isdigit() and len(typed) <= 10 else None


async def off_loop(function: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(function, *args)


class VerificationMethod(Protocol):
    @property
    def name(self) -> str: ...

    def available(self, account: Account) -> bool: ...

    def label(self, account: Account, kit: MethodKit, session: ResetSession) -> str: ...

    async def start(
        self, session: ResetSession, account: Account | None, kit: MethodKit, *, blind: bool
    ) -> Reply: ...

    async def check(
        self, session: ResetSession, account: Account | None, text: str, kit: MethodKit
    ) -> Verdict: ...
