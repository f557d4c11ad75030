"""Reminders in people's own chats to register methods, or to confirm them again, before the
day they are locked out and find they cannot reset.

A round walks the directory with each account's registry record and reminds those in reset
scope whose methods are missing or stale:

- missing: the admins enabled a method `register` adds (an authenticator app, security
  questions), and the account either cannot complete a reset or has none of those (only
  the directory's email and phones, which it could lose with one phone or one mailbox);
- stale: `enrolment.reconfirm_days` is set and the last confirmation is older (or none).

Each reminder leaves a record `reminded:<account id>` (this module is its only owner) that
expires after `enrolment.reminders.interval`. It is written with `if_none_match` before the
message goes, so of two instances running a round at once only one reminds anyone, and it
is removed again when no chat took the message: a person the bot cannot reach yet is tried
again next round, not skipped for the interval. `enrolment.reminders.per_round` caps the
reminders sent in a round; people no chat could reach do not count towards it.
"""

import asyncio
import contextlib
import logging

from adapters.directory import Account
from dialogs.catalog import DEFAULT_LOCALE, Catalog
from dialogs.methods import VerificationMethod, code_methods, verification_methods
from dialogs.policy import ResetPolicy
from dialogs.reach import ChatReach
from dialogs.registered_directory import RegisteredDirectory
from dialogs.registry import Registered
from dialogs.settings import DialogSettings
from state import Clock, EtagMismatch, Store

log = logging.getLogger(__name__)

# The name of the task that runs the rounds, so a look at the running tasks finds it.
TASK_NAME = "enrolment reminders"
# The methods `register` can add; the directory's contacts it can only confirm.
REGISTRABLE = ("authenticator", "questions")


class Reminders:
    def __init__(
        self,
        settings: DialogSettings,
        *,
        directory: RegisteredDirectory,
        reach: ChatReach,
        store: Store,
        clock: Clock,
        catalog: Catalog,
    ) -> None:
        methods = verification_methods(settings, code_methods())
        self._enrolment = settings.enrolment
        self._directory = directory
        self._policy = ResetPolicy(settings, directory, methods)
        self._registrable: list[VerificationMethod] = [
            methods[name] for name in settings.verification.methods if name in REGISTRABLE
        ]
        self._reach = reach
        self._store = store
        self._clock = clock
        self._catalog = catalog
        self._task: asyncio.Task[None] | None = None

    async def round(self) -> int:
        """One pass over the directory; how many people were reminded."""
        now = self._clock.now()
        reminded = 0
        async for account, registered in self._directory.registered_accounts():
            if reminded >= self._enrolment.reminders.per_round:
                break
            message = await self._due(account, registered, now)
            if message is not None and await self._remind(account, message, now):
                reminded += 1
        return reminded

    def start(self) -> None:
        """Run a round now and then every `enrolment.reminders.every`, until `close`."""
        self._task = asyncio.get_running_loop().create_task(self._rounds(), name=TASK_NAME)

    async def close(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _rounds(self) -> None:
        """A round that fails (the directory or the store unavailable) is logged, and the
        next one runs on time."""
        while True:
            try:
                reminded = await self.round()
            except Exception as error:
                log.warning("reminder round failed", extra={"error": type(error).__name__})
            else:
                log.info("reminder round done", extra={"reminded": reminded})
            await asyncio.sleep(self._enrolment.reminders.every)

    async def _due(self, account: Account, registered: Registered, now: float) -> str | None:
        """The reminder the account is due, if any (its message key)."""
        if not await self._policy.eligible(account):
            return None
        if self._missing(account):
            return "reminder_register"
        if registered.stale(now, self._enrolment.reconfirm_days):
            return "reminder_reconfirm"
        return None

    def _missing(self, account: Account) -> bool:
        if not self._registrable:
            return False
        has_one = any(method.available(account) for method in self._registrable)
        return not has_one or not self._policy.can_complete(account)

    async def _remind(self, account: Account, message: str, now: float) -> bool:
        key = _key(account.id)
        try:
            etag = await self._store.put(
                key, {"at": now}, ttl=self._enrolment.reminders.interval, if_none_match=True
            )
        except EtagMismatch:  # reminded within the interval, or by another instance just now
            return False
        text = self._catalog.text(message, DEFAULT_LOCALE, name=account.display_name)
        if await self._reach.tell(account, text, besides=""):
            return True
        with contextlib.suppress(EtagMismatch):
            await self._store.delete(key, if_match=etag)
        return False


def _key(account_id: str) -> str:
    return f"reminded:{account_id}"
