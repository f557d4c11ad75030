"""A one-to-one conversation the bot opens itself (`POST {serviceUrl}/v3/conversations`), for
a user it has no kept reference for: the app is installed for them but they never wrote to
it, or the reference has expired. Teams answers with the id of the user's 1:1 chat with the
bot (the same one each time), 403 when the app is not installed for the user or the bot is
blocked, 404 for a user it does not know; a refusal is an aiohttp.ClientResponseError.

What comes back is a reference of the same shape `reference_of` keeps, so the message
itself, and every later one, goes through `BotFrameworkNotifier.send` as for a user who
wrote first.
"""

from typing import Any

from microsoft_agents.activity import (
    Activity,
    ActivityEventNames,
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
)
from microsoft_agents.hosting.aiohttp import CloudAdapter
from microsoft_agents.hosting.core import ClaimsIdentity, TurnContext
from microsoft_agents.hosting.core.connector import ConnectorClientBase

# The Bot Framework's prefix of a bot's id on Teams (`28:<app id>`).
BOT_PREFIX = "28:"
DEVELOPMENT_APP_ID = "anonymous"


class NewChats:
    """Opens one-to-one conversations on one channel service, in one tenant.

    The conversation is created with the connector client's `create_conversation`, inside a
    proactive turn on the service as `BotFrameworkNotifier.send` runs one: under the bot's
    token, or anonymous in development mode. Not with the adapter's `create_conversation`:
    it always asks the connection for a token (development mode has none), and when the
    channel refuses it leaves its connector client's HTTP session open; the turn closes it.
    """

    def __init__(
        self,
        adapter: CloudAdapter,
        app_id: str | None,
        *,
        channel_id: str,
        service_url: str,
        tenant_id: str,
    ) -> None:
        self._adapter = adapter
        self._app_id = app_id
        self._channel_id = channel_id
        self._service_url = service_url
        self._tenant_id = tenant_id

    async def open(self, object_id: str) -> dict[str, Any]:
        """The reference of the user's 1:1 conversation with the bot, opened (or found again)
        by the channel service for the user with this Entra object id."""
        conversation_id = await self._create(self._parameters(object_id))
        reference = ConversationReference(
            user=ChannelAccount(id=object_id, aad_object_id=object_id),
            agent=self._bot(),
            conversation=ConversationAccount(
                id=conversation_id, conversation_type="personal", tenant_id=self._tenant_id
            ),
            channel_id=self._channel_id,
            service_url=self._service_url,
        )
        value: dict[str, Any] = reference.model_dump(mode="json", by_alias=True, exclude_none=True)
        return value

    def _parameters(self, object_id: str) -> ConversationParameters:
        return ConversationParameters(
            is_group=False,
            agent=self._bot(),
            members=[ChannelAccount(id=object_id)],
            channel_data={"tenant": {"id": self._tenant_id}},
            tenant_id=self._tenant_id,
        )

    def _bot(self) -> ChannelAccount:
        """The bot as the channel knows it; development mode's has no app id, so it goes by
        the name its anonymous calls use."""
        return ChannelAccount(id=f"{BOT_PREFIX}{self._app_id or DEVELOPMENT_APP_ID}")

    async def _create(self, parameters: ConversationParameters) -> str:
        """The new conversation's id; what failed is carried out of the turn and raised."""
        created: list[str] = []
        failures: list[Exception] = []

        async def create(context: TurnContext) -> None:
            try:
                # the key the SDK registers the turn's connector client under
                connector = context.services.get(ConnectorClientBase)  # type: ignore[type-abstract]
                if connector is None:
                    raise RuntimeError("the proactive turn has no connector client")
                response = await connector.conversations.create_conversation(parameters)
                if not response.id:
                    raise ValueError("the channel service named no conversation")
                created.append(response.id)
            except Exception as error:
                failures.append(error)

        opening = Activity(
            type=ActivityTypes.event,
            name=ActivityEventNames.create_conversation,
            channel_id=self._channel_id,
            service_url=self._service_url,
        )
        if self._app_id:
            identity = self._adapter.create_claims_identity(self._app_id)
            audience = identity.get_token_audience()
        else:  # development mode: no token to present, as for replies
            identity, audience = ClaimsIdentity({}, authentication_type="anonymous"), "anonymous"
        await self._adapter.continue_conversation_with_claims(identity, opening, create, audience)
        if failures:
            raise failures[0]
        if not created:
            raise RuntimeError("the proactive turn did not run")
        return created[0]
