"""The dialog by the rules each conversation began under.

A reload of the config (`bot.reload`) builds a new dialog from the new rules: conversations
that begin after it run under the new dialog, and every conversation in flight finishes
under the rules it began with. The turn runner stamps each session with the fingerprint of
the rules its turn ran under (`ResetSession.rules`); every later turn, password link check
and settling of that session runs on the dialog with that fingerprint. A session that ended
starts its next conversation under the current rules.

A superseded dialog is kept for as long as a session begun under it can still be answered
(its rules' `session.kept_for`, counted from when it was superseded: a session ends at a
time fixed when it began), then dropped. The versions live in this process only: a session
whose fingerprint it does not know (begun before a restart, or on another instance that
reloaded first) goes on under the current rules.
"""

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from dialogs import Outcome, ResetDialog
from dialogs.machine import ENDS
from dialogs.settings import DialogSettings
from state import Clock

DialogBuilder = Callable[[DialogSettings], ResetDialog]


def rules_fingerprint(settings: DialogSettings) -> str:
    """A short digest of the rules, stable across processes and instances: the same rules
    give the same fingerprint, so a session names its rules however often they are read."""
    canonical = json.dumps(settings.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Version:
    """One set of rules and the dialog that runs them."""

    fingerprint: str
    settings: DialogSettings
    dialog: ResetDialog


class DialogVersions:
    def __init__(self, settings: DialogSettings, build: DialogBuilder, clock: Clock) -> None:
        """`build` makes a dialog for a set of rules on the runtime's ports and catalog; it
        makes the first one here, and one for every reload that changes the rules."""
        self._build = build
        self._clock = clock
        self.current = Version(rules_fingerprint(settings), settings, build(settings))
        self._retired: dict[str, tuple[Version, float]] = {}  # fingerprint: (version, until)

    def adopt(self, settings: DialogSettings) -> bool:
        """Run conversations that begin from now on under `settings`; False (and nothing
        changed) when they are the rules running already."""
        fingerprint = rules_fingerprint(settings)
        if fingerprint == self.current.fingerprint:
            return False
        self._prune()
        previous = self.current
        until = self._clock.now() + previous.settings.session.kept_for
        self._retired[previous.fingerprint] = (previous, until)
        revived = self._retired.pop(fingerprint, None)
        if revived is not None:
            self.current = revived[0]
        else:
            self.current = Version(fingerprint, settings, self._build(settings))
        return True

    @property
    def in_use(self) -> list[str]:
        """The fingerprints of every dialog still answering: the current one first."""
        self._prune()
        return [self.current.fingerprint, *self._retired]

    def for_turn(self, stored: Mapping[str, Any] | None) -> Version:
        """The dialog a message to the session `stored` runs on: its own rules while it is in
        flight; the current ones once it ended (the message begins a new conversation)."""
        if stored is None or stored.get("state") in ENDS:
            return self.current
        return self.of(stored)

    def of(self, stored: Mapping[str, Any] | None) -> Version:
        """The dialog of the rules the session `stored` was stamped with (the current one
        for a session without a known stamp)."""
        stamp = stored.get("rules") if stored is not None else None
        if not stamp or stamp == self.current.fingerprint:
            return self.current
        self._prune()
        retired = self._retired.get(str(stamp))
        return retired[0] if retired else self.current

    def _prune(self) -> None:
        now = self._clock.now()
        for fingerprint, (_, until) in list(self._retired.items()):
            if now >= until:
                del self._retired[fingerprint]


def stamped(outcome: Outcome, version: Version) -> Outcome:
    """The outcome of a turn run on `version`, its session naming the rules it ran under."""
    if outcome.session is None:
        return outcome
    return replace(outcome, session={**outcome.session, "rules": version.fingerprint})
