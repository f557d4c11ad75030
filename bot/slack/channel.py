"""Slack, directly: Events API and interactivity requests in, Web API calls out.

Framework-neutral: it takes an `HttpRequest` (the raw body is what the signature covers)
and gives an `HttpAnswer`; `bot.slack.routes` is the thin aiohttp layer around it. Every
request is checked first (signature over the raw body, 300 s window) and refused with 401
before anything in it is parsed.

Slack wants an answer within 3 seconds and retries otherwise, so a message is acknowledged
at once and its turn runs in the bot's background pool (`close` waits for it).
A delivery is handled once across instances: the first to claim `slack-event:{team}:{id}`
in the shared store (a conditional create with a TTL) runs it; a retry
(`X-Slack-Retry-Num`) or a replay finds the claim and stops. The message's own id also goes
to the turn runner, whose session write remembers handled deliveries.

Only direct messages start a conversation. In a channel or group the bot answers, in a
thread, only when the message is addressed to it (an @mention), saying it talks in direct
messages; everything else there is ignored, so it never chatters in busy channels (the
manifest subscribes only to `message.im`; this matters when an admin adds more events).

A pressed button is fed to the dialog as if its value had been typed. Its message is then
edited with `chat.update` (the buttons replaced by the choice), through the same Web API
client as every other call: nothing is ever posted to a URL taken from a request (so
`response_url` is not used). A message's buttons are claimed in the store like an event, so
a double tap, a second device or a replay counts once.
"""

import asyncio
import logging
import math
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

from aiohttp import BaseConnector, ClientSession, ClientTimeout
from slack_sdk.web.async_client import AsyncWebClient

from bot.http import TOO_LARGE, HttpAnswer, HttpRequest
from bot.slack.identity import IdentityUnavailable, SlackIdentities
from bot.slack.payloads import Said, json_object, mentions_bot, pressed_button
from bot.slack.posting import SlackPoster
from bot.slack.settings import SlackSecrets, SlackSettings
from bot.slack.text import typed_text
from bot.slack.verification import RequestVerifier
from bot.turns import TurnRunner
from dialogs import Inbound, Reply
from dialogs.background import Background
from state import Clock, EtagMismatch, Store, StoreUnavailable, SystemClock

log = logging.getLogger(__name__)

# slack_sdk writes whole request and response bodies (message texts, a temporary password,
# emails) to its logger at DEBUG. Its client gets a logger of its own that never goes below
# INFO, whatever level the bot runs at.
_api_log = logging.getLogger("bot.slack.web_api")
_api_log.setLevel(logging.INFO)

MAX_IN_FLIGHT = 1000

MessageFor = Callable[[str, str], Reply]
"""A catalog message by key and locale (`ResetDialog.message`)."""

_ACK = HttpAnswer(200)
_REFUSED = HttpAnswer.json(401, {"error": "invalid signature"})
_MALFORMED = HttpAnswer.json(400, {"error": "malformed request"})
_BUSY = HttpAnswer.json(503, {"error": "busy"})


