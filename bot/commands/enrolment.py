"""`sspr-bot enrolment`: what the admins and the helpdesk do about the methods people
registered in chat.

`remove` forgets a method when a phone is lost or an authenticator app is gone, so it can no
longer verify them and they can register again after proving themselves another way. It is
audited with who ran it (`--by`, else the login name) and where, and prints only which
methods were removed and which are left.

`status` counts how ready the people in reset scope are: how many different things each
could prove in a reset (as the dialog would offer them), how many could reset today, how
many are due to confirm their methods again. It prints counts only, never a name or a
secret, and changes nothing (no audit event: it reads).

Both work on the same store and directory the bot serves from.
"""

import argparse
import asyncio
import getpass
import json
import socket
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.commands.configured import configured_settings
from bot.commands.errors import OperatorError

if TYPE_CHECKING:
    from adapters.directory import Account
    from bot.settings import Settings
    from dialogs.policy import ResetPolicy

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
        before = (await runtime.registry.read(account.id)).names()
        await runtime.registry.remove(account.id, proofs[method] if method else None)
        after = (await runtime.registry.read(account.id)).names()
        await runtime.audit.record(
            "enrolment.removed",
            requester=by,
            channel="cli",
            account=account.id,
            outcome="removed" if set(before) - set(after) else "nothing_to_remove",
            method=method or "all",
            by=by,
            host=socket.gethostname(),
        )
        removed = sorted(set(before) - set(after))
        print(f"{account.username}: removed {', '.join(removed) or 'nothing'}", file=sys.stderr)
        print(f"{account.username}: registered now: {', '.join(sorted(after)) or 'nothing'}")
    finally:
        await runtime.close()


def enrolment_status(args: argparse.Namespace) -> int:
    settings = configured_settings(args, interactive=True)
    status = asyncio.run(_status(settings))
    print(json.dumps(status.as_json(), indent=2) if args.json else status.text())
    return 0


@dataclass
class EnrolmentStatus:
    """Counts over the accounts in reset scope; nothing that names a person."""

    methods: list[str]  # the configured ones, in their order
    required: int
    admin_required: int
    reconfirm_days: int
    accounts: int = 0
    by_proofs: Counter[int] = field(default_factory=Counter)  # 2 stands for 2 or more
    can_reset: int = 0
    stale: int = 0
    by_method: Counter[str] = field(default_factory=Counter)

    def count(self, proofs: int, methods: set[str], *, can_reset: bool, stale: bool) -> None:
        self.accounts += 1
        self.by_proofs[min(proofs, 2)] += 1
        self.can_reset += can_reset
        self.stale += stale
        self.by_method.update(methods)

    def as_json(self) -> dict[str, Any]:
        """The stable machine-readable form (`--json`)."""
        return {
            "accounts": self.accounts,
            "with_methods": {
                "0": self.by_proofs[0],
                "1": self.by_proofs[1],
                "2+": self.by_proofs[2],
            },
            "can_reset": self.can_reset,
            "required": self.required,
            "admin_required": self.admin_required,
            "stale": self.stale,
            "reconfirm_days": self.reconfirm_days,
            "by_method": {method: self.by_method[method] for method in self.methods},
        }

    def text(self) -> str:
        admins = (
            f", administrators {self.admin_required}"
            if self.admin_required != self.required
            else ""
        )
        due = (
            f"due to confirm their methods again (every {self.reconfirm_days} days): {self.stale}"
            if self.reconfirm_days
            else "due to confirm their methods again: never asked (enrolment.reconfirm_days 0)"
        )
        lines = [
            f"accounts in reset scope: {self.accounts}",
            f"  with no method to reset with: {self.by_proofs[0]}",
            f"  with 1 method: {self.by_proofs[1]}",
            f"  with 2 or more: {self.by_proofs[2]}",
            f"can reset now ({self.required} required{admins}): {self.can_reset}",
            due,
            "with each method:",
            *(f"  {method}: {self.by_method[method]}" for method in self.methods),
        ]
        return "\n".join(lines)


async def _status(settings: "Settings") -> EnrolmentStatus:
    from bot.runtime import start_runtime
    from bot.secrets import Secrets
    from dialogs.methods import code_methods, verification_methods
    from dialogs.policy import ResetPolicy
    from dialogs.registered_directory import RegisteredDirectory

    dialog_settings = settings.dialog()
    verification = dialog_settings.verification
    reconfirm_days = dialog_settings.enrolment.reconfirm_days
    methods = verification_methods(dialog_settings, code_methods())
    status = EnrolmentStatus(
        methods=list(verification.methods),
        required=verification.required,
        admin_required=2 if verification.admin_two_gate else verification.required,
        reconfirm_days=reconfirm_days,
    )
    runtime = await start_runtime(settings, secrets=Secrets.from_environment())
    try:
        directory = RegisteredDirectory(runtime.directory, runtime.registry)
        policy = ResetPolicy(dialog_settings, directory, methods)
        now = runtime.clock.now()
        async for account, registered in directory.registered_accounts():
            if not await policy.eligible(account):
                continue
            proofs, offered = offered_methods(policy, account)
            status.count(
                len(proofs),
                offered,
                can_reset=policy.can_complete(account),
                stale=registered.stale(now, reconfirm_days),
            )
    finally:
        await runtime.close()
    return status


def offered_methods(policy: "ResetPolicy", account: "Account") -> tuple[set[str], set[str]]:
    """The different things the account could prove in one reset, and the methods that
    would be offered for them: the dialog's own menu, walked to its end with each pick
    proving something new (so questions come only after a first proof, never for an
    administrator under the two-gate rule, and a text and a call to one phone count once)."""
    from dialogs.session import ResetSession

    session = ResetSession(required=policy.required(account))
    offered: set[str] = set()
    while choices := policy.choices(session, account):
        offered.update(choices)
        proof = policy.proof(choices[0], session, account)
        if proof is None:
            break
        session.proven.append(proof)
    return set(session.proven), offered
