"""Replies through one pooled HTTP connection set instead of a new client per turn.

The Agents SDK's stock factory opens (and closes) an aiohttp session for every turn. Here
each turn gets a thin session over one shared TCP connector, so connections to the Bot
Connector are kept alive and reused across turns.
"""

from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector
from microsoft_agents.hosting.core import RestChannelServiceClientFactory, TurnContext
from microsoft_agents.hosting.core.authorization import (
    AnonymousTokenProvider,
    ClaimsIdentity,
    Connections,
)
from microsoft_agents.hosting.core.connector import ConnectorClientBase
from microsoft_agents.hosting.core.connector.client import UserTokenClient
from microsoft_agents.hosting.core.connector.teams import TeamsConnectorClient

TIMEOUT = ClientTimeout(total=15)


class PooledClientFactory(RestChannelServiceClientFactory):
    def __init__(self, connections: Connections, connector: TCPConnector) -> None:
        super().__init__(connections)
        self._connector = connector
        self._anonymous = AnonymousTokenProvider()

    def _session(self, base_url: str) -> ClientSession:
        if not base_url.endswith("/"):
            base_url += "/"
        return ClientSession(
            base_url=base_url, connector=self._connector, connector_owner=False, timeout=TIMEOUT
        )

    async def create_connector_client(
        self,
        context: TurnContext | None,
        claims_identity: ClaimsIdentity,
        service_url: str,
        audience: str,
        scopes: list[str] | None = None,
        use_anonymous: bool = False,
    ) -> ConnectorClientBase:
        if not service_url:
            raise TypeError("a reply needs the activity's serviceUrl")
        provider: Any = (
            self._anonymous
            if use_anonymous
            else self._connection_manager.get_token_provider(claims_identity, service_url)
        )
        token = await provider.get_access_token(
            audience, scopes or claims_identity.get_token_scope()
        )
        return TeamsConnectorClient(
            endpoint=service_url, token=token or "", session=self._session(service_url)
        )

    async def create_user_token_client(
        self, context: TurnContext, claims_identity: ClaimsIdentity, use_anonymous: bool = False
    ) -> UserTokenClient:
        """The reset bot signs nobody in through OAuth: this client is never used to call out,
        so it gets no token (and, in development mode, a placeholder app id)."""
        return UserTokenClient(
            endpoint=self._token_service_endpoint,
            token="",
            app_id=claims_identity.get_app_id() or "anonymous",
            session=self._session(self._token_service_endpoint),
        )
