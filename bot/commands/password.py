"""`sspr-bot password check`: whether the bot would accept a new password for an account,
by the same policy the chat and the password page apply (`dialogs.password_policy`).

The password comes on stdin, one line, and goes nowhere else: not echoed at a terminal,
not logged, not printed. Exit 0: it would be accepted; 1: refused, the reason (the
catalog's English words) on stderr; 2: an operator's mistake (an unknown account, a broken
config), as for every command.
"""

import argparse
import asyncio
import getpass
import sys
from typing import TYPE_CHECKING

from bot.commands.configured import configured_settings
from bot.commands.errors import OperatorError

if TYPE_CHECKING:
    from bot.settings import Settings


def check_new_password(args: argparse.Namespace) -> int:
    settings = configured_settings(args, interactive=True)
    _directory_file_exists(settings)
    password = _read_password()
    reason = asyncio.run(_refusal(settings, args.user, password))
    if reason is None:
        print(f"{args.user}: the bot would accept this password")
        return 0
    print(reason, file=sys.stderr)
    return 1


def _read_password() -> str:
    """One line of stdin without its line break; typed at a terminal, not echoed."""
    if sys.stdin.isatty():
        return getpass.getpass("New password: ", stream=sys.stderr)
    return sys.stdin.readline().removesuffix("\n").removesuffix("\r")


def _directory_file_exists(settings: "Settings") -> None:
    """A check creates no directory: a missing embedded file is another folder or config."""
    if settings.directory.kind != "embedded":
        return
    path = settings.local_path(settings.directory.embedded.path).absolute()
    if not path.exists():
        raise OperatorError(
            f"password check: no directory file at {path}. Run it in the folder the bot runs "
            "in, or pass --config with the bot's config"
        )


async def _refusal(settings: "Settings", user: str, password: str) -> str | None:
    """The reason the policy gives, in English, or None. Only the directory is opened (for
    the account's names), and the breach check when it is on."""
    from adapters.pwned import breach_check
    from bot.runtime import open_directory
    from bot.secrets import Secrets
    from dialogs.catalog import Catalog
    from dialogs.password_policy import PasswordPolicy, context_words

    dialog_settings = settings.dialog()
    directory = await open_directory(settings, Secrets.from_environment())
    try:
        account = await directory.find(user)
    finally:
        await directory.close()
    if account is None:
        raise OperatorError(f"password check: no account {user!r} in the directory")
    breaches = breach_check(**dialog_settings.password.pwned.model_dump())
    try:
        policy = PasswordPolicy(dialog_settings.password, breaches)
        refusal = await policy.refusal(password, context_words(account))
    finally:
        await breaches.close()
    if refusal is None:
        return None
    return Catalog(dialog_settings.messages).text(refusal.message, "en", **refusal.values)
