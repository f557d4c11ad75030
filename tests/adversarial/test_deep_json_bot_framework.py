"""Deeply nested JSON on `/api/messages` made the JSON decoder give up with RecursionError
and the bot answer 500. A body nested past `MAX_NESTING` levels is now refused like any
malformed activity, 400 with the usual short sentence, before anything walks it, with or
without a token, and changes nothing; an activity nested as deep as channels nest is
served as before."""

import json
from typing import Any

import pytest

from bot.botframework.activity_body import MAX_NESTING
from bot.conversations import record_key
from tests.support.http_fixtures import HttpBot
from tests.support.teams import TeamsBot

POLITE = {"error": "not a Bot Framework activity"}


def nested(depth: int) -> str:
    """A JSON value `depth` objects deep."""
    return '{"a":' * depth + "1" + "}" * depth


def with_value(activity: dict[str, Any], value: str) -> bytes:
    """The activity with `value` (raw JSON text) as its card-submit value."""
    return (json.dumps(activity)[:-1] + ', "value": ' + value + "}").encode()


def bodies(activity: dict[str, Any]) -> dict[str, bytes]:
    return {
        "arrays": b"[" * 200_000,
        "objects": b'{"a":' * 50_000,
        "an activity past the decoder's depth": with_value(activity, nested(5_000)),
        "an activity past the bound": with_value(activity, nested(MAX_NESTING + 36)),
    }


@pytest.mark.parametrize(
    "case",
    ["arrays", "objects", "an activity past the decoder's depth", "an activity past the bound"],
)
async def test_deep_json_is_refused_politely(http_bot: HttpBot, case: str) -> None:
    body = bodies(http_bot.activity("reset"))[case]
    for _ in range(2):
        answer = await http_bot.post(body)
        assert answer.status == 400, case
        assert json.loads(answer.body) == POLITE
        assert answer.replies == []
    assert http_bot.outbox.messages() == []
    assert await http_bot.runtime.store.get(record_key("emulator:conv-1:alice")) is None

    served = with_value(http_bot.activity("reset"), nested(MAX_NESTING - 2))
    answer = await http_bot.post(served)
    assert answer.status == 202
    assert answer.replies


@pytest.mark.parametrize("case", ["arrays", "an activity past the decoder's depth"])
async def test_deep_json_behind_a_valid_token_is_refused_politely(
    teams_bot: TeamsBot, case: str
) -> None:
    body = bodies(teams_bot.activity("reset"))[case]
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {teams_bot.token()}"}
    async with teams_bot.session.post(
        f"{teams_bot.url}/api/messages", data=body, headers=headers
    ) as response:
        assert response.status == 400
        assert await response.json() == POLITE
    await teams_bot.nothing_changed()
