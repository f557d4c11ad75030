"""No code, answer or password appears anywhere but the one place it must: the outbox for a
code, the single chat reply for a temporary password (DESIGN.md invariant 1)."""

import logging
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from bot import logs
from tests.support.directory import embedded_directory
from tests.support.harness import ANSWERS, Bot
from tests.support.http_fixtures import MakeHttpBot

MakeBot = Callable[..., AbstractAsyncContextManager[Bot]]


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logs.JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured_logs() -> Iterator[Capture]:
    """Every log line at DEBUG, formatted the way the bot writes them."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.configure("DEBUG", "json")
    capture = Capture()
    root.addHandler(capture)
    yield capture
    root.handlers[:], level = saved
    root.setLevel(level)


def files_text(data_dir: Path, *names: str) -> str:
    """The files' text (`data_dir` alone: that one file), missing ones read as empty."""
    paths = [data_dir / name for name in names] if names else [data_dir]
    return "\n".join(
        path.read_bytes().decode("utf-8", "replace") for path in paths if path.exists()
    )


async def test_a_full_reset_leaves_no_secret_behind(
    make_bot: MakeBot, captured_logs: Capture
) -> None:
    config = {"verification": {"required": 2}, "state": {"backend": "sqlite"}}
    async with make_bot(**config) as bot:
        chat = bot.chat("alice")
        transcript = [await chat.say("reset"), await chat.say("email")]
        code = bot.outbox.last_code()
        transcript.append(await chat.say(code))
        transcript.append(await chat.say("questions"))
        answers = []
        for _ in range(3):
            question = (transcript[-1][-1].text or "").split(": ", 1)[1]
            answers.append(ANSWERS["alice"][question])
            transcript.append(await chat.say(answers[-1]))
        await bot.runtime.background.drain()
        replies = [activity.text or "" for turn in transcript for activity in turn]
        temporary = replies[-1].split("\n\n")[1]
        assert await bot.password_is("alice", temporary)

        outbox = files_text(bot.data_dir, "outbox.jsonl")
        elsewhere = {
            "logs": "\n".join(captured_logs.lines),
            "audit": files_text(bot.data_dir, "audit.jsonl"),
            "state": files_text(bot.data_dir, "state.sqlite3", "state.sqlite3-wal"),
            "directory": files_text(bot.data_dir, "directory.yaml"),
            "outbox": outbox,
        }
        assert code in outbox
        assert sum(temporary in reply for reply in replies) == 1
        assert captured_logs.lines, "the capture saw no log line at all"
        for where, text in elsewhere.items():
            assert temporary not in text, where
            for answer in answers:
                assert answer.casefold() not in text.casefold(), (where, answer)
            if where != "outbox":
                assert code not in text, where
        assert not any(code in reply for reply in replies)


async def test_a_password_typed_into_chat_is_not_kept(
    make_bot: MakeBot, captured_logs: Capture
) -> None:
    chosen = "lantern quarry violet 42"
    async with make_bot(password={"entry": "chat"}) as bot:
        chat = bot.chat("bob")
        await chat.text("reset")
        await chat.text("email")
        await chat.text(bot.outbox.last_code())
        await chat.text("tiny1")
        assert "Done" in await chat.text(chosen)
        await bot.runtime.background.drain()
        everything = "\n".join(
            [
                *captured_logs.lines,
                files_text(bot.data_dir, "audit.jsonl", "outbox.jsonl", "directory.yaml"),
            ]
        )
        assert chosen not in everything
        assert "tiny1" not in everything
        assert await bot.password_is("bob", chosen)


async def test_a_typed_account_name_is_not_recorded(bot: Bot, captured_logs: Capture) -> None:
    """People type passwords into the username box; an unknown name is never written down."""
    chat = bot.chat()
    await chat.text("reset")
    await chat.text("MyOldPassw0rd!")
    await chat.text("123456")
    everything = "\n".join(
        [*captured_logs.lines, files_text(bot.data_dir, "audit.jsonl", "outbox.jsonl")]
    )
    assert "MyOldPassw0rd!".casefold() not in everything.casefold()


async def test_a_password_chosen_on_the_page_and_its_link_are_not_kept(
    make_http_bot: MakeHttpBot, captured_logs: Capture
) -> None:
    chosen, refused = "harbour violin meadow 58", "alice-secret-1"
    config = {"password": {"entry": "link"}, "state": {"backend": "sqlite"}}
    async with make_http_bot(**config) as bot:
        await bot.say("reset")
        await bot.say("email")
        reply = await bot.say(bot.outbox.last_code())
        found = re.search(r"/password/([A-Za-z0-9_-]+)", reply)
        assert found, reply
        token = found.group(1)
        url = f"{bot.url}/password/{token}"
        async with bot.session.get(url) as response:
            csrf = re.findall(r'name="csrf" value="([^"]+)"', await response.text())[0]
        for password in (refused, chosen):
            form = {"csrf": csrf, "password": password, "confirm": password}
            async with bot.session.post(url, data=form) as response:
                page = await response.text()
            assert password not in page
            csrf = next(iter(re.findall(r'name="csrf" value="([^"]+)"', page)), "")
        assert "Password changed" in page
        await bot.say("thanks")
        await bot.runtime.background.drain()
        assert await embedded_directory(bot.runtime).check_password("alice", chosen)

        elsewhere = {
            "logs": "\n".join(captured_logs.lines),
            "audit": files_text(bot.runtime.settings.local_path("audit.jsonl")),
            "state": files_text(bot.runtime.settings.local_path("state.sqlite3"))
            + files_text(bot.runtime.settings.local_path("state.sqlite3-wal")),
            "outbox": files_text(bot.runtime.settings.local_path("outbox.jsonl")),
            "chat": "\n".join(entry.text for entry in bot.connector.received),
        }
        assert captured_logs.lines, "the capture saw no log line at all"
        assert elsewhere["state"], "no state file was read"
        for where, text in elsewhere.items():
            assert chosen not in text, where
            assert refused not in text, where
            if where != "chat":
                assert token not in text, where
        assert sum(token in entry.text for entry in bot.connector.received) == 1
