"""The code delivery port."""

from dataclasses import dataclass
from typing import Literal, Protocol

Medium = Literal["email", "sms", "voice"]


class DeliveryFailed(Exception):
    """The message could not be handed to its carrier."""


@dataclass(frozen=True)
class Message:
    medium: Medium
    to: str
    subject: str
    body: str


class CodeSender(Protocol):
    async def send(self, message: Message) -> None: ...

    async def close(self) -> None: ...
