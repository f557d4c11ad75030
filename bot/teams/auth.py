"""Bot Framework channel authentication, completed for Teams.

The Agents SDK's JWT check (`jwt_authorization_decorator` -> `JwtTokenValidator`) verifies
the signature (RS256, keys of the issuer), expiry with 5 minutes of leeway and the audience
(the app id). Three rules of the Bot Framework's "Bot Connector to bot" authentication are
left to the host, and are added here by `TeamsCloudAdapter`, after the SDK has verified the
token and before the activity reaches the agent:

- the token's `serviceurl` claim must equal the activity's `serviceUrl` (the SDK compares
  hosts only, and refuses a mismatch only when its host validator is enabled: it is, see
  `service_url_validator`);
- the signing key must endorse the activity's `channelId` (the `endorsements` of the keys
  published beside the OpenID metadata);
- a Teams activity must come from an allowed tenant (`channelData.tenant.id`).

Where the signing keys come from. The SDK hardcodes the Bot Framework key URL
(`https://login.botframework.com/v1/.well-known/keys`) and resolves it through one
class-level `JwtTokenValidator._jwk_client_manager`; there is no configuration hook.
`signing_keys_from(keys)` is the one injection point: for the Bot Framework issuer it asks
the SDK's own key client (PyJWKClient, same cache and locking) for the `jwks_uri` published
in `keys.metadata_url` instead. Production leaves the SDK untouched unless an operator sets
the classic `BotOpenIdMetadata` setting (as in the Bot Framework SDKs: sovereign or
private deployments); tests point it at a local stand-in. Nothing else changes: the issuer,
audience, expiry and signature checks are the SDK's own, on the SDK's own code path.
"""

import asyncio
import base64
import json
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from aiohttp import ClientSession, ClientTimeout
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import Agent, ChannelServiceClientFactoryBase
from microsoft_agents.hosting.core.authorization import ClaimsIdentity
from microsoft_agents.hosting.core.authorization.authentication_constants import (
    AuthenticationConstants,
)
from microsoft_agents.hosting.core.authorization.jwt import JwtTokenValidator
from microsoft_agents.hosting.core.authorization.jwt.jwt_token_validator import (
    _JwkClientManager,
)
from microsoft_agents.hosting.core.http import HttpRequestProtocol, HttpResponse
from microsoft_agents.hosting.core.security import OutboundHostValidator
from yarl import URL

from adapters.addresses import protected_url_problem
from bot.teams.admission import tenant_allowed, tenant_of

log = logging.getLogger(__name__)

BOT_FRAMEWORK_METADATA = AuthenticationConstants.PUBLIC_ABS_OPENID_METADATA_URL
BOT_FRAMEWORK_ISSUERS = frozenset(
    {
        AuthenticationConstants.AGENTS_SDK_TOKEN_ISSUER,
        AuthenticationConstants.GOV_AGENTS_SDK_TOKEN_ISSUER,
    }
)
KEYS_LIFETIME = 24 * 3600.0  # the Bot Framework SDKs cache these keys for days
UNKNOWN_KEY_REFRESH = 300.0  # a key id not seen yet refetches, at most this often
_TIMEOUT = ClientTimeout(total=10)


class KeysUnavailable(Exception):
    """The OpenID metadata or its key set could not be fetched or read."""


def _checked_url(url: str) -> str:
    if protected_url_problem(url, "trust in every token") is None:
        return url
    raise ValueError(f"OpenID metadata must be served over https: {url}")


