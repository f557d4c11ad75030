"""The directory as verification sees it: the directory's accounts with what their owners
registered in chat (`dialogs.registry`) merged in.

The directory keeps its contacts (email, phones); the registry adds the authenticator app
and security questions the directory cannot hold. What was registered in chat wins over what
the directory has (the embedded one can hold both), so a person who set up a new app here
is checked against that one.
"""

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from adapters.directory import Account, Directory
from dialogs.registry import MethodRegistry, Registered


class RegisteredDirectory:
    def __init__(self, directory: Directory, registry: MethodRegistry) -> None:
        self._directory = directory
        self._registry = registry

    @property
    def can_unlock(self) -> bool:
        return self._directory.can_unlock

    async def find(self, name: str) -> Account | None:
        account = await self._directory.find(name)
        if account is None:
            return None
        return _merged(account, await self._registry.read(account.id))

    async def accounts(self) -> AsyncIterator[Account]:
        async for account, _ in self.registered_accounts():
            yield account

    async def registered_accounts(self) -> AsyncIterator[tuple[Account, Registered]]:
        """Each account as `accounts` gives it, with its registry record: for the admins'
        overview, which also asks when the methods were last confirmed, from one read."""
        async for account in self._directory.accounts():
            registered = await self._registry.read(account.id)
            yield _merged(account, registered), registered

    async def in_any_group(self, account: Account, groups: Sequence[str]) -> bool:
        return await self._directory.in_any_group(account, groups)

    async def totp_secret(self, account: Account) -> str | None:
        registered = await self._registry.authenticator_secret(account.id)
        return registered or await self._directory.totp_secret(account)

    async def set_password(self, account: Account, password: str, *, must_change: bool) -> None:
        await self._directory.set_password(account, password, must_change=must_change)

    async def revoke_sessions(self, account: Account) -> None:
        await self._directory.revoke_sessions(account)

    async def unlock(self, account: Account) -> None:
        await self._directory.unlock(account)

    async def admin_emails(self) -> list[str]:
        return await self._directory.admin_emails()

    async def close(self) -> None:
        """The directory is closed by whoever opened it (the composition root)."""


def _merged(account: Account, registered: Registered) -> Account:
    return replace(
        account,
        has_totp=account.has_totp or registered.authenticator is not None,
        questions=registered.questions or account.questions,
    )
