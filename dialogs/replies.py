"""What goes into and comes out of the dialog, free of any channel's format."""

from dataclasses import dataclass, field
from typing import Any

from dialogs.session import AccountChange, AuditEvent, Delivery, IssuedLink


@dataclass(frozen=True)
class Choice:
    """An option the user can pick; `value` is what a button sends back."""

    value: str
    label: str


@dataclass(frozen=True)
class LinkButton:
    """A button that opens `url` (the password page's one-time link); the reply's text
    carries the plain link too, for channels without buttons."""

    label: str
    url: str = field(repr=False)


@dataclass(frozen=True)
class Image:
    """A picture shown with a reply (an authenticator app's QR code): PNG bytes, and the
    words a screen reader says for it. The reply's text always says the same in words, for
    channels that show no images."""

    png: bytes = field(repr=False)
    alt: str


@dataclass(frozen=True)
class Reply:
    """One message to the user. `sensitive` marks the one reply that carries a password;
    `link` the one that carries the password page's link, shown as a button; `image` a
    picture to show with the text."""

    text: str
    choices: tuple[Choice, ...] = ()
    sensitive: bool = False
    link: LinkButton | None = None
    image: Image | None = None

    def plain_text(self) -> str:
        """The text with its choices numbered, for channels without buttons (and as the
        fallback where buttons may not show)."""
        if not self.choices:
            return self.text
        lines = [f"{number}. {choice.label}" for number, choice in enumerate(self.choices, 1)]
        return "\n".join([self.text, *lines])


@dataclass(frozen=True)
class Inbound:
    """One user message.

    `user` is the account the channel vouches for (Teams object id, Slack email, the
    development user); None means the channel does not identify people and the account
    name is typed. `client` is the network address the message came from, where the
    channel knows it (the web chat): what typed names may spend is also capped per client.
    `locale` is the channel's, empty when it names none: the catalog's default then.
    """

    text: str
    channel: str
    user: str | None = None
    locale: str = ""
    client: str | None = None


@dataclass
class Outcome:
    """The dialog's answer to one message: replies, the session to store if `changed`, and
    the work to do once it is stored (see `ResetDialog.settle`). A settled outcome that
    `supersedes` replaces the turn's replies (a code said to be on its way that could not
    be sent)."""

    replies: list[Reply] = field(default_factory=list)
    session: dict[str, Any] | None = None
    changed: bool = True
    deliveries: list[Delivery] = field(default_factory=list)
    events: list[AuditEvent] = field(default_factory=list)
    account_change: AccountChange | None = field(default=None, repr=False)
    issued_link: IssuedLink | None = field(default=None, repr=False)
    supersedes: bool = False
