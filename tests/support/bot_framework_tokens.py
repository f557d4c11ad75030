"""The Bot Framework channel's side of authentication, run locally: signing key pairs,
the OpenID metadata and key set (with endorsements) served like `login.botframework.com`,
Entra's (no endorsements) served like `login.microsoftonline.com`, and tokens minted the
way the channel and Entra mint them.

`channel_keys_stand_in()` serves `/v1/.well-known/openidconfiguration` and
`/v1/.well-known/keys`, and `/entra/v2.0/.well-known/openid-configuration` and
`/entra/discovery/v2.0/keys`, on a free loopback port; the bot's `ChannelKeys` reads them
(`BotOpenIdMetadata`, `ToBotFromEmulatorOpenIdMetadataUrl`), and the SDK's own key client
fetches the key sets from the `jwks_uri` published there.
"""

import base64
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any, cast

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from microsoft_agents.hosting.core.authorization import (
    AgentAuthConfiguration,
    ClaimsIdentity,
    Connections,
)

from bot.botframework.credentials import BotFrameworkAuth, from_environment
from tests.support.serving import serving

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
CHANNEL_AUDIENCE = "https://api.botframework.com"
CALLER_APP_ID = "0f3a7c5e-2b1d-4e8f-9a6b-5c4d3e2f1a0b"  # the Entra app that asks for the token


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey
    endorsements: tuple[str, ...] | None  # None: an Entra key, which endorses nothing

    def jwk(self) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()
        jwk: dict[str, Any] = {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "n": _b64(numbers.n),
            "e": _b64(numbers.e),
        }
        if self.endorsements is not None:
            jwk["endorsements"] = list(self.endorsements)
        return jwk


