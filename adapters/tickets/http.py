"""The HTTP every ticket system shares: one lazily opened session per system, TLS with
the configured CAs, and a single retry only where the first request certainly did
nothing (the connection failed, or the server answered 429 or 503).

An update that timed out or lost its connection is never sent again: the ticket may
already carry the note or be closed, and a second close or a doubled note is worse than
an operator looking at one failed update.
"""

import asyncio
import base64
import email.utils
import json
import math
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from adapters.tickets.base import TicketUnavailable
from adapters.tickets.settings import TicketConfigError
from adapters.trust import CaFileUnusable
from adapters.trust import trusting as trusting_ca_file

Sleep = Callable[[float], Awaitable[None]]

TRIES = 2
MAX_RETRY_WAIT = 5.0
"""The longest Retry-After honoured: a person may be waiting on the outcome."""
_PAUSE = 1.0
_BUSY = frozenset({429, 503})


def trusting(ca_file: str | None, base_dir: Path, kind: str) -> ssl.SSLContext:
    """The system's CAs plus `ca_file`'s (`adapters.trust`); TicketConfigError names the
    file when it cannot be used."""
    try:
        return trusting_ca_file(ca_file, base_dir, f"tickets {kind}")
    except CaFileUnusable as unusable:
        raise TicketConfigError(str(unusable)) from None


def basic_authorization(user: str, password: str) -> str:
    """The Authorization header of HTTP Basic auth (RFC 7617, UTF-8)."""
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {credentials}"


@dataclass(frozen=True)
class Reply:
    """An answer that was not "busy"; `where` says which request it answers, for reasons."""

    where: str
    status: int
    payload: bytes = field(repr=False)
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def refused(self) -> TicketUnavailable:
        """The failure this answer's status means, naming no more than the status."""
        if self.status in {401, 403}:
            detail = "credentials refused or not allowed"
        elif self.status == 404:
            detail = "not found"
        elif 300 <= self.status < 400:
            detail = "redirected; set the system's own address"
        else:
            detail = "refused" if self.status < 500 else "server error"
        return TicketUnavailable(f"{self.where}: HTTP {self.status} ({detail})")

    def json(self) -> Any:
        try:
            return json.loads(self.payload)
        except ValueError:
            raise TicketUnavailable(f"{self.where}: the answer is not JSON") from None


class TicketHttp:
    """JSON requests for one ticket system, over one session opened at the first request
    (aiohttp needs the running loop) and closed by `close`. Redirects are not followed,
    so credentials go only to the configured address."""

    def __init__(
        self,
        *,
        timeout: float,
        tls_context: ssl.SSLContext,
        headers: Mapping[str, str],
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._timeout = timeout
        self._tls_context = tls_context
        self._headers = {"Accept": "application/json", **headers}
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None

    async def send(
        self,
        method: str,
        url: URL,
        *,
        where: str,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """The answer to one request, sent a second time only when the first certainly
        did nothing; TicketUnavailable when no usable answer came."""
        sent = {**self._headers, **(headers or {})}
        for attempt in range(1, TRIES + 1):
            last = attempt == TRIES
            try:
                reply = await self._once(method, url, where, data, sent)
            except _NotConnected as failure:
                if last:
                    raise TicketUnavailable(
                        f"{failure.reason}; gave up after {attempt} tries"
                    ) from None
                await self._sleep(_PAUSE)
                continue
            if reply.status not in _BUSY:
                return reply
            pause = _pause_asked(reply)
            if pause > MAX_RETRY_WAIT:
                raise TicketUnavailable(
                    f"{where}: HTTP {reply.status} (busy, asked to wait {pause:g} s)"
                )
            if last:
                raise TicketUnavailable(
                    f"{where}: HTTP {reply.status} (busy); gave up after {attempt} tries"
                )
            await self._sleep(pause)
        raise AssertionError("unreachable: TRIES is at least 1")

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _opened(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._tls_context),
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                trust_env=True,  # HTTPS_PROXY / NO_PROXY, as the Graph session
            )
        return self._session

    async def _once(
        self, method: str, url: URL, where: str, data: bytes | None, headers: dict[str, str]
    ) -> Reply:
        try:
            async with self._opened().request(
                method, url, data=data, headers=headers, allow_redirects=False
            ) as answer:
                payload = await answer.read()
                return Reply(where, answer.status, payload, answer.headers.get("Retry-After"))
        except aiohttp.ClientConnectorCertificateError as error:
            detail = getattr(error.certificate_error, "verify_message", None) or "not verified"
            raise TicketUnavailable(f"{where}: TLS certificate not trusted ({detail})") from None
        except aiohttp.ClientSSLError:
            raise TicketUnavailable(f"{where}: TLS handshake failed") from None
        except aiohttp.ClientConnectorError:
            raise _NotConnected(f"{where}: cannot connect") from None
        except TimeoutError:
            raise TicketUnavailable(
                f"{where}: no answer within {self._timeout:g} s (it may have been done)"
            ) from None
        except aiohttp.ClientError as error:
            raise TicketUnavailable(
                f"{where}: connection failed ({type(error).__name__}; it may have been done)"
            ) from None


class _NotConnected(Exception):
    """No connection was made, so the request certainly did nothing and may go again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _pause_asked(reply: Reply) -> float:
    """Seconds to wait before asking again: the answer's Retry-After (seconds or an HTTP
    date), else one second."""
    value = reply.retry_after
    if value is None:
        return _PAUSE
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return _PAUSE
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - time.time()
    return max(0.0, seconds) if math.isfinite(seconds) else _PAUSE
