"""Deeply nested JSON, in the web chat API and in Slack's events and button presses.

The attack: a body of a few kilobytes nested thousands of levels deep made the JSON parser
give up with a RecursionError, which nothing caught: HTTP 500. What holds: such a body gets
the channel's usual 400 answer and changes nothing; Slack documents are also refused
past a depth no real payload comes near, before anything walks them. (The Bot Framework's
`/api/messages` has its own module, `test_deep_json_bot_framework.py`.)
"""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.slack.payloads import MAX_JSON_DEPTH
from bot.slack.routes import EVENTS_PATH, INTERACTIVITY_PATH
from state import FrozenClock
from tests.support.slack import SlackBot, block_actions, message_event
from tests.support.webchat import Served, serving_webchat

DEPTHS = [1_000, 5_000, 20_000]  # the last near the Slack routes' body limit, URL-encoded


def nested(depth: int, opener: str = "[") -> str:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return opener * depth + "1" + closer * depth


@pytest.fixture(name="served")
async def served_fixture(tmp_path: Path, clock: FrozenClock) -> AsyncIterator[Served]:
    async with serving_webchat(
        tmp_path / "data", clock, {"rate_limit": {"requests": 100}}, {}
    ) as served:
        yield served


@pytest.mark.parametrize("depth", [1_000, 1_800])
@pytest.mark.parametrize("opener", ["[", '{"a":'])
async def test_the_web_chat_answers_deep_json_politely(
    served: Served, depth: int, opener: str
) -> None:
    browser = await served.browser()
    bodies = [
        nested(depth, opener),
        '{"text": ' + nested(depth, opener) + "}",
        '{"text": "reset", "extra": ' + nested(depth, opener) + "}",
    ]
    for body in bodies:
        answer = await browser.post(body.encode())

        assert answer.status == 400, body[:20]
        assert answer.json == {
            "error": "malformed",
            "message": "That message could not be read. Please reload the page and try again.",
        }
    assert browser.cookie is None  # no conversation was started
    assert (await browser.say("reset")).status == 200


MALFORMED = {"error": "malformed request"}
FORM = "application/x-www-form-urlencoded"


def deep_envelope(depth: int) -> bytes:
    """A real message event with a deeply nested field beside the rest."""
    text = json.dumps(message_event("reset"))
    return (text[:-1] + ', "extra": ' + nested(depth) + "}").encode()


def deep_press(post: dict[str, Any], depth: int) -> bytes:
    """A real button press whose message carries a block with a deeply nested field."""
    payload = json.dumps(block_actions(post, "email"))
    marker = '"blocks": ['
    block = '{"type": "section", "x": ' + nested(depth) + "}, "
    return urlencode({"payload": payload.replace(marker, marker + block, 1)}).encode()


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, *DEPTHS])
async def test_a_deep_slack_event_is_refused(slack_bot: SlackBot, depth: int) -> None:
    body = deep_envelope(depth)

    answer = await slack_bot.post(EVENTS_PATH, body)

    assert answer.status == 400
    assert answer.json() == MALFORMED
    await slack_bot.slack.drain()
    assert slack_bot.api.calls == []


def a_post() -> dict[str, Any]:
    """A message the bot posted, with a button to press."""
    return {
        "channel": "DALICE001",
        "ts": "1700000300.000100",
        "text": "How should I check it's you?",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "How should I check?"}},
            {
                "type": "actions",
                "block_id": "sspr_choices",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "sspr_choice_0",
                        "text": {"type": "plain_text", "text": "Email"},
                        "value": "email",
                    }
                ],
            },
        ],
    }


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, *DEPTHS])
async def test_a_deep_button_press_is_refused(slack_bot: SlackBot, depth: int) -> None:
    body = deep_press(a_post(), depth)

    answer = await slack_bot.post(INTERACTIVITY_PATH, body, None, FORM)

    assert answer.status == 400
    assert answer.json() == MALFORMED
    await slack_bot.slack.drain()
    assert slack_bot.api.calls == []
    real = deep_press(a_post(), 8)  # as deep as Slack's own blocks go: handled as before
    assert (await slack_bot.post(INTERACTIVITY_PATH, real, None, FORM)).status == 200


@pytest.mark.parametrize("field", ["team", "user", "channel", "container", "message", "actions"])
async def test_a_signed_press_of_the_wrong_shape_is_ignored(
    slack_bot: SlackBot, field: str
) -> None:
    payload = block_actions(a_post(), "email")
    payload[field] = "not an object"
    body = urlencode({"payload": json.dumps(payload)}).encode()

    answer = await slack_bot.post(INTERACTIVITY_PATH, body, None, FORM)

    assert answer.status == 200
    await slack_bot.slack.drain()
    if field in ("team", "user", "actions"):  # the others have a fallback Slack also sends
        assert slack_bot.api.calls == []
