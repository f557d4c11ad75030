"""`sspr-bot chat`: the conversation in a terminal, through the Bot Framework agent."""

from bot.console.terminal import SERVICE, Terminal, terminal_chat

__all__ = ["SERVICE", "Terminal", "terminal_chat"]
