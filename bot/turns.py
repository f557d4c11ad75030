"""One turn against the store: read the conversation's record, run the dialog, write it back.

The write is conditional on the etag that was read, so a turn racing another one (a second
message, another bot instance) never overwrites it: the loser runs again on fresh state.
The dialog's effects (codes, password changes, audit events) happen only after the write
has won. When the store or the directory fails, the user gets a polite answer and nothing
is written; a code the carrier would not take is the dialog's to answer.

The record also remembers the last activity ids of the conversation: a delivery the channel
repeats (channels retry, sometimes to another instance) finds its id there and is answered
once. Being part of the same conditional write, this costs no extra round trip, and of two
copies processed at once only the one whose write wins has any effect.
"""

import logging
from typing import Any

from adapters.directory import DirectoryUnavailable
from dialogs import Inbound, Reply, ResetDialog
from state import EtagMismatch, Store, StoreUnavailable

log = logging.getLogger(__name__)

ATTEMPTS = 3
REMEMBERED_DELIVERIES = 20


class TurnRunner:
    def __init__(self, dialog: ResetDialog, store: Store) -> None:
        self._dialog = dialog
        self._store = store

    def message(self, key: str, locale: str) -> Reply:
        """A catalog message, for what a channel answers without running a turn."""
        return self._dialog.message(key, locale)

    async def run(
        self,
        conversation: str,
        inbound: Inbound,
        activity_id: str | None = None,
        reference: dict[str, Any] | None = None,
    ) -> list[Reply]:
        """The replies to one message; none for a delivery already handled. `reference`
        (how to reach the conversation again) is kept with the session, at no extra cost."""
        key = f"session:{conversation}"
        for _ in range(ATTEMPTS):
            try:
                return await self._once(key, inbound, activity_id, reference)
            except EtagMismatch:
                log.info("session changed under this turn; retrying", extra={"session": key})
            except (StoreUnavailable, DirectoryUnavailable) as error:
                log.error("dependency unavailable", extra={"error": type(error).__name__})
                return [self._dialog.message("unavailable", inbound.locale)]
        return [self._dialog.message("try_again", inbound.locale)]

    async def _once(
        self,
        key: str,
        inbound: Inbound,
        activity_id: str | None,
        reference: dict[str, Any] | None,
    ) -> list[Reply]:
        record = await self._store.get(key)
        stored: dict[str, Any] = record.value if record else {}
        extra = {"reference": reference or stored.get("reference")}
        seen: list[str] = stored.get("deliveries", [])
        if activity_id is not None and activity_id in seen:
            log.info("repeated delivery ignored", extra={"activity": activity_id})
            return []
        outcome = await self._dialog.turn(stored.get("session"), inbound)
        if activity_id is not None:
            seen = [*seen, activity_id][-REMEMBERED_DELIVERIES:]
        etag = record.etag if record else None
        if outcome.changed or activity_id is not None:
            etag = await self._put(key, outcome.session, seen, etag, extra)
        settled = await self._dialog.settle(outcome, session_key=key)
        if settled.changed:
            try:
                await self._put(key, settled.session, seen, etag, extra)
            except EtagMismatch:
                # The password change has happened either way: log, never run the turn twice.
                log.warning("a message crossed a password change", extra={"session": key})
        if settled.supersedes:
            return settled.replies
        return outcome.replies + settled.replies

    async def _put(
        self,
        key: str,
        session: dict[str, Any] | None,
        seen: list[str],
        etag: str | None,
        extra: dict[str, Any],
    ) -> str:
        """Write only over the version this turn read (or where there was none)."""
        kept = {name: value for name, value in extra.items() if value is not None}
        return await self._store.put(
            key,
            {"session": session, "deliveries": seen, **kept},
            ttl=self._dialog.session_ttl,
            if_match=etag,
            if_none_match=etag is None,
        )
