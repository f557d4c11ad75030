"""The helpdesk's hand-off over real HTTP: the bot served as `sspr-bot serve` builds it,
with Slack against the Slack Web API stand-in and `SSPR_HANDOFF_SECRET` set, hand-offs
signed as a helpdesk system signs them, the bot's frozen clock as "now"."""

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession

from bot.conversations import record_key, slack_conversation
from bot.handoff import HANDOFF_PATH, SECRET_VARIABLE, signature_headers
from bot.runtime import Runtime
from dialogs import Catalog
from state import FrozenClock
from tests.stand_ins.slack import BOT_TOKEN, TEAM, SlackApiStandIn
from tests.support.slack import Answer, running_slack_bot

HANDOFF_SECRET = "helpdesk-shared-secret-for-tests-only"
SLACK_SECRETS = {
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
    "SLACK_BOT_TOKEN": BOT_TOKEN,
}
ENVIRON = {**SLACK_SECRETS, SECRET_VARIABLE: HANDOFF_SECRET}


@dataclass
class HelpdeskBot:
    url: str
    runtime: Runtime
    clock: FrozenClock
    api: SlackApiStandIn
    session: ClientSession
    data_dir: Path

    def signed(self, body: bytes, *, secret: str = HANDOFF_SECRET) -> dict[str, str]:
        return signature_headers(secret, int(self.clock.now()), body)

    async def post(self, body: bytes, headers: Mapping[str, str] | None = None) -> Answer:
        sent = {
            "Content-Type": "application/json",
            **(self.signed(body) if headers is None else headers),
        }
        async with self.session.post(
            f"{self.url}{HANDOFF_PATH}", data=body, headers=sent
        ) as response:
            return Answer(response.status, await response.read())

    async def hand_off(self, **fields: Any) -> Answer:
        return await self.post(handoff_body(**fields))

    def audit(self) -> list[dict[str, Any]]:
        path = self.data_dir / "audit.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    async def handoff_records(self) -> list[str]:
        return [
            key
            for key in ("handoff:INC0012345", "handoff:INC0099999")
            if await self.runtime.store.get(key)
        ]


def handoff_body(
    *, ticket: str = "INC0012345", user: str = "alice@contoso.com", **fields: Any
) -> bytes:
    return json.dumps({"ticket": ticket, "user": user, **fields}).encode()


@asynccontextmanager
async def helpdesk_bot(
    data_dir: Path,
    clock: FrozenClock,
    api: SlackApiStandIn,
    environ: Mapping[str, str],
    **config: Any,
) -> AsyncIterator[HelpdeskBot]:
    """The bot as `sspr-bot serve` builds it, Slack at the stand-in, with `environ`."""
    async with running_slack_bot(data_dir, clock, api, secrets=environ, **config) as served:
        yield HelpdeskBot(served.url, served.runtime, clock, api, served.session, data_dir)


@pytest.fixture(name="bot")
async def bot_fixture(
    tmp_path: Path, clock: FrozenClock, slack_api: SlackApiStandIn
) -> AsyncIterator[HelpdeskBot]:
    async with helpdesk_bot(tmp_path / "data", clock, slack_api, ENVIRON) as bot:
        yield bot


async def test_a_signed_hand_off_reaches_the_user_in_their_own_chat(bot: HelpdeskBot) -> None:
    answer = await bot.hand_off()
    assert (answer.status, answer.json()) == (202, {"reached": True})
    [post] = bot.api.posts()
    assert post["channel"] == "DUALICE001"
    assert post["text"] == Catalog().text(
        "handoff_offer", "en", ticket="INC0012345", name="Alice Wilber"
    )
    assert "INC0012345" in post["text"]
    assert "'reset'" in post["text"]
    [event] = [event for event in bot.audit() if event["event"] == "handoff.received"]
    assert event["ticket"] == "INC0012345"
    assert event["reached"] is True
    assert event["account"] == "f94b2385-7041-4106-91e7-4a97eb539735"


async def test_the_offer_is_made_in_the_locale_asked_for(
    tmp_path: Path, clock: FrozenClock, slack_api: SlackApiStandIn
) -> None:
    german = {"de": {"handoff_offer": "Hallo {name}, Ticket {ticket}: sagen Sie 'reset'."}}
    async with helpdesk_bot(tmp_path / "data", clock, slack_api, ENVIRON, messages=german) as bot:
        assert (await bot.hand_off(locale="de-AT")).status == 202
        [post] = bot.api.posts()
    assert post["text"] == "Hallo Alice Wilber, Ticket INC0012345: sagen Sie 'reset'."


