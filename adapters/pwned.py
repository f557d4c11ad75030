"""Have I Been Pwned's Pwned Passwords range API: how often a password appeared in breaches.

k-anonymity: only the first five hex digits of the password's SHA-1 leave the bot, and the
service answers every suffix it knows under them (`SUFFIX:COUNT` lines), padded with made-up
suffixes of count 0 (`Add-Padding: true`) so the size of the answer does not tell the prefix
either. The comparison with the rest of the hash happens here.

The check is an extra: when the service is slow, unreachable or answers oddly, the password
is judged by the offline rules alone and one log line says so, without the password, its
hash or its prefix.
"""

import hashlib
import logging
from typing import Protocol

import aiohttp

log = logging.getLogger(__name__)

PWNED_RANGE_URL = "https://api.pwnedpasswords.com/range/"
_PREFIX = 5
_HEADERS = {"Add-Padding": "true", "User-Agent": "sspr-bot"}


class BreachCheck(Protocol):
    async def times_seen(self, password: str) -> int | None:
        """How often `password` is known from breaches: 0 when never, None when that could
        not be found out (the check is off, or the service did not answer in time)."""
        ...

    async def close(self) -> None: ...


class NotChecked:
    """The breach check switched off: nothing is known, nothing leaves the bot."""

    async def times_seen(self, password: str) -> int | None:
        return None

    async def close(self) -> None:
        return None


class PwnedPasswords:
    """The range API at `url` (the prefix is appended), asked with a short `timeout`."""

    def __init__(self, url: str, *, timeout: float) -> None:
        self._url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def times_seen(self, password: str) -> int | None:
        digest = hashlib.sha1(password.encode("utf-8"), usedforsecurity=False).hexdigest().upper()
        answer = await self._range(digest[:_PREFIX])
        return None if answer is None else _count(answer, digest[_PREFIX:])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _range(self, prefix: str) -> str | None:
        """The service's lines for `prefix`, or None (logged once) when it did not answer."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=_HEADERS)
        try:
            async with self._session.get(self._url + prefix, allow_redirects=False) as response:
                if response.status != 200:
                    _unavailable(f"HTTP {response.status}")
                    return None
                return await response.text(encoding="utf-8", errors="replace")
        except TimeoutError:
            _unavailable(f"no answer within {self._timeout.total:g}s")
        except aiohttp.ClientError as error:
            _unavailable(type(error).__name__)
        return None


def breach_check(*, enabled: bool, url: str, timeout: float) -> BreachCheck:
    """The range API when the check is on, else the check that knows nothing."""
    return PwnedPasswords(url, timeout=timeout) if enabled else NotChecked()


def _count(answer: str, suffix: str) -> int:
    """The count on the line of `suffix`; 0 when absent (padding lines carry 0 as well)."""
    for line in answer.splitlines():
        candidate, _, count = line.strip().partition(":")
        if candidate.upper() == suffix:
            return int(count) if count.isdigit() else 0
    return 0


def _unavailable(reason: str) -> None:
    log.warning(
        "the breached-password check did not answer; the password was checked offline only",
        extra={"reason": reason},
    )
