"""Activities as a user's client sees them."""

from typing import Any

from microsoft_agents.activity import Activity


def visible(activity: Activity) -> dict[str, Any]:
    """Everything a user's client receives, but for the addressing of this conversation."""
    return activity.model_dump(
        mode="json",
        by_alias=True,
        exclude_none=True,
        exclude={"id", "timestamp", "conversation", "recipient"},
    )
