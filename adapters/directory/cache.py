"""A remote directory's answers kept for a few seconds, so a conversation's turns do not
ask it the same questions again.

A turn looks its account up several times (the policy, the method menu, each check), and
every message of a conversation does it again: against LDAP that is a search and a walk of
nested groups each time, in a pure-Python client. What the directory says of an account
(`find`, `in_any_group`, the admins' addresses) is kept for `ttl` seconds, under every
name the account answers to (the conversation finds it by its id after the first turn
found it by its email), answers that found nothing alike (a made-up name and a real one
cost the same); secrets (`totp_secret`)
are never kept, and whatever the bot changes itself (a password, a lockout, sessions) drops
what was kept of that account at once. A change made in the directory by someone else shows
within `ttl`, the delay Entra's own reset has for a new group member or a disabled account.
"""

import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from typing import Any

from adapters.directory.base import Account, Directory

MAX_KEPT = 10_000


class CachedDirectory:
    def __init__(
        self,
        directory: Directory,
        *,
        ttl: float,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._directory = directory
        self._ttl = ttl
        self._now = now
        self._kept: OrderedDict[Hashable, tuple[float, Any, str | None]] = OrderedDict()
        self._by_account: dict[str, set[Hashable]] = {}

    @property
    def can_unlock(self) -> bool:
        return self._directory.can_unlock

    async def find(self, name: str) -> Account | None:
        key = ("find", name.strip().casefold())
        hit, account = self._get(key)
        if hit:
            found: Account | None = account
            return found
        account = await self._directory.find(name)
        if account is None:
            self._put(key, None, None)
            return None
        for known in {name, account.id, account.username, account.email or "", *account.aliases}:
            if known:
                self._put(("find", known.strip().casefold()), account, account.id)
        return account

    def accounts(self) -> AsyncIterator[Account]:
        return self._directory.accounts()

    async def in_any_group(self, account: Account, groups: Sequence[str]) -> bool:
        key = ("groups", account.id, tuple(groups))
        hit, member = self._get(key)
        if hit:
            return bool(member)
        member = await self._directory.in_any_group(account, groups)
        self._put(key, member, account.id)
        return bool(member)

    async def totp_secret(self, account: Account) -> str | None:
        return await self._directory.totp_secret(account)

    async def set_password(self, account: Account, password: str, *, must_change: bool) -> None:
        try:
            await self._directory.set_password(account, password, must_change=must_change)
        finally:
            self._forget(account.id)

    async def revoke_sessions(self, account: Account) -> None:
        try:
            await self._directory.revoke_sessions(account)
        finally:
            self._forget(account.id)

    async def unlock(self, account: Account) -> None:
        try:
            await self._directory.unlock(account)
        finally:
            self._forget(account.id)

    async def admin_emails(self) -> list[str]:
        hit, emails = self._get("admins")
        if hit:
            return list(emails)
        emails = await self._directory.admin_emails()
        self._put("admins", tuple(emails), None)
        return list(emails)

    async def close(self) -> None:
        await self._directory.close()

    def _get(self, key: Hashable) -> tuple[bool, Any]:
        kept = self._kept.get(key)
        if kept is None:
            return False, None
        expires, value, _ = kept
        if self._now() >= expires:
            self._drop(key)
            return False, None
        return True, value

    def _put(self, key: Hashable, value: Any, account_id: str | None) -> None:
        self._drop(key)
        self._kept[key] = (self._now() + self._ttl, value, account_id)
        if account_id is not None:
            self._by_account.setdefault(account_id, set()).add(key)
        while len(self._kept) > MAX_KEPT:
            self._drop(next(iter(self._kept)))

    def _drop(self, key: Hashable) -> None:
        kept = self._kept.pop(key, None)
        if kept is not None and kept[2] is not None:
            keys = self._by_account.get(kept[2], set())
            keys.discard(key)
            if not keys:
                self._by_account.pop(kept[2], None)

    def _forget(self, account_id: str) -> None:
        """Drop what was kept of the account: each of its names and its groups."""
        for key in list(self._by_account.get(account_id, ())):
            self._drop(key)
