"""Bot Framework channel authentication, completed for Teams, the same for every issuer.

The Agents SDK's JWT check (`jwt_authorization_decorator` -> `JwtTokenValidator`) verifies
the signature (RS256, keys of the issuer), expiry with 5 minutes of leeway, the audience
(the app id) and the issuer. It accepts two kinds of token: the Bot Framework channel's
(issuer `https://api.botframework.com`, signed by keys published with `endorsements`,
carrying a `serviceurl` claim) and Entra ID's (issuer
`https://login.microsoftonline.com/<tenant>/v2.0` or `https://sts.windows.net/<tenant>/`,
audience the app id, as Azure Bot Service's newer channels and agent-to-agent calls send),
signed by Entra keys that carry no endorsements, often without a `serviceurl` claim. The
rules of the Bot Framework's "Bot Connector to bot" authentication the SDK leaves to the host
are added here by `TeamsCloudAdapter`, after the SDK has verified the token and before the
activity reaches the agent, for both kinds alike; a breach is 401 and nothing runs:

- serviceUrl: the activity's `serviceUrl` must be a channel service the bot trusts
  (`ServiceUrlValidator`: Microsoft's channel hosts and the operator's
  `teams.extra_service_origins`) and equal the token's `serviceurl` claim when it has one
  (the SDK compares hosts only). A Bot Framework token must carry the claim; an Entra token
  without one is held to the trusted channel services alone.
- channel: the token must vouch for the activity's `channelId`. A Bot Framework key must
  list it in its `endorsements` (published beside the OpenID metadata); Entra's keys list
  none, so an Entra token is good for the channels the bot serves through Azure Bot
  Service only (`ENTRA_CHANNELS`).

A Teams activity must also come from an allowed tenant (`channelData.tenant.id`), whatever
the token: 403 otherwise.

Where the signing keys come from. The SDK hardcodes the Bot Framework key URL
(`https://login.botframework.com/v1/.well-known/keys`) and Entra's
(`https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys`) and resolves both through
one class-level `JwtTokenValidator._jwk_client_manager`; there is no configuration hook.
`signing_keys_from(keys)` is the one injection point: it asks the SDK's own key client
(PyJWKClient, same cache and locking) for the `jwks_uri` published in `keys.metadata_url`
instead of the Bot Framework URL, and, when `keys.entra_metadata_url` is set, in that one
instead of Entra's. Production leaves the SDK untouched unless an operator sets the Bot
Framework SDKs' settings for it: `BotOpenIdMetadata` (the channel's keys) and
`ToBotFromEmulatorOpenIdMetadataUrl` (the keys of Entra-issued tokens; named after the
Emulator, their first sender), for sovereign or private deployments; tests point them at
a local stand-in. Nothing else changes: the issuer, audience, expiry and signature checks are
the SDK's own, on the SDK's own code path.
"""

import asyncio
import base64
import json
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout
from jwt import PyJWKClientConnectionError
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
from bot.teams.activity_body import ParsedRequest, not_an_activity, read_activity_body
from bot.teams.admission import tenant_allowed, tenant_of

log = logging.getLogger(__name__)

BOT_FRAMEWORK_METADATA = AuthenticationConstants.PUBLIC_ABS_OPENID_METADATA_URL
BOT_FRAMEWORK_ISSUERS = frozenset(
    {
        AuthenticationConstants.AGENTS_SDK_TOKEN_ISSUER,
        AuthenticationConstants.GOV_AGENTS_SDK_TOKEN_ISSUER,
    }
)
BOT_FRAMEWORK_METADATA_SETTING = "BotOpenIdMetadata"
ENTRA_METADATA_SETTING = "ToBotFromEmulatorOpenIdMetadataUrl"
# The channels the bot serves through Azure Bot Service on /api/messages. Entra's keys
# endorse no channel, so for an Entra-issued token this list stands in for the endorsements;
# the Emulator is not on it (it is for development mode, where no token is checked).
ENTRA_CHANNELS = frozenset({"msteams", "slack", "webchat", "directline"})
# Hosts of the channel services a bot replies to (the SDK's default list also trusts Graph,
# SharePoint and blob storage, which are attachment hosts, never a channel's serviceUrl).
CHANNEL_SERVICE_HOSTS = (
    "botframework.com",
    "smba.trafficmanager.net",
    "teams.microsoft.com",
    "teams.microsoft.us",
)
_ENTRA_LOGIN_HOSTS = frozenset({"login.microsoftonline.com", "login.microsoftonline.us"})
_ENTRA_KEYS_PATH = "/discovery/v2.0/keys"
KEYS_LIFETIME = 24 * 3600.0  # the Bot Framework SDKs cache these keys for days
UNKNOWN_KEY_REFRESH = 300.0  # a key id not seen yet refetches, at most this often
_TIMEOUT = ClientTimeout(total=10)
_FETCH_ERRORS = (KeyError, TypeError, ValueError, OSError, ClientError, asyncio.TimeoutError)


