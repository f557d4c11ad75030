"""A local Pwned Passwords range API, answering like api.pwnedpasswords.com.

`GET /range/{first 5 hex digits of a SHA-1}`: 200 with `SUFFIX:COUNT` lines (35 upper-case
hex digits, a colon, a count; CRLF between lines) for every breached password under that
prefix, and with `Add-Padding: true` made-up suffixes of count 0 so that every answer has
between 800 and 1,000 lines; 400 for a prefix that is not five hex digits, as the real
service. It records each request (path and headers) so a test asserts on what the bot sent,
and can fail (an HTTP status) or hang until it is shut down.
"""

import asyncio
import hashlib
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from tests.support.serving import serving

_HEX = frozenset("0123456789ABCDEF")


def sha1_hex(password: str) -> str:
    return hashlib.sha1(password.encode("utf-8"), usedforsecurity=False).hexdigest().upper()


@dataclass
class Request:
    path: str
    headers: dict[str, str]


@dataclass
class PwnedStandIn:
    url: str = ""
    breached: dict[str, int] = field(default_factory=dict)
    """Hash -> times seen."""
    received: list[Request] = field(default_factory=list)
    status: int = 200
    hanging: bool = False
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def breach(self, password: str, count: int = 1) -> None:
        self.breached[sha1_hex(password)] = count

    def lines(self, prefix: str, *, padded: bool) -> list[str]:
        lines = [
            f"{digest[5:]}:{count}"
            for digest, count in self.breached.items()
            if digest.startswith(prefix)
        ]
        if padded:
            wanted = 800 + secrets.randbelow(201)
            lines += [f"{secrets.token_hex(18)[:35].upper()}:0" for _ in range(wanted - len(lines))]
        return lines


def _app(stand_in: PwnedStandIn) -> web.Application:
    async def range_(request: web.Request) -> web.Response:
        prefix = request.match_info["prefix"]
        stand_in.received.append(Request(request.path, dict(request.headers)))
        if stand_in.hanging:
            await stand_in.released.wait()
        if stand_in.status != 200:
            return web.Response(status=stand_in.status, text="unavailable")
        if len(prefix) != 5 or not set(prefix.upper()) <= _HEX:
            return web.Response(status=400, text="The hash prefix was not in a valid format")
        padded = request.headers.get("Add-Padding", "").lower() == "true"
        body = "\r\n".join(stand_in.lines(prefix.upper(), padded=padded))
        return web.Response(text=body, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/range/{prefix}", range_)
    return app


@asynccontextmanager
async def pwned_stand_in() -> AsyncIterator[PwnedStandIn]:
    """A running stand-in on a free loopback port; `url` is the range API's address, ready
    for the prefix to be appended."""
    stand_in = PwnedStandIn()
    async with serving(_app(stand_in)) as url:
        stand_in.url = f"{url}/range/"
        try:
            yield stand_in
        finally:
            stand_in.released.set()
