"""Replies posted to a Bot Framework channel service: on one aiohttp session over the
process's shared connection pool, with the outbound token asked for once and reused until
shortly before it expires.

The Agents SDK builds a connector client (and looks its own package version up again for
the User-Agent) for every turn; a reply here is one POST on a kept-alive connection, to
the same address, with the same body and the same token the SDK's client would send.
"""

import asyncio
import time
from collections.abc import Callable
from typing import Any

import jwt
from aiohttp import ClientSession, ClientTimeout, TCPConnector
from microsoft_agents.hosting.core.authorization import ClaimsIdentity, Connections
from microsoft_agents.hosting.core.authorization.authentication_constants import (
    AuthenticationConstants,
)
from microsoft_agents.hosting.core.connector.get_product_info import get_product_info

from state import codec

TIMEOUT = ClientTimeout(total=15)
RENEW_BEFORE = 300.0
"""Seconds before its expiry a token is asked for again, so none expires on the way."""
UNKNOWN_LIFETIME = 300.0
"""How long a token whose expiry cannot be read is reused."""


class Outbound:
    def __init__(
        self,
        connections: Connections,
        connector: TCPConnector,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._connections = connections
        self._connector = connector
        self._now = now
        self._session: ClientSession | None = None
        self._user_agent = get_product_info()
        self._tokens: dict[tuple[int, str, tuple[str, ...]], tuple[str, float]] = {}
        self._asking: dict[tuple[int, str, tuple[str, ...]], asyncio.Lock] = {}

    async def reply(self, claims: ClaimsIdentity, activity: dict[str, Any]) -> str | None:
        """Post `activity` (the JSON of a reply, addressed) into its conversation, as a
        reply to its `replyToId` when it has one; the id the channel gave it. A refusal is
        raised as aiohttp.ClientResponseError."""
        service_url = activity.get("serviceUrl")
        conversation = (activity.get("conversation") or {}).get("id")
        if not isinstance(service_url, str) or not service_url or not conversation:
            raise TypeError("a reply needs the activity's serviceUrl and conversation")
        path = f"v3/conversations/{conversation}/activities"
        if reply_to := activity.get("replyToId"):
            path += f"/{reply_to}"
        url = service_url.rstrip("/") + "/" + path
        headers = {"User-Agent": self._user_agent, "Content-Type": "application/json"}
        token = await self._token(claims, service_url)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        body = codec.dumps(activity)
        async with self._opened().post(url, data=body, headers=headers) as response:
            response.raise_for_status()
            answer: Any = await response.json(content_type=None) if response.content_length else {}
        sent = answer.get("id") if isinstance(answer, dict) else None
        return sent if isinstance(sent, str) else None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _opened(self) -> ClientSession:
        if self._session is None:
            self._session = ClientSession(
                connector=self._connector, connector_owner=False, timeout=TIMEOUT
            )
        return self._session

    async def _token(self, claims: ClaimsIdentity, service_url: str) -> str | None:
        """The token for this conversation's channel service, as the SDK's adapter would
        ask for it: none for anonymous (development) claims."""
        if claims.allow_anonymous:
            return None
        if claims.is_agent_claim():
            audience = claims.get_token_audience()
        else:
            audience = AuthenticationConstants.AGENTS_SDK_SCOPE
        scopes = tuple(claims.get_token_scope() or ())
        provider = self._connections.get_token_provider(claims, service_url)
        key = (id(provider), audience, scopes)
        kept = self._tokens.get(key)
        if kept is not None and self._now() < kept[1]:
            return kept[0]
        async with self._asking.setdefault(key, asyncio.Lock()):
            kept = self._tokens.get(key)
            if kept is not None and self._now() < kept[1]:
                return kept[0]
            token: str = await provider.get_access_token(audience, list(scopes))
            self._tokens[key] = (token, self._renew_at(token))
        return token

    def _renew_at(self, token: str) -> float:
        try:
            expires = jwt.decode(token, options={"verify_signature": False}).get("exp")
        except jwt.PyJWTError:
            expires = None
        if not isinstance(expires, int | float):
            return self._now() + UNKNOWN_LIFETIME
        return float(expires) - RENEW_BEFORE
