"""Helpdesk deflection: how many password problems the bot resolves without a person.

Scripted users, each one whole conversation through the real bot: the production agent
behind the Agents SDK's in-process TestAdapter (`bot_framework_adapter`, as the tests'
harness builds it), on embedded parts (a copy of the demo directory, the memory store, the
outbox, the audit file) and a frozen clock. Codes are read from the outbox, authenticator
codes computed from the demo secrets, and every scenario gets a bot and a data folder of
its own, so one user's lock or reset cannot change another's ending.

How a conversation ended is read from stable signals, not from the bot's wording: the
audit trail (`password.reset`, `account.unlocked`, `reset.locked`, `reset.escalated`, or no
`reset.started` at all) and then the directory itself (the new password signs in and the
old one does not, the account's lock). An ending the directory does not bear out is a
failure. Each scenario declares the ending it expects; the run exits 0 when every one of
them ended so, 1 otherwise, 130 when interrupted.

Usage: python -m bench.helpdesk_deflection
"""

import argparse
import asyncio
import logging
import re
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import count, groupby
from pathlib import Path
from typing import Any, TextIO

from microsoft_agents.activity import Activity, ActivityTypes, ChannelAccount, Channels
from microsoft_agents.hosting.core import ClaimsIdentity
from microsoft_agents.testing import TestAdapter

from bot.botframework.agent import development_identity
from bot.botframework.credentials import from_environment
from bot.runtime import bot_framework_adapter
from state import FrozenClock
from tests.support.directory import demo_with, embedded_directory
from tests.support.harness import PASSWORDS, Bot, running_bot
from tests.support.ports import HOST, free_port

RESOLVED = ("reset", "unlocked")  # the bot finished the job
HELPDESK = ("helpdesk", "locked", "refused")  # a person has to take over
# Teams tenants for the channel scenarios: the one the bot is configured to serve, another.
CONTOSO_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
FOREIGN_TENANT = "99999999-8888-4777-8666-555555555555"
_chats = count(1)

Say = str | Callable[[Bot], str]


@dataclass(frozen=True)
class Where:
    """The conversation a user writes from: the test channel's 1:1 chat unless told."""

    channel: str = Channels.test
    conversation_type: str | None = None  # Teams: personal, groupChat, channel
    tenant: str | None = None  # Teams: channelData.tenant.id


@dataclass(frozen=True)
class Scenario:
    label: str
    account: str  # the demo account the problem is about (checked in the directory after)
    says: tuple[Say, ...]
    expected: str
    signed_in: bool = True  # False: a web visitor, who types the account name
    changes: Mapping[str, Any] = field(default_factory=dict)  # to the account, before start
    config: Mapping[str, Any] = field(default_factory=dict)
    where: Where = Where()

    @property
    def who(self) -> str:
        return self.account if self.signed_in else f"{self.account} (typed)"


def code(bot: Bot) -> str:
    return bot.outbox.last_code()


def wrong_code(bot: Bot) -> str:
    return next(guess for guess in ("000000", "111111") if guess != bot.outbox.last_code())


def totp(user: str) -> Callable[[Bot], str]:
    return lambda bot: bot.totp(user)


def dead_mail_server() -> dict[str, Any]:
    """Email through an SMTP server that is not there: a port nothing listens on, one try."""
    email = {
        "kind": "smtp",
        "host": HOST,
        "port": free_port(),
        "security": "none",
        "sender": "sspr@contoso.com",
    }
    return {"delivery": {"email": email, "tries": 1, "outbox": {"console": False}}}


def scenarios() -> tuple[Scenario, ...]:
    """The users, in the order of the issue's list, then the optional ones. Built at run
    time: the dead mail server's port is a free one now."""
    teams = {"teams": {"allowed_tenant_ids": [CONTOSO_TENANT]}}
    return (
        Scenario("normal: authenticator code", "alice", ("reset", "app", totp("alice")), "reset"),
        Scenario(
            "forgot phone: app, other, email code",
            "alice",
            ("reset", "app", "other", "email", code),
            "reset",
        ),
        Scenario(
            "wrong codes then right: 2 wrong email codes",
            "bob",
            ("reset", "email", wrong_code, wrong_code, code),
            "reset",
        ),
        Scenario(
            "admin: two methods (code, authenticator)",
            "adele",
            ("reset", "email", code, "app", totp("adele")),
            "reset",
        ),
        Scenario(
            "unreachable: no mobile, mail server down",
            "bob",
            ("reset", "email"),
            "helpdesk",
            changes={"mobile_phone": None},
            config=dead_mail_server(),
        ),
        Scenario(
            "not registered: no email, no mobile",
            "bob",
            ("reset",),
            "helpdesk",
            changes={"email": None, "mobile_phone": None},
        ),
        Scenario(
            "locked: 5 wrong codes",
            "bob",
            ("reset", "email", *(wrong_code,) * 3, "resend", wrong_code, wrong_code),
            "locked",
        ),
        Scenario("disabled account", "dave", ("reset",), "helpdesk"),
        Scenario("out of scope: not in sspr-users", "olivia", ("reset",), "helpdesk"),
        Scenario(
            "wrong channel: Teams group chat",
            "alice",
            ("reset",),
            "refused",
            config=teams,
            where=Where("msteams", "groupChat", CONTOSO_TENANT),
        ),
        Scenario(
            "wrong tenant: Teams chat from another tenant",
            "alice",
            ("reset",),
            "refused",
            config=teams,
            where=Where("msteams", "personal", FOREIGN_TENANT),
        ),
        Scenario(
            "locked out in the directory: unlock",
            "bob",
            ("reset", "email", code, "1"),
            "unlocked",
            changes={"locked": True},
        ),
        Scenario("asks for a person: agent", "bob", ("reset", "email", "agent"), "helpdesk"),
        Scenario(
            "typed name (web chat): other, text code",
            "bob",
            ("hello", "bob", "other", code),
            "reset",
            signed_in=False,
        ),
    )


