"""The reset conversation: state machine, verification methods and policy.

Never imports the bot, aiohttp or the Bot Framework SDK; talks to the world through ports.
"""

from dialogs.background import Background
from dialogs.catalog import Catalog
from dialogs.dialog import ResetDialog
from dialogs.ports import DialogPorts
from dialogs.replies import Choice, Image, Inbound, LinkButton, Outcome, Reply
from dialogs.settings import DialogSettings

__all__ = [
    "Background",
    "Catalog",
    "Choice",
    "DialogPorts",
    "DialogSettings",
    "Image",
    "Inbound",
    "LinkButton",
    "Outcome",
    "Reply",
    "ResetDialog",
]
