"""`sspr-bot chat`: the conversation in a terminal, through the Bot Framework agent."""

from bot.console.terminal import SERVICE, terminal_chat

__all__ = ["SERVICE", "terminal_chat"]
