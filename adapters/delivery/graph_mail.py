"""Email through Microsoft Graph `sendMail`, from one Exchange Online mailbox, as the
directory's own app registration (msal client credentials; no SMTP password to keep).

The app needs the Mail.Send application permission. Mail.Send lets an app send as any
mailbox in the tenant, so confine it to the sending mailbox (an Exchange Online
application access policy, or RBAC for Applications); a mailbox outside that scope is
refused with 403 ErrorAccessDenied, which is reported as such.

Graph answers 202 when it has taken the mail: that is the only success. Whether a failed
request may be repeated depends on Graph's answer. A 429, or a 503 with Retry-After, or a
connection that could not be opened, is a mail Graph did not take: it is tried again under
the delivery's RetryPolicy (the Graph client's own throttling loop is off here, so the
policy alone bounds the tries and the wait). A time-out or a broken connection after the
request went out, or any other server error, may have sent it: it is never repeated. A
4xx is a refusal, reported with Graph's error code.

The mail asks for no out-of-office or automatic replies (`X-Auto-Response-Suppress`).
`Auto-Submitted: auto-generated` would be the standard way to say so, but Graph takes only
custom headers whose names start with `x-`, so it cannot be set through `sendMail`.
"""

import logging
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters.delivery.base import DeliveryFailed, DeliveryUnavailable, Message, Receipt
from adapters.delivery.retry import RetryPolicy, TryAgain
from adapters.microsoft_graph import (
    GraphAppSettings,
    GraphBusy,
    GraphConnection,
    GraphError,
    GraphMisconfigured,
    GraphTokenError,
    GraphUnavailable,
    open_graph_connection,
)

log = logging.getLogger(__name__)

PROVIDER = "graph"
# Out-of-office notices and automatic replies to a code mail would only fill the mailbox.
AUTO_RESPONSE_SUPPRESS = ("X-Auto-Response-Suppress", "OOF, AutoReply")

_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_ADDRESS = re.compile(r"[^@\s/\\?#%]+@[^@\s/\\?#%]+")


class GraphMailSettings(BaseModel):
    """The `graph` email delivery section: which mailbox sends. The app registration is
    the directory's (`directory.graph`): same tenant, client id and credential."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["graph"] = Field(
        description="Send email through Microsoft Graph with the directory's app registration."
    )
    mailbox: str = Field(
        min_length=3,
        max_length=320,
        description=(
            "The Exchange Online mailbox the mail is sent from, by its address or user "
            "principal name (`sspr@contoso.com`) or its user object id. A shared mailbox "
            "needs no licence. The app's Mail.Send permission must cover it."
        ),
    )
    save_to_sent_items: bool = Field(
        default=False,
        description=(
            "Keep a copy of every mail in the mailbox's Sent Items. Off by default: the "
            "mails carry one-time codes, which should not pile up in a mailbox."
        ),
    )

    @field_validator("mailbox")
    @classmethod
    def _one_mailbox(cls, value: str) -> str:
        if not (_GUID.fullmatch(value) or _ADDRESS.fullmatch(value)):
            raise ValueError("must be one mail address, user principal name or object id")
        return value


async def open_graph_mail_sender(
    settings: GraphMailSettings,
    app: GraphAppSettings,
    environ: Mapping[str, str],
    *,
    retry: RetryPolicy,
    base_dir: Path | None = None,
) -> "GraphMailSender":
    """The sender, ready to use; DeliveryUnavailable naming the missing variable or the
    unreadable file. The authority is first contacted at the first mail."""
    try:
        connection = await open_graph_connection(app, environ, base_dir=base_dir)
    except GraphMisconfigured as error:
        raise DeliveryUnavailable(f"graph mail: {error}") from None
    log.info(
        "graph mail configured",
        extra={"mailbox": settings.mailbox, "credential": repr(connection.credential)},
    )
    return GraphMailSender(settings, connection, retry=retry)


class GraphMailSender:
    """A CodeSender for email over Graph `sendMail`; build it with `open_graph_mail_sender`."""

    def __init__(
        self, settings: GraphMailSettings, connection: GraphConnection, *, retry: RetryPolicy
    ) -> None:
        self._mailbox = settings.mailbox
        self._save = settings.save_to_sent_items
        self._connection = connection
        # No retries inside the client: the RetryPolicy alone decides whether to try again.
        self._client = connection.client(max_retries=0)
        self._path = f"/users/{quote(settings.mailbox, safe='')}/sendMail"
        self._retry = retry

    async def send(self, message: Message) -> Receipt:
        """Hand the mail to Graph; the receipt's id is Graph's request-id for it."""
        if message.medium != "email":
            raise DeliveryFailed(
                f"graph mail carries email only, not {message.medium}", maybe_sent=False
            )
        body = self._request_body(message)
        return await self._retry.run(lambda: self._attempt(body))

    async def close(self) -> None:
        await self._connection.close()

    def _request_body(self, message: Message) -> dict[str, Any]:
        name, value = AUTO_RESPONSE_SUPPRESS
        return {
            "message": {
                "subject": message.subject,
                "body": (
                    {"contentType": "Text", "content": message.body}
                    if message.html is None
                    else {"contentType": "HTML", "content": message.html}
                ),
                "toRecipients": [{"emailAddress": {"address": message.to}}],
                "internetMessageHeaders": [{"name": name, "value": value}],
            },
            "saveToSentItems": self._save,
        }

    async def _attempt(self, body: Mapping[str, Any]) -> Receipt:
        client_request_id = str(uuid.uuid4())
        try:
            answer = await self._client.request(
                "POST",
                self._path,
                body=body,
                headers={"client-request-id": client_request_id},
            )
        except GraphBusy as busy:
            if busy.maybe_processed:
                raise DeliveryFailed(
                    f"graph mail: Microsoft Graph answered {busy.status} {busy.code}; the mail "
                    "may have been sent",
                    maybe_sent=True,
                ) from None
            raise TryAgain(
                f"graph mail: Microsoft Graph is busy ({busy.status} {busy.code})",
                after=busy.retry_after,
            ) from None
        except GraphTokenError as error:
            raise DeliveryFailed(f"graph mail: {error.reason}", maybe_sent=False) from None
        except GraphUnavailable as error:
            if error.maybe_processed:
                raise DeliveryFailed(f"graph mail: {error.reason}", maybe_sent=True) from None
            if error.transient:
                raise TryAgain(f"graph mail: {error.reason}") from None
            raise DeliveryFailed(f"graph mail: {error.reason}", maybe_sent=False) from None
        except GraphError as error:
            raise self._refusal(error) from None
        receipt = Receipt(PROVIDER, answer.request_id or client_request_id)
        log.info("graph mail accepted", extra={"status": answer.status, "receipt": receipt.id})
        return receipt

    def _refusal(self, error: GraphError) -> DeliveryFailed:
        """What an error answer means; a server error may have sent the mail."""
        said = f"Microsoft Graph answered {error.status} {error.code}"
        if error.status >= 500:
            return DeliveryFailed(
                f"graph mail: {said}; the mail may have been sent", maybe_sent=True
            )
        if error.status == 401:
            hint = "the access token was refused"
        elif error.status == 403:
            hint = (
                "the app needs the Mail.Send application permission, and any application "
                f"access policy must allow the mailbox {self._mailbox}"
            )
        elif error.status == 404:
            hint = f"the mailbox {self._mailbox} does not exist or has no Exchange Online mailbox"
        else:
            hint = "the mail was refused"
        return DeliveryFailed(f"graph mail: {said}: {hint}", maybe_sent=False)
