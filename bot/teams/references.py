"""Conversation references kept per Teams user, so later work (a helpdesk hand-off, a
reminder) can open the conversation again with `adapter.continue_conversation`.

Keyed by the Entra object id, so it is found from the directory user. A reference is
written when it is new or has moved; what this process last wrote is remembered, so an
unchanged reference costs no store call on the turn's path.
"""

import logging
from typing import Any

from microsoft_agents.activity import Activity

from state import Store, StoreUnavailable

log = logging.getLogger(__name__)

REFERENCE_DAYS = 90
MAX_REMEMBERED = 10_000


def reference_key(object_id: str) -> str:
    return f"reference:msteams:{object_id.lower()}"


async def keep(store: Store, object_id: str, reference: dict[str, Any]) -> None:
    """Keep the reference of a user's 1:1 chat for `REFERENCE_DAYS` (StoreUnavailable
    when it cannot be)."""
    await store.put(reference_key(object_id), reference, ttl=REFERENCE_DAYS * 86400.0)


class References:
    """The Teams users' references in the store, and what this process last wrote there."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._written: dict[str, dict[str, Any]] = {}

    async def remember(self, activity: Activity, reference: dict[str, Any]) -> None:
        """Keep the user's 1:1 conversation reference when it is new or has moved."""
        account = activity.from_property
        object_id = account.aad_object_id if account else None
        if not object_id:
            return
        key = reference_key(object_id)
        if self._written.get(key) == reference:
            return
        try:
            record = await self._store.get(key)
            if record is None or record.value != reference:
                await keep(self._store, object_id, reference)
        except StoreUnavailable:
            log.warning("conversation reference not stored")
            return
        if len(self._written) >= MAX_REMEMBERED:
            self._written.clear()
        self._written[key] = reference
