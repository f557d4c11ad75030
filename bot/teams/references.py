"""Conversation references kept per Teams user, so later work (a helpdesk hand-off, a
reminder) can open the conversation again with `adapter.continue_conversation`.

A reference is stored once per user and conversation: an unchanged reference costs one
read, never a write. Keyed by the Entra object id, so it is found from the directory user.
"""

import logging
from typing import Any

from microsoft_agents.activity import Activity, ConversationReference

from state import Store, StoreUnavailable

log = logging.getLogger(__name__)

REFERENCE_DAYS = 90


def reference_key(object_id: str) -> str:
    return f"reference:msteams:{object_id.lower()}"


def conversation_reference(activity: Activity) -> dict[str, Any]:
    """What `continue_conversation` needs: no message text, nothing the user typed."""
    reference = activity.get_conversation_reference()
    value: dict[str, Any] = reference.model_dump(mode="json", by_alias=True, exclude_none=True)
    value.pop("activityId", None)  # a proactive message answers nothing
    return value


async def remember_reference(store: Store, activity: Activity) -> None:
    """Store the user's 1:1 conversation reference when it is new or has moved."""
    account = activity.from_property
    object_id = account.aad_object_id if account else None
    if not object_id:
        return
    key, value = reference_key(object_id), conversation_reference(activity)
    try:
        record = await store.get(key)
        if record is None or record.value != value:
            await store.put(key, value, ttl=REFERENCE_DAYS * 86400.0)
    except StoreUnavailable:
        log.warning("conversation reference not stored")


def stored_reference(value: dict[str, Any]) -> ConversationReference:
    reference: ConversationReference = ConversationReference.model_validate(value)
    return reference
