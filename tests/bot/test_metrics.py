"""`/metrics` over HTTP after a scripted series of conversations: it parses with the
Prometheus text parser and every counter says exactly what the series did."""

from collections.abc import Callable, Iterable

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from adapters.directory import DirectoryUnavailable
from bot.metrics import TOKEN_VARIABLE, Metrics
from state import StoreUnavailable
from tests.support.http_fixtures import HttpBot, MakeHttpBot
from tests.support.redis import RedisServer

WRONG_CODE = "000000"
FAILURES_BEFORE_LOCK = 2


def samples(exposition: str) -> list[Sample]:
    return [
        sample for family in text_string_to_metric_families(exposition) for sample in family.samples
    ]


def value(found: Iterable[Sample], name: str, **labels: str) -> float:
    """The sample named so with exactly these labels; 0 when there is none."""
    matching = [sample.value for sample in found if sample.name == name and sample.labels == labels]
    assert len(matching) <= 1, (name, labels)
    return matching[0] if matching else 0.0


async def fetch_metrics(bot: HttpBot, headers: dict[str, str] | None = None) -> str:
    async with bot.session.get(f"{bot.url}/metrics", headers=headers) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        return await response.text()


async def say(bot: HttpBot, text: str, user: str, *, channel: str = "emulator") -> str:
    activity = bot.activity(text, user=user, conversation=f"conversation-{user}")
    activity["channelId"] = channel
    answer = await bot.post(activity)
    assert answer.status == 202, answer.body
    return answer.text


async def reset_by_email(bot: HttpBot, user: str, *, wrong_first: int = 0, channel: str) -> int:
    """A reset with an emailed code after `wrong_first` wrong ones; the turns it took."""
    await say(bot, "reset", user, channel=channel)
    assert "emailed" in await say(bot, "email", user, channel=channel)
    for _ in range(wrong_first):
        await say(bot, WRONG_CODE, user, channel=channel)
    assert "temporary password" in await say(bot, bot.outbox.last_code(), user, channel=channel)
    return 3 + wrong_first


async def locked_out(bot: HttpBot, user: str, *, channel: str) -> int:
    await say(bot, "reset", user, channel=channel)
    await say(bot, "email", user, channel=channel)
    for _ in range(FAILURES_BEFORE_LOCK - 1):
        await say(bot, WRONG_CODE, user, channel=channel)
    assert "too many attempts" in await say(bot, WRONG_CODE, user, channel=channel)
    return 2 + FAILURES_BEFORE_LOCK


async def test_the_counters_match_a_scripted_series(make_http_bot: MakeHttpBot) -> None:
    limits = {"failures": {"count": FAILURES_BEFORE_LOCK, "window": "24h"}}
    async with make_http_bot(limits=limits, notifications={"users": False}) as bot:
        emulator = await reset_by_email(bot, "alice", channel="emulator")
        emulator += await reset_by_email(bot, "bob", wrong_first=1, channel="emulator")
        directline = await reset_by_email(bot, "alice", channel="directline")
        directline += await locked_out(bot, "bob", channel="directline")
        await say(bot, "help", "carol", channel="made-up-channel")
        other = 1

        found = samples(await fetch_metrics(bot))

    assert value(found, "sspr_turns_total", channel="emulator") == emulator == 7
    assert value(found, "sspr_turns_total", channel="directline") == directline == 7
    assert value(found, "sspr_turns_total", channel="other") == other == 1
    assert value(found, "sspr_turn_seconds_count", channel="emulator") == emulator
    assert value(found, "sspr_turn_seconds_count", channel="directline") == directline
    assert value(found, "sspr_turn_seconds_bucket", channel="emulator", le="+Inf") == emulator
    assert value(found, "sspr_turn_seconds_sum", channel="emulator") > 0
    assert value(found, "sspr_resets_total", outcome="done") == 3
    assert value(found, "sspr_resets_total", outcome="refused") == 0
    assert value(found, "sspr_unlocks_total", outcome="done") == 0
    assert value(found, "sspr_verifications_total", method="email", outcome="passed") == 3
    assert value(found, "sspr_verifications_total", method="email", outcome="failed") == 3
    assert value(found, "sspr_lockouts_total", kind="locked") == 1
    assert value(found, "sspr_lockouts_total", kind="already_locked") == 0
    sent = {"kind": "code", "medium": "email", "provider": "outbox", "result": "sent"}
    assert value(found, "sspr_sends_total", **sent) == 4 == len(bot.outbox.messages())
    started = value(found, "sspr_audit_events_total", event="reset.started", outcome="requested")
    assert started == 4
    assert value(found, "sspr_store_errors_total", where="turn") == 0
    assert value(found, "sspr_directory_errors_total", where="turn") == 0


async def test_a_turn_the_store_fails_is_counted(
    make_http_bot: MakeHttpBot, make_redis_server: Callable[..., RedisServer]
) -> None:
    server = make_redis_server()
    environ = {"SSPR_REDIS_URL": server.url}
    async with make_http_bot(environ, state={"backend": "redis"}) as bot:
        server.stop()
        assert "briefly unavailable" in await bot.say("reset")
        found = samples(await fetch_metrics(bot))
    assert value(found, "sspr_store_errors_total", where="turn") == 1
    assert value(found, "sspr_turns_total", channel="emulator") == 1


async def test_the_token_guards_metrics_when_it_is_set(make_http_bot: MakeHttpBot) -> None:
    async with make_http_bot(environ={TOKEN_VARIABLE: "scrape-token"}) as bot:
        url = f"{bot.url}/metrics"
        async with bot.session.get(url) as refused:
            assert refused.status == 401
            assert refused.headers["WWW-Authenticate"] == "Bearer"
        wrong = {"Authorization": "Bearer nope"}
        async with bot.session.get(url, headers=wrong) as refused:
            assert refused.status == 401
        found = samples(await fetch_metrics(bot, {"Authorization": "Bearer scrape-token"}))
    assert value(found, "sspr_turns_total", channel="emulator") == 0


async def test_metrics_can_be_turned_off(make_http_bot: MakeHttpBot) -> None:
    async with make_http_bot(metrics={"enabled": False}) as bot:
        async with bot.session.get(f"{bot.url}/healthz") as served:
            assert served.status == 200
        async with bot.session.get(f"{bot.url}/metrics") as response:
            assert response.status == 404


def test_two_runtimes_count_apart() -> None:
    first, second = Metrics(), Metrics()
    first.unavailable(StoreUnavailable("down"), where="turn")
    first.unavailable(DirectoryUnavailable("down"), where="turn")
    counted, apart = samples(first.exposition().decode()), samples(second.exposition().decode())
    assert value(counted, "sspr_store_errors_total", where="turn") == 1
    assert value(counted, "sspr_directory_errors_total", where="turn") == 1
    assert value(apart, "sspr_store_errors_total", where="turn") == 0
