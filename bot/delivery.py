"""Which carrier takes each medium: the `delivery` section, and the one CodeSender the
dialog is given, which hands every message to the provider configured for its medium.

The outbox is for development. In production (an app id is set, or the bot listens on a
non-loopback address) a medium still on the outbox would tell people "I've emailed a code"
while the code sits in a local file, so the bot refuses to start unless the admin says
`allow_outbox_in_production` on purpose.
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from adapters.delivery import (
    CodeSender,
    DeliveryUnavailable,
    Medium,
    Message,
    Receipt,
    RetryPolicy,
)
from adapters.delivery.acs import AcsSettings, open_acs_sender
from adapters.delivery.graph_mail import GraphMailSettings, open_graph_mail_sender
from adapters.delivery.outbox import Console, OutboxSender, OutboxSettings
from adapters.delivery.smtp import SmtpSettings, open_smtp_sender
from adapters.delivery.twilio_sender import TwilioSettings, open_twilio_sender
from adapters.directory.graph import GraphDirectorySettings

MEDIA: tuple[Medium, ...] = ("email", "sms", "voice")


class OutboxChoice(BaseModel):
    """`{kind: outbox}`: this medium's messages go to the development outbox."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["outbox"] = Field(description="Write to the outbox file (development only).")


def _outbox() -> OutboxChoice:
    return OutboxChoice(kind="outbox")


EmailProvider = Annotated[
    OutboxChoice | SmtpSettings | GraphMailSettings, Field(discriminator="kind")
]
SmsProvider = Annotated[OutboxChoice | TwilioSettings | AcsSettings, Field(discriminator="kind")]
VoiceProvider = Annotated[OutboxChoice | TwilioSettings, Field(discriminator="kind")]
Provider = OutboxChoice | SmtpSettings | GraphMailSettings | TwilioSettings | AcsSettings


class DeliverySection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    email: EmailProvider = Field(
        default_factory=_outbox,
        description=(
            "Who carries emailed codes and notices: outbox, smtp or graph (Microsoft Graph "
            "sendMail). Every key of each: config/examples/delivery.yaml."
        ),
    )
    sms: SmsProvider = Field(
        default_factory=_outbox,
        description="Who carries text messages: outbox, twilio or acs (Azure Communication "
        "Services).",
    )
    voice: VoiceProvider = Field(
        default_factory=_outbox, description="Who places voice calls: outbox or twilio."
    )
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    allow_outbox_in_production: bool = Field(
        False,
        description=(
            "Start in production mode (an app id set, or a non-loopback address) although a "
            "medium still uses the outbox. Only for a staging bot that nobody relies on."
        ),
    )
    tries: int = Field(
        3,
        ge=1,
        le=5,
        description=(
            "Attempts per message when the carrier certainly did not take it (it refused "
            "the connection, answered 429 or a 4xx SMTP reply). A message the carrier may "
            "have taken is never sent twice."
        ),
    )
    max_retry_wait: float = Field(
        5.0,
        ge=0,
        le=30,
        description=(
            "The most seconds spent waiting between attempts of one message, because a "
            "person is waiting for the reply that says the code is on its way."
        ),
    )

    @model_validator(mode="after")
    def _calls_have_a_number(self) -> Self:
        if isinstance(self.voice, TwilioSettings) and self.voice.from_number is None:
            raise ValueError(
                "delivery.voice kind twilio needs from_number: a Messaging Service sends texts only"
            )
        return self

    def provider(self, medium: Medium) -> Provider:
        chosen: Provider = getattr(self, medium)
        return chosen

    def on_outbox(self) -> list[Medium]:
        return [medium for medium in MEDIA if self.provider(medium).kind == "outbox"]


def outbox_in_production(section: DeliverySection) -> str | None:
    """Why the bot may not start in production with these settings, or None."""
    media = section.on_outbox()
    if not media or section.allow_outbox_in_production:
        return None
    return (
        f"delivery of {', '.join(media)} still uses the development outbox, so codes would "
        "only be written to a local file. Configure a provider for each medium (delivery.email, "
        "delivery.sms, delivery.voice: see config/examples/delivery.yaml), or set "
        "delivery.allow_outbox_in_production: true for a staging bot"
    )


class MediumRouter:
    """The CodeSender the dialog sees: each message to its medium's provider."""

    def __init__(self, senders: Mapping[Medium, CodeSender]) -> None:
        self._senders = dict(senders)

    async def send(self, message: Message) -> Receipt:
        return await self._senders[message.medium].send(message)

    async def close(self) -> None:
        """Close each provider once (sms and voice may share one)."""
        closed: list[CodeSender] = []
        for sender in self._senders.values():
            if not any(sender is done for done in closed):
                closed.append(sender)
                await sender.close()


async def open_senders(
    section: DeliverySection,
    environ: Mapping[str, str],
    *,
    data_dir: Path,
    outbox_path: Path,
    console: Console | None,
    graph: GraphDirectorySettings | None,
) -> MediumRouter:
    """One provider per configured medium (equal settings share one), behind a router;
    DeliveryUnavailable naming the setting or variable that is missing."""
    retry = RetryPolicy(tries=section.tries, max_wait=section.max_retry_wait)
    opened: dict[str, CodeSender] = {}
    senders: dict[Medium, CodeSender] = {}
    try:
        for medium in MEDIA:
            settings = section.provider(medium)
            key = settings.model_dump_json()
            if key not in opened:
                opened[key] = await _open(
                    settings,
                    environ,
                    retry=retry,
                    data_dir=data_dir,
                    outbox=(outbox_path, console if section.outbox.console else None),
                    graph=graph,
                )
            senders[medium] = opened[key]
    except BaseException:
        for sender in opened.values():
            await sender.close()
        raise
    return MediumRouter(senders)


async def _open(
    settings: Provider,
    environ: Mapping[str, str],
    *,
    retry: RetryPolicy,
    data_dir: Path,
    outbox: tuple[Path, Console | None],
    graph: GraphDirectorySettings | None,
) -> CodeSender:
    if isinstance(settings, OutboxChoice):
        return OutboxSender(outbox[0], console=outbox[1])
    if isinstance(settings, SmtpSettings):
        return open_smtp_sender(settings, environ, retry=retry, base_dir=data_dir)
    if isinstance(settings, TwilioSettings):
        return open_twilio_sender(settings, environ, retry=retry, base_dir=data_dir)
    if isinstance(settings, AcsSettings):
        return open_acs_sender(settings, environ, retry=retry, base_dir=data_dir)
    if graph is None:
        raise DeliveryUnavailable(
            "delivery.email kind graph sends with the directory's app: it needs the "
            "directory.graph section"
        )
    return await open_graph_mail_sender(settings, graph, environ, retry=retry, base_dir=data_dir)
