"""The audit trail's Redis stream keeps the events written while Redis is away and sends
them, in order, once it is back; the turn that wrote them never waits or fails."""

import asyncio
import logging
from collections.abc import Callable

import pytest

from state.audit_stream import AuditStream
from state.redis_clients import connect
from tests.support.redis import RedisServer

MakeRedisServer = Callable[..., RedisServer]


async def test_events_written_while_redis_is_away_arrive_once_it_is_back(
    make_redis_server: MakeRedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = make_redis_server()
    stream = AuditStream(connect(server.url, timeout=0.5), "sspr:audit", max_length=1000)
    try:
        stream.write('{"event": "one"}')
        await stream.flushed()

        await asyncio.to_thread(server.stop)
        with caplog.at_level(logging.WARNING, logger="state.audit_stream"):
            stream.write('{"event": "two"}')
            await stream.flushed()
            stream.write('{"event": "three"}')
            await stream.flushed()
            failures = [r for r in caplog.records if r.levelno == logging.ERROR]
            assert len(failures) == 1  # logged once, however many events wait

            await asyncio.to_thread(server.start)
            stream.write('{"event": "four"}')
            await stream.flushed()
        assert any("again" in record.getMessage() for record in caplog.records)

        assert await stream.last(10) == [
            '{"event": "one"}',
            '{"event": "two"}',
            '{"event": "three"}',
            '{"event": "four"}',
        ]
    finally:
        await stream.close()
