"""Who wrote: a Slack user id turned into the email the directory knows them by.

Slack vouches for the email of its members (`users.info`, scope `users:read.email`); that
email is the chat identity, so a Slack user can only ever reset the account with their own
address. Bots, deactivated users and members of another workspace (Slack Connect) get no
identity. Answers are kept briefly per user, so a conversation costs one lookup, not one
per message.

The other way round, a notice about an account finds its owner by the account's email
(`users.lookupByEmail`, the same scope), under the same rules.
"""

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from state import Clock

log = logging.getLogger(__name__)

MAX_CACHED = 10_000
_NOT_FOUND = {"users_not_found", "user_not_found"}


class IdentityUnavailable(Exception):
    """Slack could not be asked (network, rate limit, missing scope); nothing was decided."""


@dataclass(frozen=True)
class SlackPerson:
    email: str | None
    locale: str


@dataclass(frozen=True)
class SlackMember:
    """Where a person is reached in Slack: their workspace and their user id."""

    team: str
    user: str


class SlackIdentities:
    def __init__(
        self, client: AsyncWebClient, clock: Clock, ttl: float, home_teams: frozenset[str]
    ) -> None:
        self._client = client
        self._home_teams = home_teams
        self._clock = clock
        self._ttl = ttl
        self._cache: OrderedDict[tuple[str, str], tuple[float, SlackPerson]] = OrderedDict()
        self._installed_team: str | None = None

    async def person(self, team: str, user: str) -> SlackPerson:
        key = (team, user)
        cached = self._cache.get(key)
        if cached and cached[0] > self._clock.now():
            return cached[1]
        person = await self._look_up(team, user)
        self._cache[key] = (self._clock.now() + self._ttl, person)
        self._cache.move_to_end(key)
        while len(self._cache) > MAX_CACHED:
            self._cache.popitem(last=False)
        return person

    async def member(self, email: str) -> SlackMember | None:
        """The active human member of a home workspace whose Slack email is `email`, or None
        (nobody, a bot, a deactivated user, a stranger); IdentityUnavailable when Slack could
        not be asked. The home workspaces are the allowed ones, else the one the bot token
        was installed in (`auth.test`)."""
        try:
            teams = self._home_teams or await self._installation_teams()
            if not teams:
                return None
            response = await self._client.users_lookupByEmail(email=email)
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else None
            if code in _NOT_FOUND:
                return None
            log.warning("Slack member lookup failed", extra={"slack_error": code})
            raise IdentityUnavailable(code) from error
        except (ClientError, TimeoutError) as error:
            log.warning("Slack member lookup unreachable", extra={"error": type(error).__name__})
            raise IdentityUnavailable(type(error).__name__) from error
        found: dict[str, Any] = response.get("user") or {}
        vouched = _email(found, teams)
        user, team = found.get("id"), found.get("team_id")
        if vouched is None or vouched.casefold() != email.strip().casefold():
            return None
        if not isinstance(user, str) or not isinstance(team, str):
            return None
        return SlackMember(team, user)

    async def _installation_teams(self) -> frozenset[str]:
        """The workspace the bot token belongs to (none for an organisation-wide install);
        asked once, it does not change."""
        if self._installed_team is None:
            response = await self._client.auth_test()
            self._installed_team = str(response.get("team_id") or "")
        return frozenset({self._installed_team} - {""})

    async def _look_up(self, team: str, user: str) -> SlackPerson:
        try:
            response = await self._client.users_info(user=user, include_locale=True)
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else None
            if code in {"user_not_found", "user_not_visible"}:
                return SlackPerson(None, "en")
            log.error("Slack users.info failed", extra={"slack_error": code})
            raise IdentityUnavailable(code) from error
        except (ClientError, TimeoutError) as error:
            log.error("Slack users.info unreachable", extra={"error": type(error).__name__})
            raise IdentityUnavailable(type(error).__name__) from error
        found: dict[str, Any] = response.get("user") or {}
        email = _email(found, {team} | self._home_teams)
        return SlackPerson(email, str(found.get("locale") or ""))


def _email(found: dict[str, Any], teams: set[str] | frozenset[str]) -> str | None:
    """The verified email of an active human member of one of `teams`, else None.

    A Slack Connect stranger (a member of another organisation's workspace) vouches for an
    address their own organisation controls, so they are never taken at their word.
    """
    if found.get("deleted") or found.get("is_bot") or found.get("is_app_user"):
        return None
    if found.get("is_stranger") or found.get("team_id") not in teams:
        return None
    profile = found.get("profile") or {}
    email = profile.get("email")
    if not isinstance(email, str) or "@" not in email or len(email) > 254:
        return None
    return email.strip()