@cache
def _rsa_key(index: int) -> rsa.RSAPrivateKey:
    """Generated once per test run (RSA generation is the slow part)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def signing_key(kid: str, endorsements: Iterable[str], *, index: int = 0) -> SigningKey:
    return SigningKey(kid, _rsa_key(index), tuple(endorsements))


def entra_signing_key(kid: str, *, index: int) -> SigningKey:
    """A key as Entra publishes it: no endorsements."""
    return SigningKey(kid, _rsa_key(index), None)


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def mint(
    key: SigningKey,
    *,
    audience: str,
    service_url: str | None,
    issuer: str = BOT_FRAMEWORK_ISSUER,
    lifetime: float = 3600,
    issued_ago: float = 60,
    kid: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """A channel token: RS256 over the claims the Bot Framework channel sends."""
    now = time.time()
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "iat": int(now - issued_ago),
        "nbf": int(now - issued_ago),
        "exp": int(now - issued_ago + lifetime),
        "jti": str(uuid.uuid4()),
        **(extra or {}),
    }
    if service_url is not None:
        claims["serviceurl"] = service_url
    return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": kid or key.kid})


def entra_issuer(tenant: str, version: str = "2.0") -> str:
    if version == "1.0":
        return f"https://sts.windows.net/{tenant}/"
    return f"https://login.microsoftonline.com/{tenant}/v2.0"


def mint_entra(
    key: SigningKey,
    *,
    audience: str,
    tenant: str,
    version: str = "2.0",
    service_url: str | None = None,
    caller: str = CALLER_APP_ID,
    issuer: str | None = None,
    lifetime: float = 3600,
) -> str:
    """An Entra access token for the bot (an app-only token, as Azure Bot Service's newer
    channels and agent-to-agent calls send): issued by `tenant`, `tid` bound to it, the
    caller in `azp` (v2.0) or `appid` (v1.0), and no `serviceurl` unless given."""
    caller_claim = "azp" if version == "2.0" else "appid"
    return mint(
        key,
        audience=audience,
        service_url=service_url,
        issuer=issuer or entra_issuer(tenant, version),
        lifetime=lifetime,
        extra={"tid": tenant, "ver": version, caller_claim: caller, "idtyp": "app"},
    )


@dataclass
class ChannelKeysStandIn:
    url: str = ""
    keys: list[SigningKey] = field(default_factory=list)
    entra_keys: list[SigningKey] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/v1/.well-known/openidconfiguration"

    @property
    def entra_metadata_url(self) -> str:
        return f"{self.url}/entra/v2.0/.well-known/openid-configuration"


@asynccontextmanager
async def channel_keys_stand_in(
    keys: Iterable[SigningKey], entra_keys: Iterable[SigningKey] = ()
) -> AsyncIterator[ChannelKeysStandIn]:
    stand_in = ChannelKeysStandIn(keys=list(keys), entra_keys=list(entra_keys))

    async def metadata(request: web.Request) -> web.Response:
        stand_in.requests.append(request.path)
        return web.json_response(
            {
                "issuer": BOT_FRAMEWORK_ISSUER,
                "authorization_endpoint": f"{stand_in.url}/v1/.well-known/authorize",
                "jwks_uri": f"{stand_in.url}/v1/.well-known/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def key_set(request: web.Request) -> web.Response:
        stand_in.requests.append(request.path)
        return web.json_response({"keys": [key.jwk() for key in stand_in.keys]})

    async def entra_metadata(request: web.Request) -> web.Response:
        stand_in.requests.append(request.path)
        return web.json_response(
            {
                "issuer": "https://login.microsoftonline.com/{tenantid}/v2.0",
                "token_endpoint": f"{stand_in.url}/entra/oauth2/v2.0/token",
                "jwks_uri": f"{stand_in.url}/entra/discovery/v2.0/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def entra_key_set(request: web.Request) -> web.Response:
        stand_in.requests.append(request.path)
        return web.json_response({"keys": [key.jwk() for key in stand_in.entra_keys]})

    app = web.Application()
    app.router.add_get("/v1/.well-known/openidconfiguration", metadata)
    app.router.add_get("/v1/.well-known/keys", key_set)
    app.router.add_get("/entra/v2.0/.well-known/openid-configuration", entra_metadata)
    app.router.add_get("/entra/discovery/v2.0/keys", entra_key_set)
    async with serving(app) as url:
        stand_in.url = url
        yield stand_in


class MintingTokenProvider:
    """The bot's outbound credential in these tests: instead of asking Entra for a token
    to call the Bot Connector, it signs one with a test key, so the connector stand-in's
    recorded Authorization header can be verified like the real service would."""

    def __init__(self, key: SigningKey, configuration: AgentAuthConfiguration) -> None:
        self._key = key
        self._configuration = configuration
        self.requested: list[tuple[str, tuple[str, ...]]] = []

    @property
    def configuration(self) -> AgentAuthConfiguration:
        return self._configuration

    async def get_access_token(
        self, resource_url: str, scopes: list[str], force_refresh: bool = False
    ) -> str:
        self.requested.append((resource_url, tuple(scopes)))
        return mint(
            self._key,
            audience=CHANNEL_AUDIENCE,
            service_url=None,
            issuer="https://login.microsoftonline.com/botframework.com/v2.0",
            extra={"appid": self._configuration.CLIENT_ID},
        )


class MintingConnections:
    """`Connections` handing out the one `MintingTokenProvider`."""

    def __init__(self, provider: MintingTokenProvider) -> None:
        self.provider = provider

    def get_connection(self, connection_name: str) -> MintingTokenProvider:
        return self.provider

    def get_default_connection(self) -> MintingTokenProvider:
        return self.provider

    def get_token_provider(
        self, claims_identity: ClaimsIdentity, service_url: str
    ) -> MintingTokenProvider:
        return self.provider

    def get_token_provider_from_activity(
        self, claims_identity: ClaimsIdentity, activity: Any
    ) -> MintingTokenProvider:
        return self.provider

    def get_default_connection_configuration(self) -> AgentAuthConfiguration:
        return self.provider.configuration


def minting_auth(
    environ: Mapping[str, str], key: SigningKey
) -> tuple[BotFrameworkAuth, MintingTokenProvider]:
    """The bot's Bot Framework auth read from `environ` as `sspr-bot serve` reads it, with
    its outbound tokens signed by `key` (the provider is returned too, to count requests)."""
    auth = from_environment(environ)
    outbound = MintingTokenProvider(key, auth.configuration)
    # The SDK's protocols also list the agentic and on-behalf-of token calls, which a reply
    # never makes; the provider has only what the reply path asks for.
    connections = cast(Connections, MintingConnections(outbound))
    return replace(auth, connections=connections), outbound