async def test_a_replay_answers_as_the_first_time_and_sends_nothing(bot: HelpdeskBot) -> None:
    body = handoff_body()
    first = await bot.post(body)
    bot.clock.advance(60)
    replay = await bot.post(body)
    again = await bot.hand_off(user="bob@contoso.com")  # the same ticket, freshly signed
    assert first == replay == again
    assert len(bot.api.posts()) == 1
    assert len([event for event in bot.audit() if event["event"] == "handoff.received"]) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-SSPR-Timestamp": "1800000000"},
        {"X-SSPR-Signature": "v1=" + "0" * 64},
        {"X-SSPR-Timestamp": "soon", "X-SSPR-Signature": "v1=" + "0" * 64},
    ],
)
async def test_an_unsigned_hand_off_is_refused(bot: HelpdeskBot, headers: dict[str, str]) -> None:
    await _refused(bot, await bot.post(handoff_body(), headers))


async def test_a_hand_off_signed_with_another_secret_is_refused(bot: HelpdeskBot) -> None:
    body = handoff_body()
    await _refused(bot, await bot.post(body, bot.signed(body, secret="someone-elses-secret")))


async def test_a_hand_off_under_another_scheme_is_refused(bot: HelpdeskBot) -> None:
    body = handoff_body()
    headers = bot.signed(body)
    headers["X-SSPR-Signature"] = headers["X-SSPR-Signature"].replace("v1=", "v2=")
    await _refused(bot, await bot.post(body, headers))


@pytest.mark.parametrize("moved", [301, -301])
async def test_a_stale_hand_off_is_refused(bot: HelpdeskBot, moved: int) -> None:
    """Signed more than five minutes before (or after) the bot's clock."""
    body = handoff_body()
    headers = bot.signed(body)
    bot.clock.advance(moved)
    await _refused(bot, await bot.post(body, headers))


async def test_a_hand_off_within_the_window_is_taken(bot: HelpdeskBot) -> None:
    body = handoff_body()
    headers = bot.signed(body)
    bot.clock.advance(300)
    assert (await bot.post(body, headers)).status == 202


async def test_a_tampered_hand_off_is_refused(bot: HelpdeskBot) -> None:
    headers = bot.signed(handoff_body())
    await _refused(bot, await bot.post(handoff_body(user="adele@contoso.com"), headers))


async def _refused(bot: HelpdeskBot, answer: Answer) -> None:
    assert answer.status == 401
    assert set(answer.json()) == {"error"}
    assert bot.api.calls == []
    assert await bot.handoff_records() == []
    assert bot.audit() == []


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        handoff_body(ticket=""),
        handoff_body(ticket="INC" * 30),
        handoff_body(ticket="INC\n001"),
        handoff_body(user=""),
        handoff_body(user="a" * 257),
        handoff_body(locale="de; drop"),
        handoff_body(priority="high"),
        json.dumps({"ticket": 12345, "user": "alice@contoso.com"}).encode(),
        json.dumps({"ticket": "INC0012345"}).encode(),
    ],
)
async def test_a_malformed_hand_off_is_refused(bot: HelpdeskBot, body: bytes) -> None:
    answer = await bot.post(body)
    assert answer.status == 400
    assert answer.json()["error"] == "invalid hand-off"
    assert bot.api.calls == []
    assert await bot.handoff_records() == []


async def test_an_oversized_hand_off_is_refused(bot: HelpdeskBot) -> None:
    answer = await bot.hand_off(callback="https://helpdesk.contoso.com/" + "x" * 10_000)
    assert answer.status == 413
    assert bot.api.calls == []
    assert await bot.handoff_records() == []


async def test_an_unknown_user_is_answered_as_one_who_cannot_be_reached(
    bot: HelpdeskBot,
) -> None:
    """Bob is in the directory but not in Slack (and never wrote to the bot in Teams)."""
    unreachable = await bot.hand_off(user="bob@contoso.com")
    unknown = await bot.hand_off(ticket="INC0099999", user="nobody@contoso.com")
    assert unreachable.status == unknown.status == 202
    assert unreachable.body == unknown.body
    assert unknown.json() == {"reached": False, "reason": "not reachable"}
    assert bot.api.posts() == []
    events = [event for event in bot.audit() if event["event"] == "handoff.received"]
    assert [event["reached"] for event in events] == [False, False]
    assert events[0]["account"] is not None
    assert events[1].get("account") is None
    assert all("nobody" not in json.dumps(event) for event in events)


async def test_a_hand_off_changes_no_conversation(bot: HelpdeskBot) -> None:
    """The offer proves nothing about who answers it: Alice's chat starts from nothing."""
    assert (await bot.hand_off()).status == 202
    [post] = bot.api.posts()
    conversation = slack_conversation(TEAM, post["channel"], "UALICE001")
    assert await bot.runtime.store.get(record_key(conversation)) is None
    assert [event["event"] for event in bot.audit()] == ["handoff.received"]


async def test_without_the_secret_there_is_no_hand_off(
    tmp_path: Path, clock: FrozenClock, slack_api: SlackApiStandIn
) -> None:
    async with helpdesk_bot(tmp_path / "data", clock, slack_api, SLACK_SECRETS) as bot:
        answer = await bot.post(handoff_body(), bot.signed(handoff_body()))
        assert answer.status == 404
        assert slack_api.calls == []
