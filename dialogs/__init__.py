"""The reset conversation: state machine, verification methods and policy.

Never imports the bot, aiohttp or the Bot Framework SDK; talks to the world through ports.
"""

from dialogs.dialog import ResetDialog
from dialogs.replies import Choice, Inbound, LinkButton, Outcome, Reply
from dialogs.settings import DialogSettings

__all__ = ["Choice", "DialogSettings", "Inbound", "LinkButton", "Outcome", "Reply", "ResetDialog"]
