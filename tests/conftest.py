"""Fixtures shared by the whole-bot tests, and the `servers` mark.

A test is marked `servers` when it starts a real server or process: Redis, slapd, Samba,
aiosmtpd, Chromium or an `sspr-bot` subprocess. `pytest -m "not servers"` is then the quick
run, with in-process stand-ins only. The mark is given here, from what a test uses, so a
new test on a server fixture is marked without anyone remembering to.
"""

import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from state import FrozenClock
from tests.support.harness import Bot, running_bot

SERVER_FIXTURES = frozenset(
    {
        "redis_server",
        "redis_url",
        "make_redis_server",
        "redis_cluster",
        "redis_cluster_url",
        "redis_sentinel",
        "redis_tls_server",
        "redis_tls",
        "slapd",
        "make_ldap_user",
        "samba_ad",
        "ad",
        "browser",
        "make_server",  # tests/adapters/test_smtp.py: aiosmtpd
        "mail",  # tests/conversations/test_delivery_conversation.py: aiosmtpd
    }
)
# Fixtures that take a backend name and start Redis only for "redis" (`store`,
# `open_instance`, `backend_bot`, `served_on`), so only that parameter is marked.
SERVER_PARAMETERS = frozenset({"redis"})
# Modules whose tests run `sspr-bot` (tests/support/processes.py) or open Redis themselves.
SERVER_MODULES = frozenset(
    {
        "tests/adversarial/test_slow_clients.py",
        "tests/state/test_redis_topologies.py",
        "tests/bot/test_check_password.py",
        "tests/bot/test_cli.py",
        "tests/bot/test_config_check.py",
        "tests/bot/test_console.py",
        "tests/bot/test_enrolment_remove.py",
        "tests/bot/test_first_hour_cli.py",
        "tests/bot/test_helpdesk_cli.py",
        "tests/bot/test_audit_cli.py",
        "tests/bot/test_log_correlation.py",
        "tests/bot/test_report.py",
        "tests/bot/test_password_cli.py",
        "tests/bot/test_reload_serve.py",
        "tests/conversations/test_instances.py",
        "tests/deploy/test_read_only_root.py",
    }
)

# Server classes a test may construct and start itself instead of taking a fixture.
SERVER_CLASSES = frozenset(
    {"RedisServer", "TlsRedisServer", "RedisCluster", "RedisSentinel", "SlapdServer", "SambaDC"}
)

pytest_plugins = [
    "tests.support.http_fixtures",
    "tests.support.tickets",
    "tests.support.teams",
    "tests.support.slack",
    "tests.support.password_page",
    "tests.support.redis",
    "tests.support.slapd",
    "tests.support.samba",
    "tests.support.browser",
]


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(start=float(int(time.time())) // 30 * 30 + 1)


@pytest.fixture
async def bot(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Bot]:
    async with running_bot(tmp_path / "data", clock) as started:
        yield started


@pytest.fixture
def make_bot(tmp_path: Path, clock: FrozenClock) -> Callable[..., AbstractAsyncContextManager[Bot]]:
    """A bot with config overrides: `async with make_bot(verification={"required": 2})`;
    `environ=` sets the environment it starts in (secrets, `SSPR_REDIS_URL`)."""

    def make(
        environ: Mapping[str, str] | None = None, **config: Any
    ) -> AbstractAsyncContextManager[Bot]:
        return running_bot(tmp_path / "data", clock, environ, **config)

    return make


def starts_servers(item: pytest.Item, root: Path) -> bool:
    if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    if callspec is not None and SERVER_PARAMETERS.intersection(map(str, callspec.params.values())):
        return True
    function = getattr(item, "function", None)
    if function is not None and SERVER_CLASSES.intersection(function.__code__.co_names):
        return True
    return item.path.relative_to(root).as_posix() in SERVER_MODULES


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if starts_servers(item, config.rootpath):
            item.add_marker(pytest.mark.servers)
