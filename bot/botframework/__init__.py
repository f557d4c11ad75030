"""The Bot Framework channel, for every channel Azure Bot Service relays (Teams, the
Emulator, the others): `/api/messages` behind the Agents SDK's JWT check and the checks it
leaves to the host, the agent that turns activities into dialog turns, replies rendered as
activities and posted through one pooled connector, and proactive messages through kept
conversation references. What only Teams has lives in `bot.teams`."""
