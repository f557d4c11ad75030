"""`sspr-bot directory check-password`: whether a password is an account's current one in
the embedded directory, for an admin checking a reset."""

import argparse
import asyncio
import sys
from typing import TYPE_CHECKING

from bot.commands.configured import configured_settings
from bot.commands.errors import OperatorError

if TYPE_CHECKING:
    from bot.settings import Settings


def check_password(args: argparse.Namespace) -> int:
    """A read-only check: it says which directory file it reads, and a missing one is an
    operator's mistake (another working folder, another config), never a reason to create
    the demo file and answer from the published passwords."""
    settings = configured_settings(args, interactive=True)
    if settings.directory.kind == "embedded":
        path = settings.local_path(settings.directory.embedded.path).absolute()
        if not path.exists():
            raise OperatorError(
                f"no directory file at {path}, and check-password creates none. Run it in "
                "the folder the bot runs in (data_dir, sspr-data by default, is taken from "
                "there), or pass --config with a config whose data_dir or "
                "directory.embedded.path names the file"
            )
        print(f"check-password: reading {path}", file=sys.stderr)
    password = sys.stdin.readline().rstrip("\n")
    return 0 if asyncio.run(_password_matches(settings, args.user, password)) else 1


async def _password_matches(settings: "Settings", user: str, password: str) -> bool:
    """Only the directory is opened: the check works while the bot and its store are down."""
    from adapters.directory.embedded import EmbeddedDirectory
    from bot.config_file import ConfigError
    from bot.runtime import open_directory
    from bot.secrets import Secrets

    directory = await open_directory(settings, Secrets.from_environment())
    try:
        if not isinstance(directory, EmbeddedDirectory):
            kind = settings.directory.kind
            problem = f"directory.kind: check-password reads the embedded directory, not {kind}"
            raise ConfigError([problem])
        return await directory.check_password(user, password)
    finally:
        await directory.close()