class Chat:
    """One user's conversation from `where`, through the agent `sspr-bot serve` builds
    (Teams rules in front), as the harness's chat but with a channel's shape of its own."""

    def __init__(self, bot: Bot, scenario: Scenario) -> None:
        where = scenario.where
        number = next(_chats)
        identify = development_identity if scenario.signed_in else (lambda activity: None)
        _, self._agent = bot_framework_adapter(bot.runtime, from_environment({}), identify)
        self.user = scenario.account if scenario.signed_in else f"web-visitor-{number}"
        reference = TestAdapter.create_conversation_model(
            channel_id=where.channel, user_id=self.user, conv_id=f"deflection-{number}"
        )
        if where.conversation_type is not None:
            reference.conversation.conversation_type = where.conversation_type
            reference.conversation.is_group = where.conversation_type != "personal"
        self._channel_data = None if where.tenant is None else {"tenant": {"id": where.tenant}}
        self._adapter = TestAdapter(conversation=reference)

    async def say(self, text: str) -> list[str]:
        """The texts of the messages the bot answered with (a Teams typing sign is none)."""
        before = len(self._adapter.activity_queue)
        activity = Activity(
            type=ActivityTypes.message,
            text=text,
            locale="en-US",
            from_property=ChannelAccount(id=self.user),
            channel_data=self._channel_data,
        )
        await self._adapter.process_activity(ClaimsIdentity({}), activity, self._agent.on_turn)
        sent = self._adapter.activity_queue[before:]
        return [reply.text for reply in sent if reply.type == ActivityTypes.message and reply.text]


@dataclass
class Result:
    scenario: Scenario
    turns: int
    ending: str
    why: str  # the escalation's reason, or how a refusal was answered
    directory: str  # what the directory shows afterwards
    borne_out: bool  # the directory agrees with the ending
    trail: list[str]

    @property
    def ok(self) -> bool:
        return self.borne_out and self.ending == self.scenario.expected


def ending_of(
    events: Sequence[Mapping[str, Any]], replies: Sequence[str], bot: Bot
) -> tuple[str, str]:
    """The ending and why, from the audit trail: the bot's own record of what it did."""
    names = [event["event"] for event in events]
    if "password.reset" in names:
        return "reset", ""
    if "account.unlocked" in names:
        return "unlocked", ""
    if "reset.locked" in names:
        return "locked", ""
    escalated = [event for event in events if event["event"] == "reset.escalated"]
    if escalated:
        return "helpdesk", str(escalated[-1].get("reason", ""))
    if "reset.started" not in names:
        if not replies:
            return "refused", "no answer"
        private = bot.runtime.catalog.text("private_chat_only", "en")
        return "refused", "sent to a 1:1 chat" if private in replies else "declined"
    return "unfinished", ""


def temporary_password(bot: Bot, replies: Sequence[str]) -> str | None:
    """The password the chat's last temporary-password message showed, found with the
    catalog's own template rather than a copy of its words."""
    marker = "\x00"
    before, after = bot.runtime.catalog.text("temporary_password", "en", password=marker).split(
        marker
    )
    pattern = re.compile(re.escape(before) + r"(.+?)" + re.escape(after), re.DOTALL)
    found = [match.group(1) for reply in replies if (match := pattern.search(reply))]
    return found[-1] if found else None


async def directory_after(
    bot: Bot, scenario: Scenario, replies: Sequence[str], ending: str
) -> tuple[str, bool]:
    """What the directory shows now, and whether it bears the ending out."""
    directory = embedded_directory(bot.runtime)
    name = scenario.account
    account = await directory.find(name)
    assert account is not None, name
    was_locked = bool(scenario.changes.get("locked", False))
    temporary = temporary_password(bot, replies)
    new = temporary is not None and await directory.check_password(name, temporary)
    old = await directory.check_password(name, PASSWORDS[name])
    shown = "new password" if new else "old password" if old else "neither password"
    if account.locked:
        shown += ", locked"
    elif was_locked:
        shown += ", unlocked"
    if ending == "reset":
        return shown, new and not old
    if ending == "unlocked":
        return shown, old and was_locked and not account.locked
    return shown, old and not new and account.locked == was_locked