class ChannelKeys:
    """The channel's published signing keys: OpenID metadata -> `jwks_uri` -> keys, with the
    `endorsements` (channel ids) of each key. Fetched with aiohttp, cached, and refetched
    when the cache is old or a token names a key id not seen yet (key rollover)."""

    def __init__(self, metadata_url: str = BOT_FRAMEWORK_METADATA) -> None:
        self.metadata_url = _checked_url(metadata_url)
        self._session: ClientSession | None = None
        self._jwks_uri: str | None = None
        self._endorsements: dict[str, frozenset[str]] = {}
        self._fetched = 0.0
        self._lock = asyncio.Lock()

    async def jwks_uri(self) -> str:
        await self._refresh(force=False)
        assert self._jwks_uri is not None
        return self._jwks_uri

    async def endorsements(self, kid: str) -> frozenset[str] | None:
        """The channel ids the key endorses; None for a key the channel does not publish."""
        await self._refresh(force=False)
        if kid not in self._endorsements:
            await self._refresh(force=True)
        return self._endorsements.get(kid)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            age = time.monotonic() - self._fetched
            fresh = self._jwks_uri is not None and age < KEYS_LIFETIME
            if fresh and (not force or age < UNKNOWN_KEY_REFRESH):
                return
            try:
                metadata = await self._get_json(self.metadata_url)
                jwks_uri = _checked_url(str(metadata["jwks_uri"]))
                keys = (await self._get_json(jwks_uri))["keys"]
                endorsements = {
                    str(key["kid"]): frozenset(str(e) for e in key.get("endorsements") or ())
                    for key in keys
                    if isinstance(key, dict) and "kid" in key
                }
            except (KeyError, TypeError, ValueError, OSError) as error:
                if self._jwks_uri is not None:  # keep serving the keys already known
                    log.warning("signing keys not refreshed", extra={"error": type(error).__name__})
                    return
                raise KeysUnavailable(type(error).__name__) from error
            self._jwks_uri, self._endorsements = jwks_uri, endorsements
            self._fetched = time.monotonic()

    async def _get_json(self, url: str) -> dict[str, Any]:
        if self._session is None:
            self._session = ClientSession(timeout=_TIMEOUT)
        async with self._session.get(url) as response:
            response.raise_for_status()
            body = await response.json(content_type=None)
        if not isinstance(body, dict):
            raise ValueError("not a JSON object")
        return body


class _MetadataJwkClientManager(_JwkClientManager):
    """The SDK's key client manager, finding the Bot Framework keys through `keys`."""

    def __init__(self, keys: ChannelKeys) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._keys = keys

    async def get_signing_key(self, jwks_uri: str, header: dict[str, Any]) -> Any:
        if jwks_uri in (
            AuthenticationConstants.PUBLIC_ABS_JWKS_URL,
            AuthenticationConstants.GOV_ABS_JWKS_URL,
        ):
            jwks_uri = await self._keys.jwks_uri()
        return await super().get_signing_key(jwks_uri, header)


@contextmanager
def signing_keys_from(keys: ChannelKeys) -> Iterator[None]:
    """While active, the SDK's JWT check takes Bot Framework keys from `keys.metadata_url`.

    Process-wide (the SDK keeps one key client manager for every validator); restored on
    exit. Production enters it only for an explicit `BotOpenIdMetadata`."""
    previous = JwtTokenValidator._jwk_client_manager
    JwtTokenValidator._jwk_client_manager = _MetadataJwkClientManager(keys)
    try:
        yield
    finally:
        JwtTokenValidator._jwk_client_manager = previous


def channel_keys_from_environment(environ: Mapping[str, str]) -> ChannelKeys:
    """`BotOpenIdMetadata` (the Bot Framework SDKs' setting) or the public channel's."""
    return ChannelKeys(environ.get("BotOpenIdMetadata") or BOT_FRAMEWORK_METADATA)


class ServiceUrlValidator(OutboundHostValidator):
    """The SDK's host validator (https, Microsoft channel hosts, no private addresses), plus
    exact origins (`scheme://host:port`) an operator names, e.g. a Direct Line App Service
    extension; tests name their local connector."""

    def __init__(self, extra_origins: Iterable[str] = ()) -> None:
        super().__init__(enabled=True)
        self._origins = frozenset(_origin(URL(origin)) for origin in extra_origins)

    def is_allowed(self, url: str | URL) -> bool:
        try:
            parsed = URL(str(url))
        except ValueError:
            return False
        if parsed.is_absolute() and _origin(parsed) in self._origins and not parsed.user:
            return True
        return bool(super().is_allowed(url))


