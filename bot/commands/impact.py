"""`sspr-bot config impact NEW.yaml`: who would gain or lose the ability to reset if NEW
replaced the current config (`--config`), before it is live.

Every account of the current directory is judged twice, by the rules of each config, the
way `enrolment status` counts who can reset now (`ResetPolicy`: enabled, in the access
scope, not excluded, and able to prove enough different things with the methods it has that
the config allows, administrators two besides security questions), with what people
registered in chat. It reads the directory and the method registry only: nothing is
written, not even an audit event. The accounts are those of the current config's directory:
a proposed `directory` section is not opened.
"""

import argparse
import asyncio
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.commands.configured import configured_settings

if TYPE_CHECKING:
    from adapters.directory import Account
    from bot.settings import Settings
    from dialogs.policy import ResetPolicy
    from dialogs.registered_directory import RegisteredDirectory
    from dialogs.settings import DialogSettings

NO_GROUP = "(no group)"


def config_impact(args: argparse.Namespace) -> int:
    from bot.config_file import load_settings

    current = configured_settings(args, interactive=True)
    proposed = load_settings(args.file)
    impact = asyncio.run(_impact(current, proposed))
    print(json.dumps(impact.as_json(), indent=2) if args.json else impact.text())
    return 0


@dataclass(frozen=True)
class Lost:
    """Someone who can reset under the current config and could not under the proposed."""

    username: str
    groups: tuple[str, ...]
    reason: str  # "scope": outside who may reset; "methods": too few different checks
    detail: str


@dataclass
class GroupCounts:
    current: int = 0
    proposed: int = 0
    gain: int = 0
    lose: int = 0


@dataclass
class Impact:
    accounts: int = 0
    current: int = 0
    proposed: int = 0
    gained: list[str] = field(default_factory=list)
    lost: list[Lost] = field(default_factory=list)
    groups: dict[str, GroupCounts] = field(default_factory=dict)

    def count(self, account: "Account", *, before: bool, after: bool) -> None:
        self.accounts += 1
        self.current += before
        self.proposed += after
        if after and not before:
            self.gained.append(account.username)
        for group in groups_of(account):
            counts = self.groups.setdefault(group, GroupCounts())
            counts.current += before
            counts.proposed += after
            counts.gain += after and not before
            counts.lose += before and not after

    def as_json(self) -> dict[str, Any]:
        """The stable machine-readable form (`--json`)."""
        return {
            "accounts": self.accounts,
            "can_reset": {"current": self.current, "proposed": self.proposed},
            "gain": sorted(self.gained),
            "lose": [
                {
                    "username": lost.username,
                    "groups": list(lost.groups),
                    "reason": lost.reason,
                    "detail": lost.detail,
                }
                for lost in sorted(self.lost, key=lambda lost: lost.username)
            ],
            "by_group": {group: vars(counts) for group, counts in sorted(self.groups.items())},
        }

    def text(self) -> str:
        lines = [
            f"accounts in the directory: {self.accounts}",
            f"can reset now: {self.current}; with the proposed config: {self.proposed}",
            f"gain the ability to reset: {len(self.gained)}",
            f"lose it: {len(self.lost)}",
            "by group (current -> proposed):",
            *(
                f"  {group}: {counts.current} -> {counts.proposed} "
                f"(gain {counts.gain}, lose {counts.lose})"
                for group, counts in sorted(self.groups.items())
            ),
        ]
        if self.gained:
            lines += ["gain:", *(f"  {name}" for name in sorted(self.gained))]
        if self.lost:
            lines.append("lose:")
            for lost in sorted(self.lost, key=lambda lost: lost.username):
                lines.append(f"  {lost.username} ({', '.join(lost.groups)}): {lost.detail}")
        return "\n".join(lines)


def groups_of(account: "Account") -> tuple[str, ...]:
    """The groups an account is counted in: those it is a direct member of."""
    return tuple(sorted(account.groups)) or (NO_GROUP,)


async def _impact(current: "Settings", proposed: "Settings") -> Impact:
    from bot.runtime import start_runtime
    from bot.secrets import Secrets
    from dialogs.registered_directory import RegisteredDirectory

    impact = Impact()
    runtime = await start_runtime(current, secrets=Secrets.from_environment())
    try:
        directory = RegisteredDirectory(runtime.directory, runtime.registry)
        before = reset_policy(current.dialog(), directory)
        after = reset_policy(proposed.dialog(), directory)
        async for account in directory.accounts():
            was = await can_reset(before, account)
            now = await can_reset(after, account)
            impact.count(account, before=was, after=now)
            if was and not now:
                impact.lost.append(await _lost(after, account))
    finally:
        await runtime.close()
    return impact


def reset_policy(settings: "DialogSettings", directory: "RegisteredDirectory") -> "ResetPolicy":
    """The policy `enrolment status` judges by, for one config's rules."""
    from dialogs.methods import code_methods, verification_methods
    from dialogs.policy import ResetPolicy

    return ResetPolicy(settings, directory, verification_methods(settings, code_methods()))


async def can_reset(policy: "ResetPolicy", account: "Account") -> bool:
    """What `enrolment status` counts as able to reset now."""
    return await policy.eligible(account) and policy.can_complete(account)


async def _lost(policy: "ResetPolicy", account: "Account") -> Lost:
    from bot.commands.enrolment import offered_methods

    groups = groups_of(account)
    if not await policy.eligible(account):
        return Lost(account.username, groups, "scope", "outside who may reset (access)")
    proofs, _ = offered_methods(policy, account)
    detail = f"can prove {len(proofs)} of the {policy.required(account)} different checks required"
    return Lost(account.username, groups, "methods", detail)
