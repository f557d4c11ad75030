"""The benchmarks' redis-server: the test suite's `RedisServer`, persisting as the README
advises for production, so that what a benchmark measures includes the cost of persistence.

It keeps the append-only file on with `appendfsync everysec` (the tests' server syncs on
every write) and no RDB snapshots, on 127.0.0.1, a free port and a folder of the
benchmark's own; readiness is a bounded PING poll that fails at once, with the server's
log, if the process exits; stopping is SIGTERM (Redis flushes the append-only file and
exits), then SIGKILL after a grace period.

    with production_redis(folder) as server:   # started, answering PING
        ... server.url ...
    # stopped here, also on an error or a cancellation (Ctrl-C, SIGTERM turned into cancel)

Used by `redis_round_trips.py` and `turns.py`.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.redis import RedisServer

PERSISTENCE = "appendonly yes, appendfsync everysec, no RDB snapshots"


@contextmanager
def production_redis(folder: Path) -> Iterator[RedisServer]:
    """A started redis-server in `folder`, stopped on the way out whatever happens."""
    server = RedisServer(folder, "--appendfsync", "everysec")
    try:
        server.start()
        yield server
    finally:
        server.stop()


def redis_version(server: RedisServer) -> str:
    """`redis_version` from the server's INFO, for the line above a benchmark's table."""
    with server.client() as client:
        return str(client.info("server").get("redis_version", "?"))
