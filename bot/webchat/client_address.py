"""Who is asking, for the rate limit: the connecting address, or behind a trusted reverse
proxy the right-most address in its header that is not one of the proxies."""

import ipaddress
from collections.abc import Iterable

from bot.http import HttpRequest
from bot.webchat.settings import Network, WebChatSettings

UNKNOWN = "unknown"


class ClientAddresses:
    """A request's client address as `webchat.trusted_proxy_header` and
    `webchat.trusted_proxies` say to read it: the web chat's rate limit and the audit
    trail's requester for the web chat and the password page, which one reverse proxy
    fronts."""

    def __init__(self, settings: WebChatSettings) -> None:
        self._header = settings.trusted_proxy_header
        self._proxies = settings.proxy_networks()

    def of(self, request: HttpRequest) -> str:
        forwarded = request.headers.every(self._header) if self._header is not None else ()
        return client_address(request.peer, forwarded, self._proxies)


def client_address(
    peer: str | None,
    forwarded: Iterable[str],
    trusted: tuple[Network, ...],
) -> str:
    """The client's address.

    `forwarded` holds the values of the trusted proxy header (empty when no header is
    trusted). The chain is the header's addresses in order, then `peer`; walking it from
    the right, addresses inside `trusted` are skipped and the first other one is the client.
    Only a trusted proxy can have written the entries right of it, so whatever a client
    puts into the header itself stays on the left and is never reached while a proxy in
    front of it is trusted. A peer outside `trusted` is the client whatever the header says.
    """
    chain = [hop.strip() for value in forwarded for hop in value.split(",")]
    chain = [hop for hop in chain if hop]
    chain.append(peer or UNKNOWN)
    for hop in reversed(chain):
        address = _parse(hop)
        if address is None or not any(address in network for network in trusted):
            return hop if address is None else str(address)
    return str(_parse(chain[0]) or chain[0])


def rate_key(address: str) -> str:
    """The rate limit's subject for an address: an IPv6 client is counted per /64 (one
    subscriber's usual allocation), so walking through its own addresses gains nothing."""
    parsed = _parse(address)
    if parsed is None:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def _parse(hop: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = hop
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 203.0.113.7:51234
        text = text.split(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
