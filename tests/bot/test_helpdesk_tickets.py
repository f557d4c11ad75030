"""The helpdesk's tickets end to end, over real HTTP: a ticket handed to the bot reaches the
person's Teams chat (captured by the connector stand-in), and what they do there moves the
ticket on in the helpdesk's system (ServiceNow, Jira Service Management or a signed
webhook, each a local stand-in in its wire format): a reset resolves it, a lock or a
timeout gives it back; a hand-over to the helpdesk opens one, and the person is told its
number. Nothing a ticket holds is ever a code, an answer or a password."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.tickets.opening import open_ticket_system
from adapters.tickets.signature import signature_headers
from bot.handoff import HANDOFF_PATH, SECRET_VARIABLE
from dialogs.tickets import TicketDesk
from state import FrozenClock
from tests.stand_ins.connector import ConnectorStandIn
from tests.stand_ins.jira import JiraStandIn, running_jira_stand_in
from tests.stand_ins.servicenow import ServiceNowStandIn, running_servicenow_stand_in
from tests.stand_ins.ticket_webhook import TicketWebhookStandIn, running_ticket_webhook_stand_in
from tests.support.directory import embedded_directory
from tests.support.harness import ANSWERS, PASSWORDS, TOTP, running_bot
from tests.support.teams import ALICE_OBJECT_ID, TeamsBot, messages, running_teams_bot

HANDOFF_SECRET = "helpdesk-shared-secret-for-tests-only"
SYSTEMS = ("servicenow", "jira", "webhook")


@dataclass
class Desk:
    """One ticket system's stand-in, read the same way whatever its wire format."""

    name: str
    settings: dict[str, Any]
    environ: dict[str, str]
    open_ticket: Callable[[], str]  # a ticket the helpdesk has for Alice, by its number
    notes: Callable[[str], list[str]]  # the internal notes the bot wrote on a ticket
    resolved: Callable[[str], bool]
    handed_back: Callable[[str], bool]
    created: Callable[[], list[tuple[str, str]]]  # (number, all its text) the bot opened
    raw: Callable[[], str]  # everything that reached the system, for the secret scan


def servicenow_desk(stand_in: ServiceNowStandIn) -> Desk:
    def notes(number: str) -> list[str]:
        return list(stand_in.by_number(number)["work_notes"])

    def created() -> list[tuple[str, str]]:
        return [
            (record["number"], f"{record['short_description']}\n{record['description']}")
            for record in stand_in.records.values()
            if "description" in record
        ]

    return Desk(
        "servicenow",
        stand_in.settings(assignment_group="Service Desk"),
        stand_in.environ(),
        lambda: str(stand_in.add(short_description="Forgot my password")["number"]),
        notes,
        lambda number: stand_in.by_number(number)["state"] == "6",
        lambda number: stand_in.by_number(number).get("assignment_group") == "Service Desk",
        created,
        lambda: json.dumps([received.body for received in stand_in.requests]),
    )


def jira_desk(stand_in: JiraStandIn) -> Desk:
    def created() -> list[tuple[str, str]]:
        return [
            (key, json.dumps(issue.fields["requestFieldValues"]))
            for key, issue in stand_in.issues.items()
            if "requestFieldValues" in issue.fields
        ]

    return Desk(
        "jira",
        stand_in.settings(reassign_transition="Escalate"),
        stand_in.environ(),
        lambda: stand_in.add(summary="Forgot my password").key,
        lambda key: [comment.body for comment in stand_in.issues[key].comments],
        lambda key: stand_in.issues[key].transitions == ["11"],
        lambda key: stand_in.issues[key].transitions == ["21"],
        created,
        lambda: json.dumps([received.body for received in stand_in.requests]),
    )


def webhook_desk(stand_in: TicketWebhookStandIn) -> Desk:
    def updates(ticket: str) -> list[dict[str, Any]]:
        return [
            verified.body
            for verified in stand_in.verified
            if verified.body.get("type") == "ticket.updated" and verified.body["ticket"] == ticket
        ]

    def created() -> list[tuple[str, str]]:
        opened = [v.body for v in stand_in.verified if v.body.get("type") == "ticket.create"]
        return [
            (f"WH-{number}", f"{body['summary']}\n{body['description']}")
            for number, body in enumerate(opened, 1)
        ]

    return Desk(
        "webhook",
        stand_in.settings(),
        stand_in.environ(),
        lambda: "HELP-4711",
        lambda ticket: [body["note"] for body in updates(ticket)],
        lambda ticket: [body["resolved"] for body in updates(ticket)] == [True],
        lambda ticket: [body["resolved"] for body in updates(ticket)] == [False],
        created,
        lambda: b"\n".join(received.raw for received in stand_in.requests).decode(),
    )