class _Serial:
    """Turns of one conversation run one after another in this instance, so replies come
    in the order the messages were sent."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class SlackChannel:
    def __init__(
        self,
        settings: SlackSettings,
        *,
        secrets: SlackSecrets,
        runner: TurnRunner,
        store: Store,
        message: MessageFor,
        connector: BaseConnector,
        background: Background,
        clock: Clock | None = None,
    ) -> None:
        """`connector` is the bot's shared pool (not closed here); `background` the bot's
        pool for work that outlives a request, where turns run."""
        clock = clock or SystemClock()
        self._settings = settings
        self._runner = runner
        self._store = store
        self._message = message
        self._clock = clock
        self._background = background
        self._verifier = RequestVerifier(secrets.signing_secret, clock)
        self._session = ClientSession(
            connector=connector,
            connector_owner=False,
            timeout=ClientTimeout(total=settings.timeout),
        )
        self._client = AsyncWebClient(
            token=secrets.bot_token,
            base_url=settings.api_url,
            session=self._session,
            timeout=math.ceil(settings.timeout),
            logger=_api_log,
        )
        self._identities = SlackIdentities(
            self._client, clock, settings.user_cache_seconds, frozenset(settings.allowed_team_ids)
        )
        self._poster = SlackPoster(self._client, store)
        self._serial = _Serial()

    # -- requests ---------------------------------------------------------------------

    async def events(self, request: HttpRequest) -> HttpAnswer:
        """An Events API request: the URL check answered, a message acknowledged at once."""
        body = self._signed(request)
        if isinstance(body, HttpAnswer):
            return body
        envelope = json_object(body)
        if envelope is None:
            return _MALFORMED
        kind = envelope.get("type")
        if kind == "url_verification":
            challenge = envelope.get("challenge")
            if not isinstance(challenge, str):
                return _MALFORMED
            return HttpAnswer.json(200, {"challenge": challenge})
        if kind != "event_callback":
            return _ACK
        retry = request.headers.get("x-slack-retry-num")
        if retry is not None:
            reason = request.headers.get("x-slack-retry-reason")
            log.info("Slack retried an event", extra={"retry": retry, "reason": reason})
        return self._accept_event(envelope)

    async def interactivity(self, request: HttpRequest) -> HttpAnswer:
        """A pressed button (`block_actions`): acknowledged at once, handled after."""
        body = self._signed(request)
        if isinstance(body, HttpAnswer):
            return body
        try:
            form = parse_qs(body.decode("utf-8"), max_num_fields=10)
        except ValueError:
            return _MALFORMED
        payload = json_object(form.get("payload", [""])[0].encode())
        if payload is None:
            return _MALFORMED
        if payload.get("type") != "block_actions":
            return _ACK
        pressed = pressed_button(payload)
        if pressed is None:
            return _ACK
        said, message_ts, original = pressed
        if not self._team_allowed(said.team):
            return _ACK
        return self._start(self._button(said, message_ts, original))

    # -- lifecycle --------------------------------------------------------------------

    async def drain(self) -> None:
        """Return once every turn started so far (and any they started) has finished."""
        await self._background.drain()

    async def close(self) -> None:
        """Finish what runs, with whatever it starts (a turn's code delivery), then refuse
        new work (Slack retries it elsewhere) and close the session."""
        await self._background.drain()
        await self._background.close()
        await self._session.close()

    # -- proactive messages -----------------------------------------------------------

    async def send_proactive(self, team: str, user: str, replies: Sequence[Reply]) -> bool:
        """Post to a Slack user's direct message with the bot, opening it if need be.

        For conversations the bot starts (hand-off answers, reminders). True when posted.
        """
        return await self._poster.send_proactive(team, user, replies)

    async def send_by_email(self, email: str, replies: Sequence[Reply]) -> bool:
        """Post to the direct message of the person whose Slack email is `email` (an active
        human member of a home workspace, as for a conversation's identity): for notices
        about their account. False when there is no such member or Slack could not be asked.
        """
        try:
            member = await self._identities.member(email)
        except IdentityUnavailable:
            return False
        if member is None:
            return False
        return await self.send_proactive(member.team, member.user, replies)

    # -- events -----------------------------------------------------------------------

    def _accept_event(self, envelope: dict[str, Any]) -> HttpAnswer:
        team = envelope.get("team_id")
        event_id = envelope.get("event_id")
        event = envelope.get("event")
        if not isinstance(team, str) or not isinstance(event_id, str):
            return _MALFORMED
        if not isinstance(event, dict) or not self._team_allowed(team):
            return _ACK
        kind = event.get("type")
        user, channel, text, ts = (event.get(name) for name in ("user", "channel", "text", "ts"))
        if kind not in {"message", "app_mention"} or event.get("bot_id") or event.get("subtype"):
            return _ACK  # bots (this one too), edits, deletions, joins, file shares
        if not (isinstance(user, str) and isinstance(channel, str) and isinstance(ts, str)):
            return _ACK
        claim = f"slack-event:{team}:{event_id}"
        if kind == "message" and event.get("channel_type") == "im":
            delivery = f"slack:{event.get('client_msg_id') or ts}"
            typed = typed_text(text) if isinstance(text, str) else ""
            said = Said(team, channel, user, typed, delivery)
            return self._start(self._direct_message(claim, said))
        if kind == "app_mention" or mentions_bot(envelope, text):
            return self._start(self._decline(claim, team, channel, ts))
        return _ACK

    def _start(self, work: Coroutine[Any, Any, None]) -> HttpAnswer:
        started = self._background.start(
            work, failed="Slack turn failed", at_most=MAX_IN_FLIGHT, level=logging.ERROR
        )
        return _ACK if started else _BUSY

    async def _direct_message(self, claim: str, said: Said) -> None:
        if await self._claim(claim):
            await self._converse(said)

    async def _button(self, said: Said, message_ts: str, original: dict[str, Any]) -> None:
        if not await self._claim(f"slack-action:{said.team}:{said.channel}:{message_ts}"):
            return
        await self._poster.redraw_answered(said.channel, message_ts, original)
        await self._converse(said)

    async def _decline(self, claim: str, team: str, channel: str, ts: str) -> None:
        # A mention arrives both as `app_mention` and as `message`: answer it once.
        if await self._claim(claim) and await self._claim(f"slack-event:{team}:{channel}:{ts}"):
            await self._poster.post(channel, [self._say("slack_direct_only", "en")], thread_ts=ts)

    async def _converse(self, said: Said) -> None:
        try:
            person = await self._identities.person(said.team, said.user)
        except IdentityUnavailable:
            await self._poster.post(said.channel, [self._say("unavailable", "en")])
            return
        if person.email is None:
            await self._poster.post(said.channel, [self._say("slack_no_email", person.locale)])
            return
        await self._poster.remember(said.team, said.user, said.channel)
        inbound = Inbound(text=said.text, channel="slack", user=person.email, locale=person.locale)
        async with self._serial.turn(said.conversation):
            replies = await self._runner.run(said.conversation, inbound, said.delivery)
            await self._poster.post(said.channel, replies)

    # -- de-duplication and checks ---------------------------------------------------

    def _signed(self, request: HttpRequest) -> bytes | HttpAnswer:
        """The body, when Slack signed it; else the answer refusing the request."""
        if request.body is None:
            return TOO_LARGE
        if not self._verifier.is_from_slack(request.body, request.headers):
            return _REFUSED
        return request.body

    async def _claim(self, key: str) -> bool:
        """True for the first of all instances to see `key` within the dedup window."""
        try:
            await self._store.put(
                key,
                {"seen": self._clock.now()},
                ttl=self._settings.event_dedup_seconds,
                if_none_match=True,
            )
        except EtagMismatch:
            log.info("repeated Slack delivery ignored", extra={"delivery": key})
            return False
        except StoreUnavailable:
            # Without the store no turn can change anything; the turn says so politely.
            log.error("state store unavailable for Slack de-duplication")
        return True

    def _say(self, key: str, locale: str) -> Reply:
        return self._message(key, locale)

    def _team_allowed(self, team: str) -> bool:
        allowed = self._settings.allowed_team_ids
        if allowed and team not in allowed:
            log.warning("Slack request from a workspace not allowed", extra={"team": team})
            return False
        return True
