"""The port to people's own chats, for notices the bot starts itself."""

from typing import Protocol

from adapters.directory import Account


class ChatReach(Protocol):
    async def tell(self, account: Account, text: str, *, besides: str) -> bool:
        """Send `text` to the account's owner on every channel that can reach them as that
        account, except the channel `besides` (where the conversation already said it).
        True when at least one chat took it; never raises for an unreachable person."""
        ...


class NoChatReach:
    """For set-ups with no channel that can start a conversation (the terminal chat)."""

    async def tell(self, account: Account, text: str, *, besides: str) -> bool:
        return False
