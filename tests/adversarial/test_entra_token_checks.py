"""Tokens issued by Entra skipped two checks: an activity under an Entra token (signed by a
test key, served as Entra's key set) could name another serviceUrl than its token's, or
none at all, and a channel nothing vouches for. The same rules now hold for every issuer:
the serviceUrl is a trusted channel service equal to the token's `serviceurl` claim when
it has one, and the channel is one the token is good for (an Entra key endorses nothing,
so the channels the bot serves through Azure Bot Service). A refusal is 401 and changes
nothing; the same token kind within the rules is served."""

from typing import Any

import pytest

from bot.conversations import record_key
from tests.support.teams import TeamsBot


def _breach(teams_bot: TeamsBot, case: str, version: str) -> tuple[dict[str, Any], str]:
    """The activity and Entra token of one attack."""
    activity = teams_bot.activity("reset")
    service_url: str | None = None
    if case == "serviceurl claim on another port":
        service_url = "http://127.0.0.1:9/"  # the same host, another service
    elif case == "serviceurl claim on another path":
        service_url = f"{teams_bot.connector.url}/emea/"
    elif case == "no serviceUrl at all":
        del activity["serviceUrl"]
    elif case == "a channel the bot does not serve":
        activity["channelId"] = "telegram"
    elif case == "no channel":
        del activity["channelId"]
    return activity, teams_bot.entra_token(version=version, service_url=service_url)


@pytest.mark.parametrize("version", ["1.0", "2.0"])
@pytest.mark.parametrize(
    "case",
    [
        "serviceurl claim on another port",
        "serviceurl claim on another path",
        "no serviceUrl at all",
        "a channel the bot does not serve",
        "no channel",
    ],
)
async def test_an_entra_token_is_held_to_the_channel_rules(
    teams_bot: TeamsBot, case: str, version: str
) -> None:
    activity, token = _breach(teams_bot, case, version)
    for _ in range(2):
        status, replies = await teams_bot.post(activity, token)
        assert status == 401, case
        assert replies == []
    await teams_bot.nothing_changed()  # no reply, code, session or conversation reference
    if case == "a channel the bot does not serve":
        store = teams_bot.runtime.store
        assert await store.get(record_key("telegram:a:1on1-alice:29:alice-teams-id")) is None

    within_the_rules = teams_bot.entra_token(version=version)
    status, replies = await teams_bot.post(teams_bot.activity("reset"), within_the_rules)
    assert status == 202
    assert replies