def trail_of(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """The audit events in order, with the method or reason they name (never a value the
    user typed), repeats folded: `challenge.failed(email) x2`."""
    steps = []
    for event in events:
        detail = event.get("method") or event.get("reason") or ""
        steps.append(f"{event['event']}({detail})" if detail else str(event["event"]))
    folded = []
    for step, repeats in groupby(steps):
        times = len(list(repeats))
        folded.append(step if times == 1 else f"{step} x{times}")
    return folded


async def play(scenario: Scenario, data_dir: Path) -> Result:
    if scenario.changes:
        demo_with(data_dir, scenario.account, **scenario.changes)
    clock = FrozenClock(start=float(int(time.time())) // 30 * 30 + 1)
    async with running_bot(data_dir, clock, **scenario.config) as bot:
        chat = Chat(bot, scenario)
        replies: list[str] = []
        for step in scenario.says:
            text = step if isinstance(step, str) else step(bot)
            replies += await chat.say(text)
            await bot.runtime.background.drain()  # code deliveries and notices
        events = bot.audit() if bot.audit_path.exists() else []
        ending, why = ending_of(events, replies, bot)
        shown, borne_out = await directory_after(bot, scenario, replies, ending)
    return Result(scenario, len(scenario.says), ending, why, shown, borne_out, trail_of(events))


async def play_all(folder: Path) -> list[Result]:
    results = []
    for number, scenario in enumerate(scenarios(), start=1):
        try:
            results.append(await play(scenario, folder / f"user-{number}"))
        except Exception as error:
            # A broken flow is a result, and only its type is shown: an assertion's text
            # may quote an outbox message, code included.
            ending = f"error: {type(error).__name__}"
            results.append(Result(scenario, 0, ending, "", "-", False, []))
    return results


def tally(endings: Sequence[str], names: Sequence[str]) -> str:
    return ", ".join(f"{name} {endings.count(name)}" for name in names)


def share(part: int, whole: int) -> str:
    return f"{part} of {whole} ({part / whole:.0%})" if whole else "0 of 0"


def render(results: Sequence[Result], out: TextIO) -> None:
    width = max(len(result.scenario.label) for result in results)
    shown = [f"{r.ending} ({r.why})" if r.why else r.ending for r in results]
    ending_width = max(len(ending) for ending in shown)
    header = (
        f"{'#':>2}  {'user':<12} {'scenario':<{width}} {'turns':>5}  {'ending':<{ending_width}} "
        f"{'expected':<9} {'ok':<3} directory after"
    )
    print(header, file=out)
    print("-" * len(header), file=out)
    for number, (result, ending) in enumerate(zip(results, shown, strict=True), start=1):
        print(
            f"{number:>2}  {result.scenario.who:<12} {result.scenario.label:<{width}} "
            f"{result.turns:>5}  {ending:<{ending_width}} {result.scenario.expected:<9} "
            f"{'yes' if result.ok else 'NO':<3} {result.directory}",
            file=out,
        )
    print("\nwhat happened (audit events in order):", file=out)
    for number, result in enumerate(results, start=1):
        happened = " > ".join(result.trail) or "nothing audited"
        print(f"{number:>2}  {result.scenario.who}: {happened}", file=out)
    total = len(results)
    endings = [result.ending for result in results]
    resolved = [ending for ending in endings if ending in RESOLVED]
    handed = [ending for ending in endings if ending in HELPDESK]
    print(
        f"\nresolved by the bot ({tally(resolved, RESOLVED)}): {share(len(resolved), total)}",
        file=out,
    )
    print(
        f"ended with the helpdesk ({tally(handed, HELPDESK)}): {share(len(handed), total)}",
        file=out,
    )
    if len(resolved) + len(handed) < total:
        print(f"neither (unfinished or broken): {total - len(resolved) - len(handed)}", file=out)
    print(f"resolved without a human: {share(len(resolved), total)}", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # the demo set-up's start-up warnings are known
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="sspr-deflection-") as folder:
            results = asyncio.run(play_all(Path(folder)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted", file=sys.stderr)
        return 130
    elapsed = time.perf_counter() - started
    print(
        f"{len(results)} scripted users through the real bot (embedded demo directory, memory "
        f"state, frozen clock), {elapsed:.1f} s"
    )
    render(results, sys.stdout)
    failed = [str(number) for number, result in enumerate(results, start=1) if not result.ok]
    if failed:
        print(f"NOT as expected: scenario {', '.join(failed)}")
        return 1
    print("every scenario ended as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
