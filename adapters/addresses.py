"""Where a secret may be sent: over https, or in plain http only to this machine."""

import ipaddress
from urllib.parse import urlsplit


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def protected_url_problem(url: str, what: str) -> str | None:
    """Why `url` may not carry `what` (a token, a secret), or None when it may: an absolute
    https URL, or http to a loopback address (a test server)."""
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        return "must be an absolute https URL"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return f"must use https: {what} is sent to it"
    return None
