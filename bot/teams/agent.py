"""The reset agent with the Teams rules in front of every turn."""

from bot.botframework.agent import Identify, MessageTurn, ResetAgent, conversation_of
from bot.botframework.proactive import reference_of
from bot.botframework.render import to_activity
from bot.teams.admission import TEAMS_CHANNEL, Admission, admit
from bot.teams.cards import inbound_text, send_typing, teams_activity
from bot.teams.references import References
from bot.turns import TurnRunner
from dialogs import Inbound
from state import Store


class TeamsResetAgent(ResetAgent):
    """Every Bot Framework channel as before; on Teams (and in any shared conversation):
    allowed tenants only, 1:1 chats only, typing while the turn runs, cards for replies,
    card submits read as the chosen value, the conversation reference kept."""

    def __init__(
        self, runner: TurnRunner, identify: Identify, *, tenants: frozenset[str], store: Store
    ) -> None:
        super().__init__(runner, identify)
        self._tenants = tenants
        self._references = References(store)

    async def handle_message(self, turn: MessageTurn) -> None:
        activity = turn.activity
        verdict = admit(activity, self._tenants)
        if verdict is Admission.REFUSE:
            return
        if verdict is Admission.DECLINE_GROUP:
            locale = activity.locale or ""
            reply = self._runner.message("private_chat_only", locale)
            await turn.send_activity(to_activity(reply))
            return
        if activity.channel_id != TEAMS_CHANNEL:
            await super().handle_message(turn)
            return
        await send_typing(turn)
        inbound = Inbound(
            text=inbound_text(activity),
            channel=TEAMS_CHANNEL,
            user=self._identify(activity),
            locale=activity.locale or "",
        )
        reference = reference_of(activity)
        replies = await self._runner.run(conversation_of(activity), inbound, activity.id, reference)
        if replies:
            await turn.send_activities([teams_activity(reply) for reply in replies])
        await self._references.remember(activity, reference)
