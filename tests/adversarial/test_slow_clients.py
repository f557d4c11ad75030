"""Slow clients held `sspr-bot serve`: a request head or body that stopped partway kept its
connection open for as long as the client liked, and 1,100 of them under a 1024 open-file
limit used up the descriptors, so `/healthz` could not even be accepted and asyncio logged
each failed accept. Now a request head and body each have a deadline (408, then closed),
the open connections are capped below the open-file limit, a connection past the cap
displaces the one that has waited longest for its client (503, then closed) or, when every
open one is being served, is refused with 503 at once, and each of these is logged as one
line per window with a count."""

import asyncio
import contextlib
import errno
import logging
import resource
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.server_limits import FD_RESERVE, ConnectionLimits, serving_with_limits
from tests.support.ports import free_port
from tests.support.processes import WAIT, serving_with_open_file_limit

CLIENTS = 1_100
SERVER_OPEN_FILES = 1_024
CAP = SERVER_OPEN_FILES - FD_RESERVE  # what the server lowers max_connections 5000 to

# Requests that stop partway and are never finished: a head without its blank line, and a
# complete head whose body stops after a few of the 4096 bytes it announces.
SLOW_HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: "
SLOW_BODY = (
    b"POST /api/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 4096\r\n\r\n" + b'{"type": "mess'
)
LIMITS_LOGGER = "bot.server_limits"

Client = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture
def open_files() -> Iterator[None]:
    """Enough descriptors in this process for all the clients (its soft limit raised to the
    hard one), restored afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = CLIENTS + 200
    if hard != resource.RLIM_INFINITY and hard < needed:
        pytest.fail(
            f"this test opens {CLIENTS} connections: raise the hard open-file limit to at "
            f"least {needed} (it is {hard}; ulimit -Hn)"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def sending(port: int, request: bytes) -> Client:
    """A connection that sends `request`, or the start of one, and then nothing more."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    return reader, writer


async def close_all(writers: list[asyncio.StreamWriter]) -> None:
    """Close the test's own ends and wait until they are, so no socket outlives the test."""
    for writer in writers:
        writer.close()
    for writer in writers:
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def answer_until_closed(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await reader.read()


async def first_finished(tasks: list["asyncio.Task[bytes]"], count: int) -> list[bytes]:
    """The results of the first `count` of `tasks` to finish."""
    results: list[bytes] = []
    for finished in asyncio.as_completed(tasks):
        results.append(await finished)
        if len(results) == count:
            break
    return results


def events(log: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [entry for entry in log if entry.get("event") == event]


def write_config(tmp_path: Path, server: str) -> Path:
    config = tmp_path / "sspr.yaml"
    config.write_text("server:\n" + server)
    return config


async def test_a_flood_of_slow_clients_under_1024_open_files_leaves_healthz_answering(
    tmp_path: Path, open_files: None
) -> None:
    # Deadlines far beyond the test's run: every connection closed here was displaced.
    config = write_config(
        tmp_path, "  max_connections: 5000\n  header_timeout: 10m\n  body_timeout: 10m\n"
    )
    port = free_port()
    clients: list[Client] = []
    async with serving_with_open_file_limit(
        tmp_path, port, "--config", str(config), open_files=SERVER_OPEN_FILES
    ) as served:
        for number in range(CLIENTS):
            clients.append(await sending(port, SLOW_BODY if number % 5 == 0 else SLOW_HEAD))
        answers = [asyncio.create_task(answer_until_closed(reader)) for reader, _ in clients]
        async with asyncio.timeout(WAIT):
            displaced = await first_finished(answers, CLIENTS - CAP)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{served.url}/healthz", timeout=aiohttp.ClientTimeout(WAIT)) as response,
        ):
            assert response.status == 200
            assert await response.json() == {"status": "ok"}
        held = [answer for answer in answers if not answer.done()]
        assert len(held) >= CAP - 1  # the cap was full of slow clients while /healthz answered
    async with asyncio.timeout(WAIT):
        closed_at_shutdown = await asyncio.gather(*answers)
    await close_all([writer for _, writer in clients])

    assert {answer.split(b"\r\n", 1)[0] for answer in displaced} == {
        b"HTTP/1.1 503 Service Unavailable"
    }
    assert {answer.split(b"\r\n", 1)[0] for answer in closed_at_shutdown} == {
        b"HTTP/1.1 503 Service Unavailable"
    }
    log = served.log
    lowered = [entry for entry in log if "lowered_to" in entry]
    assert [entry["lowered_to"] for entry in lowered] == [CAP], log
    displacements = events(log, "displaced")
    assert sum(entry["count"] for entry in displacements) == CLIENTS - CAP + 1  # + /healthz's
    assert events(log, "accept_failed") == []
    assert not [entry for entry in log if "out of system resource" in entry["message"]]
    about_connections = [
        entry for entry in log if entry["logger"] in (LIMITS_LOGGER, "asyncio", "aiohttp.server")
    ]
    assert len(about_connections) < 10, about_connections


async def test_a_head_or_body_that_stops_partway_is_closed_at_its_deadline(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, "  header_timeout: 1s\n  body_timeout: 1s\n")
    port = free_port()
    slow = 50
    async with serving_with_open_file_limit(
        tmp_path, port, "--config", str(config), open_files=SERVER_OPEN_FILES
    ) as served:
        heads = [await sending(port, SLOW_HEAD) for _ in range(slow)]
        bodies = [await sending(port, SLOW_BODY) for _ in range(slow)]
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{served.url}/healthz", timeout=aiohttp.ClientTimeout(WAIT)) as response,
        ):
            assert response.status == 200
        async with asyncio.timeout(WAIT):
            answers = await asyncio.gather(
                *(answer_until_closed(reader) for reader, _ in heads + bodies)
            )
    await close_all([writer for _, writer in heads + bodies])

    for answer in answers:
        head, _, text = answer.partition(b"\r\n\r\n")
        assert head.split(b"\r\n", 1)[0] == b"HTTP/1.1 408 Request Timeout"
        assert b"Connection: close" in head.split(b"\r\n")
        assert text == b"The request took too long to arrive. Try again.\n"
    log = served.log
    for event in ("header_timeout", "body_timeout"):
        lines = events(log, event)
        assert sum(entry["count"] for entry in lines) == slow, log
        assert len(lines) <= 3, lines  # one at the first, one per 10 s window after it


