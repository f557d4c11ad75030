"""`sspr-bot lockout clear`, `user status` and `handoff`: what a helpdesk without a ticket
system does for someone stuck in a reset.

`user status` says why a person cannot reset (out of scope, no methods, the flow locked)
without a secret and without changing anything; `lockout clear` lifts the bot's own lock on
the reset flow (never a directory lock) and is audited with who asked and where; `handoff`
sends the same signed request a ticket system would, so the bot offers the person the reset
in their own chat.

They work on the same store and directory the bot serves from.
"""

import argparse
import asyncio
import getpass
import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from bot.commands.configured import configured_settings
from bot.commands.errors import OperatorError

if TYPE_CHECKING:
    from adapters.directory import Account
    from bot.runtime import Runtime
    from bot.settings import Settings

# The dialog's keys for the reset-flow lock and the failure counter (dialogs/limits.py),
# named by the account's directory id.


def clear_lockout(args: argparse.Namespace) -> int:
    settings = configured_settings(args, interactive=True)
    by = args.by or getpass.getuser()
    asyncio.run(_clear(settings, args.user, by))
    return 0


async def _clear(settings: "Settings", user: str, by: str) -> None:
    from dialogs.limits import Limits

    runtime = await _runtime(settings)
    try:
        account = await _account(runtime, user, "lockout clear")
        limits = Limits(runtime.store, settings.dialog().limits, runtime.clock)
        failures = await limits.failures(account.id)
        unlocked = await limits.unlock(account.id)
        await limits.clear(account.id)
        await runtime.audit.record(
            "lockout.cleared",
            requester=by,
            channel="cli",
            account=account.id,
            outcome="cleared" if unlocked or failures else "nothing_to_clear",
            was_locked=unlocked,
            failures=failures,
            by=by,
            host=socket.gethostname(),
        )
        lock = "the reset lock" if unlocked else "no lock"
        print(f"{account.username}: cleared {lock} and {failures} counted failures")
    finally:
        await runtime.close()


@dataclass
class UserStatus:
    """What the helpdesk may know about one account: masked contacts, names of methods,
    times; never a secret, an answer or a full phone number."""

    user: str
    found: bool
    in_scope: bool = False
    contacts: dict[str, str] | None = None
    registered: list[str] | None = None
    locked: bool = False
    locked_until: float | None = None
    failures: int = 0
    ticket: dict[str, Any] | None = None
    """The account's open ticket: its number, where it came from (a hand-off or the bot),
    whether it waits for the person or is with the helpdesk, what was proven and which
    methods were tried with what outcome."""

    def text(self) -> str:
        if not self.found:
            return f"{self.user}: no such account in the directory"
        until = (
            time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(self.locked_until))
            if self.locked_until is not None
            else "unknown"
        )
        contacts = ", ".join(f"{name} {value}" for name, value in (self.contacts or {}).items())
        return "\n".join(
            [
                f"{self.user}: {'in' if self.in_scope else 'not in'} reset scope",
                f"  directory contacts: {contacts or 'none'}",
                f"  registered in chat: {', '.join(self.registered or []) or 'nothing'}",
                f"  reset flow: {f'locked until {until}' if self.locked else 'not locked'}",
                f"  failures counted now: {self.failures}",
                f"  ticket: {_ticket_line(self.ticket)}",
            ]
        )


def _ticket_line(ticket: dict[str, Any] | None) -> str:
    if ticket is None:
        return "none open"
    opened = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(ticket["opened_at"]))
    origin = "handed to the bot" if ticket["origin"] == "handoff" else "opened by the bot"
    where = "waiting for the person" if ticket["state"] == "waiting" else "with the helpdesk"
    proven = ", ".join(ticket["proven"]) or "nothing"
    tried = "; ".join(ticket["tried"]) or "none"
    return (
        f"{ticket['ticket']} ({origin} {opened}, {where}); proven: {proven}; methods tried: {tried}"
    )


def user_status(args: argparse.Namespace) -> int:
    settings = configured_settings(args, interactive=True)
    status = asyncio.run(_status(settings, args.user))
    print(json.dumps(asdict(status), indent=2) if args.json else status.text())
    return 0


async def _status(settings: "Settings", user: str) -> UserStatus:
    from dialogs.limits import Limits
    from dialogs.methods import code_methods, verification_methods
    from dialogs.policy import ResetPolicy
    from dialogs.registered_directory import RegisteredDirectory

    dialog_settings = settings.dialog()
    runtime = await _runtime(settings)
    try:
        account = await runtime.directory.find(user)
        if account is None:
            return UserStatus(user=user, found=False)
        directory = RegisteredDirectory(runtime.directory, runtime.registry)
        policy = ResetPolicy(
            dialog_settings, directory, verification_methods(dialog_settings, code_methods())
        )
        registered = await runtime.registry.read(account.id)
        limits = Limits(runtime.store, dialog_settings.limits, runtime.clock)
        until = await limits.locked_until(account.id)
        ticket = await runtime.tickets.open_ticket(account.id)
        return UserStatus(
            user=account.username,
            found=True,
            in_scope=await policy.eligible(account),
            contacts=_masked_contacts(account),
            registered=sorted(registered.names()),
            locked=until is not None,
            locked_until=until,
            failures=await limits.failures(account.id),
            ticket=None if ticket is None else asdict(ticket),
        )
    finally:
        await runtime.close()


def _masked_contacts(account: "Account") -> dict[str, str]:
    from dialogs.masking import mask_email, mask_phone

    contacts = {"email": account.email and mask_email(account.email)}
    for name in ("mobile_phone", "office_phone"):
        number: str | None = getattr(account, name)
        contacts[name] = number and mask_phone(number)
    return {name: value for name, value in contacts.items() if value}


def send_handoff(args: argparse.Namespace) -> int:
    from bot.handoff import HANDOFF_PATH, SECRET_VARIABLE, handoff_secret, signature_headers
    from bot.secrets import Secrets

    settings = configured_settings(args, interactive=True)
    secret = handoff_secret(Secrets.from_environment())
    if secret is None:
        raise OperatorError(f"handoff: {SECRET_VARIABLE} is not set")
    fields: dict[str, Any] = {"ticket": args.ticket, "user": args.user}
    if args.locale:
        fields["locale"] = args.locale
    body = json.dumps(fields).encode()
    url = args.url or settings.server.base_url + HANDOFF_PATH
    request = urllib.request.Request(  # noqa: S310 - the operator names the bot's address
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            **signature_headers(secret, int(time.time()), body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            print(answer.read().decode())
    except urllib.error.HTTPError as error:
        raise OperatorError(f"handoff: the bot answered {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        raise OperatorError(f"handoff: cannot reach {url}: {error}") from None
    return 0


async def _runtime(settings: "Settings") -> "Runtime":
    from bot.runtime import start_runtime
    from bot.secrets import Secrets

    return await start_runtime(settings, secrets=Secrets.from_environment())


async def _account(runtime: "Runtime", user: str, command: str) -> "Account":
    account = await runtime.directory.find(user)
    if account is None:
        raise OperatorError(f"{command}: no account {user!r} in the directory")
    return account