@asynccontextmanager
async def desk_for(name: str) -> AsyncIterator[Desk]:
    async with AsyncExitStack() as stack:
        if name == "servicenow":
            yield servicenow_desk(await stack.enter_async_context(running_servicenow_stand_in()))
        elif name == "jira":
            yield jira_desk(await stack.enter_async_context(running_jira_stand_in()))
        else:
            yield webhook_desk(await stack.enter_async_context(running_ticket_webhook_stand_in()))


@dataclass
class Helpdesk:
    bot: TeamsBot
    desk: Desk
    clock: FrozenClock

    async def hand_off(self, ticket: str, **fields: Any) -> dict[str, Any]:
        body = json.dumps({"ticket": ticket, "user": "alice@contoso.com", **fields}).encode()
        headers = signature_headers(HANDOFF_SECRET, int(self.clock.now()), body)
        async with self.bot.session.post(
            f"{self.bot.url}{HANDOFF_PATH}",
            data=body,
            headers={"Content-Type": "application/json", **headers},
        ) as answer:
            assert answer.status == 202
            result: dict[str, Any] = await answer.json()
            return result

    async def settled(self) -> None:
        """Wait for the ticket updates the turns left to the background."""
        await self.bot.runtime.background.drain()

    async def reset_by_email(self) -> str:
        """Alice resets in her Teams chat with an emailed code; her temporary password."""
        await self.bot.say("reset")
        await self.bot.say("email")
        [result] = messages(await self.bot.say(self.bot.outbox.last_code()))
        assert "temporary password" in result.text
        return result.text.split("\n\n")[1]

    async def lock_out(self) -> list[str]:
        """Alice gets the emailed code wrong until the flow locks; what the bot said last."""
        await self.bot.say("reset")
        await self.bot.say("email")
        said: list[str] = []
        for text in ("000000", "000000", "000000", "resend", "000000", "000000"):
            if text != "resend" and text == self.bot.outbox.last_code():
                text = "111111"
            said = [reply.text for reply in messages(await self.bot.say(text))]
        assert any("too many attempts" in text for text in said), said
        return said


@asynccontextmanager
async def helpdesk(
    tmp_path: Path, clock: FrozenClock, connector: ConnectorStandIn, system: str, **config: Any
) -> AsyncIterator[Helpdesk]:
    async with desk_for(system) as desk:
        secrets = {SECRET_VARIABLE: HANDOFF_SECRET, **desk.environ}
        async with running_teams_bot(
            tmp_path, clock, connector, secrets=secrets, tickets=desk.settings, **config
        ) as bot:
            yield Helpdesk(bot, desk, clock)


