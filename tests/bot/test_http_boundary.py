"""The HTTP boundary over real HTTP: an aiohttp app on a free loopback port whose one route
converts each request with `http_request` and answers with `aiohttp_response`, exactly as
the Slack, web chat and password page routes do. What the route saw and what the client got
are compared; an oversized body is sent over a raw socket, so a server that waited for the
rest of it would never answer."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import ClientSession, web
from multidict import CIMultiDictProxy

from bot.http import TOO_LARGE, Cookie, HttpAnswer, HttpRequest
from bot.http.aiohttp_adapter import aiohttp_response, http_request
from tests.support.ports import free_port
from tests.support.serving import serving

LIMIT = 1024
PATH = "/boundary"
# How long a test waits for an answer the server owes at once; only a hung server reaches it.
DEADLINE = 10.0


@dataclass(frozen=True)
class Received:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


@dataclass
class Boundary:
    """The served route: what it saw, and what it answers a body within the limit with."""

    port: int
    session: ClientSession
    answer: HttpAnswer
    seen: list[HttpRequest] = field(default_factory=list)

    async def send(
        self,
        method: str,
        *,
        query: str = "",
        data: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> Received:
        url = f"http://127.0.0.1:{self.port}{PATH}{query}"
        async with self.session.request(method, url, data=data, headers=headers) as response:
            return Received(response.status, response.headers, await response.read())


@pytest.fixture(name="boundary")
async def boundary_fixture() -> AsyncIterator[Boundary]:
    port = free_port()
    session = ClientSession()
    boundary = Boundary(port, session, HttpAnswer(204))

    async def route(request: web.Request) -> web.StreamResponse:
        converted = await http_request(request, max_body=LIMIT)
        boundary.seen.append(converted)
        return aiohttp_response(TOO_LARGE if converted.body is None else boundary.answer)

    app = web.Application()
    app.router.add_route("*", PATH, route)
    async with session, serving(app, port=port):
        yield boundary


async def raw_exchange(port: int, head: bytes, body: bytes = b"") -> bytes:
    """Send `head` and `body` exactly as given and return the head of the server's answer;
    a body the head announced is never finished."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + body)
        await writer.drain()
        async with asyncio.timeout(DEADLINE):
            return await reader.readuntil(b"\r\n\r\n")
    finally:
        writer.close()
        await writer.wait_closed()


async def test_headers_are_looked_up_in_any_case_and_keep_every_value(
    boundary: Boundary,
) -> None:
    head = (
        f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "X-Forwarded-For: 203.0.113.7\r\n"
        "x-forwarded-for: 198.51.100.2, 10.0.0.1\r\n"
        "X-Slack-Signature: v0=abc\r\n\r\n"
    ).encode()
    answer = await raw_exchange(boundary.port, head)
    assert answer.startswith(b"HTTP/1.1 204 ")
    [seen] = boundary.seen
    assert all(name == name.lower() for name in seen.headers)
    assert seen.headers["X-SLACK-SIGNATURE"] == seen.headers["x-slack-signature"] == "v0=abc"
    assert seen.headers.get("X-Forwarded-For") == "203.0.113.7"  # the first, as aiohttp reads it
    assert seen.headers.every("X-FORWARDED-FOR") == ("203.0.113.7", "198.51.100.2, 10.0.0.1")
    assert seen.headers.every("x-not-sent") == ()
    assert "x-not-sent" not in seen.headers


async def test_the_request_carries_what_was_sent_and_from_where(boundary: Boundary) -> None:
    body = b"csrf=t&password=p"
    sent = {
        "Cookie": "sspr_webchat=conversation-id; other=1",
        "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
    }
    received = await boundary.send("POST", query="?lang=fr&lang=de", data=body, headers=sent)
    assert received.status == 204
    [seen] = boundary.seen
    assert (seen.method, seen.path) == ("POST", PATH)
    assert seen.query == {"lang": "fr"}
    assert seen.cookies == {"sspr_webchat": "conversation-id", "other": "1"}
    assert seen.peer == "127.0.0.1"
    assert seen.host == f"127.0.0.1:{boundary.port}"
    assert (seen.content_type, seen.charset) == ("application/x-www-form-urlencoded", "UTF-8")
    assert seen.body == body
    shown = repr(seen)
    assert "conversation-id" not in shown
    assert "password" not in shown


async def test_a_body_up_to_the_limit_arrives_whole(boundary: Boundary) -> None:
    assert (await boundary.send("POST", data=b"x" * LIMIT)).status == 204
    [seen] = boundary.seen
    assert seen.body == b"x" * LIMIT


async def test_a_declared_length_over_the_limit_is_refused_unread(boundary: Boundary) -> None:
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {100 * LIMIT}\r\nContent-Type: application/json\r\n\r\n"
    ).encode()
    answer = await raw_exchange(boundary.port, head)  # not one byte of the body sent
    assert answer.startswith(b"HTTP/1.1 413 ")
    [seen] = boundary.seen
    assert seen.body is None


async def test_a_chunked_body_stops_being_read_at_the_limit(boundary: Boundary) -> None:
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    size = LIMIT + 1
    chunk = f"{size:x}\r\n".encode() + b"x" * size + b"\r\n"  # and never the closing chunk
    answer = await raw_exchange(boundary.port, head, chunk)
    assert answer.startswith(b"HTTP/1.1 413 ")
    [seen] = boundary.seen
    assert seen.body is None


async def test_the_too_large_answer_is_json(boundary: Boundary) -> None:
    received = await boundary.send("POST", data=b"x" * (LIMIT + 1))
    assert received.status == 413
    assert received.headers["Content-Type"] == "application/json; charset=utf-8"
    assert received.body == b'{"error": "request too large"}'


async def test_an_answer_reaches_the_client_as_given(boundary: Boundary) -> None:
    boundary.answer = HttpAnswer(
        201,
        b'{"ok":true}',
        "application/json",
        {"X-Frame-Options": "DENY", "Cache-Control": "no-store"},
        (
            Cookie("sspr_webchat", "new-id", "/webchat", secure=True),
            Cookie("stale", None, "/webchat"),
        ),
    )
    received = await boundary.send("GET")
    assert received.status == 201
    assert received.body == b'{"ok":true}'
    assert received.headers["Content-Type"] == "application/json; charset=utf-8"
    assert received.headers["X-Frame-Options"] == "DENY"
    assert received.headers["Cache-Control"] == "no-store"
    set_cookie, deleted = received.headers.getall("Set-Cookie")
    assert set_cookie == "sspr_webchat=new-id; HttpOnly; Path=/webchat; SameSite=Strict; Secure"
    assert deleted.startswith('stale=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly;')
    assert "Max-Age=0; Path=/webchat; SameSite=Strict" in deleted
    assert "Secure" not in deleted


async def test_an_answer_without_a_body_has_no_content_type(boundary: Boundary) -> None:
    boundary.answer = HttpAnswer(200)
    received = await boundary.send("GET")
    assert received.status == 200
    assert "Content-Type" not in received.headers
    assert received.body == b""
