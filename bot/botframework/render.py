"""Channel-neutral replies turned into Bot Framework activities and terminal text."""

from microsoft_agents.activity import (
    ActionTypes,
    Activity,
    ActivityTypes,
    CardAction,
    SuggestedActions,
)

from dialogs import Reply


def plain_text(reply: Reply) -> str:
    """The reply with its choices numbered, for channels without buttons (and as fallback)."""
    if not reply.choices:
        return reply.text
    lines = [f"{number}. {choice.label}" for number, choice in enumerate(reply.choices, 1)]
    return "\n".join([reply.text, *lines])


def to_activity(reply: Reply) -> Activity:
    activity = Activity(type=ActivityTypes.message, text=plain_text(reply), text_format="plain")
    if reply.choices:
        activity.suggested_actions = SuggestedActions(
            actions=[
                CardAction(type=ActionTypes.im_back, title=choice.label, value=choice.value)
                for choice in reply.choices
            ]
        )
    return activity