@pytest.fixture(name="desk_name", params=SYSTEMS)
def desk_name_fixture(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture(name="helpdesk")
async def helpdesk_fixture(
    tmp_path: Path, clock: FrozenClock, connector: ConnectorStandIn, desk_name: str
) -> AsyncIterator[Helpdesk]:
    async with helpdesk(tmp_path, clock, connector, desk_name) as served:
        yield served


async def handed_off(helpdesk: Helpdesk) -> str:
    """Alice has written to the bot before; the helpdesk hands her ticket over, and the
    offer lands in her Teams chat."""
    await helpdesk.bot.say("help")
    ticket = helpdesk.desk.open_ticket()
    mark = len(helpdesk.bot.connector.received)
    assert await helpdesk.hand_off(ticket) == {"reached": True}
    [offer] = helpdesk.bot.connector.received[mark:]
    assert offer.conversation_id == "a:1on1-alice"
    assert ticket in offer.text
    return ticket


async def test_a_reset_after_a_hand_off_resolves_the_ticket(helpdesk: Helpdesk) -> None:
    ticket = await handed_off(helpdesk)
    password = await helpdesk.reset_by_email()
    await helpdesk.settled()

    assert await embedded_directory(helpdesk.bot.runtime).check_password("alice", password)
    assert helpdesk.desk.resolved(ticket)
    [note] = helpdesk.desk.notes(ticket)
    assert "reset their password with the bot" in note
    assert "email" in note
    assert "msteams" in note
    assert password not in helpdesk.desk.raw()
    status = await helpdesk.bot.runtime.tickets.open_ticket(ALICE_OBJECT_ID)
    assert status is None  # resolved: nothing left open


async def test_a_lock_after_a_hand_off_gives_the_ticket_back(helpdesk: Helpdesk) -> None:
    ticket = await handed_off(helpdesk)
    said = await helpdesk.lock_out()
    await helpdesk.settled()

    assert helpdesk.desk.handed_back(ticket)
    assert not helpdesk.desk.resolved(ticket)
    [note] = helpdesk.desk.notes(ticket)
    assert "locked" in note
    assert "Methods tried: email: not passed" in note
    assert any(ticket in text for text in said)  # the person is told which ticket to quote
    status = await helpdesk.bot.runtime.tickets.open_ticket(ALICE_OBJECT_ID)
    assert status is not None
    assert status.state == "with_helpdesk"
    assert status.tried == ("email: not passed",)


async def test_a_hand_off_nobody_finishes_goes_back_after_the_timeout(
    helpdesk: Helpdesk, clock: FrozenClock
) -> None:
    ticket = await handed_off(helpdesk)
    tickets = helpdesk.bot.runtime.tickets
    clock.advance(24 * 3600 - 1)
    assert await tickets.sweep() == 0
    clock.advance(2)
    assert await tickets.sweep() == 1
    await helpdesk.settled()

    assert helpdesk.desk.handed_back(ticket)
    [note] = helpdesk.desk.notes(ticket)
    assert "did not finish" in note
    assert "1d" in note
    assert await tickets.sweep() == 0  # given back once


async def test_a_reset_after_the_timeout_still_resolves_the_ticket(
    helpdesk: Helpdesk, clock: FrozenClock
) -> None:
    ticket = await handed_off(helpdesk)
    clock.advance(25 * 3600)
    assert await helpdesk.bot.runtime.tickets.sweep() == 1
    await helpdesk.reset_by_email()
    await helpdesk.settled()
    notes = helpdesk.desk.notes(ticket)
    assert len(notes) == 2
    assert "reset their password" in notes[1]


async def test_asking_for_a_person_opens_a_ticket_with_a_safe_summary(
    tmp_path: Path, clock: FrozenClock, connector: ConnectorStandIn, desk_name: str
) -> None:
    two_methods = {"verification": {"required": 2}}
    async with helpdesk(tmp_path, clock, connector, desk_name, **two_methods) as served:
        bot = served.bot
        await bot.say("reset")
        await bot.say("email")
        code = bot.outbox.last_code()
        await bot.say(code)
        await bot.say("questions")
        for _ in range(3):  # every question answered wrong: the check fails
            wrong = [reply.text for reply in messages(await bot.say("Not the answer"))]
        said = [reply.text for reply in messages(await bot.say("agent"))]
        await served.settled()

        [(number, text)] = served.desk.created()
        assert any(f"ticket {number}" in line for line in said), (said, wrong)
        assert "alice" in text
        assert "asked to talk to someone" in text
        assert "email: passed" in text
        assert "questions: not passed" in text
        assert "Proven: email." in text
        everything = served.desk.raw()
        secrets = [code, TOTP["alice"], PASSWORDS["alice"], *ANSWERS["alice"].values()]
        assert not [secret for secret in secrets if secret in everything]
        status = await bot.runtime.tickets.open_ticket(ALICE_OBJECT_ID)
        assert status is not None
        assert (status.ticket, status.origin, status.proven) == (number, "bot", ("email",))


async def test_asking_again_keeps_one_ticket(helpdesk: Helpdesk) -> None:
    for _ in range(2):
        await helpdesk.bot.say("reset")
        said = [reply.text for reply in messages(await helpdesk.bot.say("agent"))]
    await helpdesk.settled()
    [(number, _)] = helpdesk.desk.created()
    assert any(number in text for text in said)


async def test_without_a_ticket_system_the_person_gets_the_helpdesk_contact(
    tmp_path: Path, clock: FrozenClock, connector: ConnectorStandIn
) -> None:
    async with running_teams_bot(tmp_path, clock, connector) as bot:
        await bot.say("reset")
        said = [reply.text for reply in messages(await bot.say("agent"))]
    assert said == [
        "Please contact the IT helpdesk; a person there can help you. Nothing was changed."
    ]


async def test_a_ticket_system_that_is_down_leaves_the_helpdesk_contact(
    tmp_path: Path, clock: FrozenClock, connector: ConnectorStandIn
) -> None:
    async with desk_for("servicenow") as desk:
        settings = {**desk.settings, "instance_url": "http://127.0.0.1:9"}
        async with running_teams_bot(
            tmp_path, clock, connector, secrets=desk.environ, tickets=settings
        ) as bot:
            await bot.say("reset")
            said = [reply.text for reply in messages(await bot.say("agent"))]
            audit = (tmp_path / "data" / "audit.jsonl").read_text()
    assert said == [
        "Please contact the IT helpdesk; a person there can help you. Nothing was changed."
    ]
    assert '"ticket.failed"' in audit


async def test_a_typed_name_with_nothing_proven_opens_no_ticket(
    tmp_path: Path, clock: FrozenClock
) -> None:
    """A ticket number would tell a stranger that the name they typed exists."""
    async with (
        desk_for("servicenow") as desk,
        running_bot(tmp_path / "data", clock, desk.environ, tickets=desk.settings) as bot,
    ):
        said = {}
        for name in ("alice", "nobody-here"):
            chat = bot.chat()
            await chat.say("reset")
            await chat.say(name)
            said[name] = await chat.text("agent")
        await bot.runtime.background.drain()
    assert said["alice"] == said["nobody-here"]
    assert "ticket" not in said["alice"]
    assert desk.created() == []


async def test_a_hand_off_opens_the_teams_chat_of_someone_who_never_wrote(
    tmp_path: Path, clock: FrozenClock, connector: ConnectorStandIn
) -> None:
    teams = {"proactive_service_url": connector.url}
    async with helpdesk(tmp_path, clock, connector, "servicenow", teams=teams) as served:
        ticket = served.desk.open_ticket()
        assert await served.hand_off(ticket) == {"reached": True}
        [opened] = connector.opened
        assert opened.members == [ALICE_OBJECT_ID]
        [offer] = connector.received
        assert offer.conversation_id == opened.conversation_id
        assert ticket in offer.text


async def test_asking_again_after_the_ticket_is_kept_opens_a_new_one(
    tmp_path: Path, clock: FrozenClock, connector: ConnectorStandIn
) -> None:
    """Past the timeout and the lockout the helpdesk has long dealt with the first ticket:
    the bot does not write on it again."""
    async with helpdesk(tmp_path, clock, connector, "servicenow") as served:
        for _ in range(2):
            await served.bot.say("reset")
            await served.bot.say("agent")
            clock.advance(24 * 3600 + 1)
        await served.settled()
        assert [number for number, _ in served.desk.created()] == ["INC0010001", "INC0010002"]


async def test_a_hand_off_outlives_a_restart(
    tmp_path: Path, clock: FrozenClock, connector: ConnectorStandIn
) -> None:
    """What the bot holds of a ticket is in the store, not in the process: after a restart
    the sweep still gives back one hand-off, and a reset still resolves another."""
    sqlite = {"state": {"backend": "sqlite"}}
    async with desk_for("servicenow") as desk:
        secrets = {SECRET_VARIABLE: HANDOFF_SECRET, **desk.environ}
        config: dict[str, Any] = {"secrets": secrets, "tickets": desk.settings, **sqlite}
        async with running_teams_bot(tmp_path, clock, connector, **config) as bot:
            served = Helpdesk(bot, desk, clock)
            first = await handed_off(served)
            clock.advance(12 * 3600)
        async with running_teams_bot(tmp_path, clock, connector, **config) as bot:
            served = Helpdesk(bot, desk, clock)
            clock.advance(12 * 3600)
            assert await bot.runtime.tickets.sweep() == 1
            await served.settled()
            assert desk.handed_back(first)
            second = desk.open_ticket()
            assert await served.hand_off(second) == {"reached": True}
        async with running_teams_bot(tmp_path, clock, connector, **config) as bot:
            served = Helpdesk(bot, desk, clock)
            await served.reset_by_email()
            await served.settled()
            assert desk.resolved(second)


async def test_two_instances_give_a_hand_off_back_once(helpdesk: Helpdesk, tmp_path: Path) -> None:
    """Two instances sweeping one store at the same moment: one of them gives it back."""
    ticket = await handed_off(helpdesk)
    runtime = helpdesk.bot.runtime
    settings = runtime.settings.tickets
    assert settings is not None
    other = TicketDesk(
        open_ticket_system(
            settings, helpdesk.desk.environ, base_dir=Path(runtime.settings.data_dir)
        ),
        directory=runtime.directory,
        store=runtime.store,
        clock=runtime.clock,
        audit=runtime.audit,
        background=runtime.background,
        timeout=24 * 3600,
        lockout=24 * 3600,
    )
    helpdesk.clock.advance(24 * 3600 + 1)
    try:
        swept = await asyncio.gather(runtime.tickets.sweep(), other.sweep())
        await helpdesk.settled()
    finally:
        await other.close()
    assert sorted(swept) == [0, 1]
    assert len(helpdesk.desk.notes(ticket)) == 1
