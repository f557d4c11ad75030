"""Channel-neutral replies turned into Bot Framework activities.

A reply's image (an authenticator app's QR code) travels inline, as a base64 `data:` URL in
an attachment beside the text: that is how a bot shows a picture in a Teams personal chat
without hosting it, and the other Bot Framework channels read the same attachment. The
picture holds the same secret as the text, so it is never written anywhere to be fetched.
"""

import base64
from typing import Any

from microsoft_agents.activity import (
    ActionTypes,
    Activity,
    ActivityTypes,
    Attachment,
    CardAction,
    SuggestedActions,
)
from pydantic import BaseModel

from dialogs import Image, Reply

IMAGE_TYPE = "image/png"
IMAGE_NAME = "authenticator.png"


def model_json(model: BaseModel | None) -> dict[str, Any] | None:
    """A part of an activity (an account, a conversation) as it goes on the wire."""
    if model is None:
        return None
    value: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return value


def reply_fields(activity: Activity) -> dict[str, Any]:
    """A reply's own fields as the SDK's turn context sends them (no id, a message unless it
    says otherwise, accepting input), to be addressed by the caller."""
    body: dict[str, Any] = activity.model_dump(
        by_alias=True, exclude_unset=True, exclude_none=True, mode="json"
    )
    body.pop("id", None)
    body.setdefault("type", ActivityTypes.message)
    body.setdefault("inputHint", "acceptingInput")
    return body


def image_attachment(image: Image) -> Attachment:
    """The picture as an inline attachment (a `data:` URL, nothing to download)."""
    encoded = base64.b64encode(image.png).decode("ascii")
    return Attachment(
        content_type=IMAGE_TYPE, content_url=f"data:{IMAGE_TYPE};base64,{encoded}", name=IMAGE_NAME
    )


def to_activity(reply: Reply) -> Activity:
    activity = Activity(type=ActivityTypes.message, text=reply.plain_text(), text_format="plain")
    if reply.image is not None:
        activity.attachments = [image_attachment(reply.image)]
    if reply.choices:
        activity.suggested_actions = SuggestedActions(
            actions=[
                CardAction(type=ActionTypes.im_back, title=choice.label, value=choice.value)
                for choice in reply.choices
            ]
        )
    return activity
