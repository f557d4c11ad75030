"""Requests to Microsoft Graph over one shared aiohttp session, with Graph's throttling
rules (429 and 503 with Retry-After: wait, then send again, within a bound).

Every failure says whether the request may have reached Graph, because a caller that
changes something (a password, a mail) must never repeat a request Graph may have acted
on, and must never report one as done that Graph did not confirm.
"""

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

from adapters.microsoft_graph.errors import (
    GraphBusy,
    GraphError,
    GraphMisconfigured,
    GraphUnavailable,
)
from adapters.microsoft_graph.token import AppTokens

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# Without a Retry-After, a 503 (or 429) is retried after 1 s, then 2 s, 4 s... (Graph's
# throttling guidance: back off exponentially when no delay is given).
_FIRST_BACKOFF = 1.0
_RETRIED = frozenset({429, 503})


@dataclass(frozen=True)
class GraphAnswer:
    """A successful answer: its status, its JSON body (None when empty) and Graph's
    `request-id` for it (what Microsoft support asks for)."""

    status: int
    body: Any
    request_id: str | None = None


@dataclass(frozen=True)
class _Reply:
    status: int
    retry_after: float | None
    request_id: str | None
    payload: bytes


def trust(ca_file: str | None) -> ssl.SSLContext:
    """The system's certificate authorities, plus those in `ca_file`."""
    context = ssl.create_default_context()
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or "not a PEM file of certificates"
            raise GraphMisconfigured(f"directory.graph.ca_file {ca_file}: {reason}") from None
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
        """Send one request; GraphError for an error answer, GraphTokenError without a
        token, GraphBusy when Graph keeps throttling past `max_retries`, GraphUnavailable
        when Graph cannot be reached or does not answer in time.

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
            reply = await self._send(method, url, sent, body)
            if reply.status not in _RETRIED:
                return _answer(reply)
            delay = reply.retry_after if reply.retry_after is not None else backoff
            backoff *= 2
            if tries > self._max_retries or waited + delay > self._max_retry_wait:
                break
            log.warning(
                "graph throttled a request; retrying",
                extra={"status": reply.status, "retry_after": delay, "attempt": tries},
            )
            await self._sleep(delay)
            waited += delay
        error = _answer_error(reply.status, reply.payload)
        raise GraphBusy(
            f"Microsoft Graph is busy ({error.status} {error.code}); gave up after "
            f"{tries} tries and {waited:g} s of waiting",
            status=error.status,
            code=error.code,
            retry_after=reply.retry_after,
        )

    async def _send(
        self, method: str, url: URL, headers: dict[str, str], body: Mapping[str, Any] | None
    ) -> _Reply:
        started = time.monotonic()
        try:
            async with self._session.request(method, url, headers=headers, json=body) as answer:
                payload = await answer.read()
                return _Reply(
                    answer.status,
                    _retry_after(answer.headers.get("Retry-After")),
                    answer.headers.get("request-id"),
                    payload,
                )
        except aiohttp.ConnectionTimeoutError:
            raise GraphUnavailable(
                f"Microsoft Graph cannot be reached (no connection within "
                f"{time.monotonic() - started:.1f} s)",
                transient=True,
            ) from None
        except TimeoutError:
            outcome = "" if method == "GET" else "; whether Graph acted on it is unknown"
            raise GraphUnavailable(
                f"Microsoft Graph did not answer {method} {url.path} within "
                f"{time.monotonic() - started:.1f} s{outcome}",
                maybe_processed=True,
            ) from None
        except aiohttp.ClientSSLError as exc:
            raise GraphUnavailable(
                f"Microsoft Graph cannot be reached: TLS failed ({type(exc).__name__})"
            ) from None
        except aiohttp.ClientConnectorError as exc:
            raise GraphUnavailable(
                f"Microsoft Graph cannot be reached ({type(exc).__name__})", transient=True
            ) from None
        except aiohttp.ClientError as exc:
            outcome = "" if method == "GET" else "; whether Graph acted on it is unknown"
            raise GraphUnavailable(
                f"the connection to Microsoft Graph broke during {method} {url.path} "
                f"({type(exc).__name__}){outcome}",
                maybe_processed=True,
            ) from None


def _answer(reply: _Reply) -> GraphAnswer:
    if 200 <= reply.status < 300:
        if not reply.payload:
            return GraphAnswer(reply.status, None, reply.request_id)
        try:
            return GraphAnswer(reply.status, json.loads(reply.payload), reply.request_id)
        except ValueError:
            raise GraphUnavailable(
                f"Microsoft Graph answered {reply.status} with a body that is not JSON",
                maybe_processed=True,
            ) from None
    raise _answer_error(reply.status, reply.payload)


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
    """The one pooled session an app's Graph requests go through."""
    connector = aiohttp.TCPConnector(ssl=context, limit=50, keepalive_timeout=60)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=request_timeout),
        raise_for_status=False,
        trust_env=True,  # HTTPS_PROXY / NO_PROXY, as msal's requests session does
    )
