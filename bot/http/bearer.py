"""A secret a request must bear (`Authorization: Bearer <token>`, RFC 6750), for the
operators' pages (`/metrics`, `/admin/report`).

Compared over SHA-256 digests of equal length, so the time a comparison takes says nothing
of the token, its length even.
"""

import hashlib
import hmac


class BearerToken:
    def __init__(self, token: str) -> None:
        self._digest = _digest(token)

    def matches(self, presented: str) -> bool:
        return hmac.compare_digest(_digest(presented), self._digest)


def presented_token(authorization: str) -> str | None:
    """The token of an `Authorization` header's Bearer credentials; None for none."""
    scheme, _, given = authorization.partition(" ")
    token = given.strip()
    return token if scheme.lower() == "bearer" and token else None


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()
