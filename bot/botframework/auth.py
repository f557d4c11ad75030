"""Bot Framework channel authentication, the same for every channel and every issuer.

The Agents SDK's JWT check (`jwt_authorization_decorator` -> `JwtTokenValidator`) verifies
the signature (RS256, keys of the issuer), expiry with 5 minutes of leeway, the audience
(the app id) and the issuer. It accepts two kinds of token: the Bot Framework channel's
(issuer `https://api.botframework.com`, signed by keys published with `endorsements`,
carrying a `serviceurl` claim) and Entra ID's (issuer
`https://login.microsoftonline.com/<tenant>/v2.0` or `https://sts.windows.net/<tenant>/`,
audience the app id, as Azure Bot Service's newer channels and agent-to-agent calls send),
signed by Entra keys that carry no endorsements, often without a `serviceurl` claim. The
rules of the Bot Framework's "Bot Connector to bot" authentication the SDK leaves to the host
are added here by `ChannelCloudAdapter`, after the SDK has verified the token and before the
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

A channel's own admission rule runs next, whatever the token (Teams: an allowed tenant,
`bot.teams.admission.TenantGate`): 403 when it refuses.

Where the signing keys come from and how the SDK is pointed at them:
`bot.botframework.signing_keys`.
"""

import base64
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import Agent, ChannelServiceClientFactoryBase
from microsoft_agents.hosting.core.authorization import ClaimsIdentity
from microsoft_agents.hosting.core.authorization.authentication_constants import (
    AuthenticationConstants,
)
from microsoft_agents.hosting.core.http import HttpRequestProtocol, HttpResponse
from microsoft_agents.hosting.core.security import OutboundHostValidator
from yarl import URL

from bot.botframework.activity_body import ParsedRequest, not_an_activity, read_activity_body
from bot.botframework.signing_keys import (
    ChannelKeys,
    KeysUnavailable,
    channel_keys_from_environment,
    signing_keys_from,
)

__all__ = [
    "BOT_FRAMEWORK_ISSUERS",
    "CHANNEL_SERVICE_HOSTS",
    "ENTRA_CHANNELS",
    "ChannelCloudAdapter",
    "ChannelKeys",
    "KeysUnavailable",
    "ServiceUrlValidator",
    "channel_keys_from_environment",
    "service_url_validator",
    "signing_keys_from",
]

log = logging.getLogger(__name__)

BOT_FRAMEWORK_ISSUERS = frozenset(
    {
        AuthenticationConstants.AGENTS_SDK_TOKEN_ISSUER,
        AuthenticationConstants.GOV_AGENTS_SDK_TOKEN_ISSUER,
    }
)
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


# Whether a channel admits an activity, from its `channelId` and `channelData`.
Admits = Callable[[str | None, Any], bool]


class ChannelCloudAdapter(CloudAdapter):
    """The SDK's CloudAdapter refusing, before any turn, a body that is no activity (not
    JSON, or nested past `MAX_NESTING`) and what the token does not vouch for: a
    `serviceUrl` the bot does not trust or unlike the token's, a channel the token is not
    good for, and what the channel's own rule (`admits`) refuses. Anonymous (development)
    requests meet the channel's rule only."""

    def __init__(
        self,
        *,
        channel_service_client_factory: ChannelServiceClientFactoryBase,
        keys: ChannelKeys,
        admits: Admits,
        host_validator: OutboundHostValidator | None = None,
    ) -> None:
        super().__init__(
            channel_service_client_factory=channel_service_client_factory,
            host_validator=host_validator,
        )
        self._keys = keys
        self._admits = admits
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
        if not self._admits(channel_id, activity.get("channelData")):
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
