"""Channel-neutral replies turned into Bot Framework activities."""

from microsoft_agents.activity import (
    ActionTypes,
    Activity,
    ActivityTypes,
    CardAction,
    SuggestedActions,
)

from dialogs import Reply


def to_activity(reply: Reply) -> Activity:
    activity = Activity(type=ActivityTypes.message, text=reply.plain_text(), text_format="plain")
    if reply.choices:
        activity.suggested_actions = SuggestedActions(
            actions=[
                CardAction(type=ActionTypes.im_back, title=choice.label, value=choice.value)
                for choice in reply.choices
            ]
        )
    return activity
