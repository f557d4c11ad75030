"""The signing keys of the tokens the bot accepts, and where the Agents SDK finds them.

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
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout
from jwt import PyJWKClientConnectionError
from microsoft_agents.hosting.core.authorization.authentication_constants import (
    AuthenticationConstants,
)
from microsoft_agents.hosting.core.authorization.jwt import JwtTokenValidator
from microsoft_agents.hosting.core.authorization.jwt.jwt_token_validator import (
    _JwkClientManager,
)
from yarl import URL

from adapters.addresses import protected_url_problem

log = logging.getLogger(__name__)

BOT_FRAMEWORK_METADATA = AuthenticationConstants.PUBLIC_ABS_OPENID_METADATA_URL
BOT_FRAMEWORK_METADATA_SETTING = "BotOpenIdMetadata"
ENTRA_METADATA_SETTING = "ToBotFromEmulatorOpenIdMetadataUrl"
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
