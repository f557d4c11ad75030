"""The code delivery port: one message to one person, over the medium it names."""

from dataclasses import dataclass, field
from typing import Literal, Protocol

Medium = Literal["email", "sms", "voice"]


class DeliveryUnavailable(Exception):
    """A provider cannot be set up from its settings (a secret not set, an unreadable CA
    file); the message names the setting or variable, so the bot refuses to start clearly."""


class DeliveryFailed(Exception):
    """The message did not reach its carrier; the reason is safe to log (never the message).

    `maybe_sent` is True when the carrier may have taken it all the same (a time-out after
    the message was handed over, a server error answering it): such a message is neither
    sent again nor counted as not sent.
    """

    def __init__(self, reason: str, *, maybe_sent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.maybe_sent = maybe_sent


@dataclass(frozen=True)
class Message:
    """One message, already worded in the recipient's language.

    `body` is the plain text every medium can carry (email text part, SMS, the outbox);
    `html` the HTML part of an email; `speech` what a voice call says, one utterance per
    item with a pause between them (the code digit by digit, twice).
    """

    medium: Medium
    to: str
    subject: str
    body: str = field(repr=False)
    html: str | None = field(default=None, repr=False)
    speech: tuple[str, ...] = field(default=(), repr=False)
    locale: str = "en"


@dataclass(frozen=True)
class Receipt:
    """What the carrier answered: which provider took the message, and its own id for it
    (for the audit trail and the provider's logs; never anything from the message)."""

    provider: str
    id: str


class CodeSender(Protocol):
    async def send(self, message: Message) -> Receipt:
        """Hand the message to its carrier; DeliveryFailed when it could not be."""
        ...

    async def close(self) -> None: ...
