"""Per-account budgets and the reset-flow lock, kept in the shared store.

Keys name the target account (its directory id, or the typed name when no account matches,
so unknown names behave exactly like real ones). The lock is on the reset flow only; the
directory account is never locked by the bot.
"""

from dialogs.settings import CODE_METHODS, LimitSettings, Window
from state import Clock, Store

PHONE_BUDGET_KEY = "budget:phone"
TYPED_PHONE_BUDGET_KEY = "budget:phone-typed"


class Limits:
    def __init__(self, store: Store, settings: LimitSettings, clock: Clock) -> None:
        self._store = store
        self._settings = settings
        self._clock = clock

    async def is_locked(self, subject: str) -> bool:
        return await self._store.get(f"lock:{subject}") is not None

    async def lock(self, subject: str) -> None:
        until = self._clock.now() + self._settings.lockout
        await self._store.put(f"lock:{subject}", {"until": until}, ttl=self._settings.lockout)

    async def locked_until(self, subject: str) -> float | None:
        """When the reset flow's lock ends, for the helpdesk; None when it is not locked."""
        record = await self._store.get(f"lock:{subject}")
        return None if record is None else float(record.value["until"])

    async def unlock(self, subject: str) -> bool:
        """Lift the lock early (the helpdesk, having checked who asks); whether there was one."""
        return await self._store.delete(f"lock:{subject}")

    async def failures(self, subject: str) -> int:
        """The failures counted in the current window."""
        return await self._store.count(f"fail:{subject}", window=self._settings.failures.window)

    async def reserve_attempt(self, subject: str) -> bool:
        """Take one slot of the failure budget before a check is evaluated.

        Reserving first means parallel guesses can never evaluate more often than the
        budget allows; a check that passes hands its slot back.
        """
        return await self._take(f"fail:{subject}", self._settings.failures)

    async def attempt_passed(self, subject: str) -> None:
        await self._store.give_back(f"fail:{subject}")

    async def failures_exhausted(self, subject: str) -> bool:
        window = self._settings.failures
        return await self._store.count(f"fail:{subject}", window=window.window) >= window.count

    async def reserve_send(self, subject: str, medium: str) -> bool:
        window: Window = getattr(self._settings, medium)
        return await self._take(f"send-{medium}:{subject}", window)

    async def reserve_phone_budget(self) -> bool:
        return await self._take(PHONE_BUDGET_KEY, self._settings.phone_budget)

    async def reserve_typed_send(self, client: str | None, medium: str) -> bool:
        """What a typed, unverified name may spend: the client address's share and, for
        texts and calls, the typed names' share of the phone budget. Taken for every name,
        real or made up, so spending it tells nothing about which names exist."""
        if client and not await self._take(
            f"typed-client:{client}", self._settings.typed_per_client
        ):
            return False
        if medium == "email":
            return True
        return await self._take(TYPED_PHONE_BUDGET_KEY, self._settings.typed_phone_budget)

    async def nothing_sent(self, subjects: list[str], medium: str) -> None:
        """A code the carrier certainly did not take costs neither the account's send
        budgets nor (for texts and calls) the global one."""
        for subject in subjects:
            await self._store.give_back(f"send-{medium}:{subject}")
        if medium != "email":
            await self._store.give_back(PHONE_BUDGET_KEY)

    async def clear(self, subject: str) -> None:
        """After a successful reset the account starts afresh (as in Entra SSPR)."""
        await self._store.clear(f"fail:{subject}", *(f"send-{m}:{subject}" for m in CODE_METHODS))

    async def _take(self, key: str, window: Window) -> bool:
        return await self._store.take(key, limit=window.count, window=window.window)
