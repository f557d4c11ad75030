"""A flood of refused web chat requests.

The attack: every web chat request, refused or not, asked the shared rate-limit counter in
the store, so one address sending 1,500 requests a second turned into 1,500 store writes a
second and slowed every other client. What holds: once an address is over its rate, its
further requests are refused in the bot's own memory without a store round trip, and other
addresses are served as before. Counted by the Redis server itself.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from state import FrozenClock
from tests.support.redis import RedisServer
from tests.support.webchat import Served, serving_webchat

LIMIT = 30
FLOOD = 1000


def store_commands(redis: RedisServer) -> int:
    """Commands the server ran since its statistics were last reset (this count aside)."""
    with redis.client() as client:
        stats = client.info("commandstats")
    return sum(
        int(entry["calls"])
        for name, entry in stats.items()
        if name not in {"cmdstat_info", "cmdstat_config|resetstat", "cmdstat_config"}
    )


def reset_counts(redis: RedisServer) -> None:
    with redis.client() as client:
        client.config_resetstat()


@pytest.fixture(name="served")
async def served_fixture(
    tmp_path: Path, clock: FrozenClock, redis_url: str
) -> AsyncIterator[Served]:
    webchat = {"rate_limit": {"requests": LIMIT, "window": 60}}
    environ = {"SSPR_REDIS_URL": redis_url}
    async with serving_webchat(
        tmp_path / "data", clock, webchat, environ, state={"backend": "redis"}
    ) as served:
        yield served


async def test_a_flood_from_one_address_costs_the_store_what_its_served_requests_do(
    served: Served, redis_server: RedisServer, clock: FrozenClock
) -> None:
    polite = await served.browser(address="127.0.0.3")
    reset_counts(redis_server)
    for _ in range(LIMIT):
        assert (await polite.say("help")).status == 200
    served_cost = store_commands(redis_server)
    flooder = await served.browser(address="127.0.0.4")
    reset_counts(redis_server)

    statuses = [(await flooder.say("help")).status for _ in range(FLOOD)]

    assert statuses.count(200) == LIMIT
    assert statuses.count(429) == FLOOD - LIMIT
    assert store_commands(redis_server) <= served_cost + 3  # the refusals cost (next to) none
    neighbour = await served.browser(address="127.0.0.5")
    assert (await neighbour.say("reset")).status == 200
    clock.advance(61)
    assert (await flooder.say("reset")).status == 200  # its window passed: served again
