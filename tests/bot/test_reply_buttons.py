"""Replies as the channels receive them, over real HTTP: the password page's link as a
button (Teams `Action.OpenUrl`, a Slack URL button) with the plain link kept as fallback,
and a Teams card that travels without `text`, so Teams never shows a menu twice."""

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from state import FrozenClock
from tests.stand_ins.connector import ConnectorStandIn
from tests.stand_ins.slack import TEAM, form_payload
from tests.support.slack import ALICE, MakeSlackBot, SlackBot, buttons
from tests.support.teams import TeamsBot, cards, messages, running_teams_bot

LINK = re.compile(r"https?://\S+/password/[A-Za-z0-9_-]+")
LABEL = "Choose my new password"


@pytest.fixture(name="teams_bot")
async def teams_bot_fixture(
    tmp_path: Path, clock: FrozenClock, connector: ConnectorStandIn
) -> AsyncIterator[TeamsBot]:
    """The bot as tests/support/teams.py serves it to Teams, with the password page in use."""
    async with running_teams_bot(tmp_path, clock, connector, password={"entry": "link"}) as bot:
        yield bot


def card_texts(card: dict[str, Any]) -> list[str]:
    return [block["text"] for block in card["body"] if block["type"] == "TextBlock"]


async def test_a_teams_card_carries_the_menu_once(teams_bot: TeamsBot) -> None:
    [menu] = messages(await teams_bot.say("reset"))
    assert "text" not in menu.activity  # Teams would show it as a message of its own
    assert menu.activity["summary"].startswith("Hi Alice Wilber.")  # notifications, chat list
    [card] = cards(menu)
    assert card_texts(card)[0].startswith("Hi Alice Wilber.")
    titles = [action["title"] for action in card["actions"]]
    assert "Email a code to a***@contoso.com" in titles
    numbered = [line for line in card["fallbackText"].splitlines() if line[:1].isdigit()]
    assert numbered == [f"{n}. {title}" for n, title in enumerate(titles, 1)]
    [plain] = messages(await teams_bot.say("help"))  # no card: plain text, as before
    assert plain.text
    assert "attachments" not in plain.activity


async def test_the_password_page_link_is_a_teams_button(teams_bot: TeamsBot) -> None:
    [menu] = messages(await teams_bot.say("reset"))
    [card] = cards(menu)
    email = next(action for action in card["actions"] if action["title"].startswith("Email"))
    await teams_bot.say(None, value=email["data"])

    [linked] = messages(await teams_bot.say(teams_bot.outbox.last_code()))

    assert "text" not in linked.activity
    assert linked.activity["summary"].startswith("You're verified.")
    [card] = cards(linked)
    [button] = card["actions"]
    found = LINK.search("\n".join(card_texts(card)))
    assert found is not None  # the plain link stays in the card, for copying by hand
    assert button == {
        "type": "Action.OpenUrl",
        "title": LABEL,
        "url": found.group(0),
        "style": "positive",
    }
    assert found.group(0) in card["fallbackText"]
    served_here = teams_bot.url + urlsplit(button["url"]).path  # the public URL is elsewhere
    async with teams_bot.session.get(served_here) as response:
        assert response.status == 200  # the button opens the password page


@pytest.fixture(name="slack_bot")
async def slack_bot_fixture(make_slack_bot: MakeSlackBot) -> AsyncIterator[SlackBot]:
    """The bot as tests/support/slack.py serves it to Slack, with the password page in use."""
    async with make_slack_bot(password={"entry": "link"}) as bot:
        yield bot


def link_press(post: dict[str, Any], button: dict[str, Any]) -> dict[str, Any]:
    """The `block_actions` payload Slack sends when a URL button is pressed (it opens the
    URL itself and tells the app, with no `value`)."""
    return {
        "type": "block_actions",
        "user": {"id": ALICE, "username": "alice", "team_id": TEAM},
        "api_app_id": "A0SSPRBOT",
        "container": {"type": "message", "message_ts": post["ts"], "channel_id": post["channel"]},
        "team": {"id": TEAM, "domain": "contoso"},
        "channel": {"id": post["channel"], "name": "directmessage"},
        "message": {"type": "message", "ts": post["ts"], "text": post["text"]},
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": "sspr_choices",
                "text": button["text"],
                "type": "button",
                "action_ts": "1700000200.000001",
            }
        ],
    }


async def test_the_password_page_link_is_a_slack_button(slack_bot: SlackBot) -> None:
    [menu] = await slack_bot.say("reset")
    await slack_bot.press(menu, "email")
    await slack_bot.slack.drain()

    [linked] = await slack_bot.say(slack_bot.outbox.last_code())

    found = LINK.search(linked["text"])
    assert found is not None  # the plain link is the fallback
    section, _ = linked["blocks"]
    assert found.group(0) in section["text"]["text"]
    [button] = buttons(linked)
    assert button == {
        "type": "button",
        "action_id": "sspr_link",  # no choice's: a press is only acknowledged
        "text": {"type": "plain_text", "text": LABEL, "emoji": False},
        "url": found.group(0),
        "style": "primary",
    }
    mark = len(slack_bot.api.calls)
    pressed = await slack_bot.post(
        "/api/slack/interactivity",
        form_payload(link_press(linked, button)),
        None,
        "application/x-www-form-urlencoded",
    )
    await slack_bot.slack.drain()
    assert pressed.status == 200  # acknowledged, and nothing else: Slack opened the page
    assert slack_bot.api.calls[mark:] == []
