"""Reminders to register methods or confirm them again: the bot as `serve` builds it with
Slack against the Slack Web API stand-in, on a frozen clock. Rounds are run directly, never
waited for; the memory store's expiry follows the same clock."""

import asyncio
from typing import Any

import pyotp

from adapters.directory import Account
from dialogs.catalog import Catalog
from dialogs.registered_directory import RegisteredDirectory
from dialogs.reminders import TASK_NAME, Reminders
from state import FrozenClock
from tests.stand_ins.slack import TEAM, SlackApiStandIn
from tests.support.slack import MakeSlackBot, SlackBot

DAY = 86400.0
WEEK = 7 * DAY
BOB_DM = "DUBOB00001"
ADELE_DM = "DUADELE01"
ALICE_DM = "DUALICE001"


def slack_member(user_id: str, name: str, email: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "team_id": TEAM,
        "name": name,
        "locale": "en-US",
        "profile": {"email": email, "real_name": name},
    }


def in_slack(api: SlackApiStandIn, *names: str) -> None:
    members = {"bob": "UBOB00001", "adele": "UADELE01"}
    for name in names:
        api.users[members[name]] = slack_member(members[name], name, f"{name}@contoso.com")


def reminders_of(bot: SlackBot) -> Reminders:
    """What `http_application` starts when reminders are enabled, on the served bot's parts."""
    runtime = bot.runtime
    return Reminders(
        runtime.settings.dialog(),
        directory=RegisteredDirectory(runtime.directory, runtime.registry),
        reach=runtime.reach,
        store=runtime.store,
        clock=runtime.clock,
        catalog=runtime.catalog,
    )


async def account(bot: SlackBot, name: str) -> Account:
    found = await bot.runtime.directory.find(name)
    assert found is not None
    return found


def reminded_in(api: SlackApiStandIn) -> list[str]:
    return [post["channel"] for post in api.posts()]


async def test_bob_is_reminded_once_and_again_after_the_interval(
    make_slack_bot: MakeSlackBot, slack_api: SlackApiStandIn, clock: FrozenClock
) -> None:
    """Bob has only the directory's email and phone: no app, no questions."""
    in_slack(slack_api, "bob")
    async with make_slack_bot() as bot:
        reminders = reminders_of(bot)
        assert await reminders.round() == 1
        [post] = slack_api.posts()
        assert post["channel"] == BOB_DM
        expected = Catalog().text("reminder_register", "en", name="Bob Basic")
        assert post["text"] == expected
        assert "'register'" in expected

        assert await reminders.round() == 0
        clock.advance(WEEK - 60)
        assert await reminders.round() == 0
        assert reminded_in(slack_api) == [BOB_DM]

        clock.advance(120)
        assert await reminders.round() == 1
        assert reminded_in(slack_api) == [BOB_DM, BOB_DM]


async def test_who_registered_and_confirmed_recently_is_not_reminded(
    make_slack_bot: MakeSlackBot, slack_api: SlackApiStandIn, clock: FrozenClock
) -> None:
    in_slack(slack_api, "bob")
    async with make_slack_bot(enrolment={"reconfirm_days": 90}) as bot:
        registry = bot.runtime.registry
        bob, alice, adele = [await account(bot, name) for name in ("bob", "alice", "adele")]
        await registry.add_authenticator(bob.id, pyotp.random_base32())
        await registry.confirm(alice.id, "email")
        await registry.confirm(adele.id, "mobile_phone")
        reminders = reminders_of(bot)
        assert await reminders.round() == 0
        assert slack_api.posts() == []

        clock.advance(91 * DAY)
        assert await reminders.round() == 2  # adele is due too, but not in Slack
        assert sorted(reminded_in(slack_api)) == [ALICE_DM, BOB_DM]
        assert {post["text"] for post in slack_api.posts()} == {
            Catalog().text("reminder_reconfirm", "en", name="Alice Wilber"),
            Catalog().text("reminder_reconfirm", "en", name="Bob Basic"),
        }


async def test_a_round_sends_at_most_per_round_and_skips_whom_no_chat_reached(
    make_slack_bot: MakeSlackBot, slack_api: SlackApiStandIn
) -> None:
    """Alice and Adele never confirmed anything; Bob has nothing to reset with but contacts.
    Adele is not in Slack at first, so she is tried again, not counted as reminded."""
    in_slack(slack_api, "bob")
    config = {"reconfirm_days": 90, "reminders": {"per_round": 1}}
    async with make_slack_bot(enrolment=config) as bot:
        reminders = reminders_of(bot)
        assert [await reminders.round() for _ in range(3)] == [1, 1, 0]
        assert sorted(reminded_in(slack_api)) == [ALICE_DM, BOB_DM]

        in_slack(slack_api, "adele")
        assert await reminders.round() == 1
        assert reminded_in(slack_api)[-1] == ADELE_DM


async def test_two_instances_remind_once(
    make_slack_bot: MakeSlackBot, slack_api: SlackApiStandIn
) -> None:
    in_slack(slack_api, "bob")
    async with make_slack_bot() as bot:
        first, second = reminders_of(bot), reminders_of(bot)
        counts = await asyncio.gather(first.round(), second.round())
        assert sorted(counts) == [0, 1]
        assert reminded_in(slack_api) == [BOB_DM]


def reminder_tasks() -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == TASK_NAME]


async def test_reminders_are_off_unless_enabled(make_slack_bot: MakeSlackBot) -> None:
    async with make_slack_bot() as bot:
        assert not bot.runtime.settings.dialog().enrolment.reminders.enabled
        assert reminder_tasks() == []


async def test_enabled_reminders_run_while_the_bot_serves(make_slack_bot: MakeSlackBot) -> None:
    async with make_slack_bot(enrolment={"reminders": {"enabled": True}}):
        [task] = reminder_tasks()
        assert not task.done()
    assert task.done()
    assert reminder_tasks() == []
