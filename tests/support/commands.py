"""`sspr-bot` commands run to their end, and `sspr-bot chat` typed into, as an operator
runs them: the installed console script, the environment free of credentials and `SSPR_*`
settings unless a test sets them."""

import asyncio
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.support.processes import SSPR_BOT, WAIT, cli_environment

PROMPT = b"you> "


def sspr_bot(
    cwd: Path,
    *args: str,
    stdin: str = "",
    env: Mapping[str, str] | None = None,
    prefix: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """One command to its end; `prefix` runs it under another (`setpriv ...`)."""
    return subprocess.run(
        [*prefix, str(SSPR_BOT), *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env=cli_environment(env),
        timeout=WAIT,
        check=False,
    )


class ChatProcess:
    """`sspr-bot chat` on pipes: `say` types one line and returns what the bot printed;
    `greeting` is what it printed before its first prompt."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.greeting = ""

    async def until_prompt(self) -> str:
        assert self.process.stdout is not None
        printed = b""
        while not printed.endswith(PROMPT):
            chunk = await asyncio.wait_for(self.process.stdout.read(4096), WAIT)
            assert chunk, f"the chat ended early: {printed!r}"
            printed += chunk
        return printed.removesuffix(PROMPT).decode()

    async def say(self, line: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{line}\n".encode())
        await self.process.stdin.drain()
        # A line the outbox echoed while the prompt waited comes with a prompt of its own:
        # the answer is what follows, up to the prompt after the bot's words.
        printed = await self.until_prompt()
        while "bot> " not in printed:
            printed += await self.until_prompt()
        return printed

    async def end(self) -> tuple[int, str]:
        """An empty line ends the chat; returns the exit code and stderr."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"\n")
        _, stderr = await asyncio.wait_for(self.process.communicate(), WAIT)
        return self.process.returncode or 0, stderr.decode()

    async def kill(self) -> None:
        """End a chat that is still running without a word (after a failed test)."""
        if self.process.returncode is None:
            self.process.kill()
            await self.process.communicate()


async def start_chat(cwd: Path, *args: str) -> ChatProcess:
    """`sspr-bot chat *args`, once it has greeted and prompted."""
    process = await asyncio.create_subprocess_exec(
        str(SSPR_BOT),
        "chat",
        *args,
        cwd=cwd,
        env=cli_environment(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    chat = ChatProcess(process)
    try:
        chat.greeting = await chat.until_prompt()
    except BaseException:
        await chat.kill()
        raise
    assert "Type 'reset' to begin" in chat.greeting
    return chat