class KeysUnavailable(Exception):
    """The OpenID metadata or its key set could not be fetched or read."""


def _checked_url(url: str) -> str:
    if protected_url_problem(url, "trust in every token") is None:
        return url
    raise ValueError(f"OpenID metadata must be served over https: {url}")


class ChannelKeys:
    """The channel's published signing keys: OpenID metadata -> `jwks_uri` -> keys, with the
    `endorsements` (channel ids) of each key. Fetched with aiohttp, cached, and refetched
    when the cache is old or a token names a key id not seen yet (key rollover).

    `entra_metadata_url`, when set, is where the keys of Entra-issued tokens are published
    instead of Entra's own endpoint; only its `jwks_uri` is read (those keys endorse nothing)."""

    def __init__(
        self, metadata_url: str = BOT_FRAMEWORK_METADATA, entra_metadata_url: str | None = None
    ) -> None:
        self.metadata_url = _checked_url(metadata_url)
        self.entra_metadata_url = (
            _checked_url(entra_metadata_url) if entra_metadata_url is not None else None
        )
        self._session: ClientSession | None = None
        self._jwks_uri: str | None = None
        self._entra_jwks_uri: str | None = None
        self._endorsements: dict[str, frozenset[str]] = {}
        self._fetched = 0.0
        self._lock = asyncio.Lock()

    async def jwks_uri(self) -> str:
        await self._refresh(force=False)
        assert self._jwks_uri is not None
        return self._jwks_uri

    async def entra_jwks_uri(self) -> str | None:
        """The key set URL published at `entra_metadata_url`; None when that is not set."""
        if self.entra_metadata_url is None:
            return None
        async with self._lock:
            if self._entra_jwks_uri is None:
                try:
                    metadata = await self._get_json(self.entra_metadata_url)
                    self._entra_jwks_uri = _checked_url(str(metadata["jwks_uri"]))
                except _FETCH_ERRORS as error:
                    raise KeysUnavailable(type(error).__name__) from error
            return self._entra_jwks_uri

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
            except _FETCH_ERRORS as error:
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


def _is_entra_keys_url(url: str) -> bool:
    parsed = URL(url)
    return parsed.host in _ENTRA_LOGIN_HOSTS and parsed.path.endswith(_ENTRA_KEYS_PATH)


class _MetadataJwkClientManager(_JwkClientManager):
    """The SDK's key client manager, finding the Bot Framework keys, and Entra's when
    `keys.entra_metadata_url` is set, through `keys`. Keys that cannot be found fail the
    token like an unreachable key set does in the SDK (401), not the request."""

    def __init__(self, keys: ChannelKeys) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._keys = keys

    async def get_signing_key(self, jwks_uri: str, header: dict[str, Any]) -> Any:
        try:
            if jwks_uri in (
                AuthenticationConstants.PUBLIC_ABS_JWKS_URL,
                AuthenticationConstants.GOV_ABS_JWKS_URL,
            ):
                jwks_uri = await self._keys.jwks_uri()
            elif _is_entra_keys_url(jwks_uri):
                jwks_uri = await self._keys.entra_jwks_uri() or jwks_uri
        except KeysUnavailable as error:
            raise PyJWKClientConnectionError("signing keys unavailable") from error
        return await super().get_signing_key(jwks_uri, header)


@contextmanager
def signing_keys_from(keys: ChannelKeys) -> Iterator[None]:
    """While active, the SDK's JWT check takes Bot Framework keys from `keys.metadata_url`
    (and Entra's from `keys.entra_metadata_url` when set).

    Process-wide (the SDK keeps one key client manager for every validator); restored on
    exit. Production enters it only for an explicit `BotOpenIdMetadata` or
    `ToBotFromEmulatorOpenIdMetadataUrl`."""
    previous = JwtTokenValidator._jwk_client_manager
    JwtTokenValidator._jwk_client_manager = _MetadataJwkClientManager(keys)
    try:
        yield
    finally:
        JwtTokenValidator._jwk_client_manager = previous


