"""`sspr-bot enrolment remove`: the helpdesk forgets a method someone registered in chat,
when a phone is lost or an authenticator app is gone, so it can no longer verify them and
they can register again after proving themselves another way.

It works on the same store and directory the bot serves from, is audited with who ran it
(`--by`, else the login name) and where, and prints no secret: only which methods were
removed and which are left.
"""

import argparse
import asyncio
import getpass
import socket
import sys
from typing import TYPE_CHECKING

from bot.commands.configured import configured_settings
from bot.commands.errors import OperatorError

if TYPE_CHECKING:
    from bot.settings import Settings
    from dialogs.registry import Registered

# What `remove` takes as METHOD: the registry's own methods, and the directory's contact
# details whose confirmation it keeps.
METHODS = ("authenticator", "questions", "email", "mobile_phone", "office_phone")


def remove_enrolment(args: argparse.Namespace) -> int:
    settings = configured_settings(args, interactive=True)
    by = args.by or getpass.getuser()
    asyncio.run(_remove(settings, args.user, args.method, by))
    return 0


async def _remove(settings: "Settings", user: str, method: str | None, by: str) -> None:
    from bot.runtime import start_runtime
    from bot.secrets import Secrets
    from dialogs.proofs import Proof

    proofs: dict[str, Proof] = {
        "authenticator": "authenticator",
        "questions": "questions",
        "email": "email",
        "mobile_phone": "mobile_phone",
        "office_phone": "office_phone",
    }

    runtime = await start_runtime(settings, secrets=Secrets.from_environment())
    try:
        account = await runtime.directory.find(user)
        if account is None:
            raise OperatorError(f"enrolment remove: no account {user!r} in the directory")
        before = _names(await runtime.registry.read(account.id))
        await runtime.registry.remove(account.id, proofs[method] if method else None)
        after = _names(await runtime.registry.read(account.id))
        await runtime.audit.record(
            "enrolment.removed",
            account=account.id,
            method=method or "all",
            by=by,
            host=socket.gethostname(),
        )
        removed = sorted(set(before) - set(after))
        print(f"{account.username}: removed {', '.join(removed) or 'nothing'}", file=sys.stderr)
        print(f"{account.username}: registered now: {', '.join(sorted(after)) or 'nothing'}")
    finally:
        await runtime.close()


def _names(registered: "Registered") -> set[str]:
    names = set(registered.contacts_confirmed)
    if registered.authenticator is not None:
        names.add("authenticator")
    if registered.questions:
        names.add("questions")
    return names
