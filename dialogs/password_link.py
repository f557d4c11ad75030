"""One-time links to the password page: how a token becomes a store key, and what the link
record holds. Only a hash of the token is ever stored; the token lives in the one chat
reply that carries the link, and in the address bar of the person it was sent to."""

import hashlib
import hmac
import secrets

LINK_PREFIX = "pwlink:"
TOKEN_BYTES = 32
MAX_TOKEN = 128


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def link_key(token: str) -> str:
    """The store key of a link: the token's hash, never the token."""
    return f"{LINK_PREFIX}{digest(token)}"


def plausible_token(token: str) -> bool:
    """A token as `new_token` makes them (anything else is not looked up at all)."""
    return 0 < len(token) <= MAX_TOKEN and all(ch.isalnum() or ch in "-_" for ch in token)


def same_secret(presented: str, stored_hash: str) -> bool:
    """Constant-time check of a presented secret against the hash kept for it."""
    if not stored_hash:
        return False
    return hmac.compare_digest(digest(presented), stored_hash)
