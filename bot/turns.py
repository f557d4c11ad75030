"""One turn against the store: read the session, run the dialog, write it back.

A delivery the channel repeats (same activity id; channels retry, sometimes to another
instance) is claimed first and answered once.

The write is conditional on the etag that was read, so a turn racing another one (a second
message, another bot instance) never overwrites it: the loser runs again on fresh state.
When the store, the directory or the code carrier fails, the user gets a polite answer and
no session change is written.
"""

import logging
from typing import Any

from adapters.delivery import DeliveryFailed
from adapters.directory import DirectoryUnavailable
from dialogs import Inbound, Reply, ResetDialog
from state import EtagMismatch, Store, StoreUnavailable

log = logging.getLogger(__name__)

ATTEMPTS = 3
DELIVERY_MEMORY = 3600.0


class TurnRunner:
    def __init__(self, dialog: ResetDialog, store: Store) -> None:
        self._dialog = dialog
        self._store = store

    async def run(
        self, conversation: str, inbound: Inbound, activity_id: str | None = None
    ) -> list[Reply]:
        """The replies to one message; none for a delivery already handled."""
        key = f"session:{conversation}"
        try:
            if activity_id and not await self._first_delivery(f"{conversation}:{activity_id}"):
                log.info("repeated delivery ignored", extra={"activity": activity_id})
                return []
        except StoreUnavailable as error:
            log.error("dependency unavailable", extra={"error": type(error).__name__})
            return [self._dialog.message("unavailable", inbound.locale)]
        for _ in range(ATTEMPTS):
            try:
                return await self._once(key, inbound)
            except EtagMismatch:
                log.info("session changed under this turn; retrying", extra={"session": key})
            except (StoreUnavailable, DirectoryUnavailable, DeliveryFailed) as error:
                log.error("dependency unavailable", extra={"error": type(error).__name__})
                return [self._dialog.message("unavailable", inbound.locale)]
        return [self._dialog.message("try_again", inbound.locale)]

    async def _first_delivery(self, delivery: str) -> bool:
        try:
            await self._store.put(
                f"delivery:{delivery}", {}, ttl=DELIVERY_MEMORY, if_none_match=True
            )
        except EtagMismatch:
            return False
        return True

    async def _once(self, key: str, inbound: Inbound) -> list[Reply]:
        record = await self._store.get(key)
        outcome = await self._dialog.turn(record.value if record else None, inbound)
        etag = record.etag if record else None
        if outcome.changed and outcome.session is not None:
            etag = await self._store.put(
                key,
                outcome.session,
                ttl=self._dialog.session_ttl,
                if_match=etag,
                if_none_match=record is None,
            )
        settled = await self._dialog.settle(outcome)
        if settled.changed and settled.session is not None:
            await self._store_settled(key, settled.session, etag)
        return outcome.replies + settled.replies

    async def _store_settled(self, key: str, session: dict[str, Any], etag: str | None) -> None:
        """Record what settling did. The password change has happened either way, so a
        conflict here is logged rather than retried (the turn must not run twice)."""
        try:
            await self._store.put(key, session, ttl=self._dialog.session_ttl, if_match=etag)
        except EtagMismatch:
            log.warning("a message crossed a password change", extra={"session": key})
