"""A request as the bot's routes see it, and the answer they give: plain data, no web
framework, so what a channel checks and answers can be read (and tested) on its own.

Header names are lower-cased once, when the request is made; the body arrives already
bounded by the route's limit. Neither type ever shows a header value, a cookie or the body
in its repr: they carry signatures, conversation ids and passwords.
"""

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


class Headers(Mapping[str, str]):
    """Request headers by name, in any case. A header sent more than once reads as its first
    value, as aiohttp reads it; `every` gives all of them (a proxy's `X-Forwarded-For`)."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        values: dict[str, list[str]] = {}
        for name, value in pairs:
            values.setdefault(name.lower(), []).append(value)
        self._values = {name: tuple(sent) for name, sent in values.items()}

    def __getitem__(self, name: str) -> str:
        return self._values[name.lower()][0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Headers({sorted(self._values)})"

    def every(self, name: str) -> tuple[str, ...]:
        """Every value sent for `name`, in the order sent (none: an empty tuple)."""
        return self._values.get(name.lower(), ())


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    query: Mapping[str, str] = field(repr=False)
    headers: Headers = field(repr=False)
    cookies: Mapping[str, str] = field(repr=False)
    peer: str | None = field(repr=False)
    """The address the connection came from (a proxy's, behind one)."""
    host: str = field(repr=False)
    """The Host the request was sent to (the local address when it named none)."""
    content_type: str = field(repr=False)
    """The body's media type, lower case and without parameters (`application/octet-stream`
    when none was given)."""
    charset: str | None = field(repr=False)
    body: bytes | None = field(repr=False)
    """None when the sender sent more than the route allows; nothing past that was read."""


@dataclass(frozen=True)
class Cookie:
    """A cookie to set (or, with `value` None, to delete). Every cookie the bot sets is its
    own and read only by itself: always `HttpOnly` and `SameSite=Strict`."""

    name: str
    value: str | None
    path: str = "/"
    secure: bool = False

    def __repr__(self) -> str:
        return f"Cookie({self.name}, path={self.path})"


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes = field(default=b"", repr=False)
    content_type: str | None = None
    """Sent with `charset=utf-8`; None for an answer without a body."""
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: tuple[Cookie, ...] = ()

    @classmethod
    def json(
        cls, status: int, document: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> "HttpAnswer":
        body = json.dumps(document).encode()
        return cls(status, body, "application/json", headers or {})

    @classmethod
    def html(cls, status: int, page: str, headers: Mapping[str, str]) -> "HttpAnswer":
        return cls(status, page.encode(), "text/html", headers)


TOO_LARGE = HttpAnswer.json(413, {"error": "request too large"})
