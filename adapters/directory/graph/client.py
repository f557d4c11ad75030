"""Requests to Microsoft Graph over one shared aiohttp session, with Graph's throttling
rules (429 and 503 with Retry-After: wait, then send again, within a bound)."""

import asyncio
import email.utils
import json
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from adapters.directory.base import DirectoryUnavailable
from adapters.directory.graph.token import AppTokens

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# Without a Retry-After, a 503 (or 429) is retried after 1 s, then 2 s, 4 s... (Graph's
# throttling guidance: back off exponentially when no delay is given).
_FIRST_BACKOFF = 1.0
_RETRIED = frozenset({429, 503})


class GraphError(Exception):
    """Graph answered with an error status; `code` and `message` are Graph's own."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class GraphAnswer:
    status: int
    body: Any


def trust(ca_file: str | None) -> ssl.SSLContext:
    """The system's certificate authorities, plus those in `ca_file`."""
    context = ssl.create_default_context()
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or "not a PEM file of certificates"
            raise DirectoryUnavailable(f"graph.ca_file {ca_file}: {reason}") from None
    return context


class GraphClient:
    """Authorised JSON requests to one Graph endpoint (`graph_url`, with its version)."""

    def __init__(
        self,
        base_url: str,
        tokens: AppTokens,
        session: aiohttp.ClientSession,
        *,
        max_retries: int,
        max_retry_wait: float,
        sleep: Sleep,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._tokens = tokens
        self._session = session
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep

    @property
    def base_url(self) -> str:
        return self._base

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> GraphAnswer:
        """Send one request; GraphError for an error answer, DirectoryUnavailable when
        Graph cannot be reached, does not answer in time, or keeps throttling.

        `path` and `query` must already be percent-encoded (values escaped by the caller).
        """
        url = URL(f"{self._base}{path}" + (f"?{query}" if query else ""), encoded=True)
        waited = 0.0
        backoff = _FIRST_BACKOFF
        tries = 0
        while True:
            tries += 1
            token = await self._tokens.token()
            sent = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            sent.update(headers or {})
            status, retry_after, payload = await self._send(method, url, sent, body)
            if status not in _RETRIED:
                return _answer(status, payload)
            delay = retry_after if retry_after is not None else backoff
            backoff *= 2
            if tries > self._max_retries or waited + delay > self._max_retry_wait:
                break
            log.warning(
                "graph throttled a request; retrying",
                extra={"status": status, "retry_after": delay, "attempt": tries},
            )
            await self._sleep(delay)
            waited += delay
        error = _answer_error(status, payload)
        raise DirectoryUnavailable(
            f"Microsoft Graph is busy ({error.status} {error.code}); gave up after "
            f"{tries} tries and {waited:g} s of waiting"
        )

    async def _send(
        self, method: str, url: URL, headers: dict[str, str], body: Mapping[str, Any] | None
    ) -> tuple[int, float | None, bytes]:
        started = time.monotonic()
        try:
            async with self._session.request(method, url, headers=headers, json=body) as answer:
                payload = await answer.read()
                return answer.status, _retry_after(answer.headers.get("Retry-After")), payload
        except TimeoutError:
            outcome = "" if method == "GET" else "; whether the change was made is unknown"
            raise DirectoryUnavailable(
                f"Microsoft Graph did not answer {method} {url.path} within "
                f"{time.monotonic() - started:.1f} s{outcome}"
            ) from None
        except aiohttp.ClientError as exc:
            raise DirectoryUnavailable(
                f"Microsoft Graph cannot be reached ({type(exc).__name__})"
            ) from None


def _answer(status: int, payload: bytes) -> GraphAnswer:
    if 200 <= status < 300:
        if not payload:
            return GraphAnswer(status, None)
        try:
            return GraphAnswer(status, json.loads(payload))
        except ValueError:
            raise DirectoryUnavailable(
                f"Microsoft Graph answered {status} with a body that is not JSON"
            ) from None
    raise _answer_error(status, payload)


def _answer_error(status: int, payload: bytes) -> GraphError:
    """Graph's error body is `{"error": {"code": ..., "message": ...}}`."""
    code, message = "unknown", ""
    try:
        error = json.loads(payload).get("error") or {}
        code = str(error.get("code") or code)
        message = str(error.get("message") or "")
    except (ValueError, AttributeError):
        pass
    return GraphError(status, code, message[:500])


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


async def open_session(context: ssl.SSLContext, request_timeout: float) -> aiohttp.ClientSession:
    """The one pooled session every Graph request goes through."""
    connector = aiohttp.TCPConnector(ssl=context, limit=50, keepalive_timeout=60)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=request_timeout),
        raise_for_status=False,
        trust_env=True,  # HTTPS_PROXY / NO_PROXY, as msal's requests session does
    )


async def sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)