async def test_past_the_cap_with_every_connection_being_served_a_new_one_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger=LIMITS_LOGGER)
    started: list[web.Request] = []
    both_started = asyncio.Event()
    release = asyncio.Event()

    async def work(request: web.Request) -> web.Response:
        started.append(request)
        if len(started) == 2:
            both_started.set()
        await release.wait()
        return web.Response(text="done")

    app = web.Application()
    app.router.add_get("/work", work)
    limits = ConnectionLimits(
        max_connections=2, header_timeout=60, body_timeout=60, idle_timeout=60
    )
    async with serving_with_limits(app, "127.0.0.1", 0, limits) as server:
        port = server.sockets[0].getsockname()[1]
        busy: list[Client] = []
        for _ in range(2):
            busy.append(await sending(port, b"GET /work HTTP/1.1\r\nHost: x\r\n\r\n"))
        async with asyncio.timeout(WAIT):
            await both_started.wait()
            newcomer, writer = await asyncio.open_connection("127.0.0.1", port)
            refused = await newcomer.read()
            release.set()
            heads = [await reader.readuntil(b"\r\n\r\n") for reader, _ in busy]
        await close_all([writer, *(client for _, client in busy)])

    assert refused.split(b"\r\n", 1)[0] == b"HTTP/1.1 503 Service Unavailable"
    assert b"Retry-After: 5" in refused.split(b"\r\n")
    assert [head.split(b"\r\n", 1)[0] for head in heads] == [b"HTTP/1.1 200 OK"] * 2
    counts = [
        vars(record)["count"]
        for record in caplog.records
        if getattr(record, "event", "") == "refused"
    ]
    assert counts == [1]


async def test_asyncio_reports_of_failed_accepts_are_one_line_per_window(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    limits = ConnectionLimits(
        max_connections=2, header_timeout=60, body_timeout=60, idle_timeout=60
    )
    async with serving_with_limits(web.Application(), "127.0.0.1", 0, limits) as server:
        loop = asyncio.get_running_loop()
        for _ in range(1_000):
            # What asyncio's accept loop reports each time accept() fails with EMFILE.
            loop.call_exception_handler(
                {
                    "message": "socket.accept() out of system resource",
                    "exception": OSError(errno.EMFILE, "Too many open files"),
                    "socket": server.sockets[0],
                }
            )

    reports = [
        record for record in caplog.records if getattr(record, "event", "") == "accept_failed"
    ]
    assert [vars(record)["count"] for record in reports] == [1, 999]
    assert not [record for record in caplog.records if record.name == "asyncio"]
