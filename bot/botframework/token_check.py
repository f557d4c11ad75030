"""The Bearer token on `/api/messages`, checked by the Agents SDK's `JwtTokenValidator`
(signature against the issuer's keys, expiry, audience, issuer, tenant) exactly as its
aiohttp middleware does, and remembered for its lifetime.

A channel sends the same token with every activity until it nears expiry, so each token is
verified once: its SHA-256 (never the token itself) keys the claims it proved until the
token's own `exp`. A token that fails is never remembered. What a remembered token proves
cannot change before `exp` except by a signing key being withdrawn; the cache bounds that
to the token's lifetime (an hour for the Bot Framework's), as any client holding a
validated session would.
"""

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from jwt import PyJWTError
from microsoft_agents.hosting.core.authorization import AgentAuthConfiguration, ClaimsIdentity
from microsoft_agents.hosting.core.authorization.jwt.jwt_token_validator import (
    JwtTokenValidator,
)

log = logging.getLogger(__name__)

MAX_REMEMBERED = 10_000
INVALID = "Invalid token or authentication failed."


@dataclass(frozen=True)
class TokenRefused:
    """Why a request is not let in: the status and the body's error, as the SDK answers."""

    status: int
    error: str


class TokenCheck:
    def __init__(
        self,
        configuration: AgentAuthConfiguration,
        *,
        now: Callable[[], float] = time.time,
        validate: Callable[[str], Awaitable[ClaimsIdentity]] | None = None,
    ) -> None:
        """`validate` checks a token not remembered: the SDK validator's `validate_token`
        unless given (a test counts the checks through it)."""
        self._configuration = configuration
        self._validator = JwtTokenValidator(configuration)
        self._validate = validate or self._validator.validate_token
        self._now = now
        self._proved: OrderedDict[bytes, tuple[ClaimsIdentity, float]] = OrderedDict()

    async def claims(self, authorization: str | None) -> ClaimsIdentity | TokenRefused:
        """The claims an `Authorization` header proves; anonymous claims without one in
        development mode (anonymous allowed), otherwise a refusal."""
        if authorization is None:
            if self._configuration.ANONYMOUS_ALLOWED:
                return self._validator.get_anonymous_claims()
            return TokenRefused(401, "Authorization header not found")
        token = _bearer(authorization)
        if token is None:
            log.warning("Malformed authorization header.")
            return TokenRefused(401, INVALID)
        key = hashlib.sha256(token.encode()).digest()
        remembered = self._proved.get(key)
        if remembered is not None:
            claims, expires = remembered
            if self._now() < expires:
                return claims
            del self._proved[key]
        try:
            claims = await self._validate(token)
        except (PyJWTError, ValueError) as error:
            log.warning("JWT validation error: %s", type(error).__name__)
            return TokenRefused(401, INVALID)
        self._remember(key, claims)
        return claims

    def _remember(self, key: bytes, claims: ClaimsIdentity) -> None:
        expires = claims.claims.get("exp")
        if not isinstance(expires, int | float):
            return
        if len(self._proved) >= MAX_REMEMBERED:
            self._proved.popitem(last=False)
        self._proved[key] = (claims, float(expires))


def _bearer(header: str) -> str | None:
    """The token of `Bearer <token>`, trailing whitespace tolerated as the SDK does; None
    for anything else."""
    parts = header.split(maxsplit=1)
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    token = parts[1].strip()
    return token if token and not any(char.isspace() for char in token) else None
