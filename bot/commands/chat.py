"""`sspr-bot chat`: the bot in this terminal, for trying a configuration out."""

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from bot.commands.configured import configured_settings
from bot.commands.serve import started

if TYPE_CHECKING:
    from bot.settings import Settings


def chat_in_terminal(args: argparse.Namespace) -> int:
    settings = configured_settings(args, interactive=True)
    asyncio.run(_run_chat(settings, args.user))
    return 0


async def _run_chat(settings: "Settings", user: str | None) -> None:
    from bot.console import Terminal, terminal_chat
    from bot.secrets import Secrets

    terminal = Terminal(sys.stdout)
    runtime = await started(settings, Secrets.from_environment(), console=terminal)
    try:
        await terminal_chat(runtime, terminal, user=user)
    finally:
        await runtime.close()