def channel_keys_from_environment(environ: Mapping[str, str]) -> ChannelKeys:
    """`BotOpenIdMetadata` and `ToBotFromEmulatorOpenIdMetadataUrl` (the Bot Framework
    SDKs' settings), or the public channel's keys and Entra's own."""
    return ChannelKeys(
        environ.get(BOT_FRAMEWORK_METADATA_SETTING) or BOT_FRAMEWORK_METADATA,
        environ.get(ENTRA_METADATA_SETTING) or None,
    )


class ServiceUrlValidator(OutboundHostValidator):
    """The channel services a bot may reply to: https on Microsoft's channel hosts, no
    private addresses (the SDK's host validator, narrowed to `CHANNEL_SERVICE_HOSTS`), plus
    exact origins (`scheme://host:port`) an operator names, e.g. a Direct Line App Service
    extension; tests name their local connector."""

    def __init__(self, extra_origins: Iterable[str] = ()) -> None:
        super().__init__(
            list(CHANNEL_SERVICE_HOSTS), enabled=True, include_default_microsoft_hosts=False
        )
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
    except (ValueError, RecursionError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) else None


def _refusal(status: int, reason: str) -> HttpResponse:
    return HttpResponse(status_code=status, body={"error": reason})


class TeamsCloudAdapter(CloudAdapter):
    """The SDK's CloudAdapter refusing, before any turn, a body that is no activity (not
    JSON, or nested past `MAX_NESTING`) and what the token does not vouch for: a
    `serviceUrl` the bot does not trust or unlike the token's, a channel the token is not
    good for, a Teams tenant that is not allowed. Anonymous (development) requests are
    checked for the tenant only."""

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
        self._trusted: OutboundHostValidator = (
            host_validator
            if host_validator is not None and host_validator.enabled
            else ServiceUrlValidator()
        )

    async def process_request(self, request: HttpRequestProtocol, agent: Agent) -> HttpResponse:
        body = await read_activity_body(request)
        if body is None:
            log.warning("activity body refused: not JSON or nested too deep")
            return not_an_activity()
        if isinstance(body, dict):
            claims = request.get_claims_identity()
            refusal = await self.refusal(claims, body)
            if refusal is not None:
                return refusal
        response: HttpResponse = await super().process_request(ParsedRequest(request, body), agent)
        return response

    async def refusal(
        self, claims: ClaimsIdentity | None, activity: dict[str, Any]
    ) -> HttpResponse | None:
        """Why this activity is refused under these claims, or None to let it through."""
        channel_id = activity.get("channelId")
        channel_id = channel_id if isinstance(channel_id, str) else None
        if claims is not None and not claims.allow_anonymous:
            problem = self._service_url_problem(claims, activity.get("serviceUrl"))
            if problem is None and not await self._vouched_for(claims, channel_id):
                problem = "channel not endorsed"
            if problem is not None:
                log.warning(
                    "activity refused under its token",
                    extra={"problem": problem, "issuer": _issuer_kind(claims)},
                )
                return _refusal(401, problem)
        if not tenant_allowed(channel_id, activity.get("channelData"), self._tenants):
            log.warning(
                "Teams tenant not allowed",
                extra={"tenant": tenant_of(activity.get("channelData")) or "none"},
            )
            return _refusal(403, "tenant not allowed")
        return None

    def _service_url_problem(self, claims: ClaimsIdentity, service_url: Any) -> str | None:
        """Every issuer: a trusted channel service, equal to the token's `serviceurl` claim
        when it has one; only an Entra token may lack the claim."""
        if not isinstance(service_url, str) or not self._trusted.is_allowed(service_url):
            return "serviceUrl not trusted"
        claim = claims.get_claim_value(AuthenticationConstants.SERVICE_URL_CLAIM)
        if claim is None and not _from_bot_framework(claims):
            return None
        if isinstance(claim, str) and _same_service_url(claim, service_url):
            return None
        return "serviceUrl does not match the token"

    async def _vouched_for(self, claims: ClaimsIdentity, channel_id: str | None) -> bool:
        """A Bot Framework key must endorse the channel; an Entra token (its keys endorse
        nothing) is good for `ENTRA_CHANNELS` only."""
        if not _from_bot_framework(claims):
            return channel_id in ENTRA_CHANNELS
        return await self._endorsed(claims.security_token, channel_id)

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


def _from_bot_framework(claims: ClaimsIdentity) -> bool:
    return claims.get_claim_value(AuthenticationConstants.ISSUER_CLAIM) in BOT_FRAMEWORK_ISSUERS


def _issuer_kind(claims: ClaimsIdentity) -> str:
    return "bot framework" if _from_bot_framework(claims) else "entra"
