"""`sspr-bot chat` as a person at a terminal uses it: the installed command on pipes, in its
own temporary working folder (so `sspr-data` stays there), and the password page its links
point to opened over HTTP, as a browser does."""

import io
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from bot.botframework.proactive import postable
from bot.console import SERVICE, Terminal
from bot.console.terminal import PROMPT
from tests.support.commands import ChatProcess, sspr_bot, start_chat
from tests.support.harness import Outbox
from tests.support.ports import free_port
from tests.support.processes import serving_logged

HELP = "I reset forgotten passwords."
NEW = "copper lantern orchard 42"
LINK = re.compile(r"http://127\.0\.0\.1:\d+/password/[A-Za-z0-9_-]+")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
DONE = "Done: your new password is set (on the password page)"


@asynccontextmanager
async def chatting(cwd: Path, *args: str) -> AsyncIterator[tuple[ChatProcess, str]]:
    """A chat and its greeting; ended with an empty line, which must exit it with 0."""
    chat = await start_chat(cwd, *args)
    try:
        yield chat, chat.greeting
        returncode, stderr = await chat.end()
        assert returncode == 0, stderr
    finally:
        await chat.kill()


def config_on_port(cwd: Path) -> tuple[str, int]:
    """A config file whose server (and password page links) use a free port."""
    port = free_port()
    (cwd / "sspr.yaml").write_text(
        f"server:\n  port: {port}\n  public_url: http://127.0.0.1:{port}\n"
        "password:\n  entry: link\n"
    )
    return str(cwd / "sspr.yaml"), port


async def verified_link(chat: ChatProcess, cwd: Path) -> str:
    """Alice passes the email code; the password page link the chat printed."""
    assert "Hi Alice Wilber" in await chat.say("reset")
    assert "emailed" in await chat.say("email")
    answer = await chat.say(Outbox(cwd / "sspr-data" / "outbox.jsonl").last_code())
    found = LINK.search(answer)
    assert found, answer
    return found.group()


async def choose_password(link: str) -> str:
    """Open the page and post the new password; the page's answer."""
    async with aiohttp.ClientSession() as session:
        async with session.get(link) as response:
            assert response.status == 200
            found = CSRF.search(await response.text())
            assert found
        form = {"csrf": found.group(1), "password": NEW, "confirm": NEW}
        async with session.post(link, data=form) as response:
            assert response.status == 200
            return await response.text()


def password_is(cwd: Path, config: str, user: str, password: str) -> bool:
    """`sspr-bot directory check-password`: whether the directory took the password."""
    result = sspr_bot(
        cwd, "directory", "check-password", user, "--config", config, stdin=f"{password}\n"
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode == 0


async def test_a_restarted_chat_answers_every_message(tmp_path: Path) -> None:
    """A second run resumes the signed-in user's unfinished reset, whose record remembers
    the first run's message ids: none of the new messages may be taken for a repeat."""
    async with chatting(tmp_path, "--user", "alice") as (chat, _):
        assert HELP in await chat.say("help")
        assert "Hi Alice Wilber" in await chat.say("reset")
    async with chatting(tmp_path, "--user", "alice") as (chat, _):
        answers = [await chat.say("help") for _ in range(5)]
        assert "emailed" in await chat.say("email")
    assert all(HELP in answer for answer in answers), answers


async def test_each_signed_out_chat_is_a_conversation_of_its_own(tmp_path: Path) -> None:
    """A signed-out run does not continue another one's reset: the first word of the second
    run is not taken as the account the first run was asked for."""
    async with chatting(tmp_path) as (chat, _):
        assert "Which account is it?" in await chat.say("reset")
    async with chatting(tmp_path) as (chat, _):
        first = await chat.say("bob")
    assert "Which account is it?" in first, first


async def test_the_chat_serves_its_password_page_and_prints_the_outcome(tmp_path: Path) -> None:
    config, _ = config_on_port(tmp_path)
    async with chatting(tmp_path, "--user", "alice", "--config", config) as (chat, greeting):
        assert "not served" not in greeting
        link = await verified_link(chat, tmp_path)
        page = await choose_password(link)
        assert "Password changed" in page
        told = await chat.until_prompt()
    assert f"\nbot> {DONE}" in told, told  # on a line of its own, though the prompt waited
    assert password_is(tmp_path, config, "alice", NEW)


async def test_a_chat_beside_serve_posts_nothing_to_the_terminal(tmp_path: Path) -> None:
    """`make run` and `make chat` on one data folder: the server has the port, so its page
    takes the chat's link, and the terminal's conversation, which no channel service can
    reach, is not posted to (no failed connection, nothing logged as an error)."""
    config, port = config_on_port(tmp_path)
    async with (
        serving_logged(tmp_path, "--config", config) as server,
        chatting(tmp_path, "--user", "alice", "--config", config) as (chat, greeting),
    ):
        link = await verified_link(chat, tmp_path)
        assert "Password changed" in await choose_password(link)
    assert password_is(tmp_path, config, "alice", NEW)
    started = next(at for at, entry in enumerate(server.log) if entry["message"] == "listening")
    loud = [entry for entry in server.log[started:] if entry["level"] in ("WARNING", "ERROR")]
    assert loud == []
    assert f"not served from this chat: 127.0.0.1:{port} is taken" in greeting


def test_a_terminal_conversation_is_never_posted_to() -> None:
    """Its reference names no channel service; sessions kept from before the terminal
    stopped making one up (`http://localhost/console`) are refused by their channel."""
    legacy = {"channelId": "console", "serviceUrl": "http://localhost/console"}
    assert not postable(legacy)
    assert not postable({**legacy, "serviceUrl": SERVICE})
    assert not postable({"channelId": "emulator", "serviceUrl": SERVICE})
    assert not postable({"channelId": "emulator"})
    assert postable({"channelId": "emulator", "serviceUrl": "http://127.0.0.1:3979"})


def test_a_line_the_outbox_prints_while_the_prompt_waits_gets_a_prompt_after_it() -> None:
    """The outbox echoes a notice in the background, often after the prompt is shown: the
    line goes on its own with the prompt again, so typing still follows a prompt."""
    screen = io.StringIO()
    terminal = Terminal(screen)
    terminal.write("[outbox] email to b***@contoso.com: during the turn\n")
    terminal.prompt()
    terminal.write("[outbox] email to b***@contoso.com: after the prompt\n")
    assert screen.getvalue() == (
        "[outbox] email to b***@contoso.com: during the turn\n"
        f"{PROMPT}\n[outbox] email to b***@contoso.com: after the prompt\n\n{PROMPT}"
    )