def service_url_validator(app_id: str | None, extra_origins: Iterable[str] = ()) -> Any:
    """The host validator for the CloudAdapter: on whenever tokens are checked, so a
    `serviceUrl` outside the channel hosts, or unlike the token's, is refused (the SDK
    only logs a mismatch while its validator is off). Off in development mode."""
    if app_id is None:
        return None
    return ServiceUrlValidator(extra_origins)


def _origin(url: URL) -> str:
    return f"{url.scheme}://{(url.host or '').casefold()}:{url.port}"


def _same_service_url(claim: str, activity: str) -> bool:
    return claim.rstrip("/").casefold() == activity.rstrip("/").casefold()


def _key_id(token: str | None) -> str | None:
    if not token or token.count(".") != 2:
        return None
    head = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except ValueError:
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def _refusal(status: int, reason: str) -> HttpResponse:
    return HttpResponse(status_code=status, body={"error": reason})


class TeamsCloudAdapter(CloudAdapter):
    """The SDK's CloudAdapter refusing, before any turn, what the token does not vouch
    for: another `serviceUrl`, a channel the signing key does not endorse, a Teams tenant
    that is not allowed. Anonymous (development) requests are checked for the tenant only."""

    def __init__(
        self,
        *,
        channel_service_client_factory: ChannelServiceClientFactoryBase,
        keys: ChannelKeys,
        tenants: Iterable[str],
        host_validator: OutboundHostValidator | None = None,
    ) -> None:
        super().__init__(
            channel_service_client_factory=channel_service_client_factory,
            host_validator=host_validator,
        )
        self._keys = keys
        self._tenants = frozenset(tenants)

    async def process_request(self, request: HttpRequestProtocol, agent: Agent) -> HttpResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            claims = request.get_claims_identity()
            refusal = await self.refusal(claims, body)
            if refusal is not None:
                return refusal
        response: HttpResponse = await super().process_request(request, agent)
        return response

    async def refusal(
        self, claims: ClaimsIdentity | None, activity: dict[str, Any]
    ) -> HttpResponse | None:
        """Why this activity is refused under these claims, or None to let it through."""
        channel_id = activity.get("channelId")
        channel_id = channel_id if isinstance(channel_id, str) else None
        authenticated = claims is not None and not claims.allow_anonymous
        if authenticated and claims is not None:
            issuer = claims.get_claim_value(AuthenticationConstants.ISSUER_CLAIM)
            if issuer in BOT_FRAMEWORK_ISSUERS:
                claim = claims.get_claim_value(AuthenticationConstants.SERVICE_URL_CLAIM)
                service_url = activity.get("serviceUrl")
                if not (
                    isinstance(claim, str)
                    and isinstance(service_url, str)
                    and _same_service_url(claim, service_url)
                ):
                    log.warning("serviceUrl does not match the token's serviceurl claim")
                    return _refusal(401, "serviceUrl does not match the token")
                endorsed = await self._endorsed(claims.security_token, channel_id)
                if not endorsed:
                    log.warning("signing key does not endorse the channel")
                    return _refusal(403, "channel not endorsed")
        if not tenant_allowed(channel_id, activity.get("channelData"), self._tenants):
            log.warning(
                "Teams tenant not allowed",
                extra={"tenant": tenant_of(activity.get("channelData")) or "none"},
            )
            return _refusal(403, "tenant not allowed")
        return None

    async def _endorsed(self, token: str | None, channel_id: str | None) -> bool:
        kid = _key_id(token)
        if kid is None or not channel_id:
            return False
        try:
            endorsements = await self._keys.endorsements(kid)
        except KeysUnavailable:
            return False
        return endorsements is not None and channel_id in endorsements

    async def close(self) -> None:
        await self._keys.close()
