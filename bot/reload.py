"""Reloading the config file while `sspr-bot serve` runs: on SIGHUP, and when the file
changes (its modification time, size or inode, looked at every couple of seconds; an editor
that saves by renaming a new file into place is seen too).

The whole file must validate, as at start: a file that does not is refused, its errors
logged, and the running rules kept. Of a valid file, the dialog's rules apply at once to
every conversation that begins after the reload; conversations in flight finish under the
rules they began with (`bot.dialog_versions`). What the service was wired from at start
(listed in `RESTART_ONLY`) cannot change under it: a change there is logged as needing a
restart and otherwise left alone, and the rest of the file is applied. Every reload,
applied or refused, is audited as `config.reloaded` with its outcome and a fingerprint of
the file (a digest: the file holds no secret, and the trail never repeats its contents).
"""

import asyncio
import hashlib
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from adapters.audit import Audit
from bot.config_file import ConfigError, config_warnings, describe, settings_from
from bot.dialog_versions import DialogVersions, rules_fingerprint
from bot.settings import Settings
from dialogs.settings import DialogSettings

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0

# Settings of the dialog's own sections that parts built at start read, and why: these
# need a restart like the service's wiring (every section besides the dialog's).
DIALOG_RESTART_ONLY = {
    "messages": "the channels and pages answer from the catalog read at start",
    "limits.lockout": "the helpdesk's tickets state the lock's length read at start",
    "helpdesk.handoff_timeout": "the hand-off sweep runs on the timeout read at start",
    "enrolment.reminders": "the reminder loop runs on the settings read at start",
}
WIRING = tuple(name for name in Settings.model_fields if name not in DialogSettings.model_fields)
RESTART_ONLY = (*WIRING, *DIALOG_RESTART_ONLY)


@dataclass(frozen=True)
class Reloaded:
    """What one reload came to: `applied` (new rules for new conversations), `unchanged`
    (the rules are the running ones) or `refused` (the file is not valid; `problems`)."""

    outcome: str
    fingerprint: str  # of the file as read; empty when it could not be read
    rules: str  # the fingerprint of the rules new conversations run under
    needs_restart: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=(), repr=False)


def file_fingerprint(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:16]


class Reloader:
    def __init__(
        self, path: Path, *, started: Settings, versions: DialogVersions, audit: Audit
    ) -> None:
        """`started`: the settings the file gave at start, before any command-line option
        (`serve --port`): what a restart-only section is compared with."""
        self._path = path
        self._started = started
        self._versions = versions
        self._audit = audit
        self._lock = asyncio.Lock()

    async def reload(self, cause: str) -> Reloaded:
        """Read the file again and apply what can be applied; `cause` (`sighup`,
        `file_changed`) is audited with the outcome."""
        async with self._lock:
            reloaded = self._reloaded()
            await self._audit.record(
                "config.reloaded",
                outcome=reloaded.outcome,
                cause=cause,
                file=str(self._path),
                fingerprint=reloaded.fingerprint or None,
                rules=reloaded.rules,
                needs_restart=",".join(reloaded.needs_restart) or None,
                problems=len(reloaded.problems),
            )
            self._log(reloaded, cause)  # after the trail has it: the log line says it is done
            return reloaded

    def _reloaded(self) -> Reloaded:
        running = self._versions.current
        try:
            content = self._path.read_bytes()
        except OSError as error:
            problem = f"{self._path}: cannot read ({error.strerror})"
            return Reloaded("refused", "", running.fingerprint, problems=(problem,))
        fingerprint = file_fingerprint(content)
        try:
            settings = settings_from(content, self._path)
            rules = live_rules(settings.dialog(), running.settings)
        except ConfigError as error:
            problems = tuple(error.problems)
            return Reloaded("refused", fingerprint, running.fingerprint, problems=problems)
        for warning in config_warnings(settings):
            log.warning("config warning", extra={"warning": warning})
        restart = needing_restart(self._started, settings)
        applied = self._versions.adopt(rules)
        outcome = "applied" if applied else "unchanged"
        return Reloaded(outcome, fingerprint, rules_fingerprint(rules), needs_restart=restart)

    def _log(self, reloaded: Reloaded, cause: str) -> None:
        about = {"cause": cause, "fingerprint": reloaded.fingerprint, "rules": reloaded.rules}
        if reloaded.outcome == "refused":
            log.error(
                "config reload refused; the running config is kept",
                extra={**about, "problems": list(reloaded.problems)},
            )
            return
        if reloaded.needs_restart:
            log.warning(
                "config change needs a restart",
                extra={**about, "sections": list(reloaded.needs_restart)},
            )
        log.info(f"config reloaded: {reloaded.outcome}", extra=about)


def live_rules(proposed: DialogSettings, running: DialogSettings) -> DialogSettings:
    """The rules a reload applies: the proposed ones, but the running values of those that
    need a restart. ConfigError when the two together do not make valid rules (a rule
    checked against one that needs a restart no longer fits its running value)."""
    document = proposed.model_dump()
    kept = running.model_dump()
    for path in DIALOG_RESTART_ONLY:
        *parents, name = path.split(".")
        into, source = document, kept
        for part in parents:
            into, source = into[part], source[part]
        into[name] = source[name]
    try:
        return DialogSettings.model_validate(document)
    except ValidationError as error:
        kept_note = " (with the running values of the settings that need a restart)"
        raise ConfigError([f"{line}{kept_note}" for line in describe(error)]) from None


def needing_restart(started: Settings, proposed: Settings) -> tuple[str, ...]:
    """The restart-only settings `proposed` changes from those the service started with."""
    return tuple(path for path in RESTART_ONLY if _at(started, path) != _at(proposed, path))


def _at(settings: Settings, path: str) -> Any:
    value: Any = settings
    for part in path.split("."):
        value = getattr(value, part)
    return value.model_dump() if isinstance(value, BaseModel) else value


def file_signature(path: Path) -> tuple[int, int, int] | None:
    """What changes when the file is written or replaced; None while it is missing."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size, found.st_ino


class Watch:
    """Reloads on SIGHUP and when the file's signature changes, one reload at a time."""

    def __init__(self, reloader: Reloader, path: Path, *, every: float = POLL_SECONDS) -> None:
        self._reloader = reloader
        self._path = path
        self._every = every
        self._hangup = asyncio.Event()
        # Taken now, before the server says it listens: a write right after that is seen.
        self._seen = file_signature(path)

    def hang_up(self) -> None:
        """SIGHUP's handler: the next look reloads, whatever the file's signature."""
        self._hangup.set()

    async def run(self) -> None:
        while True:
            hung_up = await self._hung_up_within(self._every)
            now = file_signature(self._path)
            if not hung_up and now == self._seen:
                continue
            self._seen = now
            try:
                await self._reloader.reload("sighup" if hung_up else "file_changed")
            except Exception:
                log.exception("config reload failed; the running config is kept")

    async def _hung_up_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._hangup.wait(), seconds)
        except TimeoutError:
            return False
        self._hangup.clear()
        return True


@asynccontextmanager
async def reloading(
    path: Path, *, started: Settings, versions: DialogVersions, audit: Audit
) -> AsyncIterator[Reloader]:
    """The config at `path` watched, and reloaded on SIGHUP, for the length of the block."""
    reloader = Reloader(path, started=started, versions=versions, audit=audit)
    watch = Watch(reloader, path)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, watch.hang_up)
    watching = asyncio.create_task(watch.run(), name="config reload")
    log.info("watching the config file", extra={"path": str(path), "every": POLL_SECONDS})
    try:
        yield reloader
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        watching.cancel()
        with suppress(asyncio.CancelledError):
            await watching
