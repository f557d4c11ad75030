"""`sspr-bot report` as an operator runs it, over the trail of a scripted series of whole
conversations through the real bot: three resets, an unlock, one person who stopped at the
code step, a lockout and a hand-off; the text and the JSON give exactly those numbers."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.report import count_usage, window_start
from state import FrozenClock
from tests.support.commands import sspr_bot
from tests.support.directory import demo_with
from tests.support.harness import Bot, running_bot

COST = "report:\n  cost_per_ticket: 25.5\n  currency: EUR\n"


async def scripted_series(bot: Bot) -> None:
    """Seven conversations; bob's account starts locked (`demo_with`)."""
    await reset_by_email(bot, "alice")
    adele = bot.chat("adele")
    await adele.text("reset")
    await adele.text("authenticator")
    await adele.text(bot.totp("adele"))
    await adele.text("email")
    assert "temporary password" in await adele.text(bot.outbox.last_code())
    await reset_by_email(bot, "alice")

    bob = bot.chat("bob")
    await bob.text("reset")
    await bob.text("email")
    await bob.text(bot.outbox.last_code())
    assert "unlocked" in await bob.text("1")

    stopped = bot.chat("alice")
    await stopped.text("reset")
    assert "emailed" in await stopped.text("email")

    typed = bot.chat()
    await typed.text("reset")
    await typed.text("adele@contoso.com")
    for wrong in ("000000", "000001", "000002", "000003", "000004", "000005"):
        if "too many attempts" in (await typed.text(wrong)).lower():
            break
    else:
        raise AssertionError("never locked")

    handed = bot.chat("bob")
    await handed.text("reset")
    assert "helpdesk" in await handed.text("agent")
    await bot.runtime.background.drain()


async def reset_by_email(bot: Bot, user: str) -> None:
    chat = bot.chat(user)
    await chat.text("reset")
    await chat.text("email")
    assert "temporary password" in await chat.text(bot.outbox.last_code())


async def series_trail(tmp_path: Path) -> Path:
    """The data folder of a bot that ran the series, its trail in `audit.jsonl`."""
    data = tmp_path / "data"
    demo_with(data, "bob", locked=True)
    async with running_bot(data, FrozenClock()) as bot:
        await scripted_series(bot)
    return data


EXPECTED: dict[str, Any] = {
    "conversations": {"started": 7, "succeeded": 4, "success_rate": 0.5714},
    "resets": 3,
    "unlocks": 1,
    "dropouts": {"code.sent": 1, "reset.escalated": 1, "reset.locked": 1},
    "methods": {"email": 4, "authenticator": 1},
    "lockouts": {"events": 1, "accounts": 1},
    "handoffs": {"total": 1, "by_reason": {"asked": 1}},
    "tickets_saved": {"tickets": 4, "cost_per_ticket": 25.5, "currency": "EUR", "amount": 102.0},
}


def report(tmp_path: Path, data: Path, *args: str) -> str:
    config = tmp_path / "sspr.yaml"
    config.write_text(f"data_dir: {data}\n{COST}")
    done = sspr_bot(tmp_path, "report", "--config", str(config), *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_the_json_report_counts_the_scripted_series_exactly(tmp_path: Path) -> None:
    data = await series_trail(tmp_path)

    document = json.loads(report(tmp_path, data, "--since", "7d", "--json"))

    assert {key: document[key] for key in EXPECTED} == EXPECTED
    today = datetime.now(UTC).date().isoformat()
    assert len(document["by_day"]) == 8
    assert document["by_day"][-1] == {"day": today, "resets": 3, "unlocks": 1}
    assert all(day["resets"] == day["unlocks"] == 0 for day in document["by_day"][:-1])


async def test_the_text_report_shows_the_same_numbers_in_aligned_tables(tmp_path: Path) -> None:
    data = await series_trail(tmp_path)
    page = tmp_path / "report.html"

    text = report(tmp_path, data, "--since", "2d", "--html", str(page))

    lines = text.splitlines()
    for row in (
        "Conversations started      7",
        "Succeeded                  4 (57.1 %)",
        "Password resets            3",
        "Account unlocks            1",
        "Lockouts                   1 (1 account)",
        "Hand-offs to the helpdesk  1",
        "Tickets saved              4 x 25.50 EUR = 102.00 EUR",
        f"{datetime.now(UTC).date().isoformat()}       3        1",
        "code.sent                    1",
        "reset.escalated              1",
        "reset.locked                 1",
        "email               4",
        "authenticator       1",
        "asked           1",
    ):
        assert row in lines, (row, text)
    header = lines.index("Day         Resets  Unlocks")
    assert [len(line) for line in lines[header + 1 : header + 4]] == [27, 27, 27]
    assert lines[header + 4] == ""
    assert page.stat().st_mode & 0o777 == 0o600
    assert page.read_text().count('<svg class="chart"') == 5


async def test_a_report_before_any_event_names_no_rate(tmp_path: Path) -> None:
    data = tmp_path / "empty"
    data.mkdir()

    document = json.loads(report(tmp_path, data, "--json"))

    assert document["conversations"] == {"started": 0, "succeeded": 0, "success_rate": None}
    assert len(document["by_day"]) == 31
    assert "(none)" in report(tmp_path, data)


def test_events_outside_the_period_and_lines_that_are_not_events_are_left_out() -> None:
    now = datetime(2025, 3, 10, 12, tzinfo=UTC)
    lines = [
        json.dumps({"at": "2025-03-01T09:00:00+00:00", "event": "password.reset"}),
        "not json",
        json.dumps(["an", "array"]),
        json.dumps({"at": "2025-03-09T09:00:00+00:00", "event": "password.reset"}),
        json.dumps({"at": "2025-03-10T11:00:00", "event": "account.unlocked"}),
    ]

    usage = count_usage(lines, since=window_start("2d", now), until=now)

    assert (usage.resets, usage.unlocks, usage.tickets_saved, usage.amount_saved) == (1, 1, 2, 0)
    assert [day.day.day for day in usage.days] == [8, 9, 10]
    assert window_start("2025-03-01", now) == datetime(2025, 3, 1, tzinfo=UTC)


def test_a_period_that_is_neither_a_duration_nor_a_date_is_an_operator_error(
    tmp_path: Path,
) -> None:
    done = sspr_bot(tmp_path, "report", "--since", "last week")

    assert done.returncode == 2
    assert "report: --since 'last week' is neither a duration" in done.stderr
