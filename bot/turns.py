"""One turn against the store: read the session, run the dialog, write it back.

The write is conditional on the etag that was read, so a turn racing another one (a second
message, another bot instance) never overwrites it: the loser runs again on fresh state.
When the store, the directory or the code carrier fails, the user gets a polite answer and
no session change is written.
"""

import logging

from adapters.delivery import DeliveryFailed
from adapters.directory import DirectoryUnavailable
from dialogs import Inbound, Reply, ResetDialog
from state import EtagMismatch, Store, StoreUnavailable

log = logging.getLogger(__name__)

ATTEMPTS = 3


class TurnRunner:
    def __init__(self, dialog: ResetDialog, store: Store) -> None:
        self._dialog = dialog
        self._store = store

    async def run(self, key: str, inbound: Inbound) -> list[Reply]:
        for _ in range(ATTEMPTS):
            try:
                return await self._once(key, inbound)
            except EtagMismatch:
                log.info("session changed under this turn; retrying", extra={"session": key})
            except (StoreUnavailable, DirectoryUnavailable, DeliveryFailed) as error:
                log.error("dependency unavailable", extra={"error": type(error).__name__})
                return [self._dialog.message("unavailable", inbound.locale)]
        return [self._dialog.message("try_again", inbound.locale)]

    async def _once(self, key: str, inbound: Inbound) -> list[Reply]:
        record = await self._store.get(key)
        outcome = await self._dialog.turn(record.value if record else None, inbound)
        if outcome.changed and outcome.session is not None:
            await self._store.put(
                key,
                outcome.session,
                ttl=self._dialog.session_ttl,
                if_match=record.etag if record else None,
                if_none_match=record is None,
            )
        return outcome.replies
